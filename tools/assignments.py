"""Graded assignments: build student notebooks and autograders with otter-grader, grade submissions into a CSV.

One source of truth: each `assignments/NAME.ipynb` is a solution notebook in otter-grader's format (questions,
solutions between `# BEGIN SOLUTION` / `# END SOLUTION`, public and hidden test cases with points).

    python -m tools.assignments build                      # assignments/*.ipynb -> dist/NAME/{student,autograder}
    python -m tools.assignments grade SUBMISSIONS          # SUBMISSIONS/*.ipynb -> dist/NAME_scores.csv

`build` runs otter assign (student notebook without solutions or hidden tests; autograder zip with all tests),
then grades the reference solution and fails unless it earns full marks. `grade` runs otter run (no Docker) on
each submission, in a fresh kernel, with time limits per test case, per cell and per submission, and a guard that
stops the submission from opening the hidden test files. Otter runs the tests in the student's own kernel, so the
guard is a lock on the door, not a sandbox: a determined student could still tamper with the grader from inside.
Grade on a machine that holds nothing else of value, and read the `notes` column.

otter-grader is an optional dependency (the `instructor` group): this module imports it only inside functions.
Instructor tooling, so it lives in tools/, not in the `cnnlab` package students import; run it from the repository
root (SOURCE_DIR and DIST_DIR are relative to the working directory).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import shutil
import signal
import sys
import tempfile
import threading
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BLOCKED_MARKER", "CASE_TIMEOUT_S", "CELL_TIMEOUT_S", "DIST_DIR", "GUARD_CELL", "SOURCE_DIR",
    "SUBMISSION_TIMEOUT_S", "Result", "assignment_name", "assignment_sources", "autograder_zip", "build",
    "build_one", "find_submissions", "grade", "grade_submission", "guarded_copy", "main", "question_points",
    "write_csv",
]

SOURCE_DIR = Path("assignments")
DIST_DIR = Path("dist")
CASE_TIMEOUT_S = 20  # one test case (the grader's tests call the student's functions)
CELL_TIMEOUT_S = 120  # one cell of the submission (a cell `grader.check("qN")` runs qN's test cases)
SUBMISSION_TIMEOUT_S = 600  # one whole submission, kernel start included
BLOCKED_MARKER = "cnnlab-grader: blocked access to the hidden tests"

# The first cell of every graded submission; it runs right after otter's own set-up cell.
# 1. An audit hook (PEP 578: Python code cannot remove it) refuses to open, list, move or delete anything in
#    ./tests unless otter's own code is on the call stack; each refusal is printed with BLOCKED_MARKER.
# 2. Each test case gets @CASE_TIMEOUT@ seconds (SIGALRM): a student function that never returns fails the test
#    case that called it instead of stalling the whole grading run.
GUARD_CELL = '''\
def _cnnlab_guard(case_timeout):
    import os, signal, sys
    from otter.test_files.exception_test import test_case
    tests, busy = os.path.realpath("tests"), [False]
    def from_otter():
        f = sys._getframe(2)
        while f is not None:
            name = f.f_globals.get("__name__") or ""
            if name == "otter" or name.startswith("otter."):
                return True
            f = f.f_back
        return False
    def touches_tests(args):
        for a in args:
            if isinstance(a, (str, bytes, os.PathLike)):
                try:
                    p = os.path.realpath(os.fsdecode(a))
                except (TypeError, ValueError):
                    continue
                if p == tests or p.startswith(tests + os.sep):
                    return True
        return False
    def hook(event, args):
        if busy[0] or event not in ("open", "os.listdir", "os.scandir", "os.remove", "os.rename",
                                    "os.rmdir", "os.truncate", "shutil.rmtree", "shutil.copyfile"):
            return
        busy[0] = True
        try:
            if touches_tests(args) and not from_otter():
                print(@MARKER@ + " (" + event + ")", file=sys.stderr)
                raise PermissionError("the hidden tests are not readable during grading")
        finally:
            busy[0] = False
    sys.addaudithook(hook)
    call = test_case.call_func
    def out_of_time(signum, frame):
        raise TimeoutError(f"the test case ran over its {case_timeout} s")
    def call_with_limit(self, env):
        previous = signal.signal(signal.SIGALRM, out_of_time)
        signal.alarm(case_timeout)
        try:
            return call(self, env)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    test_case.call_func = call_with_limit
_cnnlab_guard(@CASE_TIMEOUT@)
del _cnnlab_guard
'''.replace("@MARKER@", repr(BLOCKED_MARKER))


# ------------------------------------------------------------------------------------------------------ build


def assignment_sources(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """The solution notebooks in `source_dir`, one per assignment, sorted by name."""
    sources = sorted(p for p in Path(source_dir).glob("*.ipynb") if not p.name.startswith("."))
    if not sources:
        raise ValueError(f"no assignment notebooks (*.ipynb) in {source_dir}")
    return sources


def autograder_zip(assignment_dir: Path) -> Path:
    """The autograder zip that `otter assign` wrote into `assignment_dir`/autograder."""
    zips = sorted((Path(assignment_dir) / "autograder").glob("*-autograder_*.zip"))
    if len(zips) != 1:
        raise ValueError(f"expected one autograder zip in {assignment_dir}/autograder, found {len(zips)}; "
                         "run `python -m tools.assignments build` again")
    return zips[0]


def build_one(source: Path, dist: Path = DIST_DIR) -> Path:
    """Run otter assign on one solution notebook; returns dist/NAME (student/ and autograder/ inside)."""
    out = Path(dist) / Path(source).stem
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from otter.assign import main as otter_assign

    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            otter_assign(str(Path(source).resolve()), str(out.resolve()), no_pdfs=True)
    except Exception as e:  # otter's own format errors, with the cell they are about
        raise RuntimeError(f"otter assign failed on {source}: {type(e).__name__}: {e}") from e
    autograder_zip(out)  # exactly one
    return out


def build(source_dir: Path = SOURCE_DIR, dist: Path = DIST_DIR, check: bool = True, *,
          case_timeout: int = CASE_TIMEOUT_S, cell_timeout: int = CELL_TIMEOUT_S,
          timeout: int = SUBMISSION_TIMEOUT_S) -> list[Path]:
    """Build every assignment; with `check`, grade each reference solution and fail unless it earns full marks."""
    outs = []
    for source in assignment_sources(source_dir):
        out = build_one(source, dist)
        if check:
            solution = out / "autograder" / source.name
            result = grade_submission(solution, autograder_zip(out), case_timeout=case_timeout,
                                      cell_timeout=cell_timeout, timeout=timeout)
            if result.total != result.possible:
                raise RuntimeError(f"the reference solution of {source.stem} scores {result.total}/"
                                   f"{result.possible} ({result.status}; {result.notes})")
        outs.append(out)
    return outs


# ------------------------------------------------------------------------------------------------------ grade


@dataclass
class Result:
    """One graded submission: points per question, total, possible, status and notes for the instructor."""

    student: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    possible_by_question: dict[str, float] = field(default_factory=dict)
    status: str = "graded"  # graded | timeout | grader-error
    notes: str = ""

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def possible(self) -> float:
        return sum(self.possible_by_question.values())


def assignment_name(ag_zip: Path) -> str:
    """The assignment's name, from its autograder zip's file name (NAME-autograder_TIMESTAMP.zip).

    >>> assignment_name(Path("dist/hw1/autograder/hw1-autograder_2026_11_23T06_41_58_657454.zip"))
    'hw1'
    """
    return Path(ag_zip).name.split("-autograder_")[0]


def question_points(ag_zip: Path) -> dict[str, float]:
    """Points possible per question, read from the test files inside the autograder zip."""
    from otter.test_files.exception_test import ExceptionTestFile

    points = {}
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(ag_zip) as zf:
            zf.extractall(tmp)
        for path in sorted(Path(tmp, "tests").glob("*.py")):
            test_file = ExceptionTestFile.from_file(str(path))
            points[test_file.name] = float(test_file.possible)
    return points


def guarded_copy(submission: Path, folder: Path, name: str, case_timeout: int = CASE_TIMEOUT_S) -> Path:
    """Copy `submission` to `folder`/`name`.ipynb (the name its checks expect), guard cell first, outputs dropped."""
    import nbformat

    nb = nbformat.read(str(submission), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells.insert(0, nbformat.v4.new_code_cell(GUARD_CELL.replace("@CASE_TIMEOUT@", str(int(case_timeout)))))
    path = Path(folder) / f"{name}.ipynb"
    nbformat.write(nb, str(path))
    return path


def _notes(results) -> list[str]:
    """What went wrong: cells that raised (or were cut off), test cases out of time, blocked reads of the tests.

    Only counts: the messages of hidden test cases quote the tests, so none of their text leaves the grader.
    """
    errors = blocked = 0
    for cell in results.notebook.cells if results.notebook is not None else []:
        for out in cell.get("outputs", []):
            errors += out.get("output_type") == "error"
            blocked += str(out.get("text", "")).count(BLOCKED_MARKER)
    slow = sum("TimeoutError: the test case ran over" in tcr.message
               for test_file in results.results.values() for tcr in test_file.test_case_results)
    notes = []
    if errors:
        notes.append(f"{errors} cell(s) raised an error")
    if slow:
        notes.append(f"{slow} test case(s) ran out of time")
    if blocked:
        notes.append(f"blocked {blocked} attempt(s) to open the hidden tests")
    return notes


class _CellLimits:
    """Give otter's notebook executor a time limit per cell, and remember it so a watchdog can kill its kernel.

    otter builds its own nbconvert ExecutePreprocessor with no time limit; we set one on every instance it creates
    (nbclient interrupts a cell that runs over and goes on with the next one, as nbgrader does).
    """

    def __init__(self, cell_timeout: int) -> None:
        self.cell_timeout, self.executors = cell_timeout, []

    def __enter__(self) -> _CellLimits:
        from nbconvert.preprocessors import ExecutePreprocessor

        self.cls, self.init, limits = ExecutePreprocessor, ExecutePreprocessor.__init__, self

        def init_with_limit(executor, *args, **kwargs):
            limits.init(executor, *args, **kwargs)
            executor.timeout, executor.interrupt_on_timeout = limits.cell_timeout, True
            executor.extra_arguments = [*executor.extra_arguments, "--IPKernelApp.log_level=ERROR"]  # no TCP notice
            limits.executors.append(executor)

        ExecutePreprocessor.__init__ = init_with_limit
        return self

    def __exit__(self, *exc) -> None:
        self.cls.__init__ = self.init

    def kill_kernels(self) -> None:
        """SIGKILL the process group of every kernel started so far (each kernel runs in its own session)."""
        for executor in self.executors:
            pgid = getattr(getattr(getattr(executor, "km", None), "provisioner", None), "pgid", None)
            if pgid:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, signal.SIGKILL)


def _run_otter(submission: Path, ag_zip: Path, cell_timeout: int, case_timeout: int, timeout: int) -> dict:
    """Grade one submission with otter run in this process (the student's code runs in a kernel process)."""
    import otter.run

    with tempfile.TemporaryDirectory() as tmp, _CellLimits(cell_timeout) as limits:
        guarded = guarded_copy(submission, Path(tmp), assignment_name(ag_zip), case_timeout)
        watchdog = threading.Timer(timeout, limits.kill_kernels)
        watchdog.start()
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # otter's summary table
                warnings.simplefilter("ignore")
                results = otter.run.main(str(guarded), autograder=str(ag_zip), output_dir=None, no_logo=True)
        except Exception as e:
            if not watchdog.is_alive():  # it fired: the kernel was killed
                return {"status": "timeout", "scores": {}, "notes": [f"stopped after {timeout} s"]}
            return {"status": "grader-error", "scores": {}, "notes": [f"{type(e).__name__}: {str(e)[:200]}"]}
        finally:
            watchdog.cancel()
    notes = _notes(results)
    if results.catastrophic_error is not None:
        notes.append(f"the tests did not finish: {type(results.catastrophic_error).__name__}")
        return {"status": "graded", "scores": {}, "notes": notes}
    return {"status": "graded", "scores": {q: float(results.get_score(q)) for q in results.test_files}, "notes": notes}


def grade_submission(submission: Path, ag_zip: Path, student: str | None = None, *,
                     case_timeout: int = CASE_TIMEOUT_S, cell_timeout: int = CELL_TIMEOUT_S,
                     timeout: int = SUBMISSION_TIMEOUT_S) -> Result:
    """Grade one notebook; never raises for anything the submission does (that goes in status and notes)."""
    submission, ag_zip = Path(submission), Path(ag_zip)
    possible = question_points(ag_zip)
    result = Result(student or submission.stem, assignment_name(ag_zip), {q: 0.0 for q in possible}, possible)
    try:
        report = _run_otter(submission, ag_zip, cell_timeout, case_timeout, timeout)
    except Exception as e:  # an unreadable notebook, say
        report = {"status": "grader-error", "scores": {}, "notes": [f"{type(e).__name__}: {str(e)[:200]}"]}
    for q, score in report["scores"].items():
        if q in result.scores:
            result.scores[q] = min(score, possible[q])
    result.status, result.notes = report["status"], "; ".join(report["notes"])
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


def write_csv(results: list[Result], path: Path) -> Path:
    """One row per submission: student, assignment, one column per question, total, possible, status, notes."""
    questions = sorted({q for r in results for q in r.possible_by_question})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", *questions, "total", "possible", "status", "notes"])
        for r in results:
            cells = [f"{r.scores[q]:g}" if q in r.scores else "" for q in questions]
            writer.writerow([r.student, r.assignment, *cells, f"{r.total:g}", f"{r.possible:g}", r.status, r.notes])
    return path


def grade(submissions: Path, assignment: str | None = None, dist: Path = DIST_DIR, out: Path | None = None, *,
          case_timeout: int = CASE_TIMEOUT_S, cell_timeout: int = CELL_TIMEOUT_S,
          timeout: int = SUBMISSION_TIMEOUT_S) -> Path:
    """Grade every notebook in `submissions` against one built assignment; writes and returns the CSV path."""
    built = sorted(p.parent.parent for p in Path(dist).glob("*/autograder/*-autograder_*.zip"))
    if assignment is None:
        if len(built) != 1:
            raise ValueError(f"found {len(built)} built assignments in {dist}; name one with --assignment "
                             f"({', '.join(p.name for p in built) or 'run build first'})")
        assignment_dir = built[0]
    else:
        assignment_dir = Path(dist) / assignment
    ag_zip = autograder_zip(assignment_dir)
    results = []
    for student, path in find_submissions(submissions):
        r = grade_submission(path, ag_zip, student=student, case_timeout=case_timeout,
                             cell_timeout=cell_timeout, timeout=timeout)
        print(f"{student}: {r.total:g}/{r.possible:g} {r.status} {r.notes}".rstrip())
        results.append(r)
    return write_csv(results, out or Path(dist) / f"{assignment_dir.name}_scores.csv")


# -------------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command line: `build` and `grade` (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tools.assignments", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="assignments/*.ipynb -> dist/NAME/student and dist/NAME/autograder")
    b.add_argument("--source", type=Path, default=SOURCE_DIR)
    b.add_argument("--dist", type=Path, default=DIST_DIR)
    b.add_argument("--no-check", action="store_true", help="skip grading the reference solutions")
    g = sub.add_parser("grade", help="a folder of submitted notebooks -> a CSV of scores")
    g.add_argument("submissions", type=Path)
    g.add_argument("--assignment", help="which built assignment (needed when dist/ holds several)")
    g.add_argument("--dist", type=Path, default=DIST_DIR)
    g.add_argument("--out", type=Path, help="CSV path (default dist/NAME_scores.csv)")
    for p in (b, g):
        p.add_argument("--case-timeout", type=int, default=CASE_TIMEOUT_S, help="seconds per test case")
        p.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
        p.add_argument("--timeout", type=int, default=SUBMISSION_TIMEOUT_S, help="seconds per submission")
    args = parser.parse_args(argv)
    limits = {"case_timeout": args.case_timeout, "cell_timeout": args.cell_timeout, "timeout": args.timeout}
    try:
        if args.command == "build":
            for out in build(args.source, args.dist, not args.no_check, **limits):
                print(f"built {out}/student (hand out) and {out}/autograder (keep)")
        else:
            path = grade(args.submissions, args.assignment, args.dist, args.out, **limits)
            print(f"scores: {path}")
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
