"Error paths and regressions of ft_course.preference (no pretrained model needed)."
import random

import pytest
import torch

from ft_course.models import tiny_llama
from ft_course.preference import (DPOLoss, collate_pairs, corrupt_answer, dpo_loss, group_advantages, grpo_loss,
                                  grpo_step, preference_pairs, tokenize_pair)
from ft_course.tasks import load_task


def test_tokenize_pair_rejects_bad_pairs():
    for bad in [None, {"prompt": [], "chosen": "a", "rejected": "b"}, {"prompt": [{"role": "user", "content": "x"}],
                "chosen": "", "rejected": "b"}, {"prompt": [{"role": "user", "content": "x"}], "chosen": "a"}]:
        with pytest.raises(ValueError, match="pair 0 must be"): tokenize_pair(bad, tokenizer=None)


def test_collate_pairs_empty_and_layout():
    with pytest.raises(ValueError, match="no rows"): collate_pairs([], pad_id=0)
    rows = [{"prompt_ids": [5, 6], "chosen_ids": [7], "rejected_ids": [8, 9], "ref_logps": (-1.0, -2.0)}]
    b = collate_pairs(rows, pad_id=0)
    assert b["input_ids"].tolist() == [[5, 6, 7, 0], [5, 6, 8, 9]]
    assert b["completion_mask"].tolist() == [[0, 0, 1, 0], [0, 0, 1, 1]]
    assert b["labels"].tolist() == [[-100, -100, 7, -100], [-100, -100, 8, 9]]
    assert b["ref_logps"].tolist() == [-1.0, -2.0]


def test_dpo_loss_known_value_and_loss_guards():
    torch.testing.assert_close(dpo_loss(torch.tensor([0.]), torch.tensor([0.]), torch.tensor([0.]), torch.tensor([0.])),
                               torch.log(torch.tensor(2.)))
    with pytest.raises(ValueError, match="beta must be > 0"): DPOLoss(0)
    with pytest.raises(ValueError, match="ref_logps"): DPOLoss(0.1)(tiny_llama(), {"input_ids": torch.zeros(2, 3)})


def test_group_advantages_and_grpo_loss_guards():
    with pytest.raises(ValueError, match="group_size"): group_advantages([1.0, 2.0, 3.0], 2)
    with pytest.raises(ValueError, match="group_size"): group_advantages([1.0, 2.0], 1)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="loss_type"): grpo_loss(x, x, torch.zeros(2), x, loss_type="ppo")
    with pytest.raises(ValueError, match="ref_model"): grpo_step(None, None, [], None, None, beta=0.1)


def test_equal_rewards_give_zero_advantage_and_zero_policy_loss():
    adv = group_advantages([2.0, 2.0, 2.0, 2.0], 4)
    assert adv.abs().max() == 0
    lp = torch.randn(4, 5)
    assert grpo_loss(lp, lp, adv, torch.ones(4, 5)).item() == 0


def test_corruptions_change_exactly_one_thing():
    rng = random.Random(0)
    with pytest.raises(ValueError, match="unknown task"): corrupt_answer("poems", "x", rng)
    text, how = corrupt_answer("greetings", "Kính gửi ông Smith,\nCảm ơn ông.", rng)
    assert (text, how) == ("Kính gửi bà Smith,\nCảm ơn bà.", "rule: pronoun")
    row = load_task("greetings", "train")[0]
    with pytest.raises(ValueError, match="generated has 2 outputs for 1 rows"):
        preference_pairs([row], "greetings", generated=["a", "b"])
