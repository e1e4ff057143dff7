"""Issue 15 split data, eval and nf4 by concern: old import paths keep working, and perplexity (now exp of lesson 06's
`evaluate_loss`) gives the values of the implementation it replaced."""
import math
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import ft_course.clean
import ft_course.data
import ft_course.eval
import ft_course.review
from ft_course.eval import perplexity


@pytest.mark.parametrize("old, new", [(ft_course.data, ft_course.clean), (ft_course.eval, ft_course.review)])
def test_moved_names_import_from_the_old_module(old, new):
    for name in old._all_:
        assert getattr(old, name) is getattr(new, name), name
        assert name in old.__all__
    with pytest.raises(AttributeError, match="has no attribute 'nope'"): getattr(old, "nope")
    from ft_course.data import dedup, scrub_pii   # noqa: F401  (the form learners and lesson 08 use)
    from ft_course.eval import BlindAB, timed_generate   # noqa: F401


@torch.no_grad()
def _old_perplexity(model, batches) -> float:
    "The implementation before issue 15: its own cross-entropy loop (the reference for the values)."
    device, nll, count = next(model.parameters()).device, 0.0, 0
    model.eval()
    for batch in batches:
        ids = torch.as_tensor(batch["input_ids"], device=device)
        mask = batch.get("attention_mask")
        mask = None if mask is None else torch.as_tensor(mask, device=device)
        labels = batch.get("labels")
        if labels is None: labels = ids if mask is None else ids.masked_fill(mask == 0, -100)
        labels = torch.as_tensor(labels, device=device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        target = labels[:, 1:]
        nll += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100,
                               reduction="sum").item()
        count += (target != -100).sum().item()
    return math.exp(nll / count)


def test_perplexity_equals_the_old_values():
    from ft_course.models import tiny_llama
    torch.manual_seed(0)
    tiny = tiny_llama()
    ids = torch.randint(0, tiny.config.vocab_size, (3, 12))
    mask = torch.ones_like(ids); mask[1, 9:] = 0; mask[2, 5:] = 0
    labels = ids.masked_fill(mask == 0, -100); labels[:, :4] = -100
    cases = [[{"input_ids": ids, "attention_mask": mask, "labels": labels}],                 # tensors, masked prompt
             [{"input_ids": ids.tolist(), "attention_mask": mask.tolist()}],                 # lists, no labels
             [{"input_ids": ids[:1, :7]}, {"input_ids": ids[1:, :9], "labels": labels[1:, :9]}]]  # several batches
    for batches in cases:
        assert math.isclose(perplexity(tiny, batches), _old_perplexity(tiny, batches), rel_tol=1e-5)
    tiny.train()
    perplexity(tiny, cases[0])
    assert tiny.training                          # the mode is restored
    with pytest.raises(ValueError, match="no labelled tokens"):
        perplexity(tiny, [{"input_ids": ids, "labels": torch.full_like(ids, -100)}])


def test_blind_review_refuses_choices_from_another_review():
    from ft_course.review import BlindAB
    ab = BlindAB(["p0", "p1", "p2"], ["a0", "a1", "a2"], ["b0", "b1", "b2"], names=("base", "lora"), seed=1)
    ab.record(0, "left")
    with tempfile.TemporaryDirectory() as d:
        ab.save(Path(d) / "review.json")
        with pytest.raises(Exception, match="another review"):
            BlindAB(ab.prompts, *ab.outputs, names=ab.names, seed=2).load(Path(d) / "review.json")
