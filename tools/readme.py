"""Write README.md from nbs/index.ipynb (markdown cells as they are, visible code cells as code blocks)."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def notebook_to_markdown(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        src = "".join(cell["source"]).strip("\n")
        if cell["cell_type"] == "markdown":
            parts.append(src)
        elif cell["cell_type"] == "code":
            lines = src.splitlines()
            directives = [l for l in lines if l.startswith("#|")]
            if any(d.split()[1:2] in (["hide"], ["export"], ["exporti"]) for d in directives if len(d.split()) > 1):
                continue
            code = "\n".join(l for l in lines if not l.startswith("#|")).strip("\n")
            if code:
                parts.append(f"```python\n{code}\n```")
    return "<!-- generated from nbs/index.ipynb by `make readme`; edit the notebook, not this file -->\n\n" + "\n\n".join(parts) + "\n"


def main():
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text(encoding="utf-8"))
    out = ROOT / "README.md"
    text = notebook_to_markdown(nb)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
