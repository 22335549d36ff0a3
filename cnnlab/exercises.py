"""Exercises with instant feedback: `check("02.3", answer)` says right, or what is wrong without giving the answer away.

Three kinds, as the notebooks use them:

- **predict**: write a number or a shape down first, then check it (`check("02.1", (8, 22, 22))`);
- **code**: complete a function; it is run on inputs you have not seen, with PyTorch as the oracle
  (`check("02.4", my_conv_output_size)`);
- **explain**: a short written answer; `solution(...)` reveals the model answer to compare with.

`hint(id)` climbs a ladder of hints one rung per call; `solution(id)` shows the model solution. Every exercise of the
course is defined once, in the bank module of its notebook (`cnnlab/_exercises_02.py`, ...): the notebooks call it and `tests/test_exercises.py` runs each model solution (it must
pass) and a typical wrong answer (it must fail, with feedback that does not contain the solution).

>>> check("02.2", 760)
Right: 5*5*3 = 75 weights per filter, 10 filters, plus 10 biases.

`check` prints its verdict and returns nothing, so a notebook cell that ends with it shows the sentence and no
bare `True`/`False` after it.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.validation import check_choice, check_float, check_str

__all__ = ["check", "hint", "solution", "exercises", "compare_with_lecture", "Exercise", "add", "number_judge",
           "float_judge", "shape_judge"]

Feedback = tuple[bool, str]  # (right?, what to say)


@dataclass(frozen=True)
class Exercise:
    """One exercise: what it asks, how an answer is judged, a ladder of hints and the model solution.

    `model` and `wrong` are a correct answer and a typical wrong one, for the tests (never shown to the learner).
    """

    id: str
    kind: str  # "predict" | "code" | "explain"
    question: str
    judge: Callable[[Any], Feedback] | None  # None for "explain"
    hints: tuple[str, ...]
    solution: str
    model: Any = None
    wrong: Any = None


_BANK: dict[str, Exercise] = {}
_HINTS_SHOWN: dict[str, int] = {}
_BANKS_LOADED: list[bool] = []  # how many rungs of each ladder this kernel has climbed


def add(ex: Exercise) -> Exercise:
    """Register an exercise (the bank modules `cnnlab/_exercises_NN.py` call this once per exercise)."""
    if ex.id in _BANK:
        raise ValueError(f"exercise {ex.id!r} is defined twice")
    check_choice("kind", ex.kind, ("predict", "code", "explain"))
    if (ex.judge is None) != (ex.kind == "explain") or not ex.hints:
        raise ValueError(f"exercise {ex.id!r}: an explain exercise has no judge, the others do; all have hints")
    _BANK[ex.id] = ex
    return ex


def _load_banks() -> None:
    """Import every bank module cnnlab/_exercises_NN.py once (each registers its notebook's exercises with `add`)."""
    if _BANKS_LOADED:
        return
    _BANKS_LOADED.append(True)
    for path in sorted(Path(__file__).parent.glob("_exercises_*.py")):
        importlib.import_module(f"cnnlab.{path.stem}")


def _get(exercise_id: str) -> Exercise:
    _load_banks()
    check_str("exercise_id", exercise_id)
    if exercise_id not in _BANK:
        raise ValueError(f"no exercise {exercise_id!r}; this course has {', '.join(sorted(_BANK))}")
    return _BANK[exercise_id]


def exercises(notebook: str | None = None) -> list[str]:
    """The ids of every exercise, or of one notebook's ("02").

    >>> exercises("02")[:3]
    ['02.1', '02.2', '02.3']
    """
    _load_banks()
    ids = sorted(_BANK)
    return ids if notebook is None else [i for i in ids if i.split(".")[0] == check_str("notebook", notebook)]


def check(exercise_id: str, answer: Any) -> None:
    """Judge `answer` to exercise `exercise_id` and print what is right or wrong (and, if wrong, where to get a hint).

    An answer left at `...` (Ellipsis) or None is "not answered yet", not wrong.
    """
    _judge(exercise_id, answer)


def _judge(exercise_id: str, answer: Any) -> bool:
    """`check`'s work: print the verdict and return True if the answer is right (the tests read the bool)."""
    ex = _get(exercise_id)
    if ex.kind == "explain":
        print(f"{exercise_id} is an explain exercise: write your answer in the cell, then compare it with "
              f"solution({exercise_id!r}).")
        return False
    if answer is None or answer is Ellipsis:
        print("No answer yet: replace the ... with your answer, then run the cell again.")
        return False
    try:
        ok, message = ex.judge(answer)
    except Exception as err:  # the learner's code raised: say so, with its own error
        ok, message = False, f"your code raised {type(err).__name__}: {err}"
    if ok:
        print(f"Right: {message}" if message else "Right.")
    elif message.startswith("your function returns None"):  # the template as handed out: not wrong, just empty
        print(f"No answer yet: {message}.")
    else:
        print(f"Not yet: {message} (hint({exercise_id!r}) gives a hint)")
    return ok


def hint(exercise_id: str) -> None:
    """Print the next hint of the exercise's ladder; after the last, say how to see the solution."""
    ex = _get(exercise_id)
    shown = _HINTS_SHOWN.get(exercise_id, 0)
    if shown >= len(ex.hints):
        print(f"No more hints. solution({exercise_id!r}) shows the model solution.")
        return
    _HINTS_SHOWN[exercise_id] = shown + 1
    print(f"Hint {shown + 1}/{len(ex.hints)}: {ex.hints[shown]}")


def solution(exercise_id: str) -> None:
    """Print the model solution (try the hints first)."""
    print(_get(exercise_id).solution)


def compare_with_lecture(what: str, got: Any, expected: Any, setting: str = "") -> None:
    """Say whether a worked example still gives the lecture's numbers, instead of stopping the notebook.

    A learner who changes a stride or a filter sees what differs and why, not an empty AssertionError:

    >>> compare_with_lecture("the 2x2 max pool", [[6, 8], [3, 4]], [[6, 8], [3, 4]])
    the 2x2 max pool: the same as in the lecture's example.
    >>> compare_with_lecture("the output size", 4, 5, "a 7x7 input and a 3x3 kernel, stride 1")
    the output size: 4 here, 5 in the lecture's example, which used a 7x7 input and a 3x3 kernel, stride 1. If you changed a setting above, that is expected.
    """
    check_str("what", what)
    check_str("setting", setting)
    if isinstance(got, torch.Tensor):
        got = got.tolist()
    if got == expected:
        print(f"{what}: the same as in the lecture's example.")
        return
    used = f", which used {setting}" if setting else ""
    print(f"{what}: {got} here, {expected} in the lecture's example{used}. "
          f"If you changed a setting above, that is expected.")


# ----------------------------------------------------------------------------------------------------------
# Judges: each compares with the truth and names the mistake it recognises, never the expected value
# ----------------------------------------------------------------------------------------------------------
def _as_int(answer: Any, what: str) -> int | None:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not float(answer).is_integer():
        return None
    return int(answer)


def number_judge(truth: int, known: dict[int, str], unit: str) -> Callable[[Any], Feedback]:
    """A judge for a whole number: right, a recognised mistake (`known`: wrong value -> what went wrong), or off."""

    def judge(answer: Any) -> Feedback:
        value = _as_int(answer, unit)
        if value is None:
            return False, f"the answer is a whole number of {unit}, got {answer!r}"
        if value == truth:
            return True, known.get(truth, "")
        if value in known:
            return False, known[value]
        side = "high" if value > truth else "low"
        return False, f"{value} is too {side}; count again, step by step"

    return judge


def float_judge(truth: float, known: dict[float, str], unit: str, rel: float = 1e-6,
                otherwise: str = "") -> Callable[[Any], Feedback]:
    """A judge for a real number (a learning rate, an activation): right within `rel`, a recognised mistake (`known`:
    wrong value -> what went wrong, `known[truth]` the praise), or `otherwise` (default: too high or too low).

    >>> judge = float_judge(0.2, {0.2: "x4", 0.05: "scale it"}, "learning rate")
    >>> judge(0.2), judge(0.05), judge("a")
    ((True, 'x4'), (False, 'scale it'), (False, "the answer is a number (learning rate), got 'a'"))
    """
    check_float("truth", truth)
    check_float("rel", rel, gt=0)

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3)

    def judge(answer: Any) -> Feedback:
        if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
            return False, f"the answer is a number ({unit}), got {answer!r}"
        if close(answer, truth):
            return True, known.get(truth, "")
        for value, message in known.items():
            if close(answer, value):
                return False, message
        return False, otherwise or f"{answer:g} is too {'high' if answer > truth else 'low'}"

    return judge


