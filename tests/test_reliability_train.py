"Reliability of ft_course.train: atomic checkpoints under SIGKILL, no partial loads, the scheduler, memory estimates."
import os, pickle, signal, subprocess, sys, textwrap

from pathlib import Path

import pytest
import torch
from torch import nn

import ft_course
from ft_course.models import tiny_llama
from ft_course.train import (CheckpointError, cosine_warmup_scheduler, estimate_memory, list_checkpoints,
                             load_checkpoint, save_checkpoint)

# A driver process imports torch once, then forks writers that save checkpoints in a loop and kills them with
# SIGKILL: at every file-system move of a save in turn (os.replace / rmtree, deterministic), then at random moments.
# After each kill it loads the checkpoint back and prints what it found.
DRIVER = textwrap.dedent("""
    import os, random, shutil, signal, sys, time
    import torch
    torch.set_num_threads(1)
    from torch import nn
    from ft_course.train import load_checkpoint, save_checkpoint

    d, n_random = sys.argv[1], int(sys.argv[2])
    model = nn.Linear(512, 512)

    def writer(start, kill_at):
        calls = [0]
        def trap(fn):
            def wrapped(*a, **k):
                calls[0] += 1
                if calls[0] == kill_at: os.kill(os.getpid(), signal.SIGKILL)
                return fn(*a, **k)
            return wrapped
        os.replace, shutil.rmtree = trap(os.replace), trap(shutil.rmtree)
        for i in range(start, 10**9):
            with torch.no_grad(): model.weight.fill_(i); model.bias.fill_(i)
            # each step saved three times (as a resumed run saves its last step again), older steps pruned
            save_checkpoint(d, model, state={"step": 5 + i // 3, "i": i}, keep=2)
            os.write(w, f"{i}\\n".encode())

    def one_kill(kill_at, delay, start):
        global w
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try: writer(start, kill_at)
            finally: os._exit(0)
        os.close(w)
        if delay is not None: time.sleep(delay); os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        done = [int(x) for x in os.fdopen(r).read().split()]
        st = load_checkpoint(d, model)
        left = sorted(p for p in os.listdir(d) if p.startswith("."))
        w_ok = st is not None and bool((model.weight == st["i"]).all()) and bool((model.bias == st["i"]).all())
        print("KILL", kill_at, os.WIFSIGNALED(status), done[-1] if done else start - 1, st and st["i"], w_ok, left,
              flush=True)
        return st["i"] if st else start - 1

    # a first complete save, so there is always a checkpoint to lose
    with torch.no_grad(): model.weight.fill_(-1); model.bias.fill_(-1)
    save_checkpoint(d, model, state={"step": 5, "i": -1})
    last = -1    # each writer goes on from the last saved i, so "old or new" is "last or last + 1"
    for k in range(1, 13): last = one_kill(k, None, last + 1)
    rng = random.Random(0)
    for _ in range(n_random): last = one_kill(0, rng.uniform(0.0, 0.08), last + 1)
""")


def test_checkpoint_save_survives_sigkill_anywhere(tmp_path):
    (tmp_path / "driver.py").write_text(DRIVER)
    root = str(Path(ft_course.__file__).parents[1])    # the package under test, wherever it was imported from
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "ckpt"), "25"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [l.split(maxsplit=6) for l in r.stdout.splitlines() if l.startswith("KILL")]
    assert len(lines) == 12 + 25
    lost = [l[1] for l in lines if l[4] == "None"]
    assert not lost, f"no checkpoint left after kills at file-system moves {lost}"
    killed = 0
    for _, kill_at, signaled, last_done, loaded, weights_ok, left in lines:
        killed += signaled == "True"
        # a checkpoint is always there, and it is the last finished save or the one in flight, never a mix
        assert loaded != "None", (kill_at, last_done)
        assert int(loaded) in (int(last_done), int(last_done) + 1), (kill_at, last_done, loaded)
        assert weights_ok == "True", (kill_at, last_done, loaded)
        assert left == "[]", f"leftovers after the load: {left}"
    assert killed >= 30, f"only {killed} of the writers were killed mid-run"


def test_load_checkpoint_into_another_model_changes_nothing(tmp_path):
    save_checkpoint(tmp_path, tiny_llama(vocab_size=512), state={"step": 1})
    other = tiny_llama(seed=3, vocab_size=512, intermediate_size=64)     # same names, the MLP shapes differ
    before = {n: p.detach().clone() for n, p in other.named_parameters()}
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(tmp_path, other)
    for n, p in other.named_parameters(): assert torch.equal(p, before[n]), f"{n} was overwritten"


def test_load_checkpoint_bad_optimizer_state_changes_nothing(tmp_path):
    m = nn.Linear(4, 4); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m(torch.ones(1, 4)).sum().backward(); opt.step()
    save_checkpoint(tmp_path, m, opt, state={"step": 1})
    m2 = nn.Linear(4, 4); opt2 = torch.optim.AdamW([m2.weight], lr=1e-3)   # one parameter fewer in the optimizer
    before = {n: p.detach().clone() for n, p in m2.named_parameters()}
    with pytest.raises(CheckpointError, match="optimizer or scheduler state does not fit"):
        load_checkpoint(tmp_path, m2, opt2)
    for n, p in m2.named_parameters(): assert torch.equal(p, before[n])


def _lrs(opt, sched, n):
    out = []
    for _ in range(n): out.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    return out


def test_second_scheduler_uses_initial_lr_like_transformers():
    from transformers import get_cosine_schedule_with_warmup
    ours_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-3)
    ref_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-3)
    cosine_warmup_scheduler(ours_opt, 5, 20); get_cosine_schedule_with_warmup(ref_opt, 5, 20)
    assert ours_opt.param_groups[0]["lr"] == 0.0                  # the first warmup left lr at 0
    ours = cosine_warmup_scheduler(ours_opt, 3, 30, num_cycles=0.5)
    ref = get_cosine_schedule_with_warmup(ref_opt, 3, 30, num_cycles=0.5)
    assert _lrs(ours_opt, ours, 30) == _lrs(ref_opt, ref, 30)


def test_scheduler_pickles_and_continues():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    s = cosine_warmup_scheduler(opt, 4, 40)
    for _ in range(7): opt.step(); s.step()
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.get_last_lr() == s.get_last_lr()
    assert _lrs(s2.optimizer, s2, 10) == _lrs(opt, s, 10)


@pytest.mark.parametrize("kw, name", [(dict(batch_size=-1), "batch_size"), (dict(seq_len=-512), "seq_len"),
                                      (dict(method="lora", lora_r=-8), "lora_r"),
                                      (dict(method="qlora", blocksize=-64), "blocksize")])
def test_estimate_memory_refuses_negative_sizes(kw, name):
    with pytest.raises(ValueError, match=name):
        estimate_memory(tiny_llama(vocab_size=512), **kw)


def test_estimate_memory_refuses_negative_config():
    cfg = dict(hidden_size=-64, num_hidden_layers=2, intermediate_size=128, vocab_size=100, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        estimate_memory(cfg)
