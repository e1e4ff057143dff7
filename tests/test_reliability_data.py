"Reliability of ft_course.data and ft_course.eval: clear errors on bad files and inputs, honest counts, dedup cost."
import math

import pytest
from rouge_score import rouge_scorer

import ft_course.data as data
from ft_course.data import dedup, example_text, load_jsonl, near_duplicate_pairs, normalize_text, read_jsonl, shingles
from ft_course.eval import ROUGE_TYPES, exact_match, json_metrics, rouge
from ft_course.tasks import load_task

GOOD = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@pytest.mark.parametrize("text", ["", "\n\n", "  \n\t\n "])
def test_empty_jsonl_names_the_file(tmp_path, text):
    p = tmp_path / "empty.jsonl"; p.write_text(text)
    for fn in (load_jsonl, read_jsonl):
        with pytest.raises(ValueError, match=r"empty\.jsonl is empty or only whitespace"):
            fn(p)


def test_non_utf8_byte_names_file_and_line(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(GOOD.encode() + '{"messages": [{"role": "user", "content": "café"}]}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.jsonl:2: not UTF-8 \(byte 0xe9"):
        load_jsonl(p)
    with pytest.warns(UserWarning, match="skipped 1 bad line"):
        assert len(load_jsonl(p, on_error="warn")) == 1


def test_example_without_assistant_is_dropped_and_counted():
    from ft_course.models import load_smollm2_tokenizer
    tok = load_smollm2_tokenizer()
    no_reply = {"messages": [{"role": "system", "content": "Be formal."}, {"role": "user", "content": "Hi"}]}
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    rows, stats = data.tokenize_chats([good, no_reply, good], tok, max_length=64)
    assert (stats["kept"], stats["dropped"], stats["dropped_index"]) == (2, 1, [1])
    assert "no assistant message" in stats["dropped_reasons"][1]
    assert all(any(l != -100 for l in r["labels"]) for r in rows)
    with pytest.raises(ValueError, match="no assistant message"):
        data.tokenize_chat(no_reply, tok, 64)
    # without prompt masking every token is a label: such a row still teaches something and is kept
    assert data.tokenize_chats([no_reply], tok, 64, mask_prompt=False)[1]["kept"] == 1


def _course(n):
    base = load_task("greetings", "train") + load_task("extraction", "train")
    return [base[i % len(base)] for i in range(n)]


def _dedup_before(rows, threshold=0.9):
    "dedup as it was before issue 14 (every LSH candidate scored, exact copies included): the reference."
    texts = [example_text(r) for r in rows]
    first, removed = {}, []
    for j, t in enumerate(texts):
        h = normalize_text(t)
        if h in first: removed.append((first[h], j, 1.0))
        else: first[h] = j
    drop = {j for _, j, _ in removed}
    for i, j, s in near_duplicate_pairs([shingles(t) for t in texts], threshold=threshold):
        if i not in drop and j not in drop: removed.append((i, j, s)); drop.add(j)
    return [r for k, r in enumerate(rows) if k not in drop], removed


@pytest.mark.parametrize("threshold", [0.9, 0.7])
def test_dedup_finds_the_same_pairs_as_before(threshold):
    rows = _course(240)
    rows = rows + rows[:60] + [{"messages": [{"role": "user", "content": example_text(r) + " Cảm ơn nhiều."},
                                            {"role": "assistant", "content": "ok"}]} for r in rows[:30]]
    ours, ref = dedup(rows, threshold=threshold), _dedup_before(rows, threshold=threshold)
    assert ours[1] == ref[1] and len(ref[1]) >= 60 + (threshold < 0.8)   # 60 copies, and near copies at 0.7
    assert ours[0] == ref[0]


def test_dedup_scores_exact_copies_once(monkeypatch):
    # 1,000 rows that are 20 distinct texts repeated: near-duplicate search must not score the copies against
    # each other (before: ~500,000 Jaccard computations, quadratic in the number of rows)
    calls = []
    real = data.jaccard
    monkeypatch.setattr(data, "jaccard", lambda a, b: calls.append(1) or real(a, b))
    monkeypatch.setattr(data, "shingles", lambda text, real=data.shingles: calls.append(1) or real(text))
    rows = _course(20) * 50
    kept, removed = dedup(rows, threshold=0.9)
    assert len(kept) == 20 and len(removed) == 980
    assert len(calls) <= 20 * 20, len(calls)


def test_rouge_two_strings_is_one_pair_like_rouge_score():
    ours = rouge("the cat", "the dog")
    ref = rouge_scorer.RougeScorer(list(ROUGE_TYPES)).score("the dog", "the cat")
    assert ours == {t: ref[t].fmeasure for t in ROUGE_TYPES}
    assert ours["rouge1"] == 0.5
    with pytest.raises(TypeError, match="both be lists of strings"):
        rouge("the cat", ["the dog"])
    with pytest.raises(TypeError, match="both be lists of strings"):
        rouge(["the cat"], "the dog")


def test_exact_match_two_strings_is_one_pair():
    assert exact_match("abc", "abd") == 0.0
    assert exact_match(" abc\n", "abc") == 1.0
    with pytest.raises(TypeError, match="both be lists of strings"):
        exact_match("abc", ["abc"])


def test_json_metrics_with_empty_reference_object():
    m = json_metrics(["{}", '{"a": 1}'], ["{}", "{}"])
    assert (m["valid"], m["exact"], m["field_accuracy"]) == (1.0, 0.5, {})
    assert math.isnan(m["mean_field_accuracy"])
    m = json_metrics(['{"a": 1}', "{}"], ['{"a": 1}', "{}"])
    assert m["mean_field_accuracy"] == 0.5 and m["exact"] == 1.0


def test_atomic_write_gives_files_the_mode_open_would(tmp_path):
    "A regression: mkstemp's 0600 leaked into every written file (a site's capstone.json unreadable by a web server)."
    import os
    from ft_course.models import atomic_write
    umask = os.umask(0o022); os.umask(umask)
    p = atomic_write(tmp_path / "new.json", "{}")
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    p.chmod(0o640)
    atomic_write(p, "{}")
    assert p.stat().st_mode & 0o777 == 0o640          # a rewrite keeps the file's mode
