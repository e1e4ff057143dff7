"""NF4 speed, ft_course.nf4 / ft_course.qlora against bitsandbytes (+ peft), same inputs, one run.

1. quantize and dequantize (NF4, blocksize 64, with and without double quantization) of square weight matrices:
   ours (`quantize_nf4` [+ `double_quantize`], `dequantize_nf4`) vs `bitsandbytes.functional.quantize_4bit` /
   `dequantize_4bit`. Outputs are checked equal (bytes, and dequantized values without double quant) before timing.
   On the CPU our dequantize runs lesson 03's C++ kernel (the torch version is timed too, as "torch").
2. one QLoRA training step (forward + backward + AdamW) on SmolLM2-135M, r=8 on q_proj/v_proj:
   ours (`apply_qlora`) vs bitsandbytes `Linear4bit` + peft `get_peft_model` (`replace_with_bnb_4bit`);
   `--autocast` runs both steps under `torch.autocast("cpu", dtype=torch.bfloat16)` (lesson 06's fast CPU path).

Variants take turns repeat by repeat (a noisy neighbour slows all of them alike); we report the median.
Ratios are ours / reference: above 1 means ours is slower.

    python bench/nf4_vs_bnb.py                        # CPU: 1024² and 4096², float32 and bf16, a 2×64-token step
    python bench/nf4_vs_bnb.py --sizes 1024 --repeats 3 --no-train     # a quick look
    python bench/nf4_vs_bnb.py --cuda                 # where a GPU is: CUDA kernels, 8192² bf16, batch 4×512
"""
import argparse
import copy
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import warnings
warnings.filterwarnings("ignore", message=".*kernels-community.*")

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cuda", action="store_true", help="run on the GPU (bitsandbytes' CUDA kernels)")
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="matrix sides (default 1024 4096; 4096 8192 on CUDA)")
    p.add_argument("--dtypes", choices=["float32", "bfloat16", "float16"], nargs="+", default=None,
                   help="weight dtypes (default float32 bfloat16 on CPU, bfloat16 on CUDA)")
    p.add_argument("--autocast", action="store_true", help="training step under bf16 CPU autocast")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-train", action="store_true", help="skip the QLoRA training step")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per variant (after one warm-up)")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--seq", type=int, default=None)
    return p.parse_args(argv)


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def timed(fn, device):
    sync(device); t0 = time.perf_counter(); out = fn(); sync(device)
    return time.perf_counter() - t0, out


def interleaved(variants, repeats, device):
    "Median seconds per variant, the variants taking turns; one untimed warm-up call each."
    for fn in variants.values(): fn()
    times = {k: [] for k in variants}
    for _ in range(repeats):
        for k, fn in variants.items(): times[k].append(timed(fn, device)[0])
    return {k: statistics.median(v) for k, v in times.items()}


