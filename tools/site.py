"""`make site`: every executed notebook as a static HTML page, with an index that follows the README's course map.

    python -m tools.site [--out site]

The pages need no Jupyter and no network: figures are embedded in the HTML (base64), links between notebooks point at
the pages, MathJax comes from a local copy (`npm ci`), and a widget shows a note to open the notebook in JupyterLab.
Questionnaire answers stay folded in closed `<details>` elements, as in JupyterLab (`fold_answers`).
"""

from __future__ import annotations

import argparse
import copy
import html
import re
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from tools.offline_html import (NOTEBOOKS, ROOT, TEMPLATES, Chapter, copy_assets, course_map, is_executed,
                                local_links, without_widgets)

TITLE = "cnnlab — convolutional neural networks, hands on"

# A questionnaire answer (or a model answer) written in a notebook as
#     <details><summary>Answer</summary>
#
#     The answer, in **markdown**.
#
#     </details>
DETAILS = re.compile(r"^(?P<indent>[ \t]*)<details(?:\s[^>]*)?>\s*<summary>(?P<summary>.*?)</summary>(?P<body>.*?)"
                     r"</details>[ \t]*$", re.S | re.M)


def fold_answers(source: str) -> str:
    r"""Markdown whose `<details>` blocks are each one closed HTML block, their answer rendered inside them.

    JupyterLab renders such a block as one collapsed element; nbconvert's markdown renderer ends a raw HTML block at
    the first blank line, so on the site and the slides the answer fell out of its `<details>` and showed. Here the
    answer's markdown is rendered first and the whole element written without blank lines (an author's `open` is
    dropped: answers start collapsed).

    >>> print(fold_answers("1. Why?\n   <details open><summary>Answer</summary>\n\n   Because *so*.\n\n   </details>\n"))
    1. Why?
       <details><summary>Answer</summary>
       <p>Because <em>so</em>.</p>
       </details>
    <BLANKLINE>
    """
    def fold(m: re.Match) -> str:
        indent = m.group("indent")
        body = markdown2html_mistune(textwrap.dedent(m.group("body")).strip()).strip()
        lines = [f"<details><summary>{m.group('summary')}</summary>",
                 *(line if line.strip() else "<!---->" for line in body.splitlines()),  # a blank line would end it
                 "</details>"]
        return "\n".join(indent + line for line in lines)

    return DETAILS.sub(fold, source)


def fold_notebook_answers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` with `fold_answers` applied to every markdown cell."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "<details" in cell.source:
            cell.source = fold_answers(cell.source)
    return nb


def exporter() -> HTMLExporter:
    """nbconvert's HTML exporter with our offline template and images embedded."""
    return HTMLExporter(template_name="cnnlab_site", extra_template_basedirs=[str(TEMPLATES)], embed_images=True,
                        mathjax_url="_static/mathjax/tex-svg-full.js", exclude_anchor_links=False)


def nav(prev: str | None, next_: str | None) -> str:
    """The bar at the top and bottom of each page: the index, the previous and the next chapter."""
    links = ['<a href="index.html">course index</a>', '<span class="spacer"></span>']
    if prev:
        links.append(f'<a href="{prev}.html" rel="prev">&larr; {html.escape(prev)}</a>')
    if next_:
        links.append(f'<a href="{next_}.html" rel="next">{html.escape(next_)} &rarr;</a>')
    return f'<nav class="cnnlab-nav">{"".join(links)}</nav>'


def stub_page(name: str) -> str:
    """The page of a notebook that has not been executed: where to find it instead."""
    name = html.escape(name)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{name}</title></head><body>'
            f'<p><a href="index.html">course index</a></p><h1>{name}</h1><p>This notebook has no saved outputs yet, '
            f'so the site has no page for it. Open <code>notebooks/{name}.ipynb</code> in JupyterLab '
            f'(<code>make lab</code>) and run it.</p></body></html>\n')


def index_page(chapters: list[Chapter], built: list[str], extra: list[str]) -> str:
    """The index: the course map as a table, a link for each chapter that was built."""
    rows = []
    for ch in chapters:
        name = html.escape(ch.name)
        cell = f'<a href="{name}.html">{name}</a>' if ch.name in built else f"{name} <em>(not built)</em>"
        modules = html.escape(ch.modules).replace("`", "")
        rows.append(f"<tr><td>{cell}</td><td>{html.escape(ch.question)}</td><td><code>{modules}</code></td></tr>")
    more = "".join(f'<li><a href="{n}.html">{html.escape(n)}</a></li>' for n in extra)
    more = f"<h2>Other notebooks</h2><ul>{more}</ul>" if more else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.4em 0.6em; text-align: left; }}
