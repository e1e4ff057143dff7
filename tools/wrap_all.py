"""Re-wrap the `__all__` line nbdev writes at the top of each exported module so no line exceeds 120 characters.

nbdev 2.4 wraps the list of exported names at 120 characters and only then puts `__all__ = ` in front of the first
line (nbdev/maker.py), so that line can reach 130. `make check` runs this right after `nbdev_export`; it changes
nothing but the line breaks of that one statement.
"""
import re
import sys
from pathlib import Path
from textwrap import TextWrapper

ROOT = Path(__file__).resolve().parent.parent
WRAP = TextWrapper(width=120, initial_indent="__all__ = ", subsequent_indent=" " * 11, break_long_words=False)


def rewrap(text: str) -> str:
    "The module text with its `__all__ = [...]` statement wrapped at 120 characters."
    m = re.search(r"^__all__ = (\[.*?\])\n", text, flags=re.S | re.M)
    if not m: return text
    names = " ".join(line.strip() for line in m.group(1).splitlines())
    return text[:m.start()] + "\n".join(WRAP.wrap(names)) + "\n" + text[m.end():]


def main(paths=None):
    for p in paths or sorted((ROOT / "ft_course").glob("*.py")):
        p = Path(p)
        old = p.read_text(encoding="utf-8")
        new = rewrap(old)
        if new != old: p.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
