"Bad numbers and bad batches stop `train` with a clear error before they can damage the weights."
import pytest
import torch

from ft_course.lora import apply_lora
from ft_course.models import tiny_llama
from ft_course.train import train


def batches(n=2, vocab=500, seed=0):
    "Small fixed token batches with a padded tail (labels -100 there)."
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, vocab, (2, 12), generator=g)
        mask = torch.ones_like(ids); mask[0, -3:] = 0
        out.append({"input_ids": ids.masked_fill(mask == 0, 2), "attention_mask": mask,
                    "labels": ids.masked_fill(mask == 0, -100)})
    return out


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def assert_unchanged(model, before):
    for n, p in model.named_parameters():   # bitwise, NaN included (the NaN planted in the embeddings stays)
        assert torch.allclose(p, before[n], rtol=0, atol=0, equal_nan=True), f"{n} changed"


def test_nonfinite_loss_stops_before_the_step():
    model = apply_lora(tiny_llama(), ("q_proj", "v_proj"), r=4, alpha=8)
    with torch.no_grad(): model.model.embed_tokens.weight[batches()[0]["input_ids"][0, 0]] = float("nan")
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="loss is nan at step 1"):
        train(model, batches(), steps=2, lr=1e-2, bf16=False, progress=False)
    assert_unchanged(model, before)           # the NaN never reached AdamW


def test_nonfinite_gradient_stops_before_the_step():
    model = apply_lora(tiny_llama(), ("q_proj", "v_proj"), r=4, alpha=8)
    a = model.model.layers[0].self_attn.q_proj.lora_A
    a.register_hook(lambda g: torch.full_like(g, float("inf")))   # a finite loss with an infinite gradient
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match="gradient norm is (inf|nan) at step 1"):
        train(model, batches(), steps=2, lr=1e-2, bf16=False, progress=False)
    assert_unchanged(model, before)


def test_batch_without_supervised_tokens_is_refused():
    data = batches(3)
    data[1]["labels"] = torch.full_like(data[1]["labels"], -100)
    with pytest.raises(ValueError, match=r"batch 1 .*every label is -100"):
        train(tiny_llama(), data, steps=3, lr=1e-3, bf16=False, progress=False)


def test_token_id_outside_the_vocabulary():
    model = tiny_llama()
    vocab = model.get_input_embeddings().num_embeddings
    data = batches(2)
    data[1]["input_ids"][0, 4] = vocab + 7
    with pytest.raises(ValueError, match=rf"token id {vocab + 7}.* vocabulary of {vocab}"):
        train(model, data, steps=2, lr=1e-3, bf16=False, progress=False)


def _fake_probe(monkeypatch, speedup):
    "Pretend the bf16 probe measured `speedup` on this CPU (the real answer depends on the machine)."
    import ft_course.train as fp
    monkeypatch.setitem(fp._probe_memo, fp._cpu_key(), {"cpu": "Test CPU", "fp32_ms": 1.0, "bf16_ms": 1 / speedup,
                                                         "speedup": speedup})


def _recording_loss(seen):
    from ft_course.train import supervised_loss
    def loss_fn(model, batch):
        seen.append((model.lm_head.weight.dtype, torch.is_autocast_enabled("cpu")))
        return supervised_loss(model, batch)
    return loss_fn


def test_auto_bf16_on_a_slow_cpu_is_fp32_with_one_line(monkeypatch, capsys):
    _fake_probe(monkeypatch, 0.5)
    seen = []
    train(apply_lora(tiny_llama(), ("q_proj",), r=2, alpha=4), batches(), steps=2, lr=1e-3, progress=False,
          loss_fn=_recording_loss(seen))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "float32" in lines[0] and "0.50x" in lines[0] and "Test CPU" in lines[0], lines
    assert set(seen) == {(torch.float32, False)}


def test_auto_bf16_on_a_fast_cpu(monkeypatch, capsys):
    _fake_probe(monkeypatch, 3.0)
    for make, expect in ((lambda: apply_lora(tiny_llama(), ("q_proj",), r=2, alpha=4), torch.bfloat16),
                         (tiny_llama, torch.float32)):           # full fine-tuning keeps fp32 master weights
        seen, model = [], make()
        before = {n: (p.dtype, p.detach().clone()) for n, p in model.named_parameters() if not p.requires_grad}
        train(model, batches(), steps=2, lr=1e-3, progress=False, loss_fn=_recording_loss(seen))
        assert set(seen) == {(expect, True)}
        for n, p in model.named_parameters():                  # the frozen base comes back bit for bit, in fp32
            if n in before: assert p.dtype == before[n][0] and torch.equal(p, before[n][1]), n
    assert capsys.readouterr().out == ""


def test_loss_fn_with_its_own_count():
    "A loss_fn whose count is not the label-token count (one per row) still gets the mean over its own count."
    def per_row(model, batch):
        s, n = torch.zeros(()), 0
        from ft_course.train import supervised_loss
        for i in range(len(batch["input_ids"])):
            si, ni = supervised_loss(model, {k: v[i:i + 1] for k, v in batch.items()})
            s, n = s + si / ni, n + 1
        return s, n
    data = batches(1)
    a, b = tiny_llama(), tiny_llama()
    ha = train(a, data, steps=1, lr=1e-2, bf16=False, loss_fn=per_row, progress=False)
    s, n = per_row(b, data[0]); (s / n).backward()
    ref_norm = torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0).item()   # pre-clip norm: the gradient itself
    assert abs(ha.train_loss[0] - (s / n).item()) < 1e-6
    assert abs(ha.rows[0]["grad_norm"] - ref_norm) < 1e-5 * ref_norm
