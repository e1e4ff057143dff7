"""Error paths moved out of the lessons (00, 00a, 01, 10, 11, 13, 90): each test is one former `test_fail` check.

The lessons show the behaviour and keep only the error checks that teach something; these pin the rest, with the
same expectations: the call raises, and its message contains the same words.
"""
import pytest
import torch

from ft_course.classify import confusion_matrix
from ft_course.cost import training_cost, training_hours
from ft_course.exercises import (assign, demo_lesson, find_lessons, lessons_dir, make_stub, new_cell, parse_marker,
                                 read_exercises, read_notebook)
from ft_course.models import atomic_write, load_smollm2, tiny_llama
from ft_course.peft_family import PromptTuning, apply_ia3, load_adapter_parts
from ft_course.preference import group_advantages
from ft_course.tasks import load_task, make_task


def fails(f, contains=""):
    "Like fastcore's `test_fail`: `f()` raises, and the message contains `contains`."
    with pytest.raises(Exception) as e: f()
    assert contains in str(e.value), f"{contains!r} not in {str(e.value)!r}"


# lesson 00: models

def test_atomic_write_refuses_a_wrong_type_before_creating_anything(tmp_path):
    fails(lambda: atomic_write(tmp_path / "bad.txt", {"a": 1}), contains="must be str or bytes; got dict")
    assert not (tmp_path / "bad.txt").exists()


@pytest.mark.parametrize("dtype", ["float32", torch.int8])
def test_load_smollm2_refuses_a_wrong_dtype_up_front(dtype):
    fails(lambda: load_smollm2(dtype=dtype), contains="dtype must be one of")


# lesson 00a: tasks

def test_make_task_names_an_unknown_task():
    fails(lambda: make_task("poems"), contains="Unknown task 'poems'")


def test_load_task_names_an_unknown_split():
    fails(lambda: load_task("greetings", "dev"), contains="Unknown split 'dev'")


def test_load_task_names_the_line_of_broken_json(tmp_path):
    bad = tmp_path / "greetings" / "train.jsonl"; bad.parent.mkdir()
    bad.write_text('{"messages": []}\n{oops\n', encoding="utf-8")
    fails(lambda: load_task("greetings", "train", root=tmp_path), contains="line 2")


# lesson 01: cost

def test_training_cost_refuses_negative_tokens():
    fails(lambda: training_cost(-1), contains="tokens must be a non-negative number")


def test_training_hours_refuses_zero_throughput():
    fails(lambda: training_hours(1, tokens_per_s=0), contains="tokens_per_s must be a positive number")


# lesson 10: peft_family

def test_prompt_tuning_needs_virtual_tokens():
    fails(lambda: PromptTuning(tiny_llama(), 0), contains="num_virtual_tokens")


def test_ia3_feedforward_modules_must_be_targets():
    fails(lambda: apply_ia3(tiny_llama(), ("k_proj",), ("down_proj",)), contains="feedforward_modules")


def test_load_adapter_parts_refuses_fan_in_fan_out():
    cfg = {"peft_type": "IA3", "fan_in_fan_out": True, "target_modules": ["k_proj"]}
    fails(lambda: load_adapter_parts(tiny_llama(), cfg, {}), contains="fan_in_fan_out")


# lesson 11: classify

def test_confusion_matrix_needs_as_many_predictions_as_labels():
    fails(lambda: confusion_matrix([0, 1], [0], 2), contains="y_true has 2 labels")


# lesson 13: preference

def test_group_advantages_needs_whole_groups():
    fails(lambda: group_advantages([1., 2., 3.], 2), contains="group_size")


# lesson 90: exercises

def test_read_notebook_reports_invalid_json_with_its_line(tmp_path):
    (tmp_path / "bad.ipynb").write_text('{"cells": [\n  1,\n  oops]}')
    fails(lambda: read_notebook(tmp_path / "bad.ipynb"), contains="invalid JSON at line 3")


def test_read_notebook_needs_an_object_with_cells(tmp_path):
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    fails(lambda: read_notebook(tmp_path / "list.ipynb"), contains="expected a JSON object with a 'cells' list")


def test_read_notebook_names_a_missing_file(tmp_path):
    fails(lambda: read_notebook(tmp_path / "missing.ipynb"), contains="Notebook not found")


@pytest.mark.parametrize("source, expected", [
    ("#| grade", "needs an exercise id"),
    ("#| grade x timeout=soon", "positive number of seconds"),
    ("#| exercise x timeout=3", "unknown option"),
])
def test_parse_marker_refuses_malformed_markers(source, expected):
    fails(lambda: parse_marker(source), contains=expected)


def _lesson(*cells): return {"cells": [new_cell(k, t) for k, t in cells]}
OK = ("code", '#| exercise a_b\ndef f():\n    "Doc."\n    # hint: h\n    return 1')


@pytest.mark.parametrize("cells, name, expected", [
    ((OK,), "x.ipynb", "has no `#| grade a_b` cell"),
    ((("code", "#| grade a_b\nassert 1"), OK), "x.ipynb", "cell 1: `#| grade a_b` comes before"),
    ((("code", '#| exercise a_b\ndef f():\n    "Doc."\n    return 1'),), None, "no `# hint: ...` line"),
    ((("code", '#| exercise a_b\ndef f(:\n    # hint: h\n    pass'),), None, "not valid Python (line 2"),
])
def test_read_exercises_reports_broken_conventions(cells, name, expected):
    fails(lambda: read_exercises(_lesson(*cells), name), contains=expected)


TRICKY = '''#| exercise t_tricky
from dataclasses import dataclass

def fib(n: int) -> int:
    "Fibonacci number `n`."
    # hint: the sum of the two previous numbers.
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def one(x): return x + 41

async def later():
    "Wait."
    # hint: await something.
    await something_else()

@dataclass
class Point:
    "A point."
    x: float
    y: float = 0.0
    def norm(self) -> float:
        "Euclidean norm."
        return (self.x ** 2 + self.y ** 2) ** 0.5
'''


@pytest.fixture(scope="module")
def stubs():
    ns = {}
    exec(compile(make_stub(TRICKY), "stub", "exec"), ns)
    return ns


def test_a_stub_without_its_own_hint_raises_the_cells_first_hint(stubs):
    fails(lambda: stubs["one"](1), contains="the sum of the two previous numbers.")


def test_an_async_stub_raises_its_hint(stubs):
    coro = stubs["later"]()
    fails(lambda: coro.send(None), contains="await something.")
    coro.close()


def test_a_method_stub_raises_the_cells_first_hint(stubs):
    fails(stubs["Point"](1.0, 2.0).norm, contains="the sum of the two previous numbers.")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    demo_lesson(root / "nbs" / "01_mini.ipynb")
    return root


def test_find_lessons_names_what_matches_nothing(demo):
    fails(lambda: find_lessons(["7"], demo / "nbs"), contains="Lesson '7': no notebooks match")


def test_assign_refuses_to_overwrite_the_lessons(demo):
    fails(lambda: assign(["1"], demo / "nbs", nbs=demo / "nbs"), contains="refusing to overwrite")


def test_lessons_dir_names_a_missing_folder(demo):
    fails(lambda: lessons_dir(demo / "nope"), contains="no such folder")
