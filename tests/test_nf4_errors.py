"""Error paths of ft_course.nf4 and ft_course.qlora: clear errors that name the input (moved from lessons 03 and 04)."""
import pytest
import torch
from torch import nn

from ft_course.nf4 import (bits_per_parameter, blockwise_absmax, dequantize_nf4, dequantize_nf4_torch,
                           double_dequantize, double_quantize, quantize_nf4)


@pytest.mark.parametrize("dequantize", [dequantize_nf4, dequantize_nf4_torch])
def test_dequantize_bad_input(dequantize):
    packed, absmax = quantize_nf4(torch.randn(10, 13))
    cases = [((packed.float(), absmax, (10, 13)), {}, "must be a uint8 tensor"),
             ((packed.to(torch.int8), absmax, (10, 13)), {}, "got torch.int8"),
             ((packed[:-1], absmax, (10, 13)), {}, "64 bytes but shape (10, 13) (130 values) needs"),
             ((packed, absmax, (10, 14)), {}, "the shape does not match"),
             ((packed, absmax, (10, 13)), {"blocksize": 32}, "absmax has 3 values but"),
             ((packed, absmax, (10, 13)), {"blocksize": 48}, "blocksize must be one of")]
    for args, kwargs, message in cases:
        with pytest.raises((TypeError, ValueError), match=None) as e: dequantize(*args, **kwargs)
        assert message in str(e.value), (message, str(e.value))


def fails(fn, message, kinds=(TypeError, ValueError, NotImplementedError, RuntimeError)):
    "Assert that `fn()` raises one of `kinds` with `message` in its text."
    with pytest.raises(kinds) as e: fn()
    assert message in str(e.value), (message, str(e.value))


def test_blockwise_absmax_bad_input():
    w = torch.randn(8, 100)
    w[2, 7] = float("nan"); w[5, 0] = float("inf"); w[5, 99] = -float("inf")
    fails(lambda: blockwise_absmax(w), "3 non-finite value(s) (1 NaN, 2 inf)")
    fails(lambda: blockwise_absmax(w), "first at index (2, 7), (5, 0), (5, 99)")
    fails(lambda: blockwise_absmax(torch.randn(10), blocksize=100), "blocksize must be one of 32, 64")
    fails(lambda: blockwise_absmax(torch.randn(10), blocksize=64.0), "got 64.0")
    fails(lambda: blockwise_absmax(torch.randn(10), blocksize=True), "got True")
    fails(lambda: blockwise_absmax(torch.arange(10)), "float32, bfloat16 or float16")


def test_double_quant_bad_input():
    q, absmax2, offset = double_quantize(quantize_nf4(torch.randn(1024, 1000))[1])
    fails(lambda: double_quantize(torch.rand(10), blocksize=100), "blocksize must be one of 64, 128, 256")
    fails(lambda: double_quantize(torch.tensor([1.0, float("nan")])), "absmax has 1 non-finite")
    fails(lambda: double_dequantize(q.float(), absmax2, offset), "q must be a uint8 tensor")
    fails(lambda: double_dequantize(q, absmax2[:-1], offset), "absmax2 has 62 values")
    fails(lambda: bits_per_parameter(blocksize=100), "blocksize must be one of")
    fails(lambda: bits_per_parameter(double_quant=True, blocksize2=32), "blocksize2 must be one of")


def test_nf4_linear_bad_input():
    from ft_course.qlora import NF4Linear
    fails(lambda: NF4Linear(nn.Conv1d(4, 4, 1)), "NF4Linear quantizes an nn.Linear; got Conv1d")
    bad = nn.Linear(64, 8)
    with torch.no_grad(): bad.weight[3, 5] = float("nan"); bad.weight[6, 0] = float("inf")
    fails(lambda: NF4Linear(bad), "weight has 2 non-finite value(s) (1 NaN, 1 inf)")
    fails(lambda: NF4Linear(bad), "first at index (3, 5), (6, 0)")
    fails(lambda: NF4Linear(nn.Linear(64, 8), blocksize=96), "blocksize must be one of")
    fails(lambda: NF4Linear(nn.Linear(64, 8), compute_dtype=torch.int8), "compute_dtype must be None or one of")
    layer, restored = NF4Linear(nn.Linear(576, 192)), NF4Linear(nn.Linear(576, 192))
    sd = layer.state_dict()
    fails(lambda: restored.load_state_dict({**sd, "weight_packed": sd["weight_packed"].float()}),
          "weight_packed in the state dict is torch.float32; NF4Linear stores it as torch.uint8")
    fails(lambda: restored.load_state_dict({**sd, "weight_packed": sd["weight_packed"][:-1]}),
          "weight_packed in the state dict has shape (55295, 1)")
    fails(lambda: NF4Linear(nn.Linear(576, 96)).load_state_dict(sd), "576 layer (blocksize 64) needs (27648, 1)")


def test_qlora_bad_input():
    from ft_course.lora import lora_modules
    from ft_course.models import tiny_llama
    from ft_course.qlora import QLoRALinear, apply_qlora
    fails(lambda: QLoRALinear(nn.Conv1d(4, 4, 1)), "LoRA needs a linear layer")
    fails(QLoRALinear(nn.Linear(64, 32)).merge, "use merge_qlora(model)")
    model = tiny_llama()
    fails(lambda: apply_qlora(model, ("nope",)), "matched no module")
    fails(lambda: apply_qlora(model, blocksize=100), "blocksize must be one of")
    fails(lambda: apply_qlora(model, compute_dtype=torch.int8), "compute_dtype must be None or one of")
    with torch.no_grad(): model.model.layers[1].mlp.up_proj.weight[7, 3] = float("inf")
    fails(lambda: apply_qlora(model), "model.layers.1.mlp.up_proj.weight has 1 non-finite value(s) (0 NaN, 1 inf)")
    assert lora_modules(model) == {} and type(model.model.layers[0].self_attn.q_proj) is nn.Linear  # nothing changed


def test_kernel_fallback_says_why(tmp_path):
    "Without a compiler the kernel is unavailable: one line on stderr, and dequantize_nf4 still gives the exact result."
    import os, subprocess, sys
    from pathlib import Path
    code = ("import torch; from ft_course.nf4 import quantize_nf4, dequantize_nf4, dequantize_nf4_torch\n"
            "x = torch.randn(33, 70); p, a = quantize_nf4(x)\n"
            "assert torch.equal(dequantize_nf4(p, a, x.shape), dequantize_nf4_torch(p, a, x.shape)); print('ok')")
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"), "FT_COURSE_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
    lines = [l for l in res.stderr.splitlines() if "ft_course.nf4" in l]
    assert len(lines) == 1 and "C++ kernel unavailable" in lines[0] and "torch" in lines[0], res.stderr
