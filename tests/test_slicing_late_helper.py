"""A lesson function may call a helper defined in a later cell: grading must run that cell too (regression).

Python looks a function's global names up when it is called. The slicer used to resolve them before the
function's own cell, so a hidden test calling `outer` (which calls `helper2`, defined one cell later) failed with
a NameError that the grader reported as a problem of the lesson.
"""
from ft_course.exercises import grade, new_cell, read_exercises, write_notebook
from ft_course.slicing import grading_slice, lesson_cells

CELLS = [("code", "def outer(a): return helper2(a)"),
         ("code", "def helper2(a): return 2 * a"),
         ("markdown", "### Exercise: one"),
         ("code", '#| exercise late_one\ndef one():\n    "One."\n    # hint: return 1\n    return 1'),
         ("code", "#| grade late_one\nassert outer(one()) == 2")]


def test_slice_includes_a_helper_defined_after_its_caller():
    nb = {"cells": [new_cell(kind, src) for kind, src in CELLS]}
    assert grading_slice(lesson_cells(nb), read_exercises(nb)[0]) == [0, 1]


def test_reference_passes_when_graded(tmp_path):
    lesson = write_notebook({"cells": [new_cell(kind, src) for kind, src in CELLS], "metadata": {}, "nbformat": 4,
                             "nbformat_minor": 5}, tmp_path / "01_late.ipynb")
    report = grade(lesson, lesson=lesson)
    assert [(r["id"], r["status"]) for r in report["exercises"]] == [("late_one", "pass")], report
