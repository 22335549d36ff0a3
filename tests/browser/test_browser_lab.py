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
    """A running JupyterLab server: its base URL, token, port and log file."""

    def __init__(self, url: str, token: str, port: int, log: Path) -> None:
        self.url, self.token, self.port, self.log = url, token, port, log

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
        yield Lab(url, token, port, log)
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
