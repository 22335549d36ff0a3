"""The exercises of notebook 10 (learning curves): diagnoses and best epochs to predict from described curves, two
functions to write (the overfit rule's evidence, and the leak finder), checked against `cnnlab.curves` on random
curves and images the notebook never shows; what a 2x2 pooling discards (the lectures' good-practice checklist) and a
cell of the data-size x model-complexity table to predict."""

from __future__ import annotations

from typing import Any

import torch

from cnnlab.curves import LABELS, diagnose, duplicates
from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution

_ALIASES = {"overfitting": "overfit", "underfitting": "underfit", "good": "good_fit", "goodfit": "good_fit",
            "under_trained": "undertrained", "unrepresentative_validation": "unrepresentative_val",
            "validation_easier": "val_easier"}


def _label_judge(train: list[float], val: list[float], known: dict[str, str], why: str):
    """A judge for a diagnosis label (one of `cnnlab.curves.LABELS`); the truth is `diagnose` on the curves shown."""
    truth = diagnose(train, val).label

    def judge(answer: Any) -> Feedback:
        if not isinstance(answer, str):
            return False, f"write the label as a str, one of {', '.join(LABELS)}; got {type(answer).__name__}"
        label = answer.strip().lower().replace(" ", "_").replace("-", "_")
        label = _ALIASES.get(label, label)
        if label not in LABELS:
            return False, f"{answer!r} is not a label; write one of {', '.join(LABELS)}"
        if label == truth:
            return True, why
        return False, known.get(label, f"{label} does not fit these curves; go through the seven rules in order")

    return judge


# ----------------------------------------------------------------------------------------------------------
# 10.1, 10.2: which case?
# ----------------------------------------------------------------------------------------------------------
_TRAIN_1 = [2.3, 2.0, 1.75, 1.55, 1.38, 1.24]
_VAL_1 = [2.3, 2.02, 1.78, 1.6, 1.44, 1.31]

add(Exercise(
    id="10.1", kind="predict",
    question=f"Which label does diagnose give to train_loss = {_TRAIN_1}, val_loss = {_VAL_1}?",
    judge=_label_judge(_TRAIN_1, _VAL_1, {
        "underfit": "the training loss fell by far more than 25% of its first value: this model can learn",
        "overfit": "overfitting needs the validation loss to turn up after a minimum; here it never does",
        "good_fit": "a good fit has settled; look at how much the last epochs still gave",
        "unrepresentative_train": "the gap between the curves is small, far below 25% of the first loss",
        "unrepresentative_val": "the validation curve is smooth, not a zig-zag",
        "val_easier": "the validation loss is not below the training loss",
    }, "the last third of the epochs (1.55 -> 1.24) gave about 29% of the whole fall (> 20%): the loss was still "
       "falling when training stopped. Train longer, or raise the learning rate."),
    hints=("Go through the seven rules in diagnose's order; the first that matches wins.",
           "Both curves fall together with a small gap and never turn up. Has the training loss settled?",
           "Compare the fall over the last third of the epochs (the last 2 of 6) with the whole fall."),
    solution="undertrained: train_drop = 1.06 / 2.3 = 46% (not underfit), smooth validation loss, no rise, gap ~3% of "
             "scale, but the last third gave (1.55 - 1.24) / 1.06 = 29% > 20% of the whole fall.",
    model="undertrained", wrong="good_fit",
))

_TRAIN_2 = [2.3, 1.3, 0.95, 0.8, 0.72, 0.67, 0.64, 0.62, 0.61, 0.6]
_VAL_2 = [2.3, 1.0, 1.5, 0.7, 1.3, 0.6, 1.2, 0.55, 1.25, 0.6]

add(Exercise(
    id="10.2", kind="predict",
    question=f"Which label does diagnose give to train_loss = {_TRAIN_2}, val_loss = {_VAL_2}?",
    judge=_label_judge(_TRAIN_2, _VAL_2, {
        "overfit": "the validation loss does rise above its minimum at the end, but diagnose checks an earlier rule "
                   "first: look at the shape of the whole validation curve, epoch to epoch",
        "good_fit": "the training curve alone would be a good fit, but the validation curve is not smooth",
        "unrepresentative_train": "a gap is only meaningful if the validation curve can be trusted; look at its shape",
        "underfit": "the training loss fell by far more than 25% of its first value",
        "undertrained": "the training loss has settled: the last third gave little of the fall",
        "val_easier": "some validation points are below the training loss, but not on average",
    }, "the validation loss zig-zags (jitter far above 15% of its mean and 2x the training loss's): too few "
       "validation images. Enlarge the validation set or cross-validate."),
    hints=("Plot the two lists, or compare neighbouring validation values.",
           ("The second rule (before overfit) looks at the validation curve's jitter: each point against the "
            "midpoint of its neighbours.")),
    solution="unrepresentative_val: the validation loss jumps up and down every epoch (jitter about 69% of its "
             "mean), while the training loss is smooth; rule 2 fires before the overfit rule can read the noisy "
             "last point as a rise.",
    model="unrepresentative_val", wrong="overfit",
))

