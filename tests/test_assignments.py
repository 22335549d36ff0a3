"""Graded assignments: the student version leaks nothing, the reference earns full marks, the blank earns 0.

The grader runs each submission in tools.sandbox's child process and scores it here (tools/assignments.py);
tests/test_grader_attacks.py tries to cheat it.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from tests.assignment_checks import assert_student_version_leaks_nothing, code_cells
from tools import assignments

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw1_cnn_foundations"
SOURCE = ROOT / "assignments" / f"{NAME}.ipynb"
POINTS = {"q1": 4, "q2": 5, "q3": 3, "q4": 4, "q5": 5, "q6": 7}
LIMITS = {"case_timeout": 20, "cell_timeout": 60, "timeout": 300}  # generous: CI shares 2 cores


# A typical mistake, written into the reference: the dilation forgotten in Q2's output side (the two hidden
# architectures with dilated kernels fail) and Q6's BatchNorm statistics left free to move in net.train().
MISTAKES = [("        return (n + 2 * p - d * (k - 1) - 1) // s + 1", "        return (n + 2 * p - k) // s + 1"),
            ("            m.register_forward_pre_hook(keep_eval)", "            pass")]
MISTAKE_LOSES = {("q2", "trace_stride_padding_dilation"), ("q2", "trace_from_formulas"), ("q6", "transfer_bn_stats_frozen")}




@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """dist/hw1_cnn_foundations, built once for this module."""
    return assignments.build_one(SOURCE, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory) -> tuple[dict[str, dict[str, str]], Path, str]:
    """The reference solution, the blank student notebook and a typical mistake graded once: (rows, CSV, console)."""
    folder = tmp_path_factory.mktemp("grading")
    subs = folder / "submissions"
    subs.mkdir()
    (subs / "ref.ipynb").write_text(SOURCE.read_text())
    (subs / "blank.ipynb").write_text((built / "student" / f"{NAME}.ipynb").read_text())
    mistake = SOURCE.read_text()
    for old, new in MISTAKES:
        old, new = json.dumps(old)[1:-1], json.dumps(new)[1:-1]  # as the notebook's JSON spells them
        assert mistake.count(old) == 1, f"the reference no longer has {old!r}: update MISTAKES"
        mistake = mistake.replace(old, new)
    (subs / "mistake.ipynb").write_text(mistake)
    import contextlib
    import io

    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        path = assignments.grade(subs, NAME, dist=built.parent, out=folder / "scores.csv", **LIMITS)
    with open(path, newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, path, console.getvalue()


def scores(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


# ----------------------------------------------------------------------------------------------- build


def test_cases_give_each_question_its_points_with_one_public_case():
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert assignments.question_points(cases) == POINTS
    assert sorted(c.question for c in cases if not c.hidden) == sorted(POINTS)  # one public case per question


def test_student_version_has_no_solution_code_and_no_grader_tests(built):
    assert_student_version_leaks_nothing(SOURCE, built / "student", at_least=20)


def test_student_version_keeps_the_public_checks_and_says_how_to_submit(built):
    nb = json.loads((built / "student" / f"{NAME}.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert all(f"Public check for {q.upper()}" in text for q in POINTS)
    assert "Where to save it" in text and "How to submit" in text and "otter" not in text
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")


def test_solution_markers_become_ellipses():
    source = "def f(x):\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n\nz = f(2)  # SOLUTION"
    assert assignments._strip_solutions(source) == "def f(x):\n    ...  # your code here\n\nz = ..."
    with pytest.raises(ValueError, match="without its"):
        assignments._strip_solutions("# BEGIN SOLUTION\nx = 1")


# ----------------------------------------------------------------------------------------------- grading


def test_reference_solution_scores_full_marks(graded):
    rows, _, _ = graded
    assert scores(rows["ref"]) == {q: float(p) for q, p in POINTS.items()}
    assert rows["ref"]["total"] == rows["ref"]["possible"] == str(sum(POINTS.values()))
    assert rows["ref"]["status"] == "graded" and rows["ref"]["notes"] == ""


def test_blank_student_version_scores_zero_and_each_lost_point_is_explained(graded):
    rows, path, console = graded
    assert scores(rows["blank"]) == {q: 0.0 for q in POINTS}
    assert "raised an error" in rows["blank"]["notes"]
    with open(path.with_name("scores_feedback.csv"), newline="") as f:
        lost = [row for row in csv.DictReader(f) if row["student"] == "blank"]
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert [(r["question"], r["test"]) for r in lost] == [(c.question, c.name) for c in cases]
    assert sum(float(r["points_lost"]) for r in lost) == sum(POINTS.values())
    assert all(r["error"] and "\n" not in r["error"] for r in lost)
    assert "    q1 conv2d_shape -1: ValueError: returned NoneType" in console


def test_a_typical_mistake_loses_exactly_its_own_points(graded):
    rows, path, _ = graded
    with open(path.with_name("scores_feedback.csv"), newline="") as f:
        lost = {(r["question"], r["test"]) for r in csv.DictReader(f) if r["student"] == "mistake"}
    assert lost == MISTAKE_LOSES
    assert scores(rows["mistake"]) == {**{q: float(p) for q, p in POINTS.items()}, "q2": 3.0, "q6": 6.0}
    assert rows["mistake"]["total"] == "25" and rows["mistake"]["status"] == "graded"


def test_canvas_csv_has_the_gradebook_columns_and_totals(graded):
    _, path, _ = graded
    with open(path.with_name("scores_canvas.csv"), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", NAME]
    assert rows[1][0].strip() == "Points Possible" and rows[1][-1] == "28"
    assert {r[3]: r[-1] for r in rows[2:]} == {"ref": "28", "blank": "0", "mistake": "25"}


# ----------------------------------------------------------------------------------------------- hw1's hidden inputs


def test_q5_unseen_runs_are_the_case_they_were_drawn_as_by_the_course_rules():
    from cnnlab.curves import diagnose
    cases = [c for c in assignments.load_cases(NAME, ROOT / "assignments") if c.name.startswith("diagnose_unseen_")]
    assert sorted(c.name.removeprefix("diagnose_unseen_") for c in cases) == sorted(
        ["underfit", "overfit", "undertrained", "good_fit"])
    for case in cases:
        runs = [(case.inputs[f"train{i}"].tolist(), case.inputs[f"val{i}"].tolist())
                for i in range(int(case.inputs["count"]))]
        assert len(runs) >= 5 and len({len(t) for t, _ in runs}) > 1  # several runs, of different lengths
        labels = [diagnose(train, val).label for train, val in runs]
        assert labels == [case.name.removeprefix("diagnose_unseen_")] * len(runs), case.name


def test_q2_hidden_architectures_use_every_option_the_prompt_lists():
    specs = [spec for c in assignments.load_cases(NAME, ROOT / "assignments") if c.question == "q2" and c.hidden
             for key in c.inputs if key.startswith("arch") for spec in json.loads(str(c.inputs[key]))]
    convs = [s for s in specs if s["type"] == "conv"]
    assert any(isinstance(s["kernel_size"], list) and s["kernel_size"][0] != s["kernel_size"][1] for s in convs)
    assert any(s.get("dilation", 1) not in (1, [1, 1]) for s in convs)
    assert any(s.get("groups", 1) > 1 for s in convs) and any(s.get("bias") is False for s in convs)
    assert any(s["type"] == "maxpool" and "stride" not in s for s in specs)  # the default stride = kernel_size
    assert any(s["type"] == "avgpool" and s.get("padding", 0) > 0 for s in specs)
    assert any(s["type"] == "linear" and s.get("bias") is False for s in specs)
    after_flatten = [specs[i + 1]["type"] for i in range(len(specs) - 1) if specs[i]["type"] == "linear"]
    assert "batchnorm" in after_flatten  # BatchNorm on features (1-D) as well as on images


# ----------------------------------------------------------------------------------------------- bad input


def test_bad_input_says_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        assignments.find_submissions(tmp_path / "missing")
    with pytest.raises(ValueError, match="no .ipynb files"):
        assignments.find_submissions(tmp_path)
    with pytest.raises(ValueError, match="no assignment notebooks"):
        assignments.assignment_sources(tmp_path)
    with pytest.raises(ValueError, match="no grader tests"):
        assignments.load_cases("hw9", tmp_path)
    with pytest.raises(ValueError, match="no assignment 'hw9'"):
        assignments.grade(tmp_path, "hw9", source_dir=ROOT / "assignments")
    with pytest.raises(ValueError, match="points must be a positive number"):
        assignments.Case("q1", "x", 0, print, print)
    with pytest.raises(ValueError, match="numbers or text"):
        assignments.Case("q1", "x", 1, print, print, inputs={"f": print})


def test_submissions_are_found_flat_or_one_folder_per_student(tmp_path):
    for rel in ["ada.ipynb", "bob/hw1.ipynb", ".ipynb_checkpoints/ada-checkpoint.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    assert [s for s, _ in assignments.find_submissions(tmp_path)] == ["ada", "bob"]


def test_unreadable_notebook_is_a_grader_error_not_a_crash(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("this is not a notebook")
    result = assignments.grade_submission(path, NAME, source_dir=ROOT / "assignments", dist=tmp_path)
    assert result.status == "grader-error" and result.total == 0 and result.possible == sum(POINTS.values())
    assert len(result.lost) == len(assignments.load_cases(NAME, ROOT / "assignments"))


# ----------------------------------------------------------------------------------------------- a new assignment

TINY_TESTS = '''
from tools.assignments import Case


def probe_add(ns, inputs):
    return {"sum": ns["add"](int(inputs["a"]), int(inputs["b"]))}


def check_add(out, inputs):
    assert out["sum"] == inputs["a"] + inputs["b"], "add(a, b) is not a + b"


CASES = [Case("q1", "add_small", 1, probe_add, check_add, hidden=False, inputs={"a": 2, "b": 3}),
         Case("q1", "add_negative", 2, probe_add, check_add, inputs={"a": -7, "b": 4})]
'''


def tiny_assignment(folder: Path, solution: str) -> Path:
    """assignments/hw0_tiny: one question, a notebook and a tests file, nothing else (no torch: fast)."""
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": f"def add(a, b):\n    # BEGIN SOLUTION\n    return {solution}\n    # END SOLUTION"}
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "## Q1. add (3 points)"}, cell],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    folder.mkdir(parents=True)
    (folder / "hw0_tiny.ipynb").write_text(json.dumps(nb))
    (folder / "hw0_tiny_tests.py").write_text(TINY_TESTS)
    return folder


def test_a_new_assignment_is_a_notebook_and_a_tests_file_and_build_prints_both_scores(tmp_path, capsys):
    source = tiny_assignment(tmp_path / "assignments", "a + b")
    assert assignments.main(["build", "--source", str(source), "--dist", str(tmp_path / "dist")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"hw0_tiny: reference solution 3/3 \(.* s\), blank student notebook 0/3 \(.* s\)", out[0])
    student = code_cells(tmp_path / "dist" / "hw0_tiny" / "student" / "hw0_tiny.ipynb")
    assert student == ["def add(a, b):\n    ...  # your code here"]


def test_build_fails_when_the_reference_loses_points(tmp_path, capsys):
    source = tiny_assignment(tmp_path / "assignments", "a + b if a > 0 else 0")  # wrong for a < 0
    assert assignments.main(["build", "--source", str(source), "--dist", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err
    assert "error: the reference solution of hw0_tiny scores 1/3 (graded; q1 add_negative: add(a, b) is not a + b)" \
        in err


def test_a_sandbox_that_cannot_start_is_a_grader_error_not_a_zero(tmp_path, monkeypatch):
    source = tiny_assignment(tmp_path / "assignments", "a + b")
    monkeypatch.setattr(assignments.sys, "executable", str(tmp_path / "no-such-python"))
    result = assignments.grade_submission(source / "hw0_tiny.ipynb", "hw0_tiny", source_dir=source, dist=tmp_path)
    assert result.status == "grader-error" and result.total == 0
    assert "the sandbox or its Python did not start" in result.notes