def bench_quant(sizes, dtype, repeats, device):
    import bitsandbytes.functional as bnbF
    from ft_course.nf4 import quantize_nf4, dequantize_nf4, dequantize_nf4_torch, double_quantize, double_dequantize
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"\n## quantize / dequantize, NF4 blocksize 64, {dtype}, {device.type}, OMP_NUM_THREADS={threads}")
    print(f"{'size':>10} {'operation':<26} {'ours ms':>10} {'bnb ms':>10} {'ours/bnb':>9} "
          f"{'torch ms':>9} {'torch/bnb':>9}")
    for n in sizes:
        w = torch.randn(n, n, device=device).to(dtype)
        packed, absmax = quantize_nf4(w)
        ref_packed, ref_state = bnbF.quantize_4bit(w, blocksize=64, quant_type="nf4")
        assert torch.equal(packed, ref_packed) and torch.equal(absmax, ref_state.absmax), "quantize differs from bnb"
        assert torch.equal(dequantize_nf4(packed, absmax, w.shape, dtype=dtype),
                           bnbF.dequantize_4bit(ref_packed, ref_state, quant_type="nf4")), "dequantize differs from bnb"
        q2, a2, off = double_quantize(absmax)
        _, ref_state_dq = bnbF.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)

        def ours_q_dq():
            p, a = quantize_nf4(w); return p, double_quantize(a)

        def ours_dq_dq():
            return dequantize_nf4(packed, double_dequantize(q2, a2, off), w.shape, dtype=dtype)

        rows = [
            ("quantize", {"ours": lambda: quantize_nf4(w),
                          "bnb": lambda: bnbF.quantize_4bit(w, blocksize=64, quant_type="nf4")}),
            ("dequantize", {"ours": lambda: dequantize_nf4(packed, absmax, w.shape, dtype=dtype),
                            "bnb": lambda: bnbF.dequantize_4bit(ref_packed, ref_state, quant_type="nf4"),
                            "torch": lambda: dequantize_nf4_torch(packed, absmax, w.shape, dtype=dtype)}),
            ("quantize + double quant", {"ours": ours_q_dq,
                                         "bnb": lambda: bnbF.quantize_4bit(w, blocksize=64, quant_type="nf4",
                                                                           compress_statistics=True)}),
            ("dequantize + double quant", {"ours": ours_dq_dq,
                                           "bnb": lambda: bnbF.dequantize_4bit(ref_packed, ref_state_dq,
                                                                               quant_type="nf4")}),
        ]
        for name, variants in rows:
            t = interleaved(variants, repeats, device)
            extra = f" {t['torch'] * 1e3:9.2f} {t['torch'] / t['bnb']:9.2f}" if "torch" in t else ""
            print(f"{f'{n}x{n}':>10} {name:<26} {t['ours'] * 1e3:10.2f} {t['bnb'] * 1e3:10.2f} "
                  f"{t['ours'] / t['bnb']:9.2f}{extra}")


def bench_train(args, device):
    from peft import LoraConfig, get_peft_model
    from ft_course.models import load_smollm2
    from ft_course.qlora import apply_qlora, replace_with_bnb_4bit
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    batch, seq = args.batch or (4 if cuda else 2), args.seq or (512 if cuda else 64)
    base, _ = load_smollm2(dtype=dtype, device=device)
    torch.manual_seed(0)
    ours = apply_qlora(copy.deepcopy(base), ("q_proj", "v_proj"), r=8, alpha=16, compute_dtype=dtype)
    ref = get_peft_model(replace_with_bnb_4bit(copy.deepcopy(base), compute_dtype=dtype),
                         LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    del base
    ids = torch.randint(0, 49152, (batch, seq), device=device)
    models = {"ours": ours, "bnb+peft": ref}
    opts = {k: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) for k, m in models.items()}
    for m in models.values(): m.train()

    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.autocast)

    def step(k):
        def run():
            with autocast: loss = models[k](input_ids=ids, labels=ids).loss
            loss.backward(); opts[k].step(); opts[k].zero_grad(set_to_none=True)
            return loss
        return run

    mode = " under bf16 autocast" if args.autocast else ""
    print(f"\n## QLoRA training step, SmolLM2-135M {dtype}{mode}, r=8 q/v, batch {batch}x{seq}, {device.type}, "
          f"median of {args.steps}")
    t = interleaved({k: step(k) for k in models}, args.steps, device)
    for k, s in t.items(): print(f"{k:>10} {s:8.3f} s/step {batch * seq / s:10.0f} tokens/s")
    print(f"{'ours/bnb+peft':>10} {t['ours'] / t['bnb+peft']:8.2f} (time; ours runs at "
          f"{t['bnb+peft'] / t['ours']:.2f}x the speed)")


def main(argv=None):
    args = parse_args(argv)
    if args.cuda and not torch.cuda.is_available(): raise SystemExit("--cuda: no CUDA device is available")
    device = torch.device("cuda" if args.cuda else "cpu")
    dtypes = [getattr(torch, d) for d in args.dtypes or (["bfloat16"] if args.cuda else ["float32", "bfloat16"])]
    sizes = args.sizes or ([4096, 8192] if args.cuda else [1024, 4096])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for dtype in dtypes: bench_quant(sizes, dtype, args.repeats, device)
    if not args.no_train: bench_train(args, device)


if __name__ == "__main__":
    main()
