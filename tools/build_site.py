"""Run every lesson notebook fresh, top to bottom, and write the executed pages as HTML with an index page.

Used by `make course`. Cells marked `#| cuda` are skipped when no GPU is present, and `#| eval: false` cells
are never run; everything else runs with the full (learner) budgets: IN_TEST is unset. Lessons that write results
for the site (e.g. the capstone's capstone.json) find the output folder in the environment variable FT_COURSE_SITE.

Why not nbdev's own `nbdev_docs`: it renders with Quarto, and PyPI's `quarto-cli` is a source package whose
install step downloads the Quarto binary from GitHub, which this course's offline machines cannot reach; and
nbdev_docs shows the outputs saved in the notebooks, while ours are committed clean and executed here. So this
script executes each lesson with nbclient and exports it with nbconvert: pages titled by lesson, every widget
followed by a static snapshot of what it showed (its figure and text), so a page opened offline is never blank.
"""
import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent


def directives(cell) -> list:
    "The nbdev `#| ...` directive lines of a code cell, without the prefix."
    out = []
    for line in cell.source.splitlines():
        if not line.startswith("#|"):
            break
        out.append(line[2:].strip())
    return out


def skip_reason(cell, has_cuda: bool):
    ds = directives(cell)
    if any(d.replace(" ", "") == "eval:false" for d in ds):
        return "not run: `#| eval: false`"
    if not has_cuda and any(d.split()[:1] == ["cuda"] for d in ds):
        return "not run: needs a CUDA GPU (`#| cuda`)"
    return None


class LessonClient(NotebookClient):
    "Executes a notebook, skipping the cells that `skip_reason` names and noting why in their output."

    def __init__(self, nb, has_cuda, **kw):
        super().__init__(nb, **kw)
        self.has_cuda = has_cuda

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "code":
            reason = skip_reason(cell, self.has_cuda)
            if reason:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"[{reason}]\n")]
                return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)


def title_of(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def widget_outputs(state: dict, model_id: str, seen=None) -> list:
    "The outputs captured by every Output widget inside widget `model_id` (children first to last)."
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state: return []
    seen.add(model_id)
    model = state[model_id]
    found = list(model.get("state", {}).get("outputs", [])) if model.get("model_name") == "OutputModel" else []
    refs = json.dumps(model.get("state", {}))
    for ref in dict.fromkeys(part.split('"')[0] for part in refs.split("IPY_MODEL_")[1:]):
        found += widget_outputs(state, ref, seen)
    return found


def add_widget_snapshots(nb) -> int:
    "After each widget output, add a static copy of what its Output widgets showed; returns how many were added."
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    added = 0
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        new = []
        for out in cell.get("outputs", []):
            new.append(out)
            view = out.get("data", {}).get(WIDGET_VIEW) if out.get("output_type") == "display_data" else None
            shown = widget_outputs(state, view["model_id"]) if view else []
            if shown:
                new.append(nbformat.v4.new_output("display_data", data={"text/html":
                    "<p><em>Static snapshot of the widget above (what it showed when this page was built; "
                    "the live version needs Jupyter):</em></p>"}))
                new += [nbformat.from_dict(o) for o in shown]
                added += 1
        cell.outputs = new
    return added


def run_notebook(path: Path, out_dir: Path, has_cuda: bool, timeout: int):
    nb = nbformat.read(path, as_version=4)
    client = LessonClient(nb, has_cuda, timeout=timeout, kernel_name="python3",
                          resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)
    except Exception as e:  # a dead kernel or a timeout still gets a page
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - t0
    add_widget_snapshots(nb)
    title = title_of(nb, path.stem)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": title}})
    page = out_dir / f"{path.stem}.html"
    tmp = page.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, page)
    return {"name": path.stem, "title": title, "page": page.name, "seconds": seconds, "error": error,
            "noise": noise_lines(nb)}


def noise_lines(nb) -> list:
    "Warning lines that library code printed to stderr while the lesson ran (to be silenced at their source)."
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines += [l for l in out.get("text", "").splitlines() if "warn" in l.lower() and "%|" not in l]
    return lines


def write_index(results, out_dir: Path, total: float):
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r['page'])}'>{html.escape(r['title'])}</a></td>"
        f"<td>{r['seconds']:.0f} s</td><td>{'ok' if not r['error'] else 'FAILED: ' + html.escape(r['error'])}</td></tr>"
        for r in results)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ft_course</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}}td{{padding:.3rem .8rem}}
tr:nth-child(even){{background:#f4f4f4}}</style></head><body>
<h1>ft_course: the executed lessons</h1>
<p>Every lesson run fresh, top to bottom, on the embedded SmolLM2-135M-Instruct and the course data
(last run {time.strftime('%Y-%m-%d %H:%M')}; {total/60:.1f} minutes of notebook time in all).</p>
<table><tr><th>lesson</th><th>time</th><th>status</th></tr>
{rows}
</table></body></html>
"""
    (out_dir / "index.html").write_text(page, encoding="utf-8")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="_site", help="output folder")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: every nbs/*.ipynb)")
    args = p.parse_args(argv)
    os.environ.pop("IN_TEST", None)
    os.environ.pop("MPLBACKEND", None)   # a non-interactive backend (e.g. Agg from `make test`) would drop every figure
    import torch
    has_cuda = torch.cuda.is_available()
    out_dir = (ROOT / args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FT_COURSE_SITE"] = str(out_dir)   # inherited by the kernels: where lessons write results
    paths = [Path(n).resolve() for n in args.notebooks] or sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))
    # Earlier results stay in the index, so rerunning one lesson keeps the others listed.
    record = out_dir / "results.json"
    known = {r["name"]: r for r in json.loads(record.read_text())} if record.exists() else {}
    results, t0 = [], time.perf_counter()
    for path in paths:
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        r = run_notebook(path, out_dir, has_cuda, args.timeout)
        print(f"  {'ok' if not r['error'] else 'FAILED: ' + r['error']} ({r['seconds']:.0f} s) -> {out_dir / r['page']}", flush=True)
        for line in r["noise"]: print(f"  library noise in the page: {line[:150]}", flush=True)
        results.append(r)
        known[r["name"]] = r
        record.write_text(json.dumps(sorted(known.values(), key=lambda r: r["name"]), indent=1))
        write_index(sorted(known.values(), key=lambda r: r["name"]), out_dir, sum(r["seconds"] for r in known.values()))
    failed = [r["name"] for r in results if r["error"]]
    print(f"\nThe course pages are in {out_dir}/ (open {out_dir / 'index.html'}); {len(results)} lessons "
          f"in {(time.perf_counter() - t0)/60:.1f} min" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
