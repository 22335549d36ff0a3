"""`make lab` as a newcomer runs it: one line says what to do, the last thing printed is a URL with a token that opens
the first notebook, and the server listens on loopback even when a user's own Jupyter config asks for every address.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser.test_browser_lab import free_port, listening_addresses

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def make_lab(tmp_path):
    if subprocess.run(["make", "-q", "install"], cwd=ROOT).returncode != 0:
        pytest.skip("the course is not installed: `make lab` would install it first (run `make install`)")
    # a hostile user config: listen on every address. `make lab` must override it.
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"ip": "0.0.0.0"}}))
    port = free_port()
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_PORT": str(port),
           "JUPYTER_PORT_RETRIES": "0", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "--no-print-directory", "lab"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "token=" not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"make lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"make lab printed no URL in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        time.sleep(1.0)  # let the server finish its start-up lines
        yield log.read_text(), port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_make_lab_says_where_to_start_and_listens_on_loopback_only(make_lab):
    text, port = make_lab
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("cnnlab: starting JupyterLab on 127.0.0.1") and "00_start_here.ipynb" in lines[0], \
        f"the first line should say what to open first, got {lines[0]!r}"
    urls = re.findall(r"http://[^\s]+", text)
    assert urls, "make lab printed no URL"
    assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/lab/tree/00_start_here\.ipynb\?token=[0-9a-f]{{20,}}", urls[-1]), \
        f"the last URL printed should open 00_start_here on loopback with a token, got {urls[-1]}"
    if os.path.exists("/proc/net/tcp"):
        addresses = listening_addresses(port)
        assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, \
            f"make lab listens on {addresses} although it asks for 127.0.0.1 (a user config asked for 0.0.0.0)"