def shape_judge(truth: tuple[int, ...], mistakes: Callable[[int], str | None], why: str) -> Callable[[Any], Feedback]:
    """A judge for a (C, H, W) shape (a leading batch size of 1 is accepted); `mistakes(h)` names a wrong height."""

    def judge(answer: Any) -> Feedback:
        if not isinstance(answer, (tuple, list, torch.Size)) or not all(_as_int(a, "") is not None for a in answer):
            return False, f"write the shape as a tuple of ints (C, H, W), got {answer!r}"
        shape = tuple(int(a) for a in answer)
        if len(shape) == len(truth) + 1 and shape[0] == 1:
            shape = shape[1:]
        if len(shape) != len(truth):
            return False, f"a (C, H, W) shape has {len(truth)} numbers, you wrote {len(shape)}"
        C, H, W = shape
        parts = []
        if C != truth[0]:
            parts.append("the number of channels is not right: one output channel per filter")
        wrong = [(name, got) for name, got, want in (("height", H, truth[1]), ("width", W, truth[2])) if got != want]
        if len(wrong) == 2 and H == W:  # the same mistake on both axes: say it once
            wrong = [("height and width", H)]
        for name, got in wrong:
            verb = "are" if " and " in name else "is"
            parts.append(f"the {name} {verb} not right" + (f": {mistakes(got)}" if mistakes(got) else ""))
        if not parts:
            return True, why
        right = [n for n, g, w in (("channels", C, truth[0]), ("height", H, truth[1]), ("width", W, truth[2]))
                 if g == w]
        return False, "; ".join(parts) + (f" ({' and '.join(right)} right)" if right else "")

    return judge
