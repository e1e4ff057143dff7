"Error paths of lessons 05 (data) and 07 (eval), moved out of the lessons: each bad input names what was expected."
import pytest

from ft_course.data import (as_messages, collate, messages_to_instruction, pack_examples, scrub_pii, split_dataset,
                            to_openai_jsonl, tokenize_chat)
from ft_course.eval import (BlindAB, exact_match, json_metrics, percentile, perplexity, prompt_and_reference, rouge,
                            rouge_l, rouge_n, side_by_side)

CHAT = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}


@pytest.fixture(scope="module")
def tokenizer():
    from ft_course.models import load_smollm2_tokenizer
    return load_smollm2_tokenizer()


def test_formats():
    two_turns = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                              {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}
    with pytest.raises(ValueError, match="single-turn"): messages_to_instruction(two_turns)
    with pytest.raises(TypeError, match="expected a chat example"): as_messages("hello")


def test_tokenize_chat_bad_input(tokenizer):
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        tokenize_chat(CHAT, tokenizer, max_length=0)
    with pytest.raises(ValueError, match="run validate_example"):
        tokenize_chat({"messages": [{"role": "bot", "content": "x"}]}, tokenizer, 64)
    with pytest.raises(ValueError, match="chat template"): tokenize_chat(CHAT, object(), 64)


def test_batching_bad_input():
    with pytest.raises(ValueError, match="empty batch"): collate([], pad_id=0)
    with pytest.raises(ValueError, match="cannot pad"): collate([{"input_ids": [1], "foo": [2]}], pad_id=0)
    rows = [{"input_ids": list(range(40)), "labels": list(range(40))}]
    with pytest.raises(ValueError, match="longer than max_length=32"): pack_examples(rows, max_length=32, pad_id=2)
    with pytest.raises(ValueError, match="sum to 1"): split_dataset(list(range(10)), ratios=(0.8, 0.1))


def test_pii_and_export_bad_input(tmp_path):
    with pytest.raises(TypeError, match="expects a string"): scrub_pii(None)
    with pytest.raises(ValueError, match="example 0: the conversation must end with an assistant"):
        to_openai_jsonl([{"messages": [{"role": "user", "content": "hi"}]}], tmp_path / "bad.jsonl")
    assert not list(tmp_path.iterdir())


def test_rouge_bad_input():
    with pytest.raises(ValueError, match="positive integer"): rouge_n("a", "a", 0)
    with pytest.raises(TypeError, match="prediction must be a str"): rouge_n(["a"], "a")
    with pytest.raises(ValueError, match='"rouge", "unicode"'): rouge_l("a", "a", tokenizer="spacy")
    with pytest.raises(TypeError, match=r"tokenize\(text\)"): rouge_l("a", "a", tokenizer=42)
    with pytest.raises(ValueError, match="same length"): rouge(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="unknown ROUGE types"): rouge(["a"], ["a"], types=["rougeW"])


def test_task_metrics_bad_input():
    with pytest.raises(TypeError, match="prediction must be a str"): exact_match([None], ["b"])
    with pytest.raises(ValueError, match=r"references\[0\]"): json_metrics(["{}"], ["not json"])
    with pytest.raises(ValueError, match="empty"): percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"): percentile([1], 101)


def test_perplexity_bad_input():
    from ft_course.models import tiny_llama
    tiny = tiny_llama()
    with pytest.raises(ValueError, match="no labelled tokens"): perplexity(tiny, [])
    with pytest.raises(KeyError, match="has no 'input_ids'"): perplexity(tiny, [{"ids": 1}])


def test_review_helpers_bad_input():
    with pytest.raises(ValueError, match="role': 'assistant'"): prompt_and_reference({"messages": CHAT["messages"][:1]})
    with pytest.raises(ValueError, match="same length"): side_by_side(a=[1], b=[1, 2])
    ab = BlindAB(["p0", "p1"], ["a0", "a1"], ["b0", "b1"], names=("base", "lora"), seed=1)
    with pytest.raises(ValueError, match="one of"): ab.record(0, "A")
    with pytest.raises(ValueError, match="same length"): BlindAB(["p"], ["a"], [])
