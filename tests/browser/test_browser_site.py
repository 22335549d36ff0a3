"""`make site` and `make slides` in a real browser: the pages open from disk, offline, and show what they should."""

from __future__ import annotations

import html as html_module
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from cnnlab.exercises import _get as get_exercise
from cnnlab.exercises import exercises
from tools import site, slides
from tools.offline_html import NOTEBOOKS, course_map

DECK = "02_conv_arithmetic"  # has formulas, figures, a widget, long cells and a questionnaire


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory):
    """The static site of the current notebooks, built the way `make site` builds it."""
    out = tmp_path_factory.mktemp("site") / "site"
    built = site.build(out)
    assert built, "no executed notebook to build the site from"
    return out


def test_site_index_follows_course_map_and_links_work(page, site_dir, assert_offline):
    """The index lists the README's course map in order; a link opens a page whose figures and formulas render."""
    chapters = course_map()
    page.goto((site_dir / "index.html").as_uri())
    names = page.locator("#course-map tbody tr td:first-child").all_inner_texts()
    assert [n.split()[0] for n in names] == [c.name for c in chapters]
    page.get_by_role("link", name=DECK, exact=True).click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/{DECK}.html")
    images = page.locator(".jp-OutputArea-output img")
    assert images.count() >= 3, "the page should show the notebook's figures"
    page.wait_for_function("() => [...document.images].every(img => img.complete)")
    widths = page.eval_on_selector_all(".jp-OutputArea-output img", "imgs => imgs.map(i => i.naturalWidth)")
    assert min(widths) > 0, f"{widths.count(0)} of {len(widths)} figures did not render"
    assert page.locator(".cnnlab-widget-note").count() >= 1, "a widget should be replaced by a note, not raw text"
    page.wait_for_function("() => document.querySelectorAll('mjx-container svg').length > 0", timeout=20_000)
    assert_offline(page)


def test_site_links_between_notebooks_point_at_pages(page, site_dir, assert_offline):
    """00_start_here links to the other notebooks: on the site those links lead to their pages, not to .ipynb files."""
    page.goto((site_dir / "00_start_here.html").as_uri())
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h.endswith(".ipynb") or ".ipynb#" in h], "a link still points at a notebook file"
    page.locator("main a[href='01_framework.html']").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/01_framework.html")
    assert page.locator("h1").first.inner_text().strip(), "the linked page should have a title"
    page.locator("nav.cnnlab-nav a[rel='next']").first.click()  # the navigation bar walks the course in order
    assert page.url.endswith("/02_conv_arithmetic.html")
    assert_offline(page)


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """One reveal.js deck, exported the way `make slides` exports every notebook."""
    src = tmp_path_factory.mktemp("notebooks")
    shutil.copy(NOTEBOOKS / f"{DECK}.ipynb", src)
    out = tmp_path_factory.mktemp("slides") / "slides"
    assert slides.export(out, src) == [DECK]
    return out / f"{DECK}.slides.html"


