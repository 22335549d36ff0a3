"""tools/slides.py without a browser: `tag` is deterministic and idempotent; the export splits what is too long."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import slides
from tools.offline_html import NOTEBOOKS


def kinds(nb) -> list[str]:
    return [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]


def test_tag_marks_headings_and_keeps_an_authors_choices():
    skipped = new_code_cell("secret = 1")
    skipped.metadata["slideshow"] = {"slide_type": "skip"}
    stale = new_code_cell("x = 2")
    stale.metadata["slideshow"] = {"slide_type": "slide"}
    nb = new_notebook(cells=[new_markdown_cell("Intro without a heading"), new_markdown_cell("## Part 1\ntext"),
                             new_code_cell("x = 1"), new_markdown_cell("### Detail"), skipped, stale,
                             new_markdown_cell("# Title")])
    assert slides.tag(nb) == 6  # all but the skipped cell
    assert kinds(nb) == ["slide", "slide", "-", "subslide", "skip", "-", "slide"]
    assert slides.tag(nb) == 0


def test_tag_twice_changes_nothing_and_touches_only_metadata(tmp_path):
    """On copies of the real notebooks: the second run writes nothing; sources and outputs are never changed."""
    paths = [Path(shutil.copy(p, tmp_path)) for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    before = [nbformat.read(p, as_version=4) for p in paths]
    slides.tag_files(paths)
    first = [p.read_bytes() for p in paths]
    assert slides.tag_files(paths) == []
    assert [p.read_bytes() for p in paths] == first
    for old, path in zip(before, paths):
        new = nbformat.read(path, as_version=4)
        assert [(c.source, c.get("outputs")) for c in new.cells] == [(c.source, c.get("outputs")) for c in old.cells]
        assert all(c.metadata["slideshow"]["slide_type"] for c in new.cells)
    assert slides.main(["check", *map(str, paths)]) == 0


def test_check_fails_on_an_untagged_notebook(tmp_path):
    path = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("1")]), path)
    assert slides.main(["check", str(path)]) == 1
    assert slides.main(["tag", str(path)]) == 0
    assert slides.main(["check", str(path)]) == 0


def test_lay_out_splits_long_code_moves_long_prose_to_notes_and_continues_full_slides():
    long_code = new_code_cell("\n\n".join("\n".join(f"a{i}_{j} = {j}" for j in range(6)) for i in range(6)),
                              execution_count=1,
                              outputs=[new_output("stream", name="stdout", text="done\n")])
    prose = new_markdown_cell("## Why\n\nThe point in one line.\n\n" + "Detail that belongs in the notes. " * 30)
    short = [new_code_cell(f"print({i})", execution_count=2 + i,
                           outputs=[new_output("stream", name="stdout", text="x\n" * 8)]) for i in range(4)]
    nb = new_notebook(cells=[new_markdown_cell("# Deck"), long_code, prose, *short])
    original = copy.deepcopy(nb)
    laid = slides.lay_out(nb)
    code = [c for c in laid.cells if c.cell_type == "code" and c.source.startswith("a")]
    assert len(code) >= 3 and all(len(c.source.splitlines()) <= slides.MAX_CODE_LINES for c in code)
    assert [len(c.outputs) for c in code] == [0] * (len(code) - 1) + [1], "outputs go with the last piece"
    assert [kinds(laid)[laid.cells.index(c)] for c in code[1:]] == ["subslide"] * (len(code) - 1)
    notes = [c for c in laid.cells if c.metadata.get("slideshow", {}).get("slide_type") == "notes"]
    assert len(notes) == 1 and notes[0].source.startswith("Detail")
    assert "subslide" in kinds(laid)[laid.cells.index(notes[0]) + 1:], "four 10-line cells cannot share one slide"
    assert len({c.id for c in laid.cells}) == len(laid.cells), "cell ids stay unique"
    assert nb == original and "slideshow" not in nb.cells[1].metadata, "the layout works on a copy"
