"Error paths of lesson 06 (training) and 06b (memory), moved out of the lesson: each refusal names the input."
import pytest
import torch
from torch import nn

from ft_course.models import tiny_llama
from ft_course.train import (cosine_warmup, cosine_warmup_scheduler, estimate_memory, evaluate_loss, param_groups,
                             token_loss, train)


def _batches(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, 500, (2, 12), generator=g)
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()})
    return out


@pytest.mark.parametrize("args,kw,msg", [((0, 100, 50), {}, "total_steps (50)"),
                                         ((0, -1, 50), {}, "warmup_steps must be >= 0"),
                                         ((0, 10, 50), {"min_lr_ratio": 2}, "min_lr_ratio")])
def test_schedule_refuses(args, kw, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cosine_warmup(*args, **kw)


def test_scheduler_needs_a_positive_lr():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.0)
    with pytest.raises(ValueError, match=r"lr \(learning rate\) must be a positive"):
        cosine_warmup_scheduler(opt, 5, 50)


def test_param_groups_needs_trainable_parameters():
    mlp = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        param_groups(mlp, 0.01)


def test_token_loss_shapes_must_agree():
    with pytest.raises(ValueError, match="disagree"):
        token_loss(torch.zeros(3, 12, 10), torch.zeros(3, 5, dtype=torch.long))


def test_evaluate_loss_needs_labels():
    with pytest.raises(TypeError, match="must be a dict with at least 'input_ids' and 'labels'"):
        evaluate_loss(tiny_llama(), [{"input_ids": torch.zeros(1, 4, dtype=torch.long)}])


@pytest.mark.parametrize("kw,msg", [(dict(steps=5, lr=0), r"lr \(learning rate\) must be a positive number"),
                                    (dict(steps=5, lr=-1e-4), "must be a positive number"),
                                    (dict(steps=5, warmup_steps=5), r"total_steps \(5\) must be greater than "
                                                                    r"warmup_steps \(5\)"),
                                    (dict(steps=5, epochs=1), "exactly one of steps= or epochs="),
                                    (dict(steps=5, patience=2), "needs eval_data= and eval_every=")])
def test_train_refuses_settings(kw, msg):
    with pytest.raises(ValueError, match=msg):
        train(tiny_llama(), _batches(), progress=False, **kw)


def test_train_refuses_a_batch_without_labels():
    with pytest.raises(TypeError, match="must be a dict with at least"):
        train(tiny_llama(), [{"ids": torch.zeros(1, 4, dtype=torch.long)}], steps=1, progress=False)


def test_train_stops_on_a_diverging_loss():
    with pytest.raises(FloatingPointError, match="lower lr"):
        train(tiny_llama(), _batches(4), steps=5, lr=1e8, max_grad_norm=None, bf16=False, progress=False)


def test_resume_on_another_architecture_is_refused(tmp_path):
    from ft_course.train import CheckpointError
    kw = dict(steps=4, lr=1e-2, save_every=2, bf16=False, progress=False, checkpoint_dir=tmp_path)
    train(tiny_llama(), _batches(), stop_after=2, **kw)
    with pytest.raises(CheckpointError, match="trainable parameters not in the checkpoint"):
        train(tiny_llama(num_hidden_layers=3), _batches(), **kw)


def test_estimate_memory_refuses():
    cfg = dict(hidden_size=576, num_hidden_layers=30, intermediate_size=1536, vocab_size=49152,
               num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True)
    with pytest.raises(ValueError, match="method must be"):
        estimate_memory(cfg, "prefix")
    with pytest.raises(ValueError, match="needs a Llama-style model"):
        estimate_memory({"hidden_size": 8})
