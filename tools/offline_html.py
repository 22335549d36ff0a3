"""What the static site and the slides share: the course map, offline copies of the JavaScript, and widget outputs.

Every page the course builds must open with no network: nbconvert's templates load MathJax, RequireJS, jQuery,
Mermaid and reveal.js from CDNs, so our templates (tools/templates/) point them at copies from `node_modules/`
(`npm ci` installs them from package-lock.json) that `copy_assets` puts next to the pages.
"""

from __future__ import annotations

import copy
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NODE_MODULES = ROOT / "node_modules"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# file or folder inside node_modules -> where it goes under <out>/_static/
ASSETS = {
    "mathjax/es5/tex-svg-full.js": "mathjax/tex-svg-full.js",  # SVG output: no font files to fetch
    "requirejs/require.js": "require.js",
    "jquery/dist/jquery.min.js": "jquery.min.js",
    "reveal.js/dist": "reveal.js/dist",
    "reveal.js/plugin/notes": "reveal.js/plugin/notes",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ('<p class="cnnlab-widget-note"><em>An interactive widget is here: open this notebook in JupyterLab '
               '(<code>make lab</code>) and run it to use the sliders.</em></p>')


@dataclass(frozen=True)
class Chapter:
    """One row of the README's course map."""

    name: str  # "02_conv_arithmetic"
    question: str
    modules: str


def course_map(readme: Path = ROOT / "README.md") -> list[Chapter]:
    """The rows `| [NN_name](notebooks/NN_name.ipynb) | question | modules | tests |` of the README, in order.

    >>> import tempfile; p = Path(tempfile.mkdtemp()) / "R.md"
    >>> _ = p.write_text("| [02_conv](notebooks/02_conv.ipynb) | What is it? | `conv_arith` | `t.py` |\\n")
    >>> course_map(p)
    [Chapter(name='02_conv', question='What is it?', modules='`conv_arith`')]
    """
    row = re.compile(r"^\|\s*\[(\w+)\]\(notebooks/\1\.ipynb\)\s*\|([^|]*)\|([^|]*)\|")
    chapters = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = row.match(line)
        if m:
            chapters.append(Chapter(m.group(1), m.group(2).strip(), m.group(3).strip()))
    return chapters


def is_executed(nb: nbformat.NotebookNode) -> bool:
    """True when every non-empty code cell has run (has an execution count), and there is at least one."""
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    return bool(code) and all(c.get("execution_count") for c in code)


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy with the saved widget state dropped and each widget output replaced by a note to open JupyterLab.

    A saved widget cannot move without a kernel, and rendering it needs @jupyter-widgets from a CDN; the figure each
    notebook shows before its widget (house style) carries the content.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                out["data"] = {"text/html": WIDGET_NOTE}
    return nb


def copy_assets(out_dir: Path, names: tuple[str, ...]) -> Path:
    """Copy the named ASSETS from node_modules into out_dir/_static; returns that folder."""
    static = out_dir / "_static"
    for name in names:
        src, dst = NODE_MODULES / name, static / ASSETS[name]
        if not src.exists():
            raise FileNotFoundError(f"{src} is missing: run `npm ci` in {ROOT} (package-lock.json lists it)")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    return static


def local_links(html: str, known: set[str], suffix: str = ".html") -> str:
    """Point links to sibling notebooks (`02_x.ipynb`, `../notebooks/02_x.ipynb#part`) at their pages (`02_x` + suffix).

    >>> local_links('<a href="02_x.ipynb#a">', {"02_x"})
    '<a href="02_x.html#a">'
    >>> local_links('<a href="02_x.ipynb">', {"02_x"}, suffix=".slides.html")
    '<a href="02_x.slides.html">'
    >>> local_links('<a href="notebooks/02_x.ipynb">', {"02_x"})  # from a page at the repository's root
    '<a href="02_x.html">'
    >>> local_links('<a href="https://x.org/02_x.ipynb">', {"02_x"})
    '<a href="https://x.org/02_x.ipynb">'
    """
    def swap(m: re.Match) -> str:
        name = m.group(2)
        return f'href="{name}{suffix}{m.group(3) or ""}"' if name in known else m.group(0)

    return re.sub(r'href="((?:\.\./notebooks/|notebooks/|\./)?)(\w+)\.ipynb(#[^"]*)?"', swap, html)
