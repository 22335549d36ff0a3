"""The course as a learner meets it: the real JupyterLab in a real browser, running the notebooks that have widgets.

A JupyterLab server is started the way `make lab` starts it (JupyterLab's defaults, plus a known token and a free
port) on a copy of the notebooks, so nothing here writes to notebooks/. Chromium opens each widget notebook, clears
it, runs all cells from the Run menu, and checks what the learner would see.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cnnlab.explorer import SLIDER_RANGES
from tools.offline_html import NOTEBOOKS, WIDGET_VIEW

# The notebooks with ipywidgets, and the label of a slider in each that drives a figure or printed text.
WIDGET_NOTEBOOKS = {"02_conv_arithmetic": "input size", "08_schedules_optimizers": "lr0"}
RUN_ALL_TIMEOUT_S = 300  # 08 takes ~70 s on 2 quiet cores; `make test` shares them with the nbval workers


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, token: str | None = None) -> int:
    """HTTP status of a GET, with `Authorization: token ...` when a token is given."""
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


class Lab:
    """A running JupyterLab server: its base URL, token, port, log file and the folder it serves."""

    def __init__(self, url: str, token: str, port: int, log: Path, root: Path) -> None:
        self.url, self.token, self.port, self.log, self.root = url, token, port, log, root

    def open_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}.ipynb?reset&token={self.token}"  # reset: no tabs left from the last test


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """`jupyter lab` on a copy of the widget notebooks: loopback (its default), a free port, a known token."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for name in WIDGET_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", root)
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CNNLAB_PROFILE": "quick", "PYTHONUNBUFFERED": "1",
           # settings, workspaces and runtime files of this server only, not the user's
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "IPYTHONDIR": str(home / "ipython")}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read the notebook model, as Galata does
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # as `make lab` does in containers and CI
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if get(f"{url}/api/status", token) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer in 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Lab(url, token, port, log, root)
    finally:
        proc.terminate()  # SIGTERM: the server shuts its kernels down and exits
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_refuses_requests_without_the_token(lab):
    """No token, or a wrong one: 403. The right token: 200."""
    assert get(f"{lab.url}/api/contents") == 403
    assert get(f"{lab.url}/api/contents", token="not-the-token") == 403
    assert get(f"{lab.url}/api/contents", token=lab.token) == 200


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on `port`, read from /proc/net/tcp and tcp6 (Linux)."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words))
    return found


def test_server_listens_on_loopback_only(lab):
    """JupyterLab's default, which `make lab` relies on: every listening socket of the server is on loopback."""
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("reads the listening sockets from /proc/net/tcp, which only Linux has")
    addresses = listening_addresses(lab.port)
    assert addresses, f"nothing listens on port {lab.port}"
    assert set(addresses) <= {"127.0.0.1", "::1"}, f"the server listens on {addresses}"


# JavaScript run in the page, through window.jupyterapp (JupyterLab's --LabApp.expose_app_in_browser).
NOTEBOOK_READY = """name => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.context && w.context.path.endsWith(name + '.ipynb') && kernel && kernel.status === 'idle'
            && w.content.widgets.length > 0);
}"""
CELLS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w.content.model.toJSON().cells.filter(c => c.cell_type === 'code')
    .map(c => ({source: [].concat(c.source).join(''), count: c.execution_count, outputs: c.outputs}));
}"""
# Done: the kernel is idle and every cell has run, or one raised (JupyterLab then stops running the rest).
ALL_RUN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const code = w.content.model.toJSON().cells
    .filter(c => c.cell_type === 'code' && [].concat(c.source).join('').trim());
  const raised = code.some(c => c.outputs.some(o => o.output_type === 'error'));
  return w.sessionContext.session.kernel.status === 'idle' && (raised || code.every(c => c.execution_count !== null))
         && w.node.querySelectorAll('.jp-InputPrompt').length > 0
         && ![...w.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
}"""


def menu(page, top: str, item: str) -> None:
    """Click a JupyterLab menu item, as a learner would: the menu bar, then the item."""
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=item).first.click()


