"""hw4_cnn_project: the student version leaks nothing, the reference earns 20/20, the blank 0, a rushed one 9.

The grader re-runs each notebook in tools.sandbox's child (the reference trains its CNN there for about 30 CPU
seconds) and scores it here; the held-out labels never leave assignments/hw4_cnn_project_tests.py.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests.assignment_checks import assert_student_version_leaks_nothing, code_cells
from tools import assignments

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw4_cnn_project"
SOURCE = ROOT / "assignments" / f"{NAME}.ipynb"
POINTS = {"q1": 2, "q2": 6, "q3": 6, "q4": 2, "q5": 4}  # automatic; Q4 and Q5 have 3 more each for the instructor
LIMITS = {"case_timeout": 20, "cell_timeout": 120, "timeout": 400}  # generous: CI shares 2 cores

# A rushed submission, three typical mistakes in the reference: the main run is one epoch on raw pixel values
# (the grader feeds normalised images: Q3 0/6, and a one-epoch curve fails both Q4 cases: 0/2), `train` never looks
# at the clock (q2 stops_at_budget, 2 points) and every ablation run uses seed 0 (q5 ablation_seeds_differ, 1).
RUSHED_EDITS = [
    ("MAX_EPOCHS = 11  # SOLUTION", "MAX_EPOCHS = 1"),
    ("history = train(model, X_train, y_train, X_val, y_val, seconds=BUDGET_S, max_epochs=MAX_EPOCHS)",
     "history = train(model, split.X_train.float(), y_train, split.X_val.float(), y_val, seconds=BUDGET_S, "
     "max_epochs=MAX_EPOCHS)"),
    ("            if time.process_time() - start > seconds:\n                out_of_time = True\n                break\n",
     ""),
    ("    set_seed(seed)\n", "    set_seed(0)\n"),
]
RUSHED_LOST = {("q2", "stops_at_budget"), ("q3", "heldout_80"), ("q3", "heldout_84"), ("q3", "heldout_87"),
               ("q4", "diagnosis_label"), ("q4", "curves_consistent"), ("q5", "ablation_seeds_differ")}
RUSHED_POINTS = {"q1": 2, "q2": 4, "q3": 0, "q4": 0, "q5": 3}




def rushed_notebook() -> str:
    nb = json.loads(SOURCE.read_text())
    for old, new in RUSHED_EDITS:
        hits = [c for c in nb["cells"] if c["cell_type"] == "code" and old in "".join(c["source"])]
        assert len(hits) == 1, f"the reference changed: {old[:50]!r} found in {len(hits)} cells"
        hits[0]["source"] = "".join(hits[0]["source"]).replace(old, new)
    return json.dumps(nb)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return assignments.build_one(SOURCE, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory) -> tuple[dict[str, dict[str, str]], Path, str]:
    """The reference, the blank student notebook and the rushed one, graded once: (rows, scores CSV, console)."""
    folder = tmp_path_factory.mktemp("grading")
    subs = folder / "submissions"
    subs.mkdir()
    (subs / "ref.ipynb").write_text(SOURCE.read_text())
    (subs / "blank.ipynb").write_text((built / "student" / f"{NAME}.ipynb").read_text())
    (subs / "rushed.ipynb").write_text(rushed_notebook())
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        path = assignments.grade(subs, NAME, dist=built.parent, out=folder / "scores.csv", **LIMITS)
    with open(path, newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, path, console.getvalue()


def scores(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


def lost_tests(path: Path, student: str) -> set[tuple[str, str]]:
    with open(path.with_name("scores_feedback.csv"), newline="") as f:
        return {(r["question"], r["test"]) for r in csv.DictReader(f) if r["student"] == student}


# ----------------------------------------------------------------------------------------------- build


def test_cases_give_each_question_its_points_with_one_public_case():
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert assignments.question_points(cases) == POINTS
    assert sorted(c.question for c in cases if not c.hidden) == sorted(POINTS)


def test_held_out_labels_never_reach_the_student():
    """No input sent to the child holds the held-out labels, and the notebook never loads the test split."""
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    tests = cases[0].check.__globals__  # the tests module's names, where the labels live
    labels = tests["HELDOUT_Y"]
    assert labels.shape == (tests["HELDOUT_N"],) and len(set(labels.tolist())) == 10
    for case in cases:
        for key, value in case.inputs.items():
            value = np.asarray(value)
            assert not (value.shape == labels.shape and np.array_equal(value, labels)), f"{case.id} sends the labels"
    source = "\n".join(code_cells(SOURCE))
    assert "load_fashion_mnist" not in source and "val_from" not in source and '"test"' not in source


def test_student_version_has_no_solution_code_and_says_how_to_submit(built):
    assert_student_version_leaks_nothing(SOURCE, built / "student", at_least=25)
    student_nb = json.loads((built / "student" / f"{NAME}.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in student_nb["cells"])
    assert all(f"Public check for {q.upper()}" in text for q in POINTS)
    assert "Where to save it" in text and "How to submit" in text and "graded by the instructor" in text
    assert all(c.get("outputs", []) == [] for c in student_nb["cells"] if c["cell_type"] == "code")
    assert [p.name for p in (built / "student").iterdir()] == [f"{NAME}.ipynb"]


# ----------------------------------------------------------------------------------------------- grading


def test_reference_solution_scores_full_marks(graded):
    rows, _, _ = graded
    assert scores(rows["ref"]) == {q: float(p) for q, p in POINTS.items()}
    assert rows["ref"]["status"] == "graded" and rows["ref"]["notes"] == ""


def test_blank_student_version_scores_zero_and_each_lost_point_is_explained(graded):
    rows, path, _ = graded
    assert scores(rows["blank"]) == {q: 0.0 for q in POINTS}
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert lost_tests(path, "blank") == {(c.question, c.name) for c in cases}


def test_rushed_submission_loses_exactly_its_mistakes(graded):
    rows, path, console = graded
    assert scores(rows["rushed"]) == {q: float(p) for q, p in RUSHED_POINTS.items()}
    assert rows["rushed"]["total"] == "9" and rows["rushed"]["status"] == "graded"
    assert lost_tests(path, "rushed") == RUSHED_LOST
    assert "q2 stops_at_budget -2: train(seconds=2) ran for" in console
    assert "does ablation_run pass its seed to set_seed?" in console
