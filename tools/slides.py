"""Lecture mode: slide metadata in the notebooks, and reveal.js decks that work offline.

    python -m tools.slides tag notebooks/*.ipynb     # add or refresh slide metadata in place (idempotent)
    python -m tools.slides check notebooks/*.ipynb   # exit 1 if `tag` would change any of them
    python -m tools.slides export [--out slides]     # every executed notebook -> slides/NAME.slides.html

`tag` stores one decision per cell: a `#`/`##` heading starts a slide, a `###`/`####` heading a sub-slide (below it),
everything else continues the current one. An author's own "skip", "notes" or "fragment" is kept.
`export` works on copies in memory: a long prose cell keeps its first paragraph on the slide and moves the rest into
speaker notes (press `s` in the deck), a long code cell is cut at blank lines, a questionnaire stays on the slides
with its answers folded in closed `<details>`, and a (sub-)slide that would overflow the screen is continued on a new
sub-slide. reveal.js, RequireJS, jQuery and MathJax come from `node_modules/`.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

from tools.offline_html import NOTEBOOKS, ROOT, TEMPLATES, copy_assets, is_executed, local_links, without_widgets
from tools.site import DETAILS, fold_notebook_answers

KEEP = {"skip", "notes", "fragment"}  # set by an author by hand: `tag` leaves these alone
MAX_LINES = 22  # what fits on one 960x700 slide, in lines of text; a figure counts FIGURE_LINES
FIGURE_LINES = 14
MAX_CODE_LINES = 16  # a longer code cell is cut at blank lines
MAX_WORDS = 70  # a markdown cell with more words keeps its first paragraph and moves the rest to speaker notes
TEXT_WIDTH = 90  # characters per line when counting wrapped lines


def slide_type(cell: nbformat.NotebookNode, first: bool = False) -> str:
    """The slide type `tag` gives a cell: "slide" at a #/## heading, "subslide" at ###/####, else "-".

    >>> slide_type(nbformat.v4.new_markdown_cell("## Padding\\nText"))
    'slide'
    >>> slide_type(nbformat.v4.new_markdown_cell("### Stride"))
    'subslide'
    >>> slide_type(nbformat.v4.new_code_cell("x = 1"))
    '-'
    """
    current = cell.metadata.get("slideshow", {}).get("slide_type")
    if current in KEEP:
        return current
    if first:
        return "slide"
    if cell.cell_type == "markdown":
        head = cell.source.lstrip().split("\n", 1)[0]
        if head.startswith(("# ", "## ")):
            return "slide"
        if head.startswith(("### ", "#### ")):
            return "subslide"
    return "-"


def tag(nb: nbformat.NotebookNode) -> int:
    """Set every cell's metadata.slideshow.slide_type in place; returns how many cells changed."""
    changed = 0
    for i, cell in enumerate(nb.cells):
        kind = slide_type(cell, first=i == 0)
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            changed += 1
    return changed


def tag_files(paths: list[Path], write: bool = True) -> list[Path]:
    """Tag each notebook file, writing only those that change; returns those (with write=False: those it would)."""
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if tag(nb):
            stale.append(path)
            if write:
                nbformat.write(nb, path)
    return stale