# What the widget around a slider shows, apart from the sliders' own readouts: its text and its images.
DRIVEN = """el => {
  const out = el.closest('.jp-OutputArea');
  const texts = [...out.querySelectorAll('.widget-html-content, .jp-RenderedText pre')].map(e => e.textContent);
  return {text: texts.join('|'),
          images: [...out.querySelectorAll('img')].map(i => i.src.length + ':' + i.src.slice(-80))};
}"""
FIGURE_CHANGED = """([el, before]) => {
  const images = [...el.closest('.jp-OutputArea').querySelectorAll('img')];
  const now = images.map(i => i.src.length + ':' + i.src.slice(-80));
  return images.length > 0 && JSON.stringify(now) !== JSON.stringify(before)
         && images.every(i => i.complete && i.naturalWidth > 0);
}"""


@pytest.mark.parametrize("name", list(WIDGET_NOTEBOOKS))
def test_notebook_runs_and_widgets_work(page, lab, name):
    """Run all cells in JupyterLab: no errors, every widget renders, a slider redraws what it drives, images render."""
    page.set_default_timeout(60_000)
    page.goto(lab.open_url(name))
    page.wait_for_function(NOTEBOOK_READY, arg=name, timeout=90_000)
    try:
        run_and_check(page, name)
    finally:  # free the kernel's memory and CPU for the next notebook
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


def run_and_check(page, name: str) -> None:
    """The checks of test_notebook_runs_and_widgets_work, on the open notebook `name`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # imported here: the module loads without it

    panel = page.locator(".jp-NotebookPanel:visible")

    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.model.toJSON().cells.every("
                           "c => c.cell_type !== 'code' || (c.outputs.length === 0 && c.execution_count === null))")
    started = time.monotonic()
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(ALL_RUN, timeout=RUN_ALL_TIMEOUT_S * 1000, polling=500)
    print(f"{name}: all cells ran in JupyterLab in {time.monotonic() - started:.0f} s")

    cells = page.evaluate(CELLS)
    errors = [(c["source"][:60], o.get("ename"), o.get("evalue")) for c in cells for o in c["outputs"]
              if o["output_type"] == "error"]
    assert errors == [], f"cells raised: {errors}"
    widget_outputs = sum(WIDGET_VIEW in o.get("data", {}) for c in cells for o in c["outputs"])
    assert widget_outputs >= 1, "this notebook should display at least one widget"

    # every widget output is drawn by the widget manager (not left as text, not "Error displaying widget")
    views = panel.locator(".jp-OutputArea-output:has(> .jupyter-widgets)")
    assert views.count() == widget_outputs
    for i in range(views.count()):
        views.nth(i).scroll_into_view_if_needed()
        views.nth(i).locator(".jupyter-widgets").first.wait_for(state="visible")
    assert "Error displaying widget" not in panel.inner_text()

    # move the slider with the keyboard, as a learner would: the figure or text it drives must change
    slider = panel.locator(".widget-slider").filter(has=page.locator("label", has_text=WIDGET_NOTEBOOKS[name])).first
    slider.scroll_into_view_if_needed()
    before = slider.evaluate(DRIVEN)
    readout = slider.locator(".widget-readout").inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(2):
        handle.press("ArrowRight")
    try:
        page.wait_for_function(FIGURE_CHANGED, arg=[slider.element_handle(), before["images"]], timeout=30_000)
    except PlaywrightTimeout:
        pytest.fail(f"moving the {WIDGET_NOTEBOOKS[name]!r} slider did not redraw its figure within 30 s")
    assert slider.locator(".widget-readout").inner_text() != readout, "the slider's value should have moved"
    after = slider.evaluate(DRIVEN)
    print(f"{name}: slider {WIDGET_NOTEBOOKS[name]!r} {readout} -> {slider.locator('.widget-readout').inner_text()}; "
          f"figure redrawn; text changed: {after['text'] != before['text']}")

    # every image in the notebook's outputs has loaded with a real size (once the kernel is done redrawing)
    page.wait_for_function(ALL_RUN, polling=500)
    images = panel.locator(".jp-OutputArea-output img")
    assert images.count() >= 2
    page.wait_for_function("""el => [...el.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete)""",
                           arg=panel.element_handle())
    sizes = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert min(sizes) > 0, f"{sizes.count(0)} of {len(sizes)} output images are empty"
    assert page.log.external == [], f"JupyterLab asked for outside addresses: {page.log.external[:5]}"


# ---------------------------------------------------------------------------------------------------------------------
# A learner edits a worked example of notebook 02 and runs all cells (issue 18, part 5); the explorer fits the screen
# (part 8); the questionnaire's answers start folded.
# ---------------------------------------------------------------------------------------------------------------------
EDIT_LINE = "map1_stride2 = conv2d_loops(image, filter1, stride=2)"  # 02's first worked example with a stride
EDITED_LINE = EDIT_LINE.replace("stride=2", "stride=1")
EDIT_RUN_TIMEOUT_S = 120  # 02 runs in ~15 s on one quiet core
EXPLORER_MAX_PX = (900, 560)  # width, height: beside JupyterLab's chrome on a 1366x768 laptop screen

# The explorer's widget: the output area whose widget has an "input size" slider; its box, its text, its picture.
EXPLORER = """() => {
  const label = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-slider label')]
    .find(l => l.textContent.trim() === 'input size');
  const root = label.closest('.jp-OutputArea-output').querySelector(':scope > .jupyter-widgets');
  const box = root.getBoundingClientRect();
  const img = root.querySelector('img');
  const shown = img && img.offsetParent !== null;
  // textContent, not innerText: JupyterLab skips rendering cells off screen, and innerText is empty there
  return {width: box.width, height: box.height, text: root.querySelector('.widget-html-content').textContent,
          image: shown ? img.src.length + ':' + img.src.slice(-80) : null,
          loaded: shown ? img.complete && img.naturalWidth > 0 : null};
}"""


def explorer_slider(panel, label: str):
    return panel.locator(".widget-slider").filter(has=panel.page.locator("label", has_text=label)).first


def explorer_when(page, ready, timeout_s: float = 30) -> dict:
    """The explorer's state once `ready(state)` holds (polled every 0.2 s), or a test failure after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(EXPLORER)
        if ready(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"the explorer did not update within {timeout_s:.0f} s: {state}")
        page.wait_for_timeout(200)


