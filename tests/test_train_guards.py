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
