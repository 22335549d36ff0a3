"""`make site` and `make slides` in a real browser: the pages open from disk, offline, and show what they should."""

from __future__ import annotations

import shutil

import pytest

from tools import site, slides
from tools.offline_html import NOTEBOOKS, course_map

DECK = "02_conv_arithmetic"  # has formulas, figures, a widget and long cells


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

