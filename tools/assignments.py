"""Graded assignments: build the student notebooks, grade submissions in a sandbox the submission cannot fool.

Each assignment is two files in `assignments/`:

* `NAME.ipynb`, the solution notebook: prompts, solutions between `# BEGIN SOLUTION` / `# END SOLUTION` lines
  (or single lines ending in `# SOLUTION`) and public checks, plain `assert`s the student runs in `make lab`;
* `NAME_tests.py`, the grader's test cases (`CASES`, a list of `Case`): each has points, inputs, a *probe* (a
  self-contained function run in the student's process: it calls the student's code on the inputs and returns
  numbers or text) and a *check* (run here, in the grader: it compares what the probe returned with the expected
  values, computed here with PyTorch as the oracle, and raises AssertionError when they differ).

    python -m tools.assignments build                  # -> dist/NAME/student/NAME.ipynb, then grade the reference
    python -m tools.assignments grade SUBMISSIONS      # -> dist/NAME_scores.csv, NAME_feedback.csv, NAME_canvas.csv

Grading one submission (see tools/sandbox.py for what isolates the child):
1. the submission's code cells, the probes' source and the inputs (`.npz`) go into a fresh box folder: no tests,
   no solutions, no expected values;
2. a child Python runs the cells, then each probe, under time and memory limits, without network, as `nobody`, with
   the course read-only and the assignments, built files, tests and submissions hidden; it writes `.npz` files of
   numbers or text and a JSON status (the first line of each error), nothing else;
3. this process reads them back with `allow_pickle=False`, never imports or unpickles anything from the child,
   runs the checks and decides every point. The child's printed output is never read.
"""

from __future__ import annotations

import argparse
import ast
import csv
import functools
import importlib.util
import inspect
import io
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tools import sandbox

__all__ = [
    "CASE_TIMEOUT_S", "CELL_TIMEOUT_S", "DIST_DIR", "MEMORY_BYTES", "ROOT", "SOURCE_DIR", "SUBMISSION_TIMEOUT_S",
    "Case", "Lost", "Result", "assignment_sources", "build", "build_one", "find_submissions", "grade",
    "grade_submission", "load_cases", "main", "question_points", "student_version", "write_csv",
]

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = Path("assignments")
DIST_DIR = Path("dist")
CASE_TIMEOUT_S = 20  # one test case (its probe calls the student's functions)
CELL_TIMEOUT_S = 120  # one code cell of the submission
SUBMISSION_TIMEOUT_S = 600  # one whole submission, Python start included
MEMORY_BYTES = 6 << 30  # address space of the child: torch alone reserves ~4 GiB
MAX_OUTPUT_BYTES = 64 << 20  # one case's .npz, read back by the grader
PLAIN_KINDS = "biufcU"  # what the grader accepts back: bool, ints, floats, complex, text


