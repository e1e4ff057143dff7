"""The instructor's command line: gradebook CSV, nbgrader export, bad input, exit codes, and a pip install without a clone."""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ft_course.exercises import read_notebook, student_notebook, write_notebook, source_lines

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "mini_lesson.ipynb"


def cli(*args, cwd=None, env=None):
    cmd = [sys.executable, "-c", "import sys; from ft_course.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture
def course(tmp_path):
    "A lessons folder with the mini lesson, and a class folder: ann handed in the stubs, bob the reference."
    write_notebook(read_notebook(FIXTURE), tmp_path / "nbs" / "01_mini.ipynb")
    write_notebook(student_notebook(read_notebook(FIXTURE)), tmp_path / "class" / "ann" / "01_mini.ipynb")
    write_notebook(read_notebook(FIXTURE), tmp_path / "class" / "bob" / "01_mini.ipynb")
    return tmp_path


def test_grade_a_folder_into_a_gradebook(course):
    res = cli("grade", course / "class", "--nbs", course / "nbs", "--csv", course / "grades.csv", "--json")
    assert res.returncode == 0, res.stderr
    rows = list(csv.reader((course / "grades.csv").open()))
    assert rows == [["student", "mini_scale", "mini_counter", "mini_mean", "passed", "total"],
                    ["ann", "0", "0", "0", "0", "3"], ["bob", "1", "1", "1", "3", "3"]]
    reports = json.loads(res.stdout)
    assert [r["passed"] for r in reports] == [0, 3]
    assert all(r["message"] for r in reports[0]["exercises"])      # per-exercise feedback


@pytest.mark.parametrize("make, expect", [
    (lambda d: (d / "bad.ipynb").write_text('{"cells": ['), "bad.ipynb is not a valid notebook"),
    (lambda d: (d / "bad.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n"), "bad.ipynb is not a notebook"),
    (lambda d: (d / "bad.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                             "source": "#| exercise other_thing\ndef f(): pass"}]})), "bad.ipynb: "),
], ids=["corrupt", "not_a_notebook", "other_course"])
def test_bad_input_is_one_line_and_no_partial_csv(course, make, expect):
    make(course / "class")
    res = cli("grade", course / "class", "--nbs", course / "nbs", "--csv", course / "grades.csv")
    assert res.returncode == 2 and expect in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (course / "grades.csv").exists()


def test_unknown_lesson_id(course):
    res = cli("grade", course / "class" / "ann" / "01_mini.ipynb", "--lesson", "42", "--nbs", course / "nbs")
    assert res.returncode == 2 and "Lesson '42'" in res.stderr, res.stderr
    res = cli("assign", "42", "--out", course / "out", "--nbs", course / "nbs")
    assert res.returncode == 2 and "Lesson '42'" in res.stderr


def test_grading_that_cannot_run_exits_non_zero(course):
    nb = read_notebook(course / "nbs" / "01_mini.ipynb")
    for cell in nb["cells"]:                                    # the lesson's own setup cell is broken
        if "".join(cell["source"]).startswith("def helper"): cell["source"] = source_lines("def helper(x):\n    return 1 / 0\nboom()")
    write_notebook(nb, course / "nbs" / "01_mini.ipynb")
    res = cli("grade", course / "class" / "bob", "--nbs", course / "nbs")
    assert res.returncode == 3 and "grading could not run" in res.stderr, (res.returncode, res.stderr)


def test_nbgrader_source_notebooks(course):
    res = cli("assign", "1", "--out", course / "nbgrader", "--nbs", course / "nbs", "--format", "nbgrader")
    assert res.returncode == 0, res.stderr
    nb = read_notebook(course / "nbgrader" / "01_mini.ipynb")
    meta = [c["metadata"]["nbgrader"] for c in nb["cells"] if "nbgrader" in c["metadata"]]
    assert [m["grade_id"] for m in meta] == ["mini_scale", "mini_scale_tests", "mini_counter", "mini_counter_tests",
                                             "mini_mean", "mini_mean_tests"]
    assert all(m["solution"] != m["grade"] and m["schema_version"] == 3 for m in meta)
    text = ["".join(c["source"]) for c in nb["cells"] if "nbgrader" in c["metadata"]]
    assert "    ### BEGIN SOLUTION\n    y = x * FACTOR\n    return y + helper(x)\n    ### END SOLUTION" in text[0]
    assert text[1].startswith("#| grade mini_scale\n### BEGIN HIDDEN TESTS\n") and text[1].endswith("### END HIDDEN TESTS")
    ns = {}
    exec(compile(text[4], "mean", "exec"), ns)                 # the source notebook still runs: markers are comments
    assert ns["mean"]([1, 2]) == 1.5


def test_works_from_a_pip_install_without_a_clone(tmp_path):
    src = tmp_path / "src"                       # build from a copy: an in-tree build would leave build/ behind
    src.mkdir()
    for name in ("setup.py", "settings.ini", "MANIFEST.in", "README.md", "LICENSE"):
        if (ROOT / name).exists(): shutil.copy(ROOT / name, src / name)
    for name in ("ft_course", "nbs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(src),
                            "-w", str(tmp_path / "wheel")], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert wheel.returncode == 0, wheel.stderr
    site = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                           *map(str, (tmp_path / "wheel").glob("*.whl"))], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr
    assert (site / "ft_course" / "lessons" / "90_instructors.ipynb").is_file()
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("FT_COURSE_NBS", None)
    work = tmp_path / "elsewhere"
    work.mkdir()
    res = cli("assign", "90", "--out", "class", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    steal = (f"src = open({str(site / 'ft_course' / 'lessons' / '90_instructors.ipynb')!r}).read()\n"
             "def score(report, weights=None):\n    return 0.0")
    nb = read_notebook(work / "class" / "90_instructors.ipynb")
    for cell in nb["cells"]:
        if "".join(cell["source"]).startswith("#| exercise exercises_score"):
            cell["source"] = source_lines("#| exercise exercises_score\n" + steal)
    write_notebook(nb, work / "class" / "90_instructors.ipynb")
    res = cli("grade", work / "class" / "90_instructors.ipynb", "--json", cwd=work, env=env)
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)["exercises"][0]
    assert first["status"] == "error" and "PermissionError" in first["message"], first    # the shipped lessons are hidden


def test_without_landlock_one_warning_and_grading_still_runs(course):
    env = dict(os.environ, FT_COURSE_LANDLOCK="0")
    res = cli("grade", course / "class" / "bob" / "01_mini.ipynb", "--nbs", course / "nbs", env=env)
    assert res.returncode == 0 and "3 of 3 exercises passed" in res.stdout, res.stderr
    warnings = [l for l in res.stderr.splitlines() if "warning" in l]
    assert len(warnings) == 1 and "Landlock is not available" in warnings[0], res.stderr
