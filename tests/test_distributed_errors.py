"Error paths of lesson 09 (distributed training), moved out of the lesson: each refusal names the input and the fix."
import tempfile

import pytest
import torch

from ft_course.distributed import load_state, run_training, shard_memory, wrap_model
from ft_course.models import tiny_llama

PAPER = {"weights": 2 * 7.5e9, "gradients": 2 * 7.5e9, "optimizer": 12 * 7.5e9, "activations": 0}


@pytest.mark.parametrize("args,kw,exc,msg", [
    ((PAPER, 4, 8), {}, ValueError, "ZeRO stage must be 0, 1, 2 or 3"),
    ((PAPER, "zero4", 8), {}, ValueError, "Unknown strategy 'zero4'"),
    ((PAPER, 3, 0), {}, ValueError, "world_size must be an integer >= 1"),
    (({"weights": 1}, 3, 8), {}, KeyError, "no 'gradients' entry"),
    ((PAPER, 2, 8), {"offload_params": True}, ValueError, "offload_params needs sharded weights")])
def test_shard_memory_refuses(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        shard_memory(*args, **kw)


def test_load_state_names_the_missing_file():
    with tempfile.TemporaryDirectory() as d:
        with pytest.raises(FileNotFoundError, match="does not exist"):
            load_state(f"{d}/missing.safetensors")


@pytest.mark.parametrize("kw,msg", [({"mode": "qlora"}, "mode must be 'full' or 'lora'"),
                                    ({"model": "gpt5"}, "model must be 'tiny' or 'smollm2'")])
def test_run_training_refuses(kw, msg):
    with pytest.raises(ValueError, match=msg):
        run_training(**kw)


def test_wrap_model_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="strategy must be one of"):
        wrap_model(tiny_llama(), "zero9", torch.device("cpu"))
