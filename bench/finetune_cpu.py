"""The capstone's LoRA fine-tune on SmolLM2 with ft_course's fast CPU path vs peft + transformers.Trainer.

Both sides get the same model (SmolLM2-135M-Instruct, fp32), the same LoRA (r=16, alpha=32, every linear layer of
the decoder, no dropout), the same batches in the same order (8 extraction examples each, as the capstone trains
them: an empty system prompt; prompt masked, padded per batch), lr 1e-3 with 10% warmup and cosine decay, AdamW,
clipping at 1.0, 2 threads. Each run is its own process
(peak RSS is per process); the runs alternate ours / Trainer. Tokens/s counts the real (non-padding) tokens of
the batches over the wall time of training. Final loss: mean next-token loss on 32 validation examples, computed
the same way (float32) for both models after training.

What a learner writes from seed 002's recipe is the Trainer side: `get_peft_model(model, LoraConfig(...))`,
`TrainingArguments(...)`, `Trainer(...).train()`. The only liberty taken: a sequential sampler so that the Trainer
sees exactly our batch order (by default it reshuffles with its own seed).

    .venv/bin/python bench/finetune_cpu.py --steps 30 --repeats 1          # --system keeps the system prompt
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
PROFILED_STEPS = 3


def peak_rss_mb():
    "Peak resident memory of this process so far, in MiB (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_seconds(run, steps):
    "Seconds per step spent in matrix multiplications while `run()` trains `steps` steps (profiler, self CPU time)."
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    return sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in MATMULS) / 1e6 / steps


def batches_and_eval(steps, batch_size, seed, no_system):
    "The training batches (same for both sides), their row lists, and the validation batches."
    from ft_course.data import collate, tokenize_chats
    from ft_course.train import length_grouped_batches
    from ft_course.models import load_smollm2_tokenizer
    from ft_course.tasks import load_task
    tok = load_smollm2_tokenizer()
    from ft_course.capstone import no_system as empty_system
    def strip(rows): return empty_system(rows) if no_system else rows    # as the capstone trains them
    rows, _ = tokenize_chats(strip(load_task("extraction", "train")), tok, max_length=256)
    val, _ = tokenize_chats(strip(load_task("extraction", "val")[:32]), tok, max_length=256)
    batches = length_grouped_batches(rows, batch_size, tok.pad_token_id, seed=seed)
    while len(batches) < steps:     # another epoch, another shuffle
        batches += length_grouped_batches(rows, batch_size, tok.pad_token_id, seed=seed + len(batches))
    batches = batches[:steps]
    ordered_rows = [{k: b[k][i][:int(b["attention_mask"][i].sum())].tolist() for k in b} for b in batches
                    for i in range(len(b["input_ids"]))]
    val_batches = [collate(val[i:i + batch_size], pad_id=tok.pad_token_id) for i in range(0, len(val), batch_size)]
    return batches, ordered_rows, val_batches, tok.pad_token_id


def worker(side, steps, batch_size, seed, no_system):
    "One training run in this process; prints a JSON line with its measurements."
    import torch
    torch.set_num_threads(2)
    from ft_course.models import load_smollm2
    from ft_course.train import evaluate_loss, train
    batches, ordered_rows, val_batches, pad_id = batches_and_eval(steps, batch_size, seed, no_system)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    model, _ = load_smollm2()
    warmup = max(1, steps // 10)
    if side == "ours":
        from ft_course.lora import apply_lora
        apply_lora(model, tuple(TARGETS), r=16, alpha=32, seed=seed)
        t0 = time.perf_counter()
        hist = train(model, batches, steps=steps, lr=1e-3, warmup_steps=warmup, seed=seed, progress=False)
        seconds, losses = time.perf_counter() - t0, hist.train_loss
        val_loss, rss = evaluate_loss(model, val_batches, bf16=False), peak_rss_mb()
        # a few more steps under the profiler (after timing and scoring): how much of a step the matmuls are
        mm = matmul_seconds(lambda: train(model, batches[:PROFILED_STEPS], steps=PROFILED_STEPS, lr=1e-3,
                                          seed=seed, progress=False), PROFILED_STEPS)
    else:
        from peft import LoraConfig, get_peft_model
        from transformers import Trainer, TrainerCallback, TrainingArguments
        from ft_course.data import collate
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS,
                                                 bias="none", task_type="CAUSAL_LM"))
        losses = []

        class Losses(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "loss" in logs: losses.append(float(logs["loss"]))

        class SameOrder(Trainer):       # the only change to the recipe: our batch order instead of a reshuffle
            def _get_train_sampler(self, *a, **kw): return torch.utils.data.SequentialSampler(self.train_dataset)

        def trainer_for(max_steps, rows):
            args = TrainingArguments(output_dir=os.path.join("/tmp", f"ft_bench_{os.getpid()}"),
                                     per_device_train_batch_size=batch_size, learning_rate=1e-3, max_steps=max_steps,
                                     warmup_steps=warmup, lr_scheduler_type="cosine",
                                     weight_decay=0.0, max_grad_norm=1.0, logging_steps=1, save_strategy="no",
                                     report_to=[], use_cpu=True, seed=seed, dataloader_num_workers=0,
                                     disable_tqdm=True)
            return SameOrder(model=model, args=args, train_dataset=rows,
                             data_collator=lambda rows: collate(rows, pad_id=pad_id), callbacks=[Losses()])
        t0 = time.perf_counter()
        trainer_for(steps, ordered_rows).train()
        seconds = time.perf_counter() - t0
        val_loss, rss = evaluate_loss(model, val_batches, bf16=False), peak_rss_mb()
        n_rows = PROFILED_STEPS * batch_size
        mm = matmul_seconds(lambda: trainer_for(PROFILED_STEPS, ordered_rows[:n_rows]).train(), PROFILED_STEPS)
        losses = losses[:steps]
    print(json.dumps({"side": side, "seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds,
                      "peak_rss_mb": rss, "val_loss": val_loss, "last_train_loss": sum(losses[-5:]) / len(losses[-5:]),
                      "steps": len(losses),
                      "matmul_s_per_step": mm}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=1, help="ours/Trainer pairs, alternating")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--system", action="store_true",
                   help="keep the task's system prompt (the capstone trains without it: an empty system message)")
    p.add_argument("--worker", choices=["ours", "trainer"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker, a.steps, a.batch_size, a.seed, not a.system)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE), OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    results = {"ours": [], "trainer": []}
    print(f"LoRA r=16 α=32 on every linear layer of SmolLM2-135M, extraction task, batch {a.batch_size}, "
          f"{a.steps} steps, lr 1e-3, 2 threads, {'with the system prompt' if a.system else 'no system prompt'}")
    for r in range(a.repeats):
        for side in ("ours", "trainer"):
            cmd = [sys.executable, __file__, "--worker", side, "--steps", str(a.steps),
                   "--batch-size", str(a.batch_size), "--seed", str(a.seed)] + (["--system"] if a.system else [])
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0: sys.exit(f"{side} run failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            results[side].append(res)
            print(f"  run {r + 1} {side:<8} {res['seconds']:7.1f} s  {res['tokens_per_s']:7.1f} tokens/s  "
                  f"peak RSS {res['peak_rss_mb']:6.0f} MB  val loss {res['val_loss']:.4f}  "
                  f"last-5 train loss {res['last_train_loss']:.4f}", flush=True)
    best = {s: max(r["tokens_per_s"] for r in rs) for s, rs in results.items()}
    val = {s: sum(r["val_loss"] for r in rs) / len(rs) for s, rs in results.items()}
    rss = {s: max(r["peak_rss_mb"] for r in rs) for s, rs in results.items()}
    print(f"peak RSS: ours {rss['ours']:.0f} MB, Trainer+peft {rss['trainer']:.0f} MB "
          f"({rss['ours'] / rss['trainer']:.2f}×)")
    print(f"final validation loss: ours {val['ours']:.4f}, Trainer+peft {val['trainer']:.4f} "
          f"(difference {val['ours'] - val['trainer']:+.4f}, goal within ±0.05)")
    # the ceiling: Trainer's measured step against our matmul time alone (as if everything else in our step were free)
    step = {s: min(r["seconds"] / r["steps"] for r in rs) for s, rs in results.items()}
    mm = {s: min(r["matmul_s_per_step"] for r in rs) for s, rs in results.items()}
    print(f"seconds per step: ours {step['ours']:.2f} (matmuls {mm['ours']:.2f}), Trainer+peft {step['trainer']:.2f} "
          f"(matmuls {mm['trainer']:.2f}); if everything but our matmuls were free, ours would reach at most "
          f"{step['trainer'] / mm['ours']:.2f}× (matmuls are {mm['ours'] / step['ours']:.0%} of our step)")
    print(f"ours vs Trainer+peft: {best['ours'] / best['trainer']:.2f}× tokens/s")


if __name__ == "__main__":
    main()
