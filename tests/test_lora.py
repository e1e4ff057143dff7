"""Error paths of lesson 02 (ft_course.lora): bad hyperparameters and targets are refused, before anything changes."""
import copy
import math

import pytest
import torch
from torch import nn

from ft_course.lora import LoRALinear, apply_lora, find_lora_targets, merge_lora
from ft_course.models import tiny_llama

_BASE = []


def _tiny():
    "A fresh copy of the default tiny Llama (building one takes about a second; copying it, milliseconds)."
    if not _BASE: _BASE.append(tiny_llama())
    return copy.deepcopy(_BASE[0])


@pytest.mark.parametrize("kw, msg", [
    (dict(r=0), "r must be a positive integer"), (dict(r=True), "r must be a positive integer"),
    (dict(r=2.0), "r must be a positive integer"), (dict(r=9), "r must be ≤ 8"),
    (dict(r=4, alpha=0), "alpha must be a positive finite number"),
    (dict(r=4, alpha=math.inf), "alpha must be a positive finite number"),
    (dict(r=4, alpha=math.nan), "alpha must be a positive finite number"),
    (dict(r=4, dropout=1.0), r"dropout must be in \[0, 1\)"), (dict(r=4, dropout=-0.1), r"dropout must be in \[0, 1\)"),
])
def test_lora_linear_bad_hyperparameters(kw, msg):
    with pytest.raises(ValueError, match=msg): LoRALinear(nn.Linear(16, 8), **kw)


def test_lora_linear_needs_a_linear():
    with pytest.raises(TypeError, match="got Conv1d"): LoRALinear(nn.Conv1d(4, 4, 3), r=2)


@pytest.mark.parametrize("targets, exc, msg", [
    (["query"], ValueError, "q_proj, up_proj, v_proj"),
    (["q_proj", "value"], ValueError, r"\['value'\] matched no module"),
    (["mlp"], TypeError, "is LlamaMLP, not nn.Linear"),
    (["embed_tokens"], TypeError, "is Embedding, not nn.Linear"),
    ([], ValueError, "target_modules must be"),
    ([""], ValueError, "target_modules must be"),
])
def test_apply_lora_bad_targets(targets, exc, msg):
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(exc, match=msg): apply_lora(model, targets)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_apply_lora_refuses_before_changing_anything():
    model = _tiny()
    with pytest.raises(ValueError, match="r must be ≤ 32"): apply_lora(model, ["q_proj", "v_proj"], r=33)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="alpha must be a positive finite number"): apply_lora(model, alpha=math.inf)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())


def test_apply_lora_twice_on_the_same_layer():
    model = apply_lora(_tiny(), ["q_proj"])
    with pytest.raises(ValueError, match="already has LoRA"): apply_lora(model, ["q_proj"])


def test_strict_targets_only_in_apply_lora():
    "peft's rule (one entry matching is enough) is available as strict=False, for loading peft's adapters."
    model = _tiny()
    assert find_lora_targets(model, ["q_proj", "c_attn"], strict=False) == find_lora_targets(model, ["q_proj"])
    with pytest.raises(ValueError, match=r"\['c_attn'\] matched no module"):
        find_lora_targets(model, ["q_proj", "c_attn"])


def test_merge_lora_puts_plain_linears_back():
    model = apply_lora(_tiny(), "all-linear", r=2)
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert all(type(model.get_submodule(f"model.layers.{i}.mlp.up_proj")) is nn.Linear for i in range(2))