code {{ font-size: 0.85em; }}
</style></head>
<body>
<h1>{TITLE}</h1>
<p>Each chapter is a notebook, shown here with the outputs it produced when it last ran (the quick profile, on a CPU).
To change the code and run it, clone the repository and run <code>make lab</code>; the sliders of the interactive
widgets work only there.</p>
<p>Teaching from it? The <a href="instructors.html">instructor's guide</a>: prerequisites, time per notebook, a
term's schedule with the problem sets, running it on JupyterHub or Binder, lecturing and grading.</p>
<h2>Course map</h2>
<table id="course-map"><thead><tr><th>notebook</th><th>question</th><th>modules</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
{more}
</body></html>
"""


GUIDE = ROOT / "INSTRUCTORS.md"


def guide_page(markdown: str, known: set[str]) -> str:
    """The instructor's guide (INSTRUCTORS.md) as a page of the site: links to notebooks lead to their pages, links to
    other files of the repository lead to them from `site/` (one folder down)."""
    body = local_links(markdown2html_mistune(markdown), known)
    body = re.sub(r'href="(?!https?:|#|\.\./|[\w-]+\.html)([^"]+)"', r'href="../\1"', body)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Instructor's guide — {TITLE}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.4em 0.6em; text-align: left; }}
</style></head>
<body>
<p><a href="index.html">course index</a></p>
{body}
</body></html>
"""


def build(out: Path, notebooks: Path = NOTEBOOKS, readme: Path = ROOT / "README.md") -> list[str]:
    """Render every executed notebook in `notebooks` to out/NAME.html plus out/index.html; returns the names built."""
    chapters = course_map(readme)
    paths = {p.stem: p for p in sorted(notebooks.glob("*.ipynb"))}
    order = [c.name for c in chapters if c.name in paths] + [n for n in paths if n not in {c.name for c in chapters}]
    nbs = {}
    for name in order:
        nb = nbformat.read(paths[name], as_version=4)
        if is_executed(nb):
            nbs[name] = nb
        else:
            print(f"site: skipping {name}: not executed (run it top to bottom and save)", file=sys.stderr)
    built = list(nbs)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_assets(out, ("mathjax/es5/tex-svg-full.js",))
    exp = exporter()
    for i, name in enumerate(built):
        prev = built[i - 1] if i > 0 else None
        next_ = built[i + 1] if i + 1 < len(built) else None
        resources = {"metadata": {"name": name, "path": str(notebooks)}, "cnnlab_nav": nav(prev, next_)}
        body, _ = exp.from_notebook_node(fold_notebook_answers(without_widgets(nbs[name])), resources=resources)
        (out / f"{name}.html").write_text(local_links(body, set(order)), encoding="utf-8")
    for name in order:
        if name not in nbs:  # links to it still lead somewhere
            (out / f"{name}.html").write_text(stub_page(name), encoding="utf-8")
    extra = [n for n in built if n not in {c.name for c in chapters}]
    (out / "index.html").write_text(index_page(chapters, built, extra), encoding="utf-8")
    if GUIDE.exists():
        (out / "instructors.html").write_text(guide_page(GUIDE.read_text(), set(order)), encoding="utf-8")
    return built


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m tools.site [--out site]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="output folder (replaced)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of .ipynb files")
    args = parser.parse_args(argv)
    built = build(args.out, args.notebooks)
    print(f"site: {len(built)} pages in {args.out}/ (open {args.out / 'index.html'})")


if __name__ == "__main__":
    main()
