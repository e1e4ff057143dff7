"""Error paths and regressions of ft_course.capstone that don't belong in lesson 08."""
import json

import pytest
import torch

from ft_course.capstone import (answer_correct, greedy_matches, load_general, load_trainable, no_system,
                                normalize_answer, validation_race)
from ft_course.lora import apply_lora
from ft_course.models import tiny_llama
from ft_course.train import train


def batches(n=4, seed=0):
    "Small random batches whose second half is supervised."
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, 1000, (2, 12), generator=g)
        labels = ids.clone(); labels[:, :6] = -100
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    return out


def prepare():
    return apply_lora(tiny_llama(), ("q_proj", "v_proj"), r=4, alpha=8, seed=0)


def test_no_system_needs_a_system_prompt_first():
    with pytest.raises(ValueError, match="system prompt"):
        no_system([{"messages": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(ValueError, match="row 0"):
        no_system(["not a row"])


def test_greedy_matches_refuses_rows_without_labels():
    b = batches(1)[0]
    b["labels"][1] = -100
    with pytest.raises(ValueError, match="no supervised tokens"):
        greedy_matches(tiny_llama(), [b])


def test_load_trainable_names_unknown_parameters():
    with pytest.raises(KeyError, match="no parameters named"):
        load_trainable(tiny_llama(), {"nope.weight": torch.zeros(1)})


def test_validation_race_arguments():
    with pytest.raises(ValueError, match="at least one learning rate"):
        validation_race(prepare, batches(), batches(1), [], 4, 2, 2)
    with pytest.raises(ValueError, match="until"):
        validation_race(prepare, batches(), batches(1), [1e-3], 4, 2, 2, until=5)
    with pytest.raises(ValueError, match="first and every"):
        validation_race(prepare, batches(), batches(1), [1e-3], 4, 0, 2)


def test_race_resumes_the_winner_bit_exactly(tmp_path):
    "The first lr wins round one, so it is resumed from its checkpoint: same weights as one uninterrupted run."
    scores = iter([0.5, 0.1, 0.9])   # lr 1e-3 at step 2, lr 2e-3 at step 2, lr 1e-3 at step 4
    race = validation_race(prepare, batches(), batches(1), (1e-3, 2e-3), 4, 2, 2, score=lambda m, b: next(scores),
                           warmup_steps=1, seed=0, progress=False)
    assert (race["lr"], race["step"], race["winner"]) == (1e-3, 4, 1e-3)
    assert race["curves"] == {1e-3: [(2, 0.5), (4, 0.9)], 2e-3: [(2, 0.1)]}
    straight = prepare()
    train(straight, batches(), steps=4, lr=1e-3, warmup_steps=1, seed=0, progress=False)
    ref = {n: p for n, p in straight.named_parameters() if p.requires_grad}
    assert set(ref) == set(race["state"])
    for n, t in race["state"].items(): torch.testing.assert_close(t, ref[n], rtol=0, atol=0)


def test_race_first_round_decided_by_pick():
    "`pick` (e.g. minus the validation loss) decides the first round even when `score` says otherwise."
    scores, picks = iter([0.5, 0.1, 0.3]), iter([-2.0, -1.0])   # lr 2e-3 has the lower loss after round one
    race = validation_race(prepare, batches(), batches(1), (1e-3, 2e-3), 4, 2, 2, score=lambda m, b: next(scores),
                           pick=lambda m, b: next(picks), warmup_steps=1, seed=0, progress=False)
    assert race["winner"] == 2e-3 and race["first_round"] == {1e-3: -2.0, 2e-3: -1.0}
    assert race["curves"] == {1e-3: [(2, 0.5)], 2e-3: [(2, 0.1), (4, 0.3)]}
    assert (race["lr"], race["step"]) == (1e-3, 2)           # the best validation score seen, whatever the pick


def test_race_keeps_the_earliest_best_step():
    scores = iter([0.7, 0.7, 0.7])
    race = validation_race(prepare, batches(), batches(1), (1e-3,), 6, 2, 2, score=lambda m, b: next(scores),
                           warmup_steps=1, progress=False)
    assert (race["step"], race["score"]) == (2, 0.7)


def test_general_set(tmp_path):
    g = load_general()
    langs = [p["lang"] for p in g["paragraphs"]]
    assert langs.count("en") == langs.count("vi") == 18
    assert len(g["questions"]) >= 20 and all(q["answers"] for q in g["questions"])
    text = " ".join(p["text"] for p in g["paragraphs"])
    assert "Kính gửi" not in text and "{" not in text           # nothing from the two tasks
    with pytest.raises(FileNotFoundError, match="general set"):
        load_general(tmp_path)
    (tmp_path / "paragraphs.jsonl").write_text(json.dumps({"lang": "en", "text": "x"}) + "\n")
    with pytest.raises(FileNotFoundError, match="questions.jsonl"):
        load_general(tmp_path)


def test_answer_matching_is_whole_words():
    assert normalize_answer("Đà Lạt, Việt Nam!") == "da lat viet nam"
    assert answer_correct("It is Paris.", ["paris"]) and not answer_correct("Parisian food", ["paris"])
    assert answer_correct("12 tháng", ["12"]) and not answer_correct("112", ["12"])


def test_capstone_adapter_round_trip_for_lesson_13(tmp_path, monkeypatch):
    "What lesson 08 keeps, lesson 13 loads onto fresh LoRA layers: the same model, in the cache folder."
    from ft_course.adapters import load_peft_adapter
    from ft_course.capstone import capstone_adapter_dir, save_capstone_adapter
    monkeypatch.setenv("FT_COURSE_CACHE", str(tmp_path))
    trained = prepare()
    train(trained, batches(), steps=3, lr=1e-2, progress=False)
    path = save_capstone_adapter(trained, "greetings")
    assert path == (tmp_path / "capstone" / "lora-greetings").resolve()
    config = json.loads((path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    loaded = load_peft_adapter(prepare(), capstone_adapter_dir("greetings"))
    ids = batches(1)[0]["input_ids"]
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, trained.eval()(ids).logits)
        assert not torch.equal(prepare()(ids).logits, loaded(ids).logits)    # the adapter changed something
    with pytest.raises(ValueError, match="task name"):
        capstone_adapter_dir("../greetings")
