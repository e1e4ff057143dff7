"Error paths and regressions of ft_course.classify (the lesson shows the behaviour; these pin the failures)."
import pytest
import torch

from ft_course.classify import (ADDRESS_LABELS, CausalLMClassifier, accuracy, address_label, classification_loss,
                                collate_classes, confusion_matrix, encode_rows, last_token_index, load_address,
                                macro_f1, make_address_task)
from ft_course.models import tiny_llama


def _row(answer, user="Hi John"):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def test_address_label_rejects_bad_answers():
    with pytest.raises(ValueError, match="does not start with 'Kính gửi '"): address_label(_row("Dear John,"))
    with pytest.raises(ValueError, match="unknown form of address"): address_label(_row("Kính gửi em John,"))
    with pytest.raises(ValueError, match="'assistant' message"): address_label({"messages": [{"role": "user", "content": "x"}]})
    with pytest.raises(ValueError, match="'assistant' message"): address_label("Kính gửi anh John,")
    assert address_label(_row("Kính gửi quý anh chị,\nCảm ơn quý anh chị.")) == "quý anh chị"


def test_load_address_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown split 'dev'"): load_address("dev")
    with pytest.raises(FileNotFoundError, match="write_address_data"): load_address("train", root=tmp_path)


def test_every_greeting_gets_a_label():
    task = make_address_task()
    assert {r["label"] for rows in task.values() for r in rows} == set(ADDRESS_LABELS)


def test_last_token_index_errors_and_edges():
    ids = torch.tensor([[5, 6, 2], [5, 2, 2]])
    with pytest.raises(ValueError, match="needs attention_mask or pad_token_id"): last_token_index(ids)
    with pytest.raises(ValueError, match=r"rows \[1\] have no real token"):
        last_token_index(ids, torch.tensor([[1, 1, 0], [0, 0, 0]]))
    assert last_token_index(ids, pad_token_id=2).tolist() == [1, 0]
    assert last_token_index(ids[:1]).tolist() == [2]                       # one row, no mask: the last position
    left = torch.tensor([[0, 1, 1], [1, 1, 1]])
    assert last_token_index(ids, left).tolist() == [2, 2]


def test_classifier_checks_its_arguments():
    with pytest.raises(ValueError, match="num_labels must be an integer >= 2"): CausalLMClassifier(tiny_llama(), 1)
    with pytest.raises(TypeError, match="causal_lm must be a transformers causal LM"): CausalLMClassifier(torch.nn.Linear(2, 2), 3)


def test_batches_and_loss_errors():
    class Tok:
        def __call__(self, text, **kw): return {"input_ids": [3] * len(text.split())}
    with pytest.raises(ValueError, match="row 1: label 'sir' is not one of"):
        encode_rows([{"text": "a b", "label": "anh"}, {"text": "c", "label": "sir"}], Tok())
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left'"):
        collate_classes([{"input_ids": [1], "labels": 0}], 2, padding_side="middle")
    with pytest.raises(ValueError, match="empty batch"): collate_classes([], 2)
    model = CausalLMClassifier(tiny_llama(), 3)
    batch = collate_classes([{"input_ids": [5, 6], "labels": 0}, {"input_ids": [7], "labels": 2}], 2)
    s, n = classification_loss(model, batch)
    assert n == 2 and s.ndim == 0 and s.requires_grad
    with pytest.raises(KeyError): classification_loss(model, {k: v for k, v in batch.items() if k != "labels"})


def test_metric_errors():
    with pytest.raises(ValueError, match="y_true has 2 labels, y_pred 3"): confusion_matrix([0, 1], [0, 1, 1], 2)
    with pytest.raises(ValueError, match=r"label ids must be in \[0, 2\)"): confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match="1-D sequence of integer label ids"): accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="non-empty"): accuracy([], [])
    assert macro_f1([0, 1, 1], [0, 1, 1], 5) == 1.0                      # absent classes are not averaged in
