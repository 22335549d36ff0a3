"""Problem set 3 (layers' backward passes): the student version leaks no solution, the reference earns 28/28, the
blank 0, and a flawed submission exactly the points of what it got right: typical mistakes lose their tests, and
right answers taken from the library or autograd instead of written score 0, with feedback that names what was used.

Graded like every assignment by tools.assignments (tests/test_assignments.py tests the grader itself); three
gradings in all, 2-5 s each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.assignment_checks import assert_student_version_leaks_nothing, code_cells
from tools import assignments

ROOT = Path(__file__).resolve().parents[1]
NAME = "hw3_layer_backprop"
SOURCE = ROOT / "assignments" / f"{NAME}.ipynb"
POINTS = {"q1": 3, "q2": 6, "q3": 5, "q4": 7, "q5": 3, "q6": 4}
LIMITS = {"case_timeout": 20, "cell_timeout": 60, "timeout": 300}  # generous: CI shares 2 cores




def solution_block(function: str) -> str:
    """The reference's BEGIN/END SOLUTION block of `function` (its lines, markers included)."""
    cell = next(c for c in code_cells(SOURCE) if f"def {function}(" in c)
    body = cell[cell.index(f"def {function}("):]
    start = body.index("    # BEGIN SOLUTION")
    return body[start: body.index("    # END SOLUTION") + len("    # END SOLUTION")]