def test_slides_open_offline_with_local_reveal(page, deck, assert_offline):
    """The deck loads reveal.js from its own folder, initialises, has many slides and speaker notes, and draws math."""
    html = deck.read_text(encoding="utf-8")
    assert "unpkg.com" not in html and "cdnjs" not in html
    page.goto(deck.as_uri())
    page.wait_for_function("() => window.Reveal && window.Reveal.isReady()", timeout=20_000)
    assert page.evaluate("Reveal.getTotalSlides()") > 10
    assert page.locator(".reveal .slides section").count() > 10
    assert page.locator(".reveal aside.notes").count() >= 1, "long prose should become speaker notes"
    page.keyboard.press("ArrowRight")
    assert page.evaluate("Reveal.getIndices().h") == 1, "the arrow key should move to the next slide"
    page.wait_for_function("() => document.querySelectorAll('mjx-container svg').length > 0", timeout=20_000)
    widths = page.eval_on_selector_all(".reveal img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths and min(widths) > 0
    assert_offline(page)



# ---------------------------------------------------------------------------------------------------------------------
# Questionnaire answers and exercise solutions start folded, on the site and on the slides (issue 18)
# ---------------------------------------------------------------------------------------------------------------------
def plain(markup: str) -> str:
    """The text of an HTML fragment, whitespace collapsed."""
    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


class Folds(HTMLParser):
    """Splits a page's text into what sits inside a closed `<details>` (after its summary), what an open one or a
    summary shows, and what is in reveal.js speaker notes; records any `<details open>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []  # open elements that matter: "details", "summary", "notes"
        self.opened = 0
        self.hidden: list[str] = []
        self.shown: list[str] = []
        self.notes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "details":
            self.opened += "open" in attrs
            self.stack.append("details")
        elif tag == "summary":
            self.stack.append("summary")
        elif tag == "aside" and "notes" in (attrs.get("class") or "").split():
            self.stack.append("notes")

    def handle_endtag(self, tag):
        kind = {"details": "details", "summary": "summary", "aside": "notes"}.get(tag)
        if kind and kind in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(kind):]

    def handle_data(self, data):
        if "notes" in self.stack:
            self.notes.append(data)
        elif "details" in self.stack and self.stack[-1] != "summary":
            self.hidden.append(data)
        else:
            self.shown.append(data)

    @classmethod
    def of(cls, page_html: str) -> "Folds":
        folds = cls()
        folds.feed(page_html)
        return folds


def questionnaire() -> tuple[list[str], list[str]]:
    """Notebook 02's questions and answers (plain text), read from its markdown."""
    nb = nbformat.read(NOTEBOOKS / f"{DECK}.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "markdown" and "<details" in c.source)
    answers = [plain(markdown2html_mistune(m.group("body"))) for m in site.DETAILS.finditer(source)]
    questions = [plain(markdown2html_mistune(q)) for q in re.findall(r"^\d+\. (.*)$", source, re.M)]
    return questions, answers


@pytest.fixture(scope="module")
def page_02(tmp_path_factory) -> Path:
    """The site page of notebook 02 alone, built as `make site` builds every page."""
    src = tmp_path_factory.mktemp("nb02")
    shutil.copy(NOTEBOOKS / f"{DECK}.ipynb", src)
    out = tmp_path_factory.mktemp("site02") / "site"
    assert site.build(out, src) == [DECK]
    return out / f"{DECK}.html"


@pytest.mark.parametrize("which", ["site", "slides"])
def test_answers_are_in_closed_details_on_site_and_slides(which, page_02, deck):
    """Every questionnaire answer is inside a closed <details>, never on the page or in the speaker notes outside one;
    the questions themselves are on the page (on the slides, not hidden in the notes); no exercise solution shows."""
    folds = Folds.of((page_02 if which == "site" else deck).read_text(encoding="utf-8"))
    hidden, shown, notes = (" ".join(" ".join(part).split()) for part in (folds.hidden, folds.shown, folds.notes))
    questions, answers = questionnaire()
    assert len(answers) >= 8 and len(questions) == len(answers)
    assert folds.opened == 0, "a <details> is open: answers must start folded"
    for answer in answers:
        assert answer in hidden, f"answer not inside a closed <details>: {answer[:60]!r}"
        assert answer not in shown and answer not in notes, f"answer readable without opening it: {answer[:60]!r}"
    for question in questions:
        assert question in shown, f"question not shown (on the slides: moved to the notes?): {question[:60]!r}"
    for ex in exercises("02"):
        solution = " ".join(get_exercise(ex).solution.split())[:50]
        assert solution not in shown and solution not in notes, f"{ex}'s model solution is on the page"


def check_folded_in_browser(page, details, at_least: int) -> None:
    """Each <details> is closed and its answer invisible; clicking the first 'Answer' shows it."""
    assert details.count() >= at_least
    assert details.evaluate_all("ds => ds.filter(d => d.open).length") == 0
    answers = details.locator("summary + *")
    assert answers.count() == details.count(), "each <details> should hold its answer after the summary"
    assert not any(answers.nth(i).is_visible() for i in range(answers.count())), "an answer shows before a click"
    details.first.locator("summary").click()
    assert answers.first.is_visible(), "clicking 'Answer' should show the answer"
    assert not answers.nth(1).is_visible(), "opening one answer should not open the others"


def test_site_answers_open_only_when_clicked(page, page_02, assert_offline):
    page.goto(page_02.as_uri())
    details = page.locator("main details, .jp-Notebook details")
    details.first.scroll_into_view_if_needed()
    check_folded_in_browser(page, details, at_least=len(questionnaire()[1]))
    assert_offline(page)


def test_slides_answers_open_only_when_clicked(page, deck, assert_offline):
    page.goto(deck.as_uri())
    page.wait_for_function("() => window.Reveal && window.Reveal.isReady()", timeout=20_000)
    page.evaluate("""() => { const s = document.querySelector('.reveal .slides details').closest('section');
                            const i = Reveal.getIndices(s); Reveal.slide(i.h, i.v); }""")
    page.wait_for_timeout(800)  # reveal.js's slide transition
    current = page.locator(".reveal .slides section.present:not(.stack)")
    check_folded_in_browser(page, current.locator("details"), at_least=2)  # a long questionnaire continues below
    assert_offline(page)


def test_instructor_guide_is_a_page_of_the_site(site_dir):
    """INSTRUCTORS.md becomes site/instructors.html, linked from the index; its notebook links lead to their pages,
    its other links to the repository's files one folder up, and every notebook of the course map has a row."""
    index = (site_dir / "index.html").read_text()
    assert 'href="instructors.html"' in index
    guide = (site_dir / "instructors.html").read_text()
    for chapter in course_map():
        assert f'href="{chapter.name}.html"' in guide, f"the guide has no row linking to {chapter.name}"
    assert ".ipynb" not in "".join(re.findall(r'href="([^"]+)"', guide)), "a link still points at a notebook file"
    assert 'href="../assignments/README.md"' in guide
    for href in re.findall(r'href="(\.\./[^"#]+)"', guide):  # `make site` writes site/ at the repository's root
        assert (NOTEBOOKS.parent / href[3:]).exists(), f"the guide links to {href}, which does not exist"