# ------------------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    """One graded test case: `probe(ns, inputs)` runs with the student's code, `check(out, inputs)` here."""

    question: str
    name: str
    points: float
    probe: Callable  # self-contained (imports inside): only its source reaches the child
    check: Callable  # raises AssertionError with a message for the student when the answer is wrong
    inputs: dict = field(default_factory=dict)  # name -> numpy array or number; sent to the child
    hidden: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"q\d+", str(self.question)):
            raise ValueError(f"Case.question must look like 'q1', got {self.question!r}")
        if not re.fullmatch(r"[A-Za-z_]\w*", str(self.name)):
            raise ValueError(f"Case.name must be an identifier, got {self.name!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, (int, float)) or self.points <= 0:
            raise ValueError(f"Case.points must be a positive number, got {self.points!r}")
        for key, value in self.inputs.items():
            if np.asarray(value).dtype.kind not in PLAIN_KINDS:
                raise ValueError(f"input {key!r} of {self.id} must be numbers or text, got {type(value).__name__}")

    @property
    def id(self) -> str:
        return f"{self.question}_{self.name}"


def load_cases(name: str, source_dir: Path = SOURCE_DIR) -> list[Case]:
    """The `CASES` of `source_dir/NAME_tests.py` (instructor code: imported here, never shown to the child)."""
    path = Path(source_dir) / f"{name}_tests.py"
    if not path.is_file():
        raise ValueError(f"no grader tests for {name}: expected {path}")
    spec = importlib.util.spec_from_file_location(f"_cnnlab_tests_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = list(getattr(module, "CASES", []))
    if not cases or not all(isinstance(c, Case) for c in cases):
        raise ValueError(f"{path} must define CASES, a non-empty list of tools.assignments.Case")
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: two cases share a name: {sorted(i for i in ids if ids.count(i) > 1)}")
    return cases


def question_points(cases: list[Case]) -> dict[str, float]:
    """Points possible per question, in the order the questions first appear."""
    points: dict[str, float] = {}
    for case in cases:
        points[case.question] = points.get(case.question, 0.0) + float(case.points)
    return points


# ------------------------------------------------------------------------------------------------------ build


def assignment_sources(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """The solution notebooks in `source_dir`, one per assignment, sorted by name."""
    sources = sorted(p for p in Path(source_dir).glob("*.ipynb") if not p.name.startswith("."))
    if not sources:
        raise ValueError(f"no assignment notebooks (*.ipynb) in {source_dir}")
    return sources


def _strip_solutions(source: str) -> str:
    """Code with its solutions replaced by `...`: BEGIN/END SOLUTION blocks, and lines ending in `# SOLUTION`."""
    out, inside = [], False
    for line in source.splitlines():
        text, indent = line.strip(), line[: len(line) - len(line.lstrip())]
        if text == "# BEGIN SOLUTION":
            inside = True
            out.append(f"{indent}...  # your code here")
        elif text == "# END SOLUTION":
            inside = False
        elif inside:
            continue
        elif text.endswith("# SOLUTION"):
            assign = re.match(r"(\s*[\w\[\]\"'.]+\s*=)[^=]", line)
            out.append(f"{assign.group(1)} ..." if assign else f"{indent}...  # your code here")
        else:
            out.append(line)
    if inside:
        raise ValueError("a `# BEGIN SOLUTION` without its `# END SOLUTION`")
    return "\n".join(out)


def student_version(solution: dict) -> dict:
    """The notebook students get (a JSON dict): solutions stripped, outputs and execution counts cleared."""
    nb = json.loads(json.dumps(solution))
    for cell in nb["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["source"], cell["outputs"], cell["execution_count"] = _strip_solutions(source), [], None
        elif "SOLUTION" in source and ("# BEGIN SOLUTION" in source or "# END SOLUTION" in source):
            raise ValueError(f"solution markers outside a code cell: {source[:60]!r}")
    return nb


def _write_notebook(nb: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return path


def build_one(source: Path, dist: Path = DIST_DIR) -> Path:
    """dist/NAME/student/NAME.ipynb (hand out) and dist/NAME/gradescope/NAME-autograder.zip from assignments/NAME.ipynb
    (its grader tests must load too); returns dist/NAME."""
    source = Path(source)
    load_cases(source.stem, source.parent)  # a broken tests file fails the build, not the first grading
    out = Path(dist) / source.stem
    if out.exists():
        shutil.rmtree(out)
    _write_notebook(student_version(json.loads(source.read_text())), out / "student" / source.name)
    from tools.gradescope import autograder_zip  # imported here: tools.gradescope imports this module

    autograder_zip(source, out / "gradescope")  # dist/NAME/gradescope/NAME-autograder.zip, the same grader inside
    return out


def build(source_dir: Path = SOURCE_DIR, dist: Path = DIST_DIR, check: bool = True, **limits) -> list[Path]:
    """Build every assignment; with `check`, grade the reference (must be full marks) and the blank (must be 0)."""
    outs = []
    for source in assignment_sources(source_dir):
        out = build_one(source, dist)
        if check:
            blank = out / "student" / source.name
            ref = grade_submission(source, source.stem, "reference", source_dir=source_dir, dist=dist, **limits)
            empty = grade_submission(blank, source.stem, "blank", source_dir=source_dir, dist=dist, **limits)
            print(f"{source.stem}: reference solution {ref.total:g}/{ref.possible:g} ({ref.seconds:.1f} s), "
                  f"blank student notebook {empty.total:g}/{empty.possible:g} ({empty.seconds:.1f} s)")
            if ref.total != ref.possible or ref.status != "graded":
                lost = "; ".join(f"{x.question} {x.test}: {x.error}" for x in ref.lost)
                raise RuntimeError(f"the reference solution of {source.stem} scores {ref.total:g}/{ref.possible:g}"
                                   f" ({ref.status}; {lost or ref.notes})")
            if empty.total != 0:
                raise RuntimeError(f"the blank notebook of {source.stem} scores {empty.total:g}: a test passes "
                                   f"without an answer ({', '.join(sorted(q for q, s in empty.scores.items() if s))})")
        outs.append(out)
    return outs


# ------------------------------------------------------------------------------------------------------ grade


@dataclass(frozen=True)
class Lost:
    """Points lost on one test case, with the first line of what went wrong."""

    question: str
    test: str
    points: float
    error: str


@dataclass
class Result:
    """One graded submission: points per question, what was lost and why, status and notes for the instructor."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    possible_by_question: dict[str, float] = field(default_factory=dict)
    lost: list[Lost] = field(default_factory=list)
    status: str = "graded"  # graded | timeout | grader-error
    notes: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def possible(self) -> float:
        return sum(self.possible_by_question.values())


def _first_line(text: str, limit: int = 300) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0] if lines else "failed"
    return "".join(ch if ch.isprintable() else "?" for ch in line)[:limit]


def _code_cells(submission: Path) -> list[str]:
    """The code cells of a notebook, read as JSON: nothing of the submission is executed or imported here."""
    nb = json.loads(Path(submission).read_text(encoding="utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no list of cells)")
    cells = []
    for cell in nb["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if not isinstance(source, str):
                raise ValueError("a code cell whose source is not text")
            cells.append(source)
    return cells


# Held-out data some problem sets grade on (hw4: images of Fashion-MNIST's test split, labels kept by the grader):
# every copy of that split the course can find. Problem sets train on the training split only.
HELD_OUT_DATA = [ROOT / "data" / "fashion-mnist" / f"t10k-{kind}-idx{dim}-ubyte.gz"
                 for kind, dim in (("images", 3), ("labels", 1))] + [
    ROOT / "data" / "downloads", Path("/usr/share/datasets/fashion-mnist")]


@functools.lru_cache(maxsize=1)
def _installed_course() -> Path:
    """The folder holding the `cnnlab` package the child imports: asked of the child's own Python, run as the child
    runs (`-I`, from the root folder), since this process may import another copy (a Gradescope autograder unpacked
    beside an installed course imports its own through the working folder; the child does not)."""
    where = subprocess.run([sys.executable, "-I", "-c", "import importlib.util as u; print(u.find_spec('cnnlab').origin)"],
                           cwd="/", capture_output=True, text=True, timeout=60)
    origin = where.stdout.strip()
    return Path(os.path.realpath(origin)).parents[1] if where.returncode == 0 and origin.endswith(".py") else ROOT


def _hidden_paths(source_dir: Path, dist: Path, submission: Path) -> list[Path]:
    """What the child must not see: tests, solutions, built files, the repository's history and tests, submissions,
    and the held-out data (`HELD_OUT_DATA`), in this copy of the course and in the one the child imports."""
    courses = dict.fromkeys([ROOT, _installed_course()])
    return [Path(source_dir), Path(dist), *(course / name for course in courses
                                           for name in ("assignments", "tests", ".git", "dist")),
            Path(submission).resolve().parent, *HELD_OUT_DATA]


def _read_child_file(path: Path, limit: int) -> bytes:
    """The bytes of a file the child wrote, read safely: no symbolic link followed (the file or its folder), no
    FIFO or device opened for long (O_NONBLOCK, regular files only), at most `limit` bytes; OSError otherwise."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    folder = os.open(path.parent, flags | os.O_DIRECTORY)
    try:
        fd = os.open(path.name, flags, dir_fd=folder)
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path.name} is larger than {limit >> 20} MiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)


def _read_status(path: Path) -> dict:
    """The child's JSON status, validated: {"cells": [str|None], "cases": {id: str|None}}; empty if unusable.

    Advisory only: it supplies error messages and the watchdog's "running"; points come from the outputs."""
    empty = {"cells": [], "cases": {}, "running": None}
    try:
        status = json.loads(_read_child_file(path, 1 << 20))
    except (OSError, ValueError, RecursionError):
        return empty
    if not isinstance(status, dict):
        return empty
    cells, cases, running = status.get("cells"), status.get("cases"), status.get("running")
    return {"cells": [c for c in cells if c is None or isinstance(c, str)] if isinstance(cells, list) else [],
            "cases": {k: v for k, v in cases.items() if isinstance(k, str) and (v is None or isinstance(v, str))}
            if isinstance(cases, dict) else {},
            "running": running if isinstance(running, str) else None}


def _read_output(path: Path) -> dict[str, np.ndarray]:
    """One case's outputs: an .npz of plain arrays, read safely and loaded without pickle; ValueError otherwise."""
    try:
        data = _read_child_file(path, MAX_OUTPUT_BYTES)
    except FileNotFoundError:
        raise FileNotFoundError("returned nothing") from None
    except OSError as e:
        raise ValueError(f"its output could not be read: {e}") from None
    try:  # a compressed member could inflate to far more than it weighs (a zip bomb): only stored ones, summed
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = zf.infolist()
    except zipfile.BadZipFile:
        raise ValueError("its output is not an .npz file") from None
    if any(m.compress_type != zipfile.ZIP_STORED for m in members) or \
            sum(m.file_size for m in members) > MAX_OUTPUT_BYTES:
        raise ValueError("its output is compressed or larger than allowed")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        out = {key: npz[key] for key in npz.files}
    for key, value in out.items():
        if value.dtype.kind not in PLAIN_KINDS:
            raise ValueError(f"returned {key} of dtype {value.dtype}, not numbers or text")
    return out


STALL_GRACE_S = 5  # past its own time limit, a cell or case that ignored the interrupt is stopped from outside


class _Watchdog:
    """Stops the child when one cell or case runs `grace` seconds past its limit (it ignored the interrupt)."""

    def __init__(self, status_path: Path, cell_timeout: int, case_timeout: int) -> None:
        self.path, self.limits = status_path, {"cell": cell_timeout, "case": case_timeout}
        self.running, self.since, self.stalled = None, time.monotonic(), None

    def __call__(self) -> bool:
        running = _read_status(self.path).get("running")
        if running != self.running:
            self.running, self.since = running, time.monotonic()
            return False
        kind = str(running).split(" ")[0]
        if kind in self.limits and time.monotonic() - self.since > self.limits[kind] + STALL_GRACE_S:
            self.stalled = running
            return True
        return False


def _run_child(cells: list[str], cases: list[Case], hide: list[Path], case_timeout: int, cell_timeout: int,
               timeout: int, memory_bytes: int) -> tuple[dict, dict[str, Path], sandbox.ChildRun, Path]:
    """Run the submission and the probes in the sandbox; returns (status, output paths, last run, folder to delete).

    A cell or probe that ignores its interrupt is stopped by a watchdog, and the submission runs again from the top
    without it (it scores as an error), so what it did right elsewhere still counts; `timeout` bounds all runs.
    """
    work = Path(tempfile.mkdtemp(prefix="cnnlab-grade-"))
    os.chmod(work, 0o711)  # the child may pass through, not list: its box's name is random
    job = {"cells": cells, "cases": [], "cell_timeout": int(cell_timeout), "case_timeout": int(case_timeout),
           "skip_cells": {}, "skip_cases": {}}
    inputs = {}
    for case in cases:
        if case.inputs:
            inputs[case.id] = {k: np.asarray(v) for k, v in case.inputs.items()}
        job["cases"].append({"id": case.id, "probe": textwrap.dedent(inspect.getsource(case.probe)),
                             "function": case.probe.__name__,
                             "inputs": f"inputs/{case.id}.npz" if case.inputs else None})
    # Every module a probe imports is imported before the submission runs, outside any time limit: an import cut
    # short by a probe's alarm leaves torch half-initialised, and the next probe that touches it crashes.
    job["preload"] = sorted({alias.name if isinstance(node, ast.Import) else node.module
                             for case in job["cases"] for node in ast.walk(ast.parse(case["probe"]))
                             if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0)
                             for alias in (node.names if isinstance(node, ast.Import) else [None])})
    deadline = time.monotonic() + timeout
    while True:
        box = work / secrets.token_hex(8)
        (box / "inputs").mkdir(parents=True)
        (box / "out").mkdir()
        (box / "tmp").mkdir()
        shutil.copyfile(Path(__file__).with_name("grader_child.py"), box / "child.py")
        mpl_cache = Path(os.environ.get("MPLCONFIGDIR", Path.home() / ".cache" / "matplotlib"))
        for fontlist in mpl_cache.glob("fontlist-*.json"):  # saves the child rebuilding matplotlib's font list (~5 s)
            shutil.copyfile(fontlist, box / "tmp" / fontlist.name)
        for case_id, arrays in inputs.items():
            np.savez(box / "inputs" / f"{case_id}.npz", **arrays)
        (box / "job.json").write_text(json.dumps(job))
        for path in [box, *box.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        left = deadline - time.monotonic()
        limits = sandbox.Limits(cpu_s=max(1, int(left)), wall_s=max(1.0, left), memory_bytes=int(memory_bytes))
        watchdog = _Watchdog(box / "out" / "status.json", cell_timeout, case_timeout)
        run = sandbox.run_isolated([sys.executable, "-I", "child.py"], box, hide=hide,
                                   readonly=[ROOT, _installed_course()],
                                   limits=limits, log=None, watch=watchdog)  # what it prints is never read
        status = _read_status(box / "out" / "status.json")
        if not (run.stopped and watchdog.stalled) or deadline - time.monotonic() < 1:
            break
        kind, _, which = watchdog.stalled.partition(" ")
        limit = cell_timeout if kind == "cell" else case_timeout
        reason = f"TimeoutError: ran over its {limit} s limit and ignored the interrupt: stopped, then skipped"
        job["skip_cells" if kind == "cell" else "skip_cases"][which] = reason
        shutil.rmtree(box, ignore_errors=True)
    outputs = {case.id: box / "out" / f"{case.id}.npz" for case in cases}
    return status, outputs, run, work


def grade_submission(submission: Path, assignment: str, student: str | None = None, *,
                     source_dir: Path = SOURCE_DIR, dist: Path = DIST_DIR, case_timeout: int = CASE_TIMEOUT_S,
                     cell_timeout: int = CELL_TIMEOUT_S, timeout: int = SUBMISSION_TIMEOUT_S,
                     memory_bytes: int = MEMORY_BYTES, cases: list[Case] | None = None) -> Result:
    """Grade one notebook; never raises for anything the submission does (that goes in status, lost and notes)."""
    start = time.perf_counter()
    submission = Path(submission)
    cases = load_cases(assignment, source_dir) if cases is None else cases
    possible = question_points(cases)
    result = Result(student or submission.stem, assignment, {q: 0.0 for q in possible}, possible)
    try:
        cells = _code_cells(submission)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        result.status, result.notes = "grader-error", f"unreadable notebook: {_first_line(e, 200)}"
        result.lost = [Lost(c.question, c.name, float(c.points), "the notebook could not be read") for c in cases]
        result.seconds = time.perf_counter() - start
        return result
    hide = _hidden_paths(source_dir, dist, submission)
    status, outputs, run, work = _run_child(cells, cases, hide, case_timeout, cell_timeout, timeout, memory_bytes)
    try:
        for case in cases:
            # Points come from the outputs alone: the status (the child's word) only explains a missing output.
            error = None
            try:
                out = _read_output(outputs[case.id])
            except Exception as e:  # noqa: BLE001 - no usable output: the status says why, if it can
                out, error = None, status["cases"].get(case.id)
                if error is None:
                    missing = isinstance(e, FileNotFoundError) and case.id not in status["cases"]
                    error = ("not run: the submission stopped before this test" if missing else
                             f"{type(e).__name__}: {e}")
            if out is not None:
                try:
                    case.check(out, case.inputs)
                except Exception as e:  # noqa: BLE001 - a failed check is a lost point, whatever it raised
                    error = f"{e}" if isinstance(e, AssertionError) and str(e) else f"{type(e).__name__}: {e}"
            if error is None:
                result.scores[case.question] += float(case.points)
            else:
                result.lost.append(Lost(case.question, case.name, float(case.points), _first_line(error)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = []
    raised = [f"cell {i}: {e}" for i, e in enumerate(status["cells"]) if e]
    if raised:
        notes.append(f"{len(raised)} cell(s) raised an error (first: {_first_line(raised[0], 120)})")
    slow = sum("ran over its" in x.error for x in result.lost)
    if slow:
        notes.append(f"{slow} test case(s) ran out of time")
    if run.timed_out:
        result.status = "timeout"
        notes.append(f"stopped after {timeout} s")
    elif run.returncode != 0 and not status["cells"] and cells:  # the driver never reported a single cell
        result.status = "grader-error"
        notes.append(f"the sandbox or its Python did not start (exit code {run.returncode}): check `make grade`'s "
                     "first line and run the reference through it")
    elif run.returncode != 0:
        notes.append(f"the submission's process ended with code {run.returncode}")
    result.notes, result.seconds = "; ".join(notes), time.perf_counter() - start
    return result


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, notebook) pairs: `folder/STUDENT.ipynb`, or `folder/STUDENT/*.ipynb` (one notebook each)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of submitted notebooks")
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):  # .ipynb_checkpoints and the like
            continue
        found.append((rel.stem if len(rel.parts) == 1 else rel.parts[0], path))
    if not found:
        raise ValueError(f"no .ipynb files in {folder}")
    return found


def write_csv(results: list[Result], path: Path) -> tuple[Path, Path, Path]:
    """Three CSVs: PATH (points per question), PATH's *_feedback.csv (each lost test), *_canvas.csv (gradebook)."""
    questions = list(dict.fromkeys(q for r in results for q in r.possible_by_question))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", *questions, "total", "possible", "status", "notes", "seconds"])
        for r in results:
            cells = [f"{r.scores[q]:g}" if q in r.scores else "" for q in questions]
            writer.writerow([r.student, r.assignment, *cells, f"{r.total:g}", f"{r.possible:g}", r.status, r.notes,
                             f"{r.seconds:.1f}"])
    feedback = path.with_name(path.stem.removesuffix("_scores") + "_feedback.csv")
    with open(feedback, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "question", "test", "points_lost", "error"])
        for r in results:
            for x in r.lost:
                writer.writerow([r.student, x.question, x.test, f"{x.points:g}", x.error])
    # Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment;
    # rows are matched on SIS Login ID here (the submission's folder or file name), Canvas ignores the empty ones.
    canvas = path.with_name(path.stem.removesuffix("_scores") + "_canvas.csv")
    with open(canvas, "w", newline="") as f:
        writer = csv.writer(f)
        names = list(dict.fromkeys(r.assignment for r in results))
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names])
        writer.writerow(["    Points Possible", "", "", "", "",
                         *[f"{next(r.possible for r in results if r.assignment == n):g}" for n in names]])
        for r in results:
            writer.writerow([r.student, "", "", r.student, "",
                             *[f"{r.total:g}" if n == r.assignment else "" for n in names]])
    return path, feedback, canvas


