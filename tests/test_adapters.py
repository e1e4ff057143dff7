"""Adapter files (lesson 02a): atomic folders, peft interop edge cases, the PEFT-family dispatch, error paths."""
import copy
import json
import math
import multiprocessing as mp
import os
import random
import sys
import time
import types
from pathlib import Path
from unittest import mock

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

from ft_course.lora import LoRALinear, apply_lora, load_peft_adapter, save_peft_adapter
from ft_course.models import tiny_llama

_BASE = []


def _tiny():
    "A fresh copy of the default tiny Llama (building one takes about a second; copying it, milliseconds)."
    if not _BASE: _BASE.append(tiny_llama())
    return copy.deepcopy(_BASE[0])

IDS = torch.randint(0, 49152, (2, 12), generator=torch.Generator().manual_seed(1))
CFG, WTS = "adapter_config.json", "adapter_model.safetensors"


def _lora(targets=("q_proj", "v_proj"), r=4, alpha=8, fill=None, **kw):
    "A tiny model with LoRA and a non-zero B (random, or all `fill`)."
    m = apply_lora(_tiny(), list(targets) if not isinstance(targets, str) else targets, r=r, alpha=alpha, **kw)
    for layer in m.modules():
        if isinstance(layer, LoRALinear):
            with torch.no_grad():
                layer.lora_B.fill_(fill) if fill is not None else layer.lora_B.normal_(std=0.3)
    return m


def _peft(tmp_path, name="peft", **cfg):
    "A peft LoRA model with random non-zero B, saved with save_pretrained; returns (model, folder)."
    torch.manual_seed(0)
    pm = get_peft_model(_tiny(), LoraConfig(task_type="CAUSAL_LM", **cfg))
    for n, p in pm.named_parameters():
        if "lora_B" in n:
            with torch.no_grad(): p.normal_(std=0.3)
    pm.save_pretrained(tmp_path / name)
    return pm, tmp_path / name


def _logits(m):
    with torch.no_grad(): return m(input_ids=IDS).logits


# ---- the module layout ------------------------------------------------------------------------------------------

def test_old_import_paths_lead_to_adapters():
    import ft_course.adapters as A
    import ft_course.lora as L
    for name in ("save_peft_adapter", "load_peft_adapter", "peft_adapter_config", "ADAPTER_CONFIG", "ADAPTER_WEIGHTS"):
        assert getattr(L, name) is getattr(A, name)
    with pytest.raises(AttributeError): L.no_such_name


def test_write_read_roundtrip_keeps_other_files(tmp_path):
    from ft_course.adapters import read_adapter, write_adapter
    d = tmp_path / "a"
    d.mkdir(); (d / "README.md").write_text("mine")
    t = {"x.weight": torch.arange(6.0).reshape(2, 3)}
    write_adapter(d, {"peft_type": "IA3", "k": 1}, t)
    cfg, got = read_adapter(d)
    assert cfg == {"peft_type": "IA3", "k": 1} and torch.equal(got["x.weight"], t["x.weight"])
    assert (d / "README.md").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["a"]
    with pytest.raises(ValueError, match="peft_type"): write_adapter(d, {"r": 4}, t)


# ---- dispatch to the PEFT family ---------------------------------------------------------------------------------

def _fake_family(monkeypatch, parts=None):
    fam = types.ModuleType("ft_course.peft_family")
    fam.calls = []
    fam.adapter_parts = lambda model: parts
    def load_adapter_parts(model, config, tensors):
        fam.calls.append((config, tensors)); return model
    fam.load_adapter_parts = load_adapter_parts
    monkeypatch.setitem(sys.modules, "ft_course.peft_family", fam)
    return fam


