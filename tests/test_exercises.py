"""Instructor tooling: every reference solution passes the grader, every stub fails, loops are stopped, no solution leaks.

Runs on the fixture lesson (tests/fixtures/mini_lesson.ipynb) and on every lesson notebook in nbs/ that has exercises.
The real lessons are graded with `grade_many(shared=True)`: the reference (the lesson itself) and the stubs share one
grading process per lesson, so the lesson cells the hidden tests need run once; each submission has its own sandbox.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ft_course.exercises import (assign, cell_source, grade, grade_many, lesson_notebooks, exercise_ids, make_stub,
                                 parse_marker, read_exercises, read_notebook, solution_lines, source_lines,
                                 student_notebook, write_notebook)

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mini_lesson.ipynb"
LESSONS = [p for p in lesson_notebooks(NBS) if exercise_ids(p)] if NBS.is_dir() else []


def _marker(cell):
    if cell.get("cell_type") != "code": return None
    try: return parse_marker(cell_source(cell))
    except ValueError: return None


def _submission(tmp_path, answers: dict, name="student.ipynb") -> Path:
    "The fixture's student notebook with `answers` (id -> code after the marker line) filled in."
    nb = student_notebook(read_notebook(FIXTURE))
    for cell in nb["cells"]:
        m = _marker(cell)
        if m is not None and m.kind == "exercise" and m.id in answers:
            cell["source"] = source_lines(f"#| exercise {m.id}\n{answers[m.id]}")
    return write_notebook(nb, tmp_path / name)


def _statuses(report): return {r["id"]: r["status"] for r in report["exercises"]}


def _assert_no_solution_text(lesson_nb: dict, student_nb: dict, where: str):
    "No grade cell, and no solution line that the lesson's non-exercise cells don't contain anyway."
    assert not any(_marker(c) is not None and _marker(c).kind == "grade" for c in student_nb["cells"]), where
    others = "\n".join(cell_source(c) for c in lesson_nb["cells"]
                       if not (_marker(c) is not None and _marker(c).kind in ("exercise", "grade")))
    text = "\n".join(cell_source(c) for c in student_nb["cells"])
    for ex in read_exercises(lesson_nb, where):
        for line in solution_lines(ex.solution):
            assert line not in text or line in others, f"{where}: solution line of {ex.id} leaked: {line!r}"
        for _, src in ex.grades:
            body = [l for l in src.splitlines()[1:] if l.strip() and l.strip() not in others]
            assert not any(l in text for l in body if len(l.strip()) > 12), f"{where}: hidden test of {ex.id} leaked"


# --- the fixture lesson ---------------------------------------------------------------------------------------

def test_fixture_reference_passes_and_skips_unneeded_cells():
    t0 = time.perf_counter()
    report = grade(FIXTURE, lesson=FIXTURE)
    assert _statuses(report) == {"mini_scale": "pass", "mini_counter": "pass", "mini_mean": "pass"}, report
    assert time.perf_counter() - t0 < 60          # the lesson's 600 s cell was not run


def test_fixture_student_notebook(tmp_path):
    (tmp_path / "nbs").mkdir()
    lesson = write_notebook(read_notebook(FIXTURE), tmp_path / "nbs" / "01_mini.ipynb")
    [written] = assign(["mini"], tmp_path / "out", nbs=tmp_path / "nbs")
    lnb, snb = read_notebook(lesson), read_notebook(written)
    _assert_no_solution_text(lnb, snb, written.name)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in snb["cells"] if c["cell_type"] == "code")
    plain = lambda nb: [c for c in nb["cells"] if _marker(c) is None or _marker(c).kind not in ("exercise", "grade")]
    assert plain(snb) == plain(lnb)               # nothing else of the lesson changed
    assert exercise_ids(written) == exercise_ids(lesson)
    report = grade(written, nbs=tmp_path / "nbs")  # the lesson is found by name in the lessons folder
    assert set(_statuses(report).values()) == {"error"}
    assert all("NotImplementedError" in r["message"] for r in report["exercises"])


def test_stub_keeps_interface_and_raises_hint():
    ex = read_exercises(FIXTURE)[1]
    ns = {}
    exec(make_stub(ex.solution), ns)
    with pytest.raises(NotImplementedError, match="most_common"): ns["WordCounter"]()
    assert ns["WordCounter"].top.__doc__ == "The `n` most common words."


@pytest.mark.parametrize("scale_src, timeout, max_seconds, message", [
    pytest.param("def scale(x):\n    while True:\n        x += 1", 2, 25, "timed out after 2 s", id="infinite_loop"),
    # the alarm is switched off and exceptions are swallowed: only killing the process group stops this
    pytest.param("import signal, subprocess\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                 "child = subprocess.Popen(['sleep', '300'])\n"
                 "def scale(x):\n    while True:\n        try: pass\n        except BaseException: pass",
                 1, 30, "timed out", id="uninterruptible_loop_is_killed"),
])
def test_runaway_solution_is_stopped_and_others_still_graded(tmp_path, scale_src, timeout, max_seconds, message):
    sub = _submission(tmp_path, {"mini_scale": scale_src, "mini_mean": "def mean(xs):\n    return sum(xs) / len(xs)"})
    t0 = time.perf_counter()
    report = grade(sub, lesson=FIXTURE, timeout=timeout)
    assert time.perf_counter() - t0 < max_seconds
    assert _statuses(report) == {"mini_scale": "error", "mini_counter": "error", "mini_mean": "pass"}
    assert message in report["exercises"][0]["message"]


def test_syntax_errors_exceptions_and_exits(tmp_path):
    sub = _submission(tmp_path, {"mini_scale": "def scale(x)\n    return 1",
                                 "mini_counter": "raise RuntimeError('boom')",
                                 "mini_mean": "import sys\nsys.exit(0)"})
    report = grade(sub, lesson=FIXTURE)
    assert _statuses(report) == {"mini_scale": "error", "mini_counter": "error", "mini_mean": "error"}
    msgs = [r["message"] for r in report["exercises"]]
    assert msgs[0].startswith("SyntaxError in your exercise cell, line 2")
    assert "RuntimeError: boom" in msgs[1] and "line 2" in msgs[1]
    assert "SystemExit" in msgs[2]
    sub = _submission(tmp_path, {"mini_scale": "import os\nos._exit(5)", "mini_mean": "def mean(xs):\n    return 0"}, "b.ipynb")
    report = grade(sub, lesson=FIXTURE)
    assert _statuses(report) == {"mini_scale": "error", "mini_counter": "error", "mini_mean": "fail"}
    assert "exit code 5" in report["exercises"][0]["message"]


def test_missing_exercise_cell(tmp_path):
    nb = read_notebook(_submission(tmp_path, {"mini_mean": "def mean(xs):\n    return sum(xs) / len(xs)"}))
    nb["cells"] = [c for c in nb["cells"] if not (_marker(c) is not None and _marker(c).id == "mini_scale")]
    report = grade(write_notebook(nb, tmp_path / "cut.ipynb"), lesson=FIXTURE)
    assert _statuses(report)["mini_scale"] == "error" and "no `#| exercise mini_scale` cell" in report["exercises"][0]["message"]
    assert _statuses(report)["mini_mean"] == "pass"


def test_cli(tmp_path):
    (tmp_path / "nbs").mkdir()
    write_notebook(read_notebook(FIXTURE), tmp_path / "nbs" / "01_mini.ipynb")
    script = Path(sys.executable).parent / "ft_course"
    cmd = [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from ft_course.cli import main; sys.exit(main())"]
    run = lambda *a: subprocess.run(cmd + [str(x) for x in a], capture_output=True, text=True, timeout=120)
    res = run("assign", "--out", tmp_path / "out", "--nbs", tmp_path / "nbs")
    assert res.returncode == 0, res.stderr
    res = run("grade", tmp_path / "out" / "01_mini.ipynb", "--nbs", tmp_path / "nbs", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["passed"] == 0
    res = run("grade", tmp_path / "nope.ipynb", "--nbs", tmp_path / "nbs")
    assert res.returncode == 2 and "Notebook not found" in res.stderr


# --- the real lessons -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_reference_passes_and_stubs_fail(lesson, tmp_path):
    lnb = read_notebook(lesson)
    student = write_notebook(student_notebook(lnb), tmp_path / lesson.name)
    _assert_no_solution_text(lnb, read_notebook(student), lesson.name)
    reference, stubs = grade_many([lesson, student], lesson=lesson, shared=True)
    bad = {r["id"]: r["message"] for r in reference["exercises"] if r["status"] != "pass"}
    assert not bad, f"{lesson.name}: reference solutions that do not pass the grader: {bad}"
    passing = [r["id"] for r in stubs["exercises"] if r["status"] == "pass"]
    assert not passing, f"{lesson.name}: stubs that pass their hidden tests: {passing}"
    # at least two graded exercises per lesson; a lesson split into parts (05, 05a, 05b) counts with its parts
    family = [p for p in LESSONS if p.stem[:2] == lesson.stem[:2]]
    assert len(reference["exercises"]) >= 2 or sum(len(exercise_ids(p)) for p in family) >= 2