def variant(replacements: dict[str, str]) -> dict:
    """The reference notebook with some of its text replaced (each must occur exactly once)."""
    nb = json.loads(SOURCE.read_text())
    text = {i: "".join(c["source"]) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"}
    for old, new in replacements.items():
        hits = [i for i, source in text.items() if old in source]
        assert len(hits) == 1 and text[hits[0]].count(old) == 1, f"{old!r} must occur once in the reference"
        text[hits[0]] = text[hits[0]].replace(old, new)
    for i, source in text.items():
        nb["cells"][i]["source"] = source
    return nb


# A flawed submission. Two typical mistakes: overwriting instead of adding where pooling windows overlap (q3, -2)
# and storing the biased variance in running_var (q4, -1). And right answers taken from the library or autograd
# instead of written, which must score 0 with feedback naming what was used: cnnlab's own convolution (q1, -3: its
# operators are allowed, only the patch sees it); autograd through torch.autograd.grad saved in a cell before any
# probe ran (q2, -6); pooling through torch.ops, below any Python patch (q3 forward, -2); F.batch_norm and autograd
# for BatchNorm's backward (q4, -3); torch.func.vjp saved in a cell, which the operator watch cannot see (q5, -3);
# F.conv_transpose2d inside a try whose fallback is the right answer (q6, -4).
FLAWED = {
    "import torch\n": "import torch\nfrom torch.func import vjp\n\n_saved_grad = torch.autograd.grad\n",
    "dX[:, :, rows, cols] += dout * (first_max == i * k + j)": "dX[:, :, rows, cols] = dout * (first_max == i * k + j)",
    "add_(momentum * var * m / (m - 1))": "add_(momentum * var)",
    "    H_out = (H - 1) * stride - 2 * padding + kH\n":
        "    try:\n        return F.conv_transpose2d(x, W, stride=stride, padding=padding)\n"
        "    except Exception:\n        pass  # switched off by the grader: do it by hand\n"
        "    H_out = (H - 1) * stride - 2 * padding + kH\n",
}
SHORTCUTS = {
    "conv2d_forward": "from cnnlab.conv_arith import conv2d_im2col\n"
                      "    return conv2d_im2col(X, W, b, stride=stride, padding=padding)",
    "conv2d_backward": "X, W = X.detach().requires_grad_(), W.detach().requires_grad_()\n"
                       "    out = W.flatten(1) @ F.unfold(X, W.shape[2:], padding=padding, stride=stride)  # allowed\n"
                       "    dX, dW = _saved_grad(out, (X, W), dout.flatten(2))\n"
                       "    return dX, dW, dout.sum(dim=(0, 2, 3))",
    "maxpool_forward": "return torch.ops.aten.max_pool2d_with_indices(X, [k, k], [s, s])[0]",
    "batchnorm_backward": "X, gamma = X.detach().requires_grad_(), gamma.detach().requires_grad_()\n"
                          "    out = F.batch_norm(X, None, None, gamma, None, True, eps=eps)\n"
                          "    dX, dgamma = torch.autograd.grad(out, (X, gamma), dout)\n"
                          "    return dX, dgamma, dout.sum(dim=dims)",
    "dropout_backward": "_, pullback = vjp(lambda t: dropout_forward(t, p, mask, training), torch.zeros_like(dout))\n"
                        "    return pullback(dout)[0]",
}
FLAWED_POINTS = {"q1": 0, "q2": 0, "q3": 1, "q4": 3, "q5": 0, "q6": 0}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """dist/hw3_layer_backprop, built once for this module."""
    return assignments.build_one(SOURCE, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory) -> tuple[dict[str, dict[str, str]], dict[str, list[dict[str, str]]]]:
    """Reference, blank and flawed graded once: (scores rows, lost tests) by student."""
    folder = tmp_path_factory.mktemp("grading")
    subs = folder / "submissions"
    subs.mkdir()
    (subs / "ref.ipynb").write_text(SOURCE.read_text())
    (subs / "blank.ipynb").write_text((built / "student" / f"{NAME}.ipynb").read_text())
    flawed = FLAWED | {solution_block(f): f"    {body}" for f, body in SHORTCUTS.items()}
    (subs / "flawed.ipynb").write_text(json.dumps(variant(flawed)))
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        path = assignments.grade(subs, NAME, dist=built.parent, out=folder / "scores.csv", source_dir=ROOT /
                                 "assignments", **LIMITS)
    with open(path, newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    lost: dict[str, list[dict[str, str]]] = {student: [] for student in rows}
    with open(path.with_name("scores_feedback.csv"), newline="") as f:
        for row in csv.DictReader(f):
            lost[row["student"]].append(row)
    return rows, lost


def scores(row: dict[str, str]) -> dict[str, float]:
    return {q: float(row[q]) for q in POINTS}


# ----------------------------------------------------------------------------------------------- build


def test_cases_give_each_question_its_points_with_one_public_case():
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert assignments.question_points(cases) == POINTS
    assert sorted(c.question for c in cases if not c.hidden) == sorted(POINTS)  # one public case per question


def test_student_version_has_no_solution_code_and_no_grader_tests(built):
    assert_student_version_leaks_nothing(SOURCE, built / "student", at_least=40)


def test_student_version_keeps_the_public_checks_the_gradient_check_and_says_how_to_submit(built):
    nb = json.loads((built / "student" / f"{NAME}.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert all(f"Public check for {q.upper()}" in text for q in POINTS)
    assert "def numerical_gradient(" in text and "def rel_error(" in text  # given, whole
    assert "Where to save it" in text and "How to submit" in text and "otter" not in text
    assert "Follows notebooks 02" in text and "28 points" in text and "about 3 hours" in text
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")


# ----------------------------------------------------------------------------------------------- grading


def test_reference_solution_scores_full_marks(graded):
    rows, lost = graded
    assert scores(rows["ref"]) == {q: float(p) for q, p in POINTS.items()}, lost["ref"]
    assert rows["ref"]["total"] == rows["ref"]["possible"] == str(sum(POINTS.values()))
    assert rows["ref"]["status"] == "graded" and rows["ref"]["notes"] == ""


def test_blank_student_version_scores_zero_and_each_lost_point_is_explained(graded):
    rows, lost = graded
    assert scores(rows["blank"]) == {q: 0.0 for q in POINTS}
    cases = assignments.load_cases(NAME, ROOT / "assignments")
    assert [(r["question"], r["test"]) for r in lost["blank"]] == [(c.question, c.name) for c in cases]
    assert all(r["error"] and "\n" not in r["error"] for r in lost["blank"])


def test_a_flawed_submission_loses_exactly_its_wrong_and_borrowed_tests_with_feedback_that_names_them(graded):
    rows, lost = graded
    assert scores(rows["flawed"]) == {q: float(p) for q, p in FLAWED_POINTS.items()}, lost["flawed"]
    errors = {r["test"]: r["error"] for r in lost["flawed"]}
    kept = {"pool_backward", "bn_train_public", "bn_train_2d_and_4d", "bn_eval"}
    assert sorted(errors) == sorted(c.name for c in assignments.load_cases(NAME, ROOT / "assignments")
                                    if c.name not in kept)
    assert "maxpool_backward" in errors["pool_backward_overlapping"] and "several windows" in \
        errors["pool_backward_overlapping"]
    assert "running_var" in errors["bn_running_stats"] and "unbiased" in errors["bn_running_stats"]
    borrowed = {test: e for test, e in errors.items() if test not in ("pool_backward_overlapping", "bn_running_stats")}
    assert all(e.startswith("your code used ") for e in borrowed.values()), borrowed  # the guard, not a wrong value
    assert "cnnlab.conv_arith.conv2d_im2col" in errors["conv_forward_stride_padding"]
    assert "torch.autograd.grad (through a name saved" in errors["conv_backward_dW"]
    assert "autograd (a tensor that requires grad)" in errors["conv_backward_dW"]
    assert "a library operator (max_pool2d_with_indices)" in errors["pool_forward_shapes"]  # torch.ops: no patch
    assert "torch.nn.functional.batch_norm" in errors["bn_backward_dX"]
    assert "torch.func.vjp (through a name saved" in errors["dropout_train"]
    assert "torch.nn.functional.conv_transpose2d" in errors["conv_transpose_channels"]  # caught, fallback right