def press_and_wait(page, panel, label: str, key: str, before: dict) -> dict:
    """Press `key` on the explorer's `label` slider, as a learner would; its state once its text and picture update."""
    handle = explorer_slider(panel, label).locator(".noUi-handle").first
    handle.focus()
    handle.press(key)
    return explorer_when(page, lambda e: e["text"] != before["text"] and (e["image"] is None or e["loaded"]))


def test_edited_worked_example_runs_to_the_end_and_explorer_fits(page, lab):
    """Change the first worked example's stride 2 -> 1 in the cell editor, Run All Cells: the notebook reaches its last
    cell with no traceback, the edited cell says what differs from the lecture, the questionnaire's answers are folded,
    and the explorer (at the lecture's setting, at exercise 02.1's 64x64 and at an invalid one) fits the screen."""
    name = "02_conv_arithmetic_edited"
    shutil.copy(NOTEBOOKS / "02_conv_arithmetic.ipynb", lab.root / f"{name}.ipynb")  # a copy: the learner's own
    page.set_default_timeout(60_000)
    page.goto(lab.open_url(name))
    page.wait_for_function(NOTEBOOK_READY, arg=name, timeout=90_000)
    panel = page.locator(".jp-NotebookPanel:visible")
    try:
        menu(page, "Edit", "Clear Outputs of All Cells")
        # the learner's edit, typed into the cell: go to the start of the line, step to the stride's digit, replace it
        line = panel.locator(".jp-CodeCell .cm-line", has_text=EDIT_LINE).first
        line.scroll_into_view_if_needed()
        line.click()
        page.keyboard.press("Home")
        for _ in range(EDIT_LINE.index("stride=2") + len("stride=")):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Delete")
        page.keyboard.type("1")
        page.keyboard.press("Escape")  # leave the editor (command mode), as before using the menu
        sources = [c["source"] for c in page.evaluate(CELLS)]
        assert any(EDITED_LINE in src for src in sources), "the edit did not reach the notebook's cell"
        assert not any(EDIT_LINE in src for src in sources)

        started = time.monotonic()
        menu(page, "Run", "Run All Cells")
        page.wait_for_function(ALL_RUN, timeout=EDIT_RUN_TIMEOUT_S * 1000, polling=500)
        print(f"{name}: all cells ran in JupyterLab in {time.monotonic() - started:.0f} s after the edit")

        cells = [c for c in page.evaluate(CELLS) if c["source"].strip()]
        counts = [c["count"] for c in cells]
        errors = [(c["source"][:60], o.get("ename"), o.get("evalue")) for c in cells for o in c["outputs"]
                  if o["output_type"] == "error"]
        assert errors == [], f"the edited notebook stopped with: {errors}"
        assert None not in counts and counts[-1] == max(counts) == len(cells), \
            f"not every cell ran, or not in order: {counts}"
        text = ["".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                for c in cells for o in c["outputs"]]
        assert not [t for t in text if "Traceback" in t], "an output shows a traceback"
        edited = next(c for c in cells if EDITED_LINE in c["source"])
        said = "".join("".join(o.get("text", "")) for o in edited["outputs"])
        assert "in the lecture's example, which used filter 1 and stride 2" in said and \
            "If you changed a setting above, that is expected." in said, said
        assert "the same as in the lecture's example" not in said

        # the questionnaire's answers start folded in JupyterLab too
        details = panel.locator(".jp-RenderedMarkdown details")
        assert details.count() >= 8
        assert details.evaluate_all("ds => ds.filter(d => d.open).length") == 0
        first = details.first
        first.scroll_into_view_if_needed()
        answer = first.locator("p").first
        assert not answer.is_visible(), "an answer is visible before its 'Answer' is clicked"
        first.locator("summary").click()
        assert answer.is_visible(), "clicking 'Answer' should show the answer"

        # the explorer fits a 1366x768 screen beside its sliders, at every setting a learner reaches
        explorer_slider(panel, "input size").scroll_into_view_if_needed()
        seen = {"lecture": explorer_when(page, lambda e: bool(e["image"] and e["loaded"] and "agrees" in e["text"]))}
        biggest = SLIDER_RANGES["input_size"][1]  # 64: exercise 02.1's input
        seen["64x64"] = press_and_wait(page, panel, "input size", "End", seen["lecture"])
        assert explorer_slider(panel, "input size").locator(".widget-readout").inner_text().strip() == str(biggest)
        seen["invalid"] = press_and_wait(page, panel, "input size", "Home", seen["64x64"])  # 1x1, kernel 3, pad 1
        seen["invalid"] = press_and_wait(page, panel, "padding", "Home", seen["invalid"])  # ... no padding: too small
        for what, state in seen.items():
            print(f"explorer at {what}: {state['width']:.0f} x {state['height']:.0f} px")
            assert state["width"] <= EXPLORER_MAX_PX[0] and state["height"] <= EXPLORER_MAX_PX[1], (what, state)
        assert seen["64x64"]["loaded"] and f"on a {biggest}x{biggest} input" in seen["64x64"]["text"], seen["64x64"]
        assert seen["invalid"]["image"] is None, "an invalid setting should hide the picture (no broken image)"
        message = seen["invalid"]["text"].strip()
        assert message.startswith("This setting does not fit: ") and "To fix it, " in message, message
        assert "\n" not in message and "Traceback" not in message, message
    finally:  # free the kernel's memory and CPU for the next test
        page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
