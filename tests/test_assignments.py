"""Graded assignments: the student version leaks nothing, and the grader scores honestly and survives bad code.

Builds assignments/ once (otter assign) and grades a folder of crafted submissions once (otter run, no Docker).
Skipped where otter-grader (the optional `instructor` dependency group) is not installed.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("otter", reason="otter-grader is in the optional `instructor` dependency group")

from tools import assignments  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments" / "hw1_cnn_foundations.ipynb"
NAME = SOURCE.stem
POINTS = {"q1": 4, "q2": 3, "q3": 3, "q4": 4, "q5": 4, "q6": 4}
LIMITS = {"case_timeout": 4, "cell_timeout": 90, "timeout": 300}  # generous: CI shares 2 cores


# ----------------------------------------------------------------------------------------------- helpers


def all_strings(obj) -> list[str]:
    """Every string inside a notebook's JSON: sources, outputs, metadata, keys."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*all_strings(k), *all_strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in all_strings(v)]
    return []


def folder_text(folder: Path) -> str:
    """All text under `folder`: notebooks as their decoded strings (so JSON escaping hides nothing), other files raw."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".ipynb":
            parts += all_strings(json.loads(path.read_text()))
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                parts += [zf.read(n).decode(errors="replace") for n in zf.namelist()]
        else:
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def source_cells() -> list[nbformat.NotebookNode]:
    return nbformat.read(str(SOURCE), as_version=4).cells


def solution_lines() -> list[str]:
    """Distinctive lines of the reference solutions: inside BEGIN/END SOLUTION, or ending in `# SOLUTION`."""
    inside, solution, visible = False, [], []
    for cell in source_cells():
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            text = line.strip()
            if re.match(r"# (BEGIN|END) SOLUTION", text):
                inside = text.startswith("# BEGIN")
            elif inside:
                solution.append(text)
            elif text.endswith("# SOLUTION"):
                solution.append(text.removesuffix("# SOLUTION").strip())
            else:
                visible.append(text)
    return [s for s in solution if len(s) >= 10 and not any(s in v for v in visible)]


def prompt_text() -> str:
    """Everything of the source that is not a test cell: code students see anyway is no secret."""
    return "\n".join(c.source for c in source_cells() if "# BEGIN TEST CONFIG" not in c.source)


def hidden_test_lines() -> list[str]:
    """Distinctive lines of the hidden test cases as written in the source (everything after their config)."""
    hidden, public = [], []
    for cell in source_cells():
        if cell.cell_type == "code" and "# BEGIN TEST CONFIG" in cell.source:
            body = cell.source.split("# END TEST CONFIG", 1)[1]
            lines = [line.strip() for line in body.splitlines() if line.strip()]
            (hidden if re.search(r"^hidden:\s*true", cell.source, re.M) else public).extend(lines)
    prompt = prompt_text()
    return [h for h in hidden if len(h) >= 12 and h not in public and h not in prompt and not h.startswith("import ")]


def hidden_test_lines_as_graded(built: Path) -> list[str]:
    """The same, as otter rewrote them into the autograder's test files (it re-quotes and re-wraps code)."""
    hidden, public = [], []
    with zipfile.ZipFile(assignments.autograder_zip(built)) as zf:
        for name in (n for n in zf.namelist() if n.startswith("tests/")):
            for case in zf.read(name).decode().split("@test_case(")[1:]:
                lines = [line.strip() for line in case.splitlines()[1:] if line.strip()]
                is_hidden = re.match(r"points=[\d.]+, hidden=True", case) is not None
                (hidden if is_hidden else public).extend(lines)
    prompt = prompt_text()
    return [h for h in hidden if len(h) >= 12 and h not in public and h not in prompt and not h.startswith("import ")]


