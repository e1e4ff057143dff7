"""Write every Colab badge and Colab install line in nbs/*.ipynb from settings.ini's `git_url` and `branch`.

The repository's address is written in one place, settings.ini; this tool derives the rest. `make check` runs it
(and fails when it changed a file); tests/test_links.py checks that nothing is out of date. `--check` only reports.
"""
import argparse
import json
import re
import sys
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BADGE = re.compile(r"\[!\[Open in Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\([^)\s]*\)")
INSTALL = re.compile(r"""(["'])ft_course[^"'@]*@ git\+[^"']*\1""")


def settings() -> dict:
    "The repository facts from settings.ini: git_url, branch, and the `owner/name` path on GitHub."
    cfg = ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    d = cfg["DEFAULT"]
    url = d["git_url"].rstrip("/")
    m = re.fullmatch(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?", url)
    if not m: raise SystemExit(f"settings.ini: git_url must be https://github.com/OWNER/NAME; got {url!r}")
    return {"git_url": url, "branch": d.get("branch", "main"), "path": m.group(1)}


def badge(s: dict, notebook: str) -> str:
    "The markdown of the Open-in-Colab badge for `notebook` (a file name in nbs/)."
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{s['path']}/blob/{s['branch']}/nbs/{notebook})")


def install_spec(s: dict) -> str:
    "The pip requirement a learner installs: the package with everything the lessons import."
    return f'"ft_course[lessons] @ git+{s["git_url"]}"'


def sync_text(text: str, s: dict, notebook: str | None) -> str:
    "`text` with its install requirement and, for a lesson, its badges rewritten."
    text = INSTALL.sub(lambda m: install_spec(s), text)
    if notebook is None:   # the index: each badge keeps the lesson it points at
        return BADGE.sub(lambda m: badge(s, m.group(0).rsplit("/nbs/", 1)[-1].rstrip(")")), text)
    return BADGE.sub(lambda m: badge(s, notebook), text)


def sync_notebook(path: Path, s: dict, write: bool) -> bool:
    "Rewrite one notebook's links; True when something changed (written only when `write`)."
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    lesson = None if path.name == "index.ipynb" else path.name
    changed = False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        new = sync_text(src, s, lesson)
        if new != src:
            cell["source"] = new.splitlines(keepends=True)
            changed = True
    if changed and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--check", action="store_true", help="report out-of-date links, change nothing")
    args = p.parse_args(argv)
    s = settings()
    changed = [n.name for n in sorted((ROOT / "nbs").glob("*.ipynb")) if sync_notebook(n, s, not args.check)]
    for name in changed: print(f"{'out of date' if args.check else 'updated'}: nbs/{name}")
    return 1 if (changed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
