"""Every numbered lesson has the shape the course promises: a title, its run time at the top, a summary, exercises.

The run time is what a learner on a 2-core laptop needs before pressing "Run All" (developers' guide, rule 10).
A lesson without graded exercises must say where its exercises are.
"""
import json
import re
from pathlib import Path

import pytest

from ft_course.exercises import exercise_ids, lesson_notebooks

NBS = Path(__file__).resolve().parents[1] / "nbs"
LESSONS = [p for p in lesson_notebooks(NBS) if re.match(r"\d", p.name)] if NBS.is_dir() else []
RUN_TIME = re.compile(r"Run time: about \d+ min on 2 CPU cores")


def _markdown(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def test_every_numbered_lesson_is_checked():
    assert len(LESSONS) >= 29, [p.name for p in LESSONS]


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_title_run_time_summary_and_exercises(lesson):
    md = _markdown(lesson)
    number = lesson.name.split("_")[0]
    assert md[0].startswith(f"# {number} · "), f"{lesson.name}: the first cell should be the title '# {number} · ...'"
    assert any(RUN_TIME.search(m) for m in md[:2]), \
        f"{lesson.name}: state 'Run time: about N min on 2 CPU cores' at the top"
    headings = [line for m in md for line in m.splitlines()]
    assert "## Summary" in headings, f"{lesson.name}: no '## Summary' section"
    exercises_text = "\n".join(m for m in md if "## Exercises" in m or m.startswith("### Exercise"))
    assert exercise_ids(lesson) or re.search(r"exercises .* are in `\d", exercises_text), \
        f"{lesson.name}: no graded exercise (`#| exercise` cell) and no pointer to where the exercises are"