def grade(submissions: Path, assignment: str | None = None, dist: Path = DIST_DIR, out: Path | None = None, *,
          source_dir: Path = SOURCE_DIR, **limits) -> Path:
    """Grade every notebook in `submissions` against one assignment; writes the CSVs, returns the scores CSV."""
    names = [p.stem for p in assignment_sources(source_dir)]
    if assignment is None:
        if len(names) != 1:
            raise ValueError(f"{len(names)} assignments in {source_dir}; name one with --assignment "
                             f"({', '.join(names)})")
        assignment = names[0]
    elif assignment not in names:
        raise ValueError(f"no assignment {assignment!r} in {source_dir}; choose one of {', '.join(names)}")
    cases = load_cases(assignment, source_dir)
    print(sandbox.isolation().describe())
    results = []
    for student, path in find_submissions(submissions):
        r = grade_submission(path, assignment, student, source_dir=source_dir, dist=dist, cases=cases, **limits)
        per_question = " ".join(f"{q} {r.scores[q]:g}/{p:g}" for q, p in r.possible_by_question.items())
        print(f"{student}: {r.total:g}/{r.possible:g} ({per_question}) {r.status} in {r.seconds:.1f} s")
        for x in r.lost:
            print(f"    {x.question} {x.test} -{x.points:g}: {x.error}")
        if r.notes:
            print(f"    notes: {r.notes}")
        results.append(r)
    scores, feedback, canvas = write_csv(results, out or Path(dist) / f"{assignment}_scores.csv")
    print(f"scores: {scores}\nlost points: {feedback}\nCanvas gradebook import: {canvas}")
    return scores


