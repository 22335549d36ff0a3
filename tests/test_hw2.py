"""Assignment 2 (framework and training): the student version leaks no solution, the reference earns 24/24, the
blank 0, and a submission with typical mistakes loses exactly the points of the tests it should fail.

Built and graded the way tests/test_assignments.py does it for hw1 (tools.assignments, the sandboxed child).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.assignment_checks import assert_student_version_leaks_nothing
from tools import assignments

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw2_framework_training"
SOURCE = ROOT / "assignments" / f"{NAME}.ipynb"
POINTS = {"q1": 8, "q2": 6, "q3": 4, "q4": 6}
LIMITS = {"case_timeout": 20, "cell_timeout": 60, "timeout": 300}  # generous: CI shares 2 cores

# A submission with typical mistakes, each an edit of the reference (old text -> new text):
MISTAKES = [
    # Q1: the backward pass by autograd instead of by hand (right values: only the "by hand" test fails, 1 point)
    ("    dscores = log_probs.exp()  # softmax, (N, C)\n",
     "    leaves = [p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2)]\n"
     "    out = torch.relu(X @ leaves[0] + leaves[1]) @ leaves[2] + leaves[3]\n"
     "    torch.autograd.grad(F.cross_entropy(out, y), leaves)\n"
     "    dscores = log_probs.exp()  # softmax, (N, C)\n"),
    # Q2: Adam without bias correction (loses Adam's 2 points and the by-hand test that runs Adam, 1 point)
    ("m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)", "m_hat, v_hat = m, v"),
    # Q3: cnnlab's schedule through an alias taken before the grader replaces it (right values: loses 1 point)
    ("    if t < warmup:\n        return lr0 * (start_factor",
     "    from cnnlab.schedules import schedule as library_schedule\n"
     "    return library_schedule('cosine', lr0, T=total - warmup, lr_T=lr_min, warmup_steps=warmup,\n"
     "                            total_steps=total, start_factor=start_factor)(t)\n"
     "    if t < warmup:\n        return lr0 * (start_factor"),
    # Q4: the ratios measured on seeds 10-14 instead of 0-4: a different honest draw, within the tolerance (0 lost)
    ("    for seed in range(5):\n", "    for seed in range(10, 15):\n"),
]
MISTAKE_SCORES = {"q1": 7.0, "q2": 3.0, "q3": 3.0, "q4": 6.0}
MISTAKE_LOST = {("q1", "backward_without_autograd"), ("q2", "adam_matches_torch"), ("q2", "optimizers_by_hand"),
                ("q3", "schedule_by_hand")}




def with_mistakes() -> str:
    text = SOURCE.read_text()
    for old, new in MISTAKES:
        old_json, new_json = json.dumps(old)[1:-1], json.dumps(new)[1:-1]
        assert text.count(old_json) == 1, f"the reference no longer contains {old!r} once"
        text = text.replace(old_json, new_json)
    return text


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return assignments.build_one(SOURCE, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    """The reference, the blank student notebook and the one with mistakes, graded once: (scores, lost rows)."""
    folder = tmp_path_factory.mktemp("grading")
    subs = folder / "submissions"
    subs.mkdir()
    (subs / "ref.ipynb").write_text(SOURCE.read_text())
    (subs / "blank.ipynb").write_text((built / "student" / f"{NAME}.ipynb").read_text())
    (subs / "mistakes.ipynb").write_text(with_mistakes())
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        path = assignments.grade(subs, NAME, dist=built.parent, out=folder / "scores.csv", **LIMITS)
    with open(path, newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    with open(path.with_name("scores_feedback.csv"), newline="") as f:
        lost = list(csv.DictReader(f))
    return rows, lost


def scores(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


def test_cases_give_each_question_its_points_with_one_public_case():
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert assignments.question_points(cases) == POINTS
    assert sorted(c.question for c in cases if not c.hidden) == sorted(POINTS)


def test_student_version_has_no_solution_code_and_says_how_to_submit(built):
    assert_student_version_leaks_nothing(SOURCE, built / "student", at_least=40)
    student_nb = built / "student" / f"{NAME}.ipynb"
    text = "\n".join("".join(c["source"]) for c in json.loads(student_nb.read_text())["cells"])
    assert all(f"Public check for {q.upper()}" in text for q in POINTS)
    assert "Where to save it" in text and "How to submit" in text and "24 points" in text


def test_reference_scores_full_marks_and_blank_scores_zero(graded):
    rows, lost = graded
    assert scores(rows["ref"]) == {q: float(p) for q, p in POINTS.items()}
    assert rows["ref"]["status"] == "graded" and rows["ref"]["notes"] == ""
    assert scores(rows["blank"]) == {q: 0.0 for q in POINTS}
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert [(r["question"], r["test"]) for r in lost if r["student"] == "blank"] == [(c.question, c.name)
                                                                                     for c in cases]


def test_typical_mistakes_lose_exactly_their_points_and_the_feedback_names_them(graded):
    rows, lost = graded
    assert scores(rows["mistakes"]) == MISTAKE_SCORES
    mine = {(r["question"], r["test"]): r["error"] for r in lost if r["student"] == "mistakes"}
    assert set(mine) == MISTAKE_LOST
    assert "autograd was called" in mine[("q1", "backward_without_autograd")]
    assert "after step 1 of 6" in mine[("q2", "adam_matches_torch")]
    assert "a library schedule was called" in mine[("q3", "schedule_by_hand")]