def text_lines(text: str) -> int:
    """Screen lines `text` takes when wrapped at TEXT_WIDTH characters."""
    return sum(max(1, -(-len(line) // TEXT_WIDTH)) for line in text.splitlines())


def visible(source: str) -> str:
    r"""`source` as it first shows: each `<details>` folded to its one summary line (the answer is hidden).

    >>> visible("1. Why?\n   <details><summary>Answer</summary>\n\n   Because.\n\n   </details>")
    '1. Why?\n   <details><summary>Answer</summary></details>'
    """
    return DETAILS.sub(lambda m: f"{m.group('indent')}<details><summary>{m.group('summary')}</summary></details>",
                       source)


def cost(cell: nbformat.NotebookNode) -> int:
    """Roughly how many lines of a slide a cell fills: its source, its text outputs (capped), its figures."""
    if cell.metadata.get("slideshow", {}).get("slide_type") in {"notes", "skip"}:
        return 0
    total = text_lines(visible(cell.source)) + (1 if cell.cell_type == "code" else 0)
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if any(k.startswith("image/") for k in data):
            total += FIGURE_LINES
        elif out.get("output_type") == "stream":
            total += min(text_lines(out.get("text", "")), MAX_LINES)
        elif "text/html" in data:
            total += min(text_lines(data["text/html"]) // 2 + 1, MAX_LINES)
        elif "text/plain" in data:
            total += min(text_lines(data["text/plain"]), MAX_LINES)
    return total


def split_prose(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """A long markdown cell -> [its heading and first paragraph, the rest as a "notes" cell]; short ones unchanged.

    >>> text = "## Why\\n\\nShort point.\\n\\n" + "More detail here. " * 30
    >>> cells = split_prose(nbformat.v4.new_markdown_cell(text))
    >>> [(c.metadata["slideshow"]["slide_type"], c.source[:12]) for c in cells]
    [('-', '## Why\\n\\nShor'), ('notes', 'More detail ')]
    """
    paragraphs = [p for p in cell.source.split("\n\n") if p.strip()]
    if cell.cell_type != "markdown" or len(cell.source.split()) <= MAX_WORDS or len(paragraphs) < 2:
        return [cell]
    keep = 2 if paragraphs[0].lstrip().startswith("#") and len(paragraphs) > 2 else 1
    shown = copy.deepcopy(cell)
    shown.source = "\n\n".join(paragraphs[:keep])
    shown.metadata.setdefault("slideshow", {}).setdefault("slide_type", "-")
    notes = nbformat.v4.new_markdown_cell("\n\n".join(paragraphs[keep:]))
    notes.metadata["slideshow"] = {"slide_type": "notes"}
    if "id" in cell:
        notes.id = f"{cell.id}-notes"  # ids stay unique and the HTML stays the same from run to run
    return [shown, notes]


ITEM = re.compile(r"^\d+\. ", re.M)  # an item of a numbered list, at the start of a line
ITEM_SPACING = 2  # lines of margin around a question and its folded answer (a loose list: each line a paragraph)


def split_questions(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    r"""A questionnaire (a numbered list whose answers sit in `<details>`) -> slide-sized pieces, answers kept folded.

    Prose is moved to speaker notes (`split_prose`), but the questions are the slide: they stay on it, and a list too
    long for one slide continues on sub-slides, numbered on ("7." starts the second piece's list at 7).

    >>> text = "## Questionnaire\n\nAnswer first.\n\n" + "".join(
    ...     f"{i}. Question {i}?\n   <details><summary>Answer</summary>\n\n   A{i}.\n\n   </details>\n\n"
    ...     for i in range(1, 13))
    >>> pieces = split_questions(nbformat.v4.new_markdown_cell(text))
    >>> [(c.metadata["slideshow"]["slide_type"], c.source.count("<details>")) for c in pieces]
    [('-', 4), ('subslide', 5), ('subslide', 3)]
    >>> pieces[1].source.splitlines()[:3]
    ['**Questionnaire (continued)**', '', '5. Question 5?']
    """
    starts = [m.start() for m in ITEM.finditer(cell.source)]
    if cell.cell_type != "markdown" or "<details" not in cell.source or not starts:
        return [cell]
    preamble = cell.source[:starts[0]]
    items = [cell.source[a:b] for a, b in zip(starts, starts[1:] + [len(cell.source)])]
    heading = next((line.lstrip("# ").strip() for line in preamble.splitlines() if line.startswith("#")), "")
    continued = f"**{heading} (continued)**\n\n" if heading else ""
    chunks, current, used = [], [], text_lines(visible(preamble))
    for item in items:
        need = text_lines(visible(item).strip()) + ITEM_SPACING
        if current and used + need > MAX_LINES:
            chunks.append(current)
            current, used = [], text_lines(continued)
        current.append(item)
        used += need
    chunks.append(current)
    pieces = []
    for i, chunk in enumerate(chunks):
        piece = copy.deepcopy(cell)
        piece.source = ((preamble if i == 0 else continued) + "".join(chunk)).rstrip() + "\n"
        piece.metadata.setdefault("slideshow", {}).setdefault("slide_type", "-")
        if i > 0:
            piece.metadata["slideshow"]["slide_type"] = "subslide"
            if "id" in cell:
                piece.id = f"{cell.id}-q{i}"
        pieces.append(piece)
    return pieces


def split_code(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """A code cell longer than MAX_CODE_LINES -> pieces cut at blank lines, the outputs on the last piece."""
    lines = cell.source.splitlines()
    if cell.cell_type != "code" or len(lines) <= MAX_CODE_LINES:
        return [cell]
    pieces, current = [], []
    for line in lines:
        if not line.strip() and len(current) >= MAX_CODE_LINES // 2:
            pieces.append(current)
            current = []
        else:
            current.append(line)
    pieces.append(current)
    cells = []
    for i, piece in enumerate(p for p in pieces if p):
        part = copy.deepcopy(cell)
        part.source = "\n".join(piece)
        part.outputs = []
        if i > 0:
            if "id" in cell:
                part.id = f"{cell.id}-{i}"
            part.metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
        cells.append(part)
    cells[-1].outputs = cell.outputs
    return cells


def lay_out(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy ready to present: tagged, long prose moved to notes, long code split, overflowing slides continued.

    Questionnaires stay on the slides with their answers folded (`split_questions`, `tools.site.fold_answers`).
    """
    nb = without_widgets(nb)
    tag(nb)
    cells = [piece for cell in nb.cells for part in (split_questions(cell) if "<details" in cell.source
                                                     else split_prose(cell)) for piece in split_code(part)]
    used = 0
    for cell in cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        need = cost(cell)
        if kind in {"slide", "subslide"}:
            used = need
        elif kind in {"-", "fragment"} and used and used + need > MAX_LINES:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
            used = need
        else:
            used += need
    nb.cells = cells
    return fold_notebook_answers(nb)


def exporter() -> SlidesExporter:
    """nbconvert's reveal.js exporter with our offline template and local copies of every script."""
    return SlidesExporter(template_name="cnnlab_slides", extra_template_basedirs=[str(TEMPLATES)],
                          reveal_url_prefix="_static/reveal.js", reveal_theme="white",  # white: no web fonts
                          reveal_scroll=True, reveal_number="c/t",
                          mathjax_url="_static/mathjax/tex-svg-full.js", require_js_url="_static/require.js",
                          jquery_url="_static/jquery.min.js", embed_images=True)


def export(out: Path, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Write out/NAME.slides.html for every executed notebook, and the scripts into out/_static; returns the names."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_assets(out, ("mathjax/es5/tex-svg-full.js", "requirejs/require.js", "jquery/dist/jquery.min.js",
                      "reveal.js/dist", "reveal.js/plugin/notes"))
    paths = sorted(notebooks.glob("*.ipynb"))
    names = {p.stem for p in paths}
    exp, built = exporter(), []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not is_executed(nb):
            print(f"slides: skipping {path.stem}: not executed", file=sys.stderr)
            continue
        resources = {"metadata": {"name": path.stem, "path": str(notebooks)}}
        body, _ = exp.from_notebook_node(lay_out(nb), resources=resources)
        (out / f"{path.stem}.slides.html").write_text(local_links(body, names, ".slides.html"), encoding="utf-8")
        built.append(path.stem)
    return built


def main(argv: list[str] | None = None) -> int:
    """Command line: tag | check | export (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("tag", "check"):
        p = sub.add_parser(name)
        p.add_argument("paths", nargs="+", type=Path)
    p = sub.add_parser("export")
    p.add_argument("--out", type=Path, default=ROOT / "slides", help="output folder (replaced)")
    p.add_argument("--notebooks", type=Path, default=NOTEBOOKS)
    args = parser.parse_args(argv)
    if args.command == "export":
        built = export(args.out, args.notebooks)
        print(f"slides: {len(built)} decks in {args.out}/ (open one; press s for the speaker notes)")
        return 0
    stale = tag_files(args.paths, write=args.command == "tag")
    verb = "tagged" if args.command == "tag" else "need `python -m tools.slides tag`"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if stale and args.command == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
