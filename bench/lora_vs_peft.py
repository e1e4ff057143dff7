"""One LoRA training step (forward + backward + AdamW step), ft_course.lora against peft, same model and batch.

CPU (default): SmolLM2-135M-Instruct in float32, r=8 on q_proj/v_proj, batch 8×128.
GPU (--gpu):   a 1.1B Llama shape (TinyLlama-1.1B's config, random weights) in bf16, r=16 on all linear layers,
               batch 4×1024. The reference anchor: peft's default measured 23.5k tokens/s on an H100.

Variants, all built from copies of the same base model and run on the same batch:
  ours                         ft_course.lora.apply_lora (adapter in the base's dtype)
  peft                         get_peft_model(...)  (default autocast_adapter_dtype=True: fp16/bf16 adapters become float32)
  peft autocast_adapter=False  get_peft_model(..., autocast_adapter_dtype=False)
The variants take turns step by step (so a noisy neighbour slows all of them alike); we report the median step time.

    python bench/lora_vs_peft.py                       # the CPU configuration (slow on 2 cores: ~1 min per step set)
    python bench/lora_vs_peft.py --steps 2 --batch 2 --seq 64    # a quick look
    python bench/lora_vs_peft.py --gpu                 # where a GPU is
"""
import argparse
import copy
import statistics
import sys
import time

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gpu", action="store_true", help="the GPU configuration: 1.1B Llama shape, bf16, r=16 all-linear, 4×1024")
    p.add_argument("--steps", type=int, default=None, help="timed steps per variant (default 5 on CPU, 20 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per variant first (default 1 on CPU, 3 on GPU)")
    p.add_argument("--batch", type=int, default=None, help="sequences per batch (default 8 on CPU, 4 on GPU)")
    p.add_argument("--seq", type=int, default=None, help="tokens per sequence (default 128 on CPU, 1024 on GPU)")
    p.add_argument("--r", type=int, default=None, help="LoRA rank (default 8 on CPU, 16 on GPU)")
    p.add_argument("--targets", default=None, help="comma-separated module names or all-linear (default q_proj,v_proj on CPU, all-linear on GPU)")
    p.add_argument("--variants", default="ours,peft,peft_noautocast", help="which variants to run, comma-separated")
    a = p.parse_args(argv)
    gpu = a.gpu
    for name, cpu, gpu_v in (("steps", 5, 20), ("warmup", 1, 3), ("batch", 8, 4), ("seq", 128, 1024), ("r", 8, 16),
                             ("targets", "q_proj,v_proj", "all-linear")):
        if getattr(a, name) is None: setattr(a, name, gpu_v if gpu else cpu)
    for name in ("steps", "batch", "seq", "r"):
        if getattr(a, name) < 1: p.error(f"--{name} must be ≥ 1, got {getattr(a, name)}")
    if a.warmup < 0: p.error(f"--warmup must be ≥ 0, got {a.warmup}")
    a.targets = "all-linear" if a.targets == "all-linear" else [t.strip() for t in a.targets.split(",") if t.strip()]
    a.variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = set(a.variants) - {"ours", "peft", "peft_noautocast"}
    if unknown: p.error(f"unknown variants {sorted(unknown)}; choose from ours, peft, peft_noautocast")
    return a


def base_model(gpu: bool):
    "The base model of the configuration (CPU: SmolLM2-135M float32; GPU: a 1.1B Llama shape in bf16)."
    if not gpu:
        from ft_course.models import load_smollm2
        model, _ = load_smollm2(dtype=torch.float32)
        return model
    if not torch.cuda.is_available(): raise SystemExit("--gpu needs a CUDA device; none is available here")
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                      rms_norm_eps=1e-5, tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    return model


def make_variant(name, base, targets, r, alpha):
    model = copy.deepcopy(base)
    if name == "ours":
        from ft_course.lora import apply_lora
        return apply_lora(model, targets, r=r, alpha=alpha)
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, task_type="CAUSAL_LM")
    return get_peft_model(model, cfg, autocast_adapter_dtype=(name == "peft"))


def train_step(model, opt, batch):
    loss = model(input_ids=batch, labels=batch).loss
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def main(argv=None):
    a = parse_args(argv)
    device = torch.device("cuda" if a.gpu else "cpu")
    sync = torch.cuda.synchronize if a.gpu else (lambda: None)
    base = base_model(a.gpu).train()
    vocab = base.config.vocab_size
    batch = torch.randint(0, vocab, (a.batch, a.seq), generator=torch.Generator().manual_seed(0)).to(device)
    alpha = 2 * a.r
    models = {v: make_variant(v, base, a.targets, a.r, alpha) for v in a.variants}
    del base
    opts = {v: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4) for v, m in models.items()}
    tokens = a.batch * a.seq
    print(f"device {device} ({torch.cuda.get_device_name() if a.gpu else f'{torch.get_num_threads()} threads'}); "
          f"batch {a.batch}×{a.seq} = {tokens} tokens; r={a.r}, α={alpha}, targets={a.targets}; "
          f"{a.warmup} warm-up + {a.steps} timed steps per variant")
    for v, m in models.items():
        trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
        dtypes = sorted({str(p.dtype).replace("torch.", "") for p in m.parameters() if p.requires_grad})
        print(f"  {v:16} trainable {trainable:,} ({'/'.join(dtypes)})")
    times = {v: [] for v in models}
    cpu_times = {v: [] for v in models}   # process CPU seconds: on a shared CPU far steadier than wall time
    losses = {}
    names = list(models)
    for step in range(a.warmup + a.steps):
        # Take turns, rotating who goes first, so background load and allocator state hit every variant alike.
        for v in names[step % len(names):] + names[:step % len(names)]:
            m = models[v]
            sync(); t0, c0 = time.perf_counter(), time.process_time()
            loss = train_step(m, opts[v], batch)
            sync(); dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if step >= a.warmup: times[v].append(dt); cpu_times[v].append(dc)
            losses[v] = loss.item()
            print(f"  step {step}{' (warm-up)' if step < a.warmup else ''} {v}: {dt:.3f} s wall, {dc:.3f} s CPU", file=sys.stderr, flush=True)
    med = {v: statistics.median(ts) for v, ts in times.items()}
    cpu = {v: statistics.median(ts) for v, ts in cpu_times.items()}
    print(f"\n{'variant':18}{'median s/step':>14}{'min':>9}{'max':>9}{'tokens/s':>11}{'CPU s/step':>12}   last loss")
    for v, ts in times.items():
        print(f"{v:18}{med[v]:14.3f}{min(ts):9.3f}{max(ts):9.3f}{tokens / med[v]:11,.0f}{cpu[v]:12.3f}   {losses[v]:.4f}")
    if "ours" in med:
        for ref in ("peft", "peft_noautocast"):
            if ref in med:
                line = f"ours vs {ref}: {med[ref] / med['ours']:.2f}× tokens/s (wall-clock medians)"
                if not a.gpu: line += f", {cpu[ref] / cpu['ours']:.2f}× by CPU time"
                print(line + "  (> 1 means ours is faster)")
    return med


if __name__ == "__main__":
    main()