# -------------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command line: `build` and `grade` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.assignments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assignments/*.ipynb -> dist/NAME/student, then grade reference and blank")
    b.add_argument("--no-check", action="store_true", help="skip grading the reference and blank notebooks")
    g = sub.add_parser("grade", help="a folder of submitted notebooks -> CSVs of scores, lost points, Canvas")
    g.add_argument("submissions", type=Path)
    g.add_argument("--assignment", help="which assignment (needed when assignments/ holds several)")
    g.add_argument("--out", type=Path, help="scores CSV path (default dist/NAME_scores.csv)")
    for p in (b, g):
        p.add_argument("--source", type=Path, default=SOURCE_DIR)
        p.add_argument("--dist", type=Path, default=DIST_DIR)
        p.add_argument("--case-timeout", type=int, default=CASE_TIMEOUT_S, help="seconds per test case")
        p.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
        p.add_argument("--timeout", type=int, default=SUBMISSION_TIMEOUT_S, help="seconds per submission")
    args = parser.parse_args(argv)
    limits = {"case_timeout": args.case_timeout, "cell_timeout": args.cell_timeout, "timeout": args.timeout}
    try:
        if args.command == "build":
            for out in build(args.source, args.dist, not args.no_check, **limits):
                print(f"built {out}/student (hand this out; the grader keeps {args.source}) and "
                      f"{out}/gradescope (Gradescope's autograder zip)")
        else:
            grade(args.submissions, args.assignment, args.dist, args.out, source_dir=args.source, **limits)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # run the imported module's main, so tests files and the grader share one `Case` class
    from tools.assignments import main as _main

    sys.exit(_main())