def edit(nb: nbformat.NotebookNode, old: str, new: str) -> nbformat.NotebookNode:
    """Replace `old` by `new` in the one code cell that contains it (fails loudly if there is none)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(cells) == 1, f"expected one cell containing {old!r}, found {len(cells)}"
    cells[0].source = cells[0].source.replace(old, new)
    return nb


def replace_cell(nb: nbformat.NotebookNode, old: str, source: str) -> nbformat.NotebookNode:
    """Replace the whole source of the one code cell that contains `old`."""
    cells = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(cells) == 1, f"expected one cell containing {old!r}, found {len(cells)}"
    cells[0].source = source
    return nb


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """dist/hw1_cnn_foundations built once for this module (without the slow self-check: tests do it)."""
    dist = tmp_path_factory.mktemp("dist")
    (out,) = assignments.build(ROOT / "assignments", dist, check=False)
    return out


def submissions(built: Path) -> dict[str, nbformat.NotebookNode]:
    """Crafted submissions made from the reference solution or the student version.

    `bad` breaks four questions in four ways at once; each must cost exactly that question's points, which also
    shows that one failure does not spill into the others.
    """
    def ref() -> nbformat.NotebookNode:
        return nbformat.read(str(built / "autograder" / f"{NAME}.ipynb"), as_version=4)

    bad = ref()
    # q1: conv2d never returns, and each q1 test case calls it (sleeping, not spinning, to spare CI's CPU; the
    # demo call is dropped, so the test cases' own time limit is what cuts it off)
    edit(bad, "edges = conv2d(img[None, None], sobel, torch.zeros(1), padding=1)",
         "edges = torch.zeros(1, 1, 128, 128)")
    edit(bad, '    """2-D cross-correlation of a batch with a bank of filters, like nn.Conv2d."""',
         '    """2-D cross-correlation of a batch with a bank of filters, like nn.Conv2d."""\n'
         "    import time\n    while True:\n        time.sleep(0.05)")
    # q3: the cell raises before it defines he_init_
    edit(bad, "def he_init_(", 'raise RuntimeError("student bug")\n\n\ndef he_init_(')
    # q4: eval-mode BatchNorm with the batch's statistics, the classic bug; one hidden test (2 points) catches it
    edit(bad, "        mean, var = running_mean, running_var",
         "        mean, var = X.mean(dim=(0, 2, 3)), X.var(dim=(0, 2, 3), unbiased=False)")
    # q5: answered by listing, reading and overwriting the hidden tests
    replace_cell(bad, "diagnoses = {}", """import os, re
source = ""
attempts = (lambda: os.listdir("tests"), lambda: open("tests/q5.py").read(), lambda: open("tests/q5.py", "w"))
for attempt in attempts:
    try:
        source += str(attempt())
    except PermissionError as e:
        print("no luck:", e)
