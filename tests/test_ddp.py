"2-process DDP / FSDP on CPU (gloo, torchrun) ends with the weights of a 1-process run on the same global batch."
import pytest
import torch

from ft_course.distributed import launch, load_state, run_training
from ft_course.models import tiny_llama

STEPS, GLOBAL_BATCH = 3, 8


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    "The CI machine has 2 cores: one thread per process, two processes."
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _trained_amount(state: dict, mode: str) -> float:
    "How far training moved the weights (LoRA: the B matrices, which start at zero)."
    if mode == "lora": return max(v.abs().max().item() for k, v in state.items() if k.endswith("lora_B"))
    start = tiny_llama().state_dict()
    return max((state[k] - start[k]).abs().max().item() for k in start)


@pytest.mark.parametrize("mode,strategy", [("full", "ddp"), ("lora", "fsdp")])
def test_two_processes_match_one(tmp_path, mode, strategy):
    single = run_training(mode=mode, strategy="none", steps=STEPS, global_batch=GLOBAL_BATCH, progress=False)
    out = tmp_path / f"{mode}_{strategy}.safetensors"
    launch(2, ["--mode", mode, "--strategy", strategy, "--steps", STEPS, "--global-batch", GLOBAL_BATCH, "--out", out], timeout=300)
    state, meta = load_state(out)
    assert (meta["world_size"], meta["strategy"], meta["mode"]) == (2, strategy, mode)
    assert sorted(state) == sorted(single["state"]), "the two runs saved different tensors"
    assert _trained_amount(single["state"], mode) > 1e-3   # the comparison below is not between untrained models
    diff = max((state[k] - single["state"][k]).abs().max().item() for k in state)
    assert diff < 1e-5, f"{mode}/{strategy}: 2-process weights differ from 1-process weights by {diff:.2e}"
    assert meta["losses"] == pytest.approx(single["losses"], abs=1e-5)