def test_save_dispatches_to_peft_family(tmp_path, monkeypatch):
    parts = ({"peft_type": "IA3", "target_modules": ["k_proj"]}, {"base_model.model.x.ia3_l": torch.ones(4)})
    _fake_family(monkeypatch, parts)
    save_peft_adapter(_tiny(), tmp_path / "ia3", base_model_name_or_path="tiny")
    cfg = json.loads((tmp_path / "ia3" / CFG).read_text())
    assert cfg == {**parts[0], "base_model_name_or_path": "tiny"}
    assert torch.equal(load_file(tmp_path / "ia3" / WTS)["base_model.model.x.ia3_l"], torch.ones(4))
    _fake_family(monkeypatch, None)
    with pytest.raises(ValueError, match="no LoRA layers"): save_peft_adapter(_tiny(), tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_save_asks_peft_family_before_the_lora_path(tmp_path, monkeypatch):
    "A DoRA layer is a LoRALinear subclass: the family's parts win; plain LoRA mixed with them is refused."
    model = _lora(["q_proj"])
    keys = [f"base_model.model.{n}.{k}" for n, m in model.named_modules() if isinstance(m, LoRALinear)
            for k in ("lora_A.weight", "lora_B.weight", "lora_magnitude_vector")]
    parts = ({"peft_type": "LORA", "use_dora": True, "r": 4}, {k: torch.ones(2) for k in keys})
    _fake_family(monkeypatch, parts)
    save_peft_adapter(model, tmp_path / "dora")
    assert json.loads((tmp_path / "dora" / CFG).read_text())["use_dora"] is True
    assert sorted(load_file(tmp_path / "dora" / WTS)) == sorted(keys)
    apply_lora(model, ["v_proj"])
    with pytest.raises(ValueError, match="mixes plain LoRA layers"): save_peft_adapter(model, tmp_path / "mixed")
    _fake_family(monkeypatch, None)        # the family has nothing of its own: the LoRA path
    save_peft_adapter(model, tmp_path / "lora")
    assert json.loads((tmp_path / "lora" / CFG).read_text())["use_dora"] is False


def test_load_dispatches_non_lora_and_dora(tmp_path, monkeypatch):
    from ft_course.adapters import write_adapter
    fam = _fake_family(monkeypatch)
    t = {"base_model.model.x.ia3_l": torch.ones(3)}
    write_adapter(tmp_path / "ia3", {"peft_type": "IA3"}, t)
    m = _tiny()
    assert load_peft_adapter(m, tmp_path / "ia3") is m
    _, dora = _peft(tmp_path, "dora", r=4, lora_alpha=8, target_modules=["q_proj"], use_dora=True)
    load_peft_adapter(_tiny(), dora)
    assert [c["peft_type"] for c, _ in fam.calls] == ["IA3", "LORA"] and fam.calls[1][0]["use_dora"]
    assert torch.equal(fam.calls[0][1]["base_model.model.x.ia3_l"], torch.ones(3))


def test_load_without_peft_family_names_the_type(tmp_path, monkeypatch):
    from ft_course.adapters import write_adapter
    monkeypatch.setitem(sys.modules, "ft_course.peft_family", None)   # as if lesson 10 were not installed
    write_adapter(tmp_path / "p", {"peft_type": "PROMPT_TUNING"}, {"prompt_embeddings": torch.zeros(2, 4)})
    with pytest.raises(ValueError, match="'PROMPT_TUNING' needs ft_course.peft_family"):
        load_peft_adapter(_tiny(), tmp_path / "p")
    _, dora = _peft(tmp_path, "dora", r=4, lora_alpha=8, target_modules=["q_proj"], use_dora=True)
    with pytest.raises(ValueError, match="use_dora"): load_peft_adapter(_tiny(), dora)
    with pytest.raises(ValueError, match="no LoRA layers"): save_peft_adapter(_tiny(), tmp_path / "x")


# ---- issue 14: atomic as a whole -----------------------------------------------------------------------------------

def _save_forever(path, models):
    "Child process: save the two adapters in turn until killed."
    torch.set_num_threads(1)
    for i in range(10**9): save_peft_adapter(models[i % 2], path)


def _consistent(path):
    "The folder's config and weights come from the same save: α=8 goes with B=1, α=16 with B=2."
    alpha = json.loads((path / CFG).read_text())["lora_alpha"]
    bs = {t.unique().item() for k, t in load_file(path / WTS).items() if "lora_B" in k}
    return bs == {alpha / 8}


def _leftovers(parent, path):
    names = set(os.listdir(parent)) - {path.name}
    inside = [n for n in os.listdir(path) if n.startswith(".")] if path.is_dir() else []
    return sorted(names) + inside


def test_save_survives_sigkill(tmp_path):
    "SIGKILL at random moments leaves the old adapter or the new one, never a mix, and no leftovers after a load."
    models = [_lora(alpha=8, fill=1.0), _lora(alpha=16, fill=2.0)]
    ctx, rng, t0 = mp.get_context("fork"), random.Random(0), time.time()
    path = tmp_path / "adapter"
    save_peft_adapter(models[0], path)
    kills, target = 0, _lora(alpha=4)
    while kills < 40 and time.time() - t0 < 15:
        p = ctx.Process(target=_save_forever, args=(path, models)); p.start()
        time.sleep(rng.uniform(0.005, 0.05)); p.kill(); p.join(); kills += 1
        loaded = load_peft_adapter(target, path)   # recovers a cut swap, cleans leftovers
        assert _consistent(path), f"kill {kills}: config and weights from different saves"
        want = json.loads((path / CFG).read_text())["lora_alpha"] / 4
        assert all(m.scaling == want for m in loaded.modules() if isinstance(m, LoRALinear))
        assert _leftovers(tmp_path, path) == [], f"kill {kills}: leftovers {_leftovers(tmp_path, path)}"
    assert kills >= 20, f"only {kills} kills in 15 s"


def test_first_save_killed_leaves_nothing_that_loads(tmp_path):
    models = [_lora(alpha=8, fill=1.0), _lora(alpha=16, fill=2.0)]
    ctx, rng = mp.get_context("fork"), random.Random(1)
    for i in range(12):
        path = tmp_path / f"a{i}"
        p = ctx.Process(target=_save_forever, args=(path, models)); p.start()
        time.sleep(rng.uniform(0.0, 0.03)); p.kill(); p.join()
        try: load_peft_adapter(_tiny(), path)
        except FileNotFoundError: assert not path.exists(), f"a half-written {path.name} was left"
        else: assert _consistent(path)
    assert sorted(os.listdir(tmp_path)) == sorted(n for n in os.listdir(tmp_path) if not n.startswith("."))


def test_failed_rename_keeps_the_old_adapter(tmp_path):
    save_peft_adapter(_lora(), tmp_path)
    old = {f: (tmp_path / f).read_bytes() for f in (CFG, WTS)}
    with mock.patch("os.replace", side_effect=OSError("No space left on device")):
        with pytest.raises(OSError, match="No space left"): save_peft_adapter(_lora(["o_proj"], r=2), tmp_path)
    assert {f: (tmp_path / f).read_bytes() for f in old} == old
    assert sorted(os.listdir(tmp_path)) == [CFG, WTS]


def test_old_tmp_leftovers_cleaned_on_load(tmp_path):
    d = tmp_path / "a"
    save_peft_adapter(_lora(), d)
    (d / ".adapter_config.json-abc.tmp").write_text("{")
    (d / ".adapter_model.safetensors-abc.tmp").write_bytes(b"x")
    (tmp_path / ".a.new-999999999-deadbeef").mkdir()   # a save by a process that died
    load_peft_adapter(_tiny(), d)
    assert _leftovers(tmp_path, d) == []


# ---- issue 14: peft interop ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("init", ["pissa", "pissa_niter_4", "olora", "corda"])
def test_base_rewriting_inits_refused(tmp_path, init):
    "peft rewrites the base weights when it loads these; loading only A and B would compute something else."
    _, d = _peft(tmp_path, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    cfg = json.loads((d / CFG).read_text())
    (d / CFG).write_text(json.dumps({**cfg, "init_lora_weights": init}))
    with pytest.raises(ValueError, match=f"init_lora_weights={init!r}"): load_peft_adapter(_tiny(), d)


def test_pissa_really_differs_in_peft(tmp_path):
    "Why the refusal: a pissa adapter loaded by peft does not give base + B A."
    torch.manual_seed(0)
    pm = get_peft_model(_tiny(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"], init_lora_weights="pissa"))
    pm.save_pretrained(tmp_path / "p")
    cfg = json.loads((tmp_path / "p" / CFG).read_text())
    assert cfg["init_lora_weights"] == "pissa"
    (tmp_path / "p" / CFG).write_text(json.dumps({**cfg, "init_lora_weights": True}))
    plain = load_peft_adapter(_tiny(), tmp_path / "p")
    (tmp_path / "p" / CFG).write_text(json.dumps(cfg))
    theirs = PeftModel.from_pretrained(_tiny(), tmp_path / "p")
    assert (_logits(plain) - _logits(theirs)).abs().max() > 1e-3


@pytest.mark.parametrize("init", [False, "gaussian"])
def test_plain_inits_load_like_peft(tmp_path, init):
    pm, d = _peft(tmp_path, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=init)
    assert torch.equal(_logits(load_peft_adapter(_tiny(), d)), _logits(PeftModel.from_pretrained(_tiny(), d)))


@pytest.mark.parametrize("rs", [False, True])
def test_existing_lora_layers_take_the_saved_scaling(tmp_path, rs):
    pm, d = _peft(tmp_path, r=4, lora_alpha=16, use_rslora=rs, target_modules=["q_proj", "v_proj"])
    mine = load_peft_adapter(apply_lora(_tiny(), ["q_proj", "v_proj"], r=4, alpha=8, use_rslora=not rs), d)
    assert all(m.alpha == 16 and m.use_rslora == rs for m in mine.modules() if isinstance(m, LoRALinear))
    torch.testing.assert_close(_logits(mine), _logits(PeftModel.from_pretrained(_tiny(), d)), rtol=0, atol=1e-6)


def test_target_modules_naming_absent_modules_load(tmp_path):
    "peft needs only one entry of target_modules to match (one config for several architectures)."
    pm, d = _peft(tmp_path, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "c_attn", "query_key_value"])
    assert torch.equal(_logits(load_peft_adapter(_tiny(), d)), _logits(PeftModel.from_pretrained(_tiny(), d)))


@pytest.mark.parametrize("alpha", [math.inf, -math.inf, math.nan])
def test_non_finite_alpha_refused(alpha):
    with pytest.raises(ValueError, match="alpha must be a positive finite number"): apply_lora(_tiny(), alpha=alpha)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_refused(tmp_path, bad):
    save_peft_adapter(_lora(), tmp_path)
    t = load_file(tmp_path / WTS)
    k = sorted(t)[0]
    t[k][0, 0] = bad
    save_file(t, tmp_path / WTS)
    with pytest.raises(ValueError, match=f"{k}.*NaN or inf"): load_peft_adapter(_tiny(), tmp_path)


# ---- error paths (moved from lesson 02) ------------------------------------------------------------------------------

def test_adapters_that_do_not_fit(tmp_path):
    save_peft_adapter(_lora(), tmp_path)
    with pytest.raises(ValueError, match=r"needs \(4, 32\)"):
        load_peft_adapter(tiny_llama(hidden_size=32, intermediate_size=64), tmp_path)
    with pytest.raises(ValueError, match="doesn't adapt"):
        load_peft_adapter(apply_lora(_tiny(), ["o_proj"], r=4), tmp_path)
    with pytest.raises(ValueError, match="does not fit this model"):
        load_peft_adapter(nn.Sequential(nn.Linear(4, 4)), tmp_path)
    merged = _lora(); next(m for m in merged.modules() if isinstance(m, LoRALinear)).merge()
    with pytest.raises(ValueError, match="unmerge"): load_peft_adapter(merged, tmp_path)
    cfg = json.loads((tmp_path / CFG).read_text())
    (tmp_path / CFG).write_text(json.dumps({**cfg, "fan_in_fan_out": True}))
    with pytest.raises(ValueError, match="unsupported LoRA options fan_in_fan_out=True"):
        load_peft_adapter(_tiny(), tmp_path)
    (tmp_path / CFG).write_text("{\n  \"r\": 4,\n  oops\n}")
    with pytest.raises(ValueError, match="not valid JSON \\(line 3"): load_peft_adapter(_tiny(), tmp_path)
    (tmp_path / CFG).write_text("[1, 2]")
    with pytest.raises(ValueError, match="peft_type"): load_peft_adapter(_tiny(), tmp_path)
    os.remove(tmp_path / WTS)
    with pytest.raises(FileNotFoundError, match="adapter_model.safetensors is missing"):
        load_peft_adapter(_tiny(), tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"): load_peft_adapter(_tiny(), tmp_path / "nope")
    with pytest.raises(ValueError, match="no LoRA layers"): save_peft_adapter(_tiny(), tmp_path / "never")


def test_failed_load_changes_nothing(tmp_path):
    save_peft_adapter(_lora(), tmp_path)
    t = load_file(tmp_path / WTS)
    k = sorted(k for k in t if "layers.1" in k)[-1]
    t[k] = torch.zeros(3, 3)
    save_file(t, tmp_path / WTS)
    m = _tiny()
    with pytest.raises(ValueError, match="has shape"): load_peft_adapter(m, tmp_path)
    assert not any(isinstance(x, LoRALinear) for x in m.modules())