# ----------------------------------------------------------------------------------------------------------
# 10.3: the best epoch
# ----------------------------------------------------------------------------------------------------------
_TRAIN_3 = [2.3, 1.4, 1.0, 0.75, 0.58, 0.45, 0.33, 0.24, 0.17]
_VAL_3 = [2.2, 1.5, 1.12, 1.0, 1.04, 0.98, 1.1, 1.25, 1.4]
_BEST_3 = diagnose(_TRAIN_3, _VAL_3).best_epoch

add(Exercise(
    id="10.3", kind="predict",
    question=f"An overfit run: train_loss = {_TRAIN_3}, val_loss = {_VAL_3}. Which best_epoch (1-based) does "
             "diagnose report, i.e. the weights early stopping would keep?",
    judge=number_judge(_BEST_3, {
        _BEST_3: "the lowest validation loss (0.98), after a first dip and a small bump.",
        _BEST_3 - 1: "that is a 0-based index; diagnose counts epochs from 1",
        4: "that is where the validation loss first turns up, but it falls lower again later: best_epoch is the "
           "minimum over the whole run",
        3: "that is a 0-based index of the first dip; epochs count from 1, and the loss falls lower later",
        9: "that is the last epoch, where the training loss is lowest; early stopping watches the validation loss",
    }, "epochs"),
    hints=("best_epoch is where the validation loss is lowest, not where it first turns up.",
           "Epochs count from 1."),
    solution=f"{_BEST_3}: the validation loss is lowest (0.98) at epoch {_BEST_3}; it first turned up after epoch 4 "
             "(1.0 -> 1.04) but fell below that again, so stopping at the first rise would be premature.",
    model=_BEST_3, wrong=4,
))

# ----------------------------------------------------------------------------------------------------------
# 10.4: code the overfit rule's evidence, checked against diagnose on random curves
# ----------------------------------------------------------------------------------------------------------
def _random_curves(seed: int, count: int) -> list[tuple[list[float], list[float]]]:
    """Overfit-like and noisy curves the learner has not seen, of 5-20 epochs."""
    g = torch.Generator().manual_seed(seed)
    curves = []
    for _ in range(count):
        n = int(torch.randint(5, 21, (1,), generator=g))
        start = 0.5 + 2.5 * float(torch.rand(1, generator=g))
        t = torch.arange(n, dtype=torch.float64)
        train = start * torch.exp(-t * (0.1 + 0.4 * float(torch.rand(1, generator=g))))
        turn = float(torch.randint(1, n, (1,), generator=g))
        val = train + 0.05 * start * (t - turn).clamp(min=0) ** 1.3 + 0.05 * start * torch.rand(n, generator=g,
                                                                                            dtype=torch.float64)
        curves.append(([round(float(v), 4) for v in train], [round(float(v), 4) for v in val]))
    return curves


