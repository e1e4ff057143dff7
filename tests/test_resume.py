"Kill a training run with SIGKILL part-way, resume it, and check the final weights are bitwise those of an uninterrupted run."
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import pytest
import torch

STEPS = 40

# One training run in its own process: dropout, a shuffled DataLoader, epochs crossed, a checkpoint every 3 steps.
SCRIPT = textwrap.dedent(f"""
    import sys, torch
    torch.set_num_threads(1)
    from torch.utils.data import DataLoader
    from ft_course.models import tiny_llama
    from ft_course.train import train

    ckpt, log, out = sys.argv[1], sys.argv[2], sys.argv[3]
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(24):
        n = int(torch.randint(8, 33, (1,), generator=g))
        ids = torch.randint(3, 500, (n,), generator=g)
        rows.append((ids, n))
    def collate(batch):
        width = max(n for _, n in batch)
        ids = torch.full((len(batch), width), 2); mask = torch.zeros_like(ids)
        for i, (x, n) in enumerate(batch): ids[i, :n] = x; mask[i, :n] = 1
        return {{"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}}
    loader = DataLoader(rows, batch_size=4, shuffle=True, collate_fn=collate)
    model = tiny_llama(attention_dropout=0.1)
    hist = train(model, loader, steps={STEPS}, lr=5e-3, warmup_steps=4, weight_decay=0.1, grad_accum=2,
                 checkpoint_dir=ckpt, save_every=3, log_path=log, progress=False)
    torch.save({{n: p.detach() for n, p in model.named_parameters()}}, out)
    print("resumed_from", hist.resumed_from)
""")


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    env.pop("IN_TEST", None)
    return env


def _run(tmp, name, ckpt, log):
    out = tmp / f"{name}.pt"
    r = subprocess.run([sys.executable, str(tmp / "run.py"), str(ckpt), str(log), str(out)], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return torch.load(out), r.stdout


def _log_steps(log: Path):
    if not log.exists(): return 0
    return sum(1 for l in log.read_text().splitlines() if l.strip().endswith("}"))


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    (tmp_path / "run.py").write_text(SCRIPT)
    # 1. the reference: never interrupted
    straight, _ = _run(tmp_path, "straight", tmp_path / "ckpt_a", tmp_path / "log_a.jsonl")

    # 2. the same run, killed with SIGKILL part-way (no chance to clean up or flush anything)
    ckpt, log = tmp_path / "ckpt_b", tmp_path / "log_b.jsonl"
    p = subprocess.Popen([sys.executable, str(tmp_path / "run.py"), str(ckpt), str(log), str(tmp_path / "never.pt")],
                         env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while _log_steps(log) < STEPS // 3 and p.poll() is None and time.time() < deadline: time.sleep(0.005)
    time.sleep(0.013)  # land somewhere inside a step or a checkpoint write, not exactly on a log line
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL, f"the run was not killed part-way (exit {p.returncode}): {p.stderr.read()[-2000:]}"
    killed_at = _log_steps(log)
    assert 0 < killed_at < STEPS, killed_at
    assert not (tmp_path / "never.pt").exists()

    # 3. run the same command again: it resumes from the last complete checkpoint
    resumed, stdout = _run(tmp_path, "resumed", ckpt, log)
    resumed_from = int(stdout.split("resumed_from")[1].split()[0])
    assert 0 < resumed_from <= killed_at, (resumed_from, killed_at)
    assert resumed_from % 3 == 0

    assert straight.keys() == resumed.keys()
    for name in straight:
        assert torch.equal(straight[name], resumed[name]), f"{name} differs after resume"
    # the log of the resumed run has every step exactly once, and the same losses as the straight run
    rows = [json.loads(l) for l in log.read_text().splitlines()]
    rows_a = [json.loads(l) for l in (tmp_path / "log_a.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert [r["loss"] for r in rows] == [r["loss"] for r in rows_a]


def test_resume_refuses_a_truncated_checkpoint(tmp_path):
    from ft_course.models import tiny_llama
    from ft_course.train import train, list_checkpoints, CheckpointError
    batches = [{"input_ids": torch.randint(3, 500, (2, 8)), "labels": torch.randint(3, 500, (2, 8))} for _ in range(3)]
    train(tiny_llama(), batches, steps=4, lr=1e-3, checkpoint_dir=tmp_path, progress=False)
    f = list_checkpoints(tmp_path)[-1] / "state.pt"
    f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        train(tiny_llama(), batches, steps=4, lr=1e-3, checkpoint_dir=tmp_path, progress=False)
