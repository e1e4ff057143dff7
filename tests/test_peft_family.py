"""Error paths and file-format edge cases of ft_course.peft_family (the lesson shows the working paths)."""
import json

import pytest
import torch
from torch import nn

from ft_course.adapters import load_peft_adapter, read_adapter, save_peft_adapter, write_adapter
from ft_course.models import tiny_llama
from ft_course.peft_family import (BottleneckAdapter, DoRALinear, IA3Linear, PrefixTuning, PromptTuning, adapter_parts,
                                   apply_bottleneck, apply_dora, apply_ia3, load_adapter_parts)


@pytest.fixture(scope="module")
def ids():
    return torch.randint(0, 49152, (2, 5), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_virtual_tokens_must_be_positive_int(bad):
    for cls in (PromptTuning, PrefixTuning):
        with pytest.raises(ValueError, match="num_virtual_tokens"): cls(tiny_llama(), bad)


def test_prompt_tuning_init_named():
    with pytest.raises(ValueError, match="init must be"): PromptTuning(tiny_llama(), 2, init="text")


def test_wrappers_need_a_causal_lm():
    with pytest.raises(TypeError, match="Llama-style config"): PrefixTuning(nn.Linear(2, 2), 2)


def test_ia3_and_bottleneck_reject_bad_layers():
    with pytest.raises(TypeError, match="nn.Linear"): IA3Linear(nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="bottleneck must be"): BottleneckAdapter(nn.Linear(4, 4), 4, bottleneck=0)
    with pytest.raises(ValueError, match="act must be"): BottleneckAdapter(nn.Linear(4, 4), 4, act="softmax")
    with pytest.raises(ValueError, match="matched no module"): apply_ia3(tiny_llama(), ("nope",), ())


def test_dora_rejects_bad_rank():
    with pytest.raises(ValueError, match="r must be"): apply_dora(tiny_llama(), r=0)


def test_load_refuses_unsupported_options_by_name():
    cases = [({"peft_type": "LORA", "use_dora": True, "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"],
               "bias": "all"}, "bias='all'"),
             ({"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 2, "num_transformer_submodules": 2},
              "num_transformer_submodules=2"),
             ({"peft_type": "IA3", "target_modules": ["k_proj"], "task_type": "SEQ_2_SEQ_LM"}, "task_type"),
             ({"peft_type": "LOHA"}, "unsupported peft_type='LOHA'"),
             ({"peft_type": "LORA", "r": 2}, "plain LoRA")]
    for cfg, msg in cases:
        with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")): load_adapter_parts(tiny_llama(), cfg, {})


def test_load_checks_shapes_and_leftovers():
    cfg = {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 3, "token_dim": 64, "num_layers": 2}
    with pytest.raises(ValueError, match=r"shape \(3, 32\)"):
        load_adapter_parts(tiny_llama(), cfg, {"prompt_embeddings": torch.zeros(3, 32)})
    with pytest.raises(ValueError, match="no tensor 'prompt_embeddings'"): load_adapter_parts(tiny_llama(), cfg, {})
    with pytest.raises(ValueError, match="no place for"):
        load_adapter_parts(tiny_llama(), cfg, {"prompt_embeddings": torch.zeros(3, 64), "extra": torch.zeros(1)})
    with pytest.raises(ValueError, match="token_dim=64 does not fit"):
        load_adapter_parts(tiny_llama(), {**cfg, "peft_type": "PREFIX_TUNING"}, {})
    ia3 = {"peft_type": "IA3", "target_modules": ["k_proj"], "feedforward_modules": []}
    with pytest.raises(ValueError, match="has no tensor"): load_adapter_parts(tiny_llama(), ia3, {})


def test_bottleneck_and_mixed_models_have_no_peft_file():
    with pytest.raises(ValueError, match="no peft format"): adapter_parts(apply_bottleneck(tiny_llama()))
    mixed = apply_dora(apply_ia3(tiny_llama()), ("q_proj",), r=2)
    with pytest.raises(ValueError, match="both IA3 and DoRA"): adapter_parts(mixed)
    assert adapter_parts(tiny_llama()) is None


@pytest.mark.parametrize("make", [lambda m: PromptTuning(m, 3), lambda m: PrefixTuning(m, 3, prefix_projection=True),
                                  apply_ia3])
def test_save_peft_adapter_round_trip(tmp_path, ids, make):
    model = make(tiny_llama())
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad: p.add_(torch.randn_like(p) * 0.1)
    save_peft_adapter(model, tmp_path / "a")
    back = load_peft_adapter(tiny_llama(), tmp_path / "a")
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)


def test_dora_round_trip_through_write_adapter(tmp_path, ids):
    model = apply_dora(tiny_llama(), r=2, alpha=4, seed=0)
    with torch.no_grad(): model.model.layers[0].self_attn.q_proj.lora_B.normal_()
    write_adapter(tmp_path / "d", *adapter_parts(model))
    cfg, tensors = read_adapter(tmp_path / "d")
    assert cfg["use_dora"] is True and any(k.endswith("lora_magnitude_vector") for k in tensors)
    back = load_peft_adapter(tiny_llama(), tmp_path / "d")
    assert isinstance(back.model.layers[0].self_attn.q_proj, DoRALinear)
    with torch.no_grad():
        torch.testing.assert_close(back.eval()(input_ids=ids).logits, model.eval()(input_ids=ids).logits)


def test_save_peft_adapter_keeps_dora(tmp_path):
    "DoRALinear subclasses LoRALinear: save_peft_adapter must still write DoRA, magnitudes included."
    save_peft_adapter(apply_dora(tiny_llama(), r=2, alpha=4), tmp_path / "d")
    assert json.loads((tmp_path / "d" / "adapter_config.json").read_text())["use_dora"] is True
    assert any(k.endswith("lora_magnitude_vector") for k in read_adapter(tmp_path / "d")[1])