def _judge_overfit_evidence(fn: Any) -> Feedback:
    """The learner's `fn(train, val) -> (val_rise, train_fall_after_best)` against diagnose's evidence."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for train, val in _random_curves(seed=10, count=30):
        got = fn(list(train), list(val))
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the two numbers"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return False, f"return a pair (val_rise, train_fall_after_best), got {got!r}"
        ev = diagnose(train, val).evidence
        want = (ev["val_rise"], ev["train_fall_after_best"])
        rise, fall = (float(v) for v in got)
        if abs(rise - want[0]) <= 1e-3 and abs(fall - want[1]) <= 1e-3:
            continue
        scale, best = train[0], ev["best_epoch"] - 1
        shown = f"on a {len(train)}-epoch run"
        if abs(rise * scale - want[0] * scale) > 1e-3 and abs(rise - want[0] * scale) <= 1e-3:
            return False, f"{shown} your numbers are not divided by the scale (the first epoch's training loss)"
        tbest = min(range(len(train)), key=train.__getitem__)
        if abs(rise - (val[-1] - val[tbest]) / scale) <= 1e-3 and tbest != best:
            return False, f"{shown} you took the best epoch from the training loss; it is the validation minimum"
        if abs(rise - want[0]) <= 1e-3:
            return False, (f"{shown} val_rise is right but train_fall_after_best is not: the training loss at the best "
                           "epoch minus the last training loss, over the scale")
        if abs(fall - want[1]) <= 1e-3:
            return False, (f"{shown} train_fall_after_best is right but val_rise is not: the last validation loss "
                           "minus the lowest one, over the scale")
        return False, f"{shown} both numbers differ from diagnose's evidence: check the best epoch and the scale"
    return True, "it matches diagnose's evidence on 30 random curves you had not seen."


add(Exercise(
    id="10.4", kind="code",
    question="Complete overfit_evidence(train, val) -> (val_rise, train_fall_after_best), both as fractions of the "
             "first epoch's training loss, as diagnose's overfit rule measures them.",
    judge=_judge_overfit_evidence,
    hints=("The best epoch is the index of the lowest validation loss: min(range(n), key=val.__getitem__).",
           ("val_rise: how far the last validation loss is above that minimum; train_fall_after_best: how far the "
            "training loss fell from the best epoch to the end."),
           "Divide both by scale = train[0]."),
    solution=("def overfit_evidence(train, val):\n"
              "    scale = abs(train[0])\n"
              "    best = min(range(len(val)), key=val.__getitem__)\n"
              "    return (val[-1] - val[best]) / scale, (train[best] - train[-1]) / scale"),
    model=lambda t, v: ((v[-1] - min(v)) / t[0], (t[v.index(min(v))] - t[-1]) / t[0]),
    wrong=lambda t, v: (v[-1] - min(v), t[v.index(min(v))] - t[-1]),  # forgets the scale
))


# ----------------------------------------------------------------------------------------------------------
# 10.5: code the leak finder, checked against cnnlab.curves.duplicates on random images
# ----------------------------------------------------------------------------------------------------------
def _judge_leaks(fn: Any) -> Feedback:
    """The learner's `fn(X_val, X_train) -> bool mask over X_val` against `duplicates`, with planted copies."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    g = torch.Generator().manual_seed(11)
    for trial in range(6):
        n_tr, n_va = int(torch.randint(20, 60, (1,), generator=g)), int(torch.randint(10, 40, (1,), generator=g))
        X_tr = torch.randint(0, 256, (n_tr, 1, 6, 6), generator=g, dtype=torch.uint8)
        X_va = torch.randint(0, 256, (n_va, 1, 6, 6), generator=g, dtype=torch.uint8)
        copies = torch.randperm(n_va, generator=g)[: n_va // 3]
        X_va[copies] = X_tr[torch.randint(0, n_tr, (len(copies),), generator=g)]
        X_va[0] = X_tr[0]  # a leak at the same index...
        X_va[-1] = X_va[0]  # ...and a duplicate inside the validation set: a leak only if X_va[0] is in training
        want = duplicates(X_va, X_tr)
        got = fn(X_va.clone(), X_tr.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the mask"
        if isinstance(got, (int, float)) or (isinstance(got, torch.Tensor) and got.ndim == 0):
            return False, "return a mask (one bool per validation image), not the count"
        got = torch.as_tensor(got)
        if got.shape != want.shape:
            return False, (f"with {n_va} validation images your mask has shape {tuple(got.shape)}: one entry per "
                           f"validation image")
        if torch.equal(got.bool(), want):
            continue
        m = min(n_va, n_tr)
        positional = torch.zeros(n_va, dtype=torch.bool)
        positional[:m] = (X_va[:m] == X_tr[:m]).flatten(1).all(1)
        if torch.equal(got.bool(), positional):
            return False, "you compared each validation image only with the training image at the same index"
        if not (want & ~got.bool()).any():  # every leak found, and more
            return False, ("your mask flags images that are not in the training set (a repeat inside the validation "
                           "set, or images equal in only some pixels?)")
        return False, (f"your mask misses {int((want & ~got.bool()).sum())} leaked image(s): an image leaks when all "
                       "its pixels equal some training image's")
    return True, "it finds exactly the leaked images on 6 random splits you had not seen."


add(Exercise(
    id="10.5", kind="code",
    question="Complete leaked(X_val, X_train): a bool mask over the validation images, True where the image is "
             "byte-for-byte equal to some training image.",
    judge=_judge_leaks,
    hints=("Comparing every pair works but is slow; a set of byte strings makes it one pass over each split.",
           "x.numpy().tobytes() turns an image into a hashable key.",
           "Build the set from X_train, then test each validation image against it."),
    solution=("def leaked(X_val, X_train):\n"
              "    seen = {x.numpy().tobytes() for x in X_train}\n"
              "    return torch.tensor([x.numpy().tobytes() in seen for x in X_val])"),
    model=lambda X_va, X_tr: (X_va[:, None] == X_tr[None]).flatten(2).all(2).any(1),
    wrong=lambda X_va, X_tr: (X_va == X_tr[: len(X_va)]).flatten(1).all(1) if len(X_tr) >= len(X_va) else
    torch.zeros(len(X_va), dtype=torch.bool),  # compares by position
))

add(Exercise(
    id="10.6", kind="explain",
    question="diagnose checks underfit first and unrepresentative_val before overfit. Why that order?",
    judge=None,
    hints=("What do a gap, a rise or a tail share mean if the training loss never fell?",
           "A zig-zag validation curve has many local rises: which rule could it trigger by chance?"),
    solution=("Underfit first: if the model did not learn the training set, every other reading (a gap, a rise, a "
              "slow tail) compares curves of a model that learnt nothing, and the remedy (more capacity, less "
              "regularisation) comes before anything else. Unrepresentative validation before overfit: a noisy "
              "validation loss (too few images) often ends above its lowest point by chance, which the overfit rule "
              "would read as a rise after the inflection; its best_epoch would be noise too. Only a trustworthy "
              "validation curve can be read for overfitting, a gap or leakage, so the noise test guards the rules "
              "after it."),
))


# ----------------------------------------------------------------------------------------------------------
# 10.7: the lectures' good-practice checklist: what a 2x2 pooling with stride 2 throws away
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="10.7", kind="predict",
    question="A 2x2 max pooling with stride 2 is applied to a (16, 28, 28) feature map. What percentage of the "
             "activations does it discard?",
    judge=number_judge(75, {
        75: "each 2x2 window of 4 activations keeps only its largest: (16, 28, 28) -> (16, 14, 14), 12,544 -> "
            "3,136 values, a quarter kept.",
        25: "that is the share it keeps: one activation of each 2x2 window survives",
        50: "the pooling halves the height and the width: both axes, not one",
        0: "max pooling does not keep every value: each window becomes one number",
    }, "percent"),
    hints=("How many activations are in one 2x2 window, and how many come out of it?",
           "The windows do not overlap with stride 2: the map goes from 28x28 to 14x14 per channel."),
    solution="75: each non-overlapping 2x2 window (4 activations) becomes 1, so 14 * 14 / (28 * 28) = 25% are kept "
             "and 75% discarded, in every channel. This is why the lectures call pooling destructive, and keep "
             "pooling windows small.",
    model=75, wrong=25,
))