print(source)
diagnoses = dict(re.findall(r"diagnoses\\[.(\\w).\\] == .(\\w+)", source))""")
    return {"ref": ref(), "blank": nbformat.read(str(built / "student" / f"{NAME}.ipynb"), as_version=4), "bad": bad}


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory) -> tuple[dict[str, dict[str, str]], str, Path]:
    """Grade all crafted submissions once: (rows by student, console output, grading folder)."""
    folder = tmp_path_factory.mktemp("grading")
    subs_dir = folder / "submissions"
    subs_dir.mkdir()
    for student, nb in submissions(built).items():
        nbformat.write(nb, str(subs_dir / f"{student}.ipynb"))
    import contextlib
    import io

    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        csv_path = assignments.grade(subs_dir, dist=built.parent, out=folder / "scores.csv", **LIMITS)
    with open(csv_path, newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, console.getvalue(), folder


def scores(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


def full_except(**lost: float) -> dict[str, float]:
    return {q: POINTS[q] - lost.get(q, 0) for q in POINTS}


# ----------------------------------------------------------------------------------------------- build


def test_build_writes_student_and_autograder(built):
    assert (built / "student" / f"{NAME}.ipynb").is_file()
    zip_path = assignments.autograder_zip(built)
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(n for n in zf.namelist() if n.startswith("tests/")) == [f"tests/{q}.py" for q in POINTS]
    assert assignments.question_points(zip_path) == POINTS


def test_at_least_five_questions_with_public_and_hidden_tests():
    cells = [c.source for c in source_cells() if c.cell_type == "code" and "# BEGIN TEST CONFIG" in c.source]
    assert len(POINTS) >= 5 and len(cells) >= 2 * len(POINTS)
    assert sum("hidden: false" in c for c in cells) == len(POINTS)  # one public test per question


def test_student_version_has_no_solution_code(built):
    lines = solution_lines()
    assert len(lines) >= 20, "too few solution lines found: the search would prove nothing"
    assert all(line in folder_text(built / "autograder") for line in lines)  # the search finds them where they are
    student = folder_text(built / "student")
    leaked = [line for line in lines if line in student]
    assert not leaked, f"solution code in the student version: {leaked}"


def test_student_version_has_no_hidden_tests(built):
    as_written, as_graded = hidden_test_lines(), hidden_test_lines_as_graded(built)
    assert len(as_written) >= 30 and len(as_graded) >= 30, "too few lines found: the search would prove nothing"
    assert all(line in folder_text(SOURCE.parent) for line in as_written)  # the search finds them where they are
    assert all(line in folder_text(built / "autograder") for line in as_graded)
    student = folder_text(built / "student")
    leaked = [line for line in as_written + as_graded if line in student]
    assert not leaked, f"hidden tests in the student version: {leaked}"


# ----------------------------------------------------------------------------------------------- grading


def test_reference_solution_scores_full_marks(graded):
    rows, _, _ = graded
    assert scores(rows["ref"]) == full_except()
    assert rows["ref"]["total"] == rows["ref"]["possible"] == str(sum(POINTS.values()))
    assert rows["ref"]["status"] == "graded" and rows["ref"]["notes"] == ""


def test_unmodified_student_version_scores_zero(graded):
    rows, _, _ = graded
    assert scores(rows["blank"]) == {q: 0.0 for q in POINTS}
    assert "raised an error" in rows["blank"]["notes"]


def test_each_failure_costs_exactly_its_own_question(graded):
    rows, _, _ = graded
    assert scores(rows["bad"]) == full_except(q1=4, q3=3, q4=2, q5=4)
    assert rows["bad"]["status"] == "graded"


def test_batch_statistics_in_eval_mode_lose_exactly_the_hidden_eval_test(graded):
    rows, _, _ = graded
    assert float(rows["bad"]["q4"]) == POINTS["q4"] - 2  # test_bn_eval_uses_running_stats is worth 2


def test_submission_that_raises_is_graded_and_reported(graded):
    rows, _, _ = graded
    assert float(rows["bad"]["q3"]) == 0 and "1 cell(s) raised an error" in rows["bad"]["notes"]


def test_function_that_never_returns_fails_its_test_cases_and_grading_goes_on(graded):
    rows, _, _ = graded
    assert float(rows["bad"]["q1"]) == 0 and "3 test case(s) ran out of time" in rows["bad"]["notes"]


def test_reading_the_hidden_tests_is_blocked_and_reported(built, graded):
    rows, console, folder = graded
    assert float(rows["bad"]["q5"]) == 0
    assert "blocked 3 attempt(s) to open the hidden tests" in rows["bad"]["notes"]
    written = (folder / "scores.csv").read_text() + console  # what the grader writes and prints
    leaked = [line for line in hidden_test_lines() + hidden_test_lines_as_graded(built) if line in written]
    assert not leaked, f"hidden tests in the grader's output: {leaked}"


def test_a_cell_over_its_time_limit_is_interrupted_and_the_next_cell_runs():
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.05)"),
                                         nbformat.v4.new_code_cell("print('next cell ran')")])
    with assignments._CellLimits(cell_timeout=2):
        ExecutePreprocessor(allow_errors=True).preprocess(nb)
    assert nb.cells[0].outputs[-1]["ename"] == "KeyboardInterrupt"
    assert nb.cells[1].outputs[0]["text"] == "next cell ran\n"


def test_a_submission_that_ignores_interrupts_is_killed_and_scores_zero(built, tmp_path):
    stubborn = "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass"
    path = tmp_path / "stubborn.ipynb"
    student = nbformat.read(str(built / "student" / f"{NAME}.ipynb"), as_version=4)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(stubborn)], metadata=student.metadata)
    nbformat.write(nb, str(path))
    result = assignments.grade_submission(path, assignments.autograder_zip(built), case_timeout=2, cell_timeout=2,
                                          timeout=8)
    assert result.status == "timeout" and result.total == 0 and result.possible == sum(POINTS.values())
    assert list(result.scores) == list(POINTS)


# ----------------------------------------------------------------------------------------------- bad input


def test_bad_input_says_what_is_wrong(built, tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        assignments.find_submissions(tmp_path / "missing")
    with pytest.raises(ValueError, match="no .ipynb files"):
        assignments.find_submissions(tmp_path)
    with pytest.raises(ValueError, match="no assignment notebooks"):
        assignments.assignment_sources(tmp_path)
    with pytest.raises(ValueError, match="run build first"):
        assignments.grade(tmp_path, dist=tmp_path / "empty")


def test_submissions_are_found_flat_or_one_folder_per_student(tmp_path):
    for rel in ["ada.ipynb", "bob/hw1.ipynb", ".ipynb_checkpoints/ada-checkpoint.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    assert [s for s, _ in assignments.find_submissions(tmp_path)] == ["ada", "bob"]


def test_unreadable_notebook_is_a_grader_error_not_a_crash(built, tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("this is not a notebook")
    result = assignments.grade_submission(path, assignments.autograder_zip(built))
    assert result.status == "grader-error" and result.total == 0 and result.notes
