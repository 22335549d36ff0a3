"""Exercises with feedback: every model solution passes its check, a typical wrong answer fails with feedback that
does not give the solution away, the hint ladder ends in the solution, and the notebooks call only exercises that
exist. The code exercises' oracle is PyTorch (checked here by feeding it its own answers and deliberate bugs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cnnlab import exercises as ex
from cnnlab.exercises import _load_banks
from cnnlab.exercises import _judge as judge
from cnnlab.exercises import check, exercises, hint, solution

ROOT = Path(__file__).resolve().parents[1]
_load_banks()
JUDGED = [i for i in exercises() if ex._BANK[i].kind != "explain"]


@pytest.mark.parametrize("exercise_id", JUDGED)
def test_the_model_answer_passes(exercise_id, capsys):
    assert judge(exercise_id, ex._BANK[exercise_id].model) is True
    assert capsys.readouterr().out.startswith("Right")


@pytest.mark.parametrize("exercise_id", JUDGED)
def test_a_typical_wrong_answer_fails_without_giving_the_solution_away(exercise_id, capsys):
    e = ex._BANK[exercise_id]
    assert judge(exercise_id, e.wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: ") and f"hint({exercise_id!r})" in out
    feedback = out.split(f"(hint({exercise_id!r})")[0]  # the message itself, without the pointer to the hints
    if e.kind == "predict" and isinstance(e.model, str):  # the expected label never appears in it
        assert e.model not in feedback, out
    elif e.kind == "predict" and isinstance(e.model, (int, float, tuple)):  # nor the expected number
        truth = max(e.model) if isinstance(e.model, tuple) else e.model
        shown = f"{truth:g}" if isinstance(truth, float) else str(truth)
        assert not re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d])", feedback), out
    else:  # nor does the solution's code
        assert "def " not in out and "return" not in out


def test_predict_feedback_names_the_mistake():
    assert not judge("02.1", (8, 30, 30))  # no padding
    assert not judge("02.1", (8, 33, 33))  # ceil instead of floor
    assert not judge("02.1", (4, 32, 32))  # channels


@pytest.mark.parametrize("answer, says", [
    ((8, 30, 30), "without padding"),
    ((8, 31, 31), "one side only"),
    ((8, 33, 33), "rounds down"),
    ((3, 32, 32), "one output channel per filter"),
    ((1, 8, 32, 32), "Right"),
    ([8, 32], "has 3 numbers"),
    ("8x32x32", "tuple of ints"),
])
def test_shape_feedback(answer, says, capsys):
    judge("02.1", answer)
    assert says in capsys.readouterr().out


def test_unanswered_and_raising_code_are_not_crashes(capsys):
    assert judge("02.2", ...) is False and "No answer yet" in capsys.readouterr().out
    assert judge("02.4", lambda n, k, s, p, d: 1 / 0) is False
    assert "your code raised ZeroDivisionError" in capsys.readouterr().out
    assert judge("02.4", 42) is False and "pass your function itself" in capsys.readouterr().out


def test_code_checks_catch_real_bugs_on_unseen_inputs():
    """Each deliberate bug is caught: the judges test on settings the notebook never shows."""
    assert not judge("02.4", lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s)  # forgets + 1
    assert not judge("02.4", lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1)  # no floor
    assert not judge("02.4", lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1)  # pads one side
    assert not judge("02.5", lambda x, w, s, p: F.conv2d(x[None, None], w[None, None], stride=s)[0, 0])  # no pad
    assert not judge("02.5", lambda x, w, s, p: F.conv2d(x[None, None], w[None, None], padding=p)[0, 0])  # stride 1
    assert judge("02.5", lambda x, w, s, p: F.conv2d(x[None, None], w[None, None], stride=s, padding=p)[0, 0])


def test_the_loop_solution_shown_to_learners_is_itself_correct():
    """solution('02.5') prints code; run that code through the same judge."""
    namespace = {"torch": torch}
    exec(ex._BANK["02.5"].solution, namespace)  # noqa: S102 (our own solution text)
    assert judge("02.5", namespace["conv2d_single"])
    exec(ex._BANK["02.4"].solution, namespace)  # noqa: S102
    assert judge("02.4", namespace["output_size"])


def test_hint_ladder_then_solution(capsys):
    ex._HINTS_SHOWN.pop("02.3", None)
    for rung in range(1, len(ex._BANK["02.3"].hints) + 1):
        hint("02.3")
        assert capsys.readouterr().out.startswith(f"Hint {rung}/")
    hint("02.3")
    assert "No more hints" in capsys.readouterr().out
    solution("02.3")
    assert capsys.readouterr().out.startswith("7:")


def test_explain_exercises_point_to_their_model_answer(capsys):
    assert judge("02.6", "it mixes channels") is False
    assert "solution('02.6')" in capsys.readouterr().out


def test_unknown_exercise_and_bad_id():
    with pytest.raises(ValueError, match="no exercise '99.1'"):
        check("99.1", 3)
    with pytest.raises(TypeError, match="exercise_id must be a str"):
        hint(2.1)


def test_every_exercise_a_notebook_calls_exists_and_each_exercise_is_in_its_notebook():
    called = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for found in re.findall(r"""(?:check|hint|solution)\(["'](\d\d\.\d+)["']""", text):
            called.setdefault(found, set()).add(path.name[:2])
    assert set(called) <= set(exercises()), f"notebooks call unknown exercises: {set(called) - set(exercises())}"
    for exercise_id in exercises():
        assert exercise_id.split(".")[0] in called.get(exercise_id, set()), f"{exercise_id} is in no notebook"


def test_check_prints_its_verdict_and_shows_no_bare_bool(capsys):
    """A notebook cell that ends with `check(...)` would show a bare True/False under the sentence if check returned
    it; it returns None, and no check cell of a notebook shows an Out[] value."""
    assert check("02.2", 760) is None and capsys.readouterr().out.startswith("Right")
    assert check("02.2", 761) is None and capsys.readouterr().out.startswith("Not yet")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and re.search(r"^check\(", "".join(cell["source"]), flags=re.M):
                shown = [o for o in cell.get("outputs", []) if o["output_type"] == "execute_result"]
                assert not shown, f"{path.name}: a check cell shows {shown[0]['data']}: re-execute the notebook"