# ----------------------------------------------------------------------------------------------------------
# 10.8: the data-size x model-complexity table
# ----------------------------------------------------------------------------------------------------------
_CELLS = ("small-simple", "small-complex", "large-simple", "large-complex")


def _cell_judge(truth: str, known: dict[str, str], why: str):
    """A judge for one cell of the lectures' table, written 'small-simple', 'small-complex', ... ."""

    def judge(answer: Any) -> Feedback:
        if not isinstance(answer, str):
            return False, f"write the cell as a str, one of {', '.join(_CELLS)}; got {type(answer).__name__}"
        cell = answer.strip().lower().replace(" ", "-").replace("_", "-")
        if cell not in _CELLS:
            return False, f"{answer!r} is not a cell; write one of {', '.join(_CELLS)}"
        return (True, why) if cell == truth else (False, known[cell])

    return judge


add(Exercise(
    id="10.8", kind="predict",
    question="A CNN with 200,000 weights, trained on 300 labelled images, ends with 0% training error and 35% test "
             f"error. Which cell of the lectures' table is this: one of {', '.join(_CELLS)}?",
    judge=_cell_judge("small-complex", {
        "small-simple": "a simple model could not fit every training image: a training error of 0% says the model "
                        "is big enough to memorise them",
        "large-simple": "that cell underfits: its training error is high and close to its test error; here the "
                        "training error is 0%",
        "large-complex": "compare 300 images with 200,000 weights: is that a large training set for this net?",
    }, "300 images against 200,000 weights: the net memorises the training set (0% error) and the gap, 35 points, "
       "is the whole test error. The remedies: more data or augmentation, regularisation, a smaller net."),
    hints=("Two numbers decide the cell: how well the net fits its own images, and how far the test error is above.",
           "Is the training error near zero (the net could memorise) or high (it could not)?"),
    solution="small-complex: overfitting. The training error is 0% (the net can memorise 300 images with 200,000 "
             "weights) and the gap is the whole test error. Get more data (or augment it), regularise (notebook "
             "11), or use a smaller net; a simple net on small data would overfit less.",
    model="small-complex", wrong="large-simple",
))
