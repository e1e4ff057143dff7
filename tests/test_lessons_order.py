"""Every `#| cuda` cell of every lesson uses only names defined in the cells above it.

CI has no GPU, so `#| cuda` cells never run there; a cell that uses a name defined further down raises `NameError`
only on a learner's GPU. This checks it statically: names bound by the cells above (imports, defs, classes,
assignments, loop and `with` targets; exported cells count like any other) against the names the cell reads.
"""
import ast
import builtins
import importlib
import json
import re
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parents[1] / "nbs"
ALWAYS = set(dir(builtins)) | {"get_ipython", "display", "__name__", "__file__"}   # what IPython provides


def _code(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _parse(src: str) -> ast.Module:
    "Parse a cell; IPython magics and shell escapes become `pass`."
    lines = [re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in src.splitlines()]
    return ast.parse("\n".join(lines))


def _star_names(module: str) -> set:
    try: mod = importlib.import_module(module)
    except Exception: return set()
    return set(getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")])


def bound_names(tree: ast.AST) -> set:
    "Every name the code binds, at any depth (conservative: a name bound anywhere in the cell counts)."
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)): out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(node.name)
        elif isinstance(node, ast.arg): out.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                if a.name == "*": out |= _star_names(node.module or "")
                else: out.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name: out.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)): out.update(node.names)
        elif isinstance(node, ast.MatchAs) and node.name: out.add(node.name)
        elif isinstance(node, ast.MatchStar) and node.name: out.add(node.name)
    return out


def read_names(tree: ast.AST) -> set:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def undefined_in_cuda_cells(nb: dict) -> list:
    "`(cell number, sorted names)` for each `#| cuda` cell that reads names no cell above it (or itself) binds."
    defined, problems = set(ALWAYS), []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code": continue
        src = _code(cell)
        try: tree = _parse(src)
        except SyntaxError: continue
        own = bound_names(tree)
        if re.search(r"^#\|\s*cuda\b", src, re.M):
            missing = read_names(tree) - own - defined
            if missing: problems.append((i, sorted(missing)))
        defined |= own
    return problems


LESSONS = sorted(NBS.glob("*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_cuda_cells_use_only_names_defined_above(path):
    problems = undefined_in_cuda_cells(json.loads(path.read_text()))
    assert not problems, f"{path.name}: #| cuda cells read names not defined above them: {problems}"


def _nb(*sources):
    return {"cells": [{"cell_type": "code", "source": s} for s in sources]}


def test_the_check_catches_a_name_defined_below():
    nb = _nb("import torch\nx = 1", "#| cuda\ny = f(x) + torch.ones(1)", "#| export\ndef f(v): return v")
    assert undefined_in_cuda_cells(nb) == [(1, ["f"])]
    nb = _nb("#| export\ndef f(v): return v", "#| cuda\nfor i in range(2): y = f(i)\nz = [k for k in (y,)]")
    assert undefined_in_cuda_cells(nb) == []
    assert undefined_in_cuda_cells(_nb("%timeit 1", "#| cuda\n!nvidia-smi\nprint(zz)")) == [(1, ["zz"])]
