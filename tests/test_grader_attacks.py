"""Regression tests: each way a student fooled the old grader (issue 13) must now give no pass and leave no trace.

Every test grades a tiny two-exercise lesson whose hidden tests use fastcore's test_eq / test_close, with a
submission whose code attacks the grader instead of solving the exercise. A correct submission passes (last test).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ft_course.exercises import new_cell, read_notebook, source_lines, student_notebook, write_notebook
from ft_course.exercises import grade, grade_many

SECRET = "1234.5"          # appears only in the hidden tests: a student who can read them finds it
CELLS = [
    ("md", "# Attack lesson\n\n> Two tiny exercises."),
    ("code", "from fastcore.test import test_eq, test_close\nimport math"),
    ("md", "### Exercise: double\n\nReturn twice `x`."),
    ("code", '#| exercise atk_double\ndef double(x):\n    "Twice `x`."\n    # hint: multiply by 2.\n    return 2 * x'),
    ("code", f"#| grade atk_double\ntest_eq(double(2), 4)\ntest_eq(double('ab'), 'abab')\ntest_close(double({SECRET}), 2 * {SECRET})"),
    ("md", "### Exercise: halve\n\nReturn half of `x`."),
    ("code", '#| exercise atk_halve\ndef halve(x):\n    "Half of `x`."\n    # hint: divide by 2.\n    return x / 2'),
    ("code", "#| grade atk_halve\ntest_close(halve(3), 1.5)\ntest_eq(halve(8), 4.0)\nassert math.isclose(halve(1), 0.5)"),
]
WRONG = {"atk_double": "def double(x):\n    return x", "atk_halve": "def halve(x):\n    return x"}


@pytest.fixture
def lesson(tmp_path):
    nb = {"cells": [new_cell(k, t) for k, t in CELLS], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    return write_notebook(nb, tmp_path / "nbs" / "01_attack.ipynb")


def submit(lesson, answers: dict, name="student.ipynb") -> Path:
    "The student notebook of `lesson` with `answers` (id -> code after the marker) filled in."
    nb = student_notebook(read_notebook(lesson))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        for ex_id, code in answers.items():
            if src.startswith(f"#| exercise {ex_id}\n"): cell["source"] = source_lines(f"#| exercise {ex_id}\n{code}")
    return write_notebook(nb, lesson.parent.parent / name)


def statuses(report): return [r["status"] for r in report["exercises"]]


def test_patching_test_functions_passes_nothing(lesson):
    patch = ("import fastcore.test, builtins\nfastcore.test.test = lambda *a, **k: None\n"
             "test_eq = test_close = lambda *a, **k: None\nbuiltins.test_eq = builtins.test_close = test_eq\n")
    report = grade(submit(lesson, {"atk_double": patch + WRONG["atk_double"], "atk_halve": WRONG["atk_halve"]}), lesson=lesson)
    assert statuses(report) == ["fail", "fail"], report


def test_always_equal_objects_pass_nothing(lesson):
    cheat = ("class Any(float):\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
             "    __lt__ = __le__ = __gt__ = __ge__ = lambda s, o: True\n    __sub__ = __rsub__ = lambda s, o: Any()\n"
             "    __abs__ = lambda s: Any()\n    __bool__ = lambda s: True\n    __array_eq__ = lambda s, o: True\n")
    answers = {"atk_double": cheat + "def double(x):\n    return Any()", "atk_halve": cheat + "def halve(x):\n    return Any()"}
    report = grade(submit(lesson, answers), lesson=lesson)
    assert "pass" not in statuses(report), report


def test_reading_the_lesson_or_the_job_leaks_nothing(lesson):
    steal = (f"import sys, json, glob\nleak = ''\nfor p in sys.argv[1:] + glob.glob({str(lesson.parent)!r} + '/*'):\n"
             "    try: leak += open(p).read()\n    except Exception: pass\n"
             f"src = [c for c in json.loads(open({str(lesson)!r}).read())['cells'] if 'exercise atk_double' in ''.join(c['source'])]\n"
             "exec(''.join(src[0]['source']))\n")
    answers = {"atk_double": "try:\n" + "\n".join("    " + l for l in steal.splitlines()) + "\nexcept Exception: pass\n"
                             "if 'def double' not in globals():\n    def double(x): return x",
               "atk_halve": f"import sys\nleak = open(sys.argv[1]).read() if len(sys.argv) > 1 else ''\n"
                            f"def halve(x): return x / 2 if {SECRET!r} in leak else x"}
    report = grade(submit(lesson, answers), lesson=lesson)
    assert "pass" not in statuses(report), report


def test_forged_result_events_are_ignored(lesson):
    forge = ("import sys, json, os\nfor key in ('0/atk_double', '0/atk_halve'):\n"
             "    ev = dict(event='result', key=key, status='pass', message='', seconds=0.1)\n"
             "    try: open(sys.argv[2], 'a').write(json.dumps(ev) + '\\n')\n    except Exception: pass\nos._exit(0)\n")
    report = grade(submit(lesson, {"atk_double": forge + WRONG["atk_double"], "atk_halve": WRONG["atk_halve"]}), lesson=lesson)
    assert statuses(report) == ["error", "fail"], report


def _cli(*args):
    cmd = [sys.executable, "-c", "import sys; from ft_course.cli import main; sys.exit(main())", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_forged_report_through_proc_never_reaches_the_output(lesson):
    forge = ("import os\npid = os.getppid()\nfor _ in range(6):\n"
             "    for fd in (1, 2):\n        try:\n            with open(f'/proc/{pid}/fd/{fd}', 'w') as f: f.write('FORGED: 2 of 2 exercises passed\\n')\n"
             "        except Exception: pass\n"
             "    try: pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n    except Exception: break\n")
    printed = "import os\nprint('2 of 2 exercises passed')\nos._exit(0)\n"      # its own output, then it dies
    sub = submit(lesson, {"atk_double": forge + WRONG["atk_double"], "atk_halve": printed + WRONG["atk_halve"]})
    res = _cli("grade", sub, "--lesson", lesson)
    assert "FORGED" not in res.stdout + res.stderr, res.stdout
    lines = res.stdout.strip().splitlines()
    assert lines[-1] == "0 of 2 exercises passed" and lines.count("2 of 2 exercises passed") == 0, res.stdout


def test_rewriting_the_lesson_on_disk_is_refused(lesson):
    before = lesson.read_bytes()
    vandal = (f"import json\np = {str(lesson)!r}\ntry:\n    nb = json.load(open(p))\n"
              "    for c in nb['cells']:\n        if ''.join(c['source']).startswith('#| grade'): c['source'] = [''.join(c['source']).split(chr(10))[0] + chr(10) + 'pass']\n"
              "    json.dump(nb, open(p, 'w'))\nexcept Exception: pass\n")
    grade(submit(lesson, {"atk_double": vandal + WRONG["atk_double"]}), lesson=lesson)
    assert lesson.read_bytes() == before
    report = grade(submit(lesson, {}, "next.ipynb"), lesson=lesson)          # the next student's untouched stubs
    assert "pass" not in statuses(report), report


def test_shared_grading_keeps_students_apart(lesson):
    saboteur = ("import builtins, math, fastcore.test\nfastcore.test.test = lambda *a, **k: None\n"
                "builtins.isinstance = lambda *a: False\nmath.isclose = lambda *a, **k: False\n"
                "import operator\noperator.eq = lambda a, b: False\n")
    a = submit(lesson, {"atk_double": saboteur + WRONG["atk_double"], "atk_halve": saboteur + WRONG["atk_halve"]}, "a.ipynb")
    b = submit(lesson, WRONG, "b.ipynb")
    c = submit(lesson, {"atk_double": "def double(x):\n    return x * 2", "atk_halve": "def halve(x):\n    return x / 2"}, "c.ipynb")
    ra, rb, rc = grade_many([a, b, c], lesson=lesson, shared=True)
    assert "pass" not in statuses(ra) + statuses(rb), (ra, rb)
    assert statuses(rc) == ["pass", "pass"], rc


def _alive(marker: str) -> list:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit(): continue
        try: cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError: continue
        if marker in cmd: out.append((int(d), cmd))
    return out


def test_no_process_survives_grading(lesson):
    spawn = ("import subprocess, os\nsubprocess.Popen(['sleep', '987.654'], start_new_session=True)\n"
             "if os.fork() == 0:\n    os.setsid()\n    subprocess.Popen(['sleep', '987.655'])\n    os._exit(0)\n")
    grade(submit(lesson, {"atk_double": spawn + WRONG["atk_double"]}), lesson=lesson)
    time.sleep(0.5)
    assert not _alive("sleep 987.65"), _alive("sleep 987.65")


def test_memory_is_limited(lesson):
    hog = "blob = bytearray(2 << 30)\n"
    report = grade(submit(lesson, {"atk_double": hog + "def double(x):\n    return 2 * x"}), lesson=lesson)
    assert report["exercises"][0]["status"] == "error" and "MemoryError" in report["exercises"][0]["message"], report


def test_package_and_virtualenv_are_read_only(lesson):
    import ft_course
    targets = [Path(ft_course.__file__).resolve().parent / "planted_by_student.py",
               Path(sys.prefix) / "planted_by_student.txt", Path(os.__file__).parent / "planted_by_student.py"]
    plant = "".join(f"try: open({str(t)!r}, 'w').write('x = 1')\nexcept Exception: pass\n" for t in targets)
    try:
        grade(submit(lesson, {"atk_double": plant + "def double(x):\n    return 2 * x"}), lesson=lesson)
        assert not [t for t in targets if t.exists()]
    finally:
        for t in targets: t.unlink(missing_ok=True)


def test_honest_submission_passes_and_is_deterministic(lesson):
    good = {"atk_double": "import random\ndef double(x):\n    return x * 2 if random.random() < 2 else 0",
            "atk_halve": "def halve(x):\n    return x / 2"}
    sub = submit(lesson, good)
    r1, r2 = grade(sub, lesson=lesson), grade(sub, lesson=lesson)
    assert statuses(r1) == statuses(r2) == ["pass", "pass"], r1
    assert [r["message"] for r in r1["exercises"]] == [r["message"] for r in r2["exercises"]]
