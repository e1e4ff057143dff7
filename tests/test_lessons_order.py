"""Every `#| cuda` cell of every lesson uses only names defined in the cells above it, and guards its body.

CI has no GPU, so `#| cuda` cells never run there; a cell that uses a name defined further down raises `NameError`
only on a learner's GPU. This checks it statically: names bound by the cells above (imports, defs, classes,
assignments, loop and `with` targets; exported cells count like any other) against the names the cell reads.
A learner's "Run All" on a CPU runs `#| cuda` cells too, so each one's only statement is
`if torch.cuda.is_available():` (optionally `and` more conditions) holding the whole body.
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


def _is_cuda_check(node: ast.AST) -> bool:
    "True for `torch.cuda.is_available()`, alone or as the first operand of an `and`."
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And): node = node.values[0]
    return isinstance(node, ast.Call) and not node.args and ast.unparse(node.func) == "torch.cuda.is_available"


def unguarded_cuda_cells(nb: dict) -> list:
    "Cell numbers of the `#| cuda` cells whose code is not one `if torch.cuda.is_available():` holding it all."
    out = []
    for i, cell in enumerate(nb["cells"]):
        src = _code(cell)
        if cell["cell_type"] != "code" or not re.search(r"^#\|\s*cuda\b", src, re.M): continue
        try: body = _parse(src).body
        except SyntaxError: body = []
        if len(body) != 1 or not isinstance(body[0], ast.If) or not _is_cuda_check(body[0].test): out.append(i)
    return out


@pytest.mark.parametrize("path", LESSONS, ids=[p.name for p in LESSONS])
def test_cuda_cells_guard_their_body(path):
    cells = unguarded_cuda_cells(json.loads(path.read_text()))
    assert not cells, (f"{path.name}: #| cuda cells {cells} must hold their whole body under "
                       "`if torch.cuda.is_available():` so a CPU-only Run All skips them")


def test_the_guard_check_catches_unguarded_cells():
    guarded = "#| cuda\nif torch.cuda.is_available():   # skipped on a CPU\n    x = torch.ones(1, device='cuda')"
    assert unguarded_cuda_cells(_nb(guarded)) == []
    assert unguarded_cuda_cells(_nb("#| cuda\nif torch.cuda.is_available() and n > 1:\n    pass")) == []
    assert unguarded_cuda_cells(_nb("x = 1", "#| cuda\nx = torch.ones(1, device='cuda')")) == [1]
    assert unguarded_cuda_cells(_nb(guarded + "\nprint(x)")) == [0]                   # a statement after the guard
    assert unguarded_cuda_cells(_nb("#| cuda\nif torch.cuda.device_count() > 1:\n    pass")) == [0]
    assert unguarded_cuda_cells(_nb("if torch.cuda.is_available(): pass\nx = 2")) == []   # not a cuda cell
