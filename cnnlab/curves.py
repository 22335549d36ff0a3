"""Learning-curve diagnosis: read a run's train/validation loss per epoch and name what went wrong (or right).

The seven cases and their remedies follow the lectures ("training process: learning curves" and "diagnosing
unrepresentative datasets"). The rules are checked in a fixed order, first match wins:

1. underfit                -- the training loss hardly fell (flat or noisy and high).
2. unrepresentative_val    -- the validation loss jitters around its own trend, far more than the training loss.
3. overfit                 -- after its minimum (the inflection, `best_epoch`) the validation loss rose clearly and
                              steadily (by its rise and by Kendall's tau, its monotone trend, over the epochs after
                              the minimum) while the training loss did not rise: whether the training loss is still
                              falling or has flattened near its minimum, the lectures' definition is the same.
4. undertrained            -- the training loss was still falling fast at the end. Checked before the two gap rules:
                              the training loss of an epoch is the mean over its batches while the weights improve,
                              the validation loss is measured at the epoch's end, so a fast-falling run shows a gap
                              (validation below training) that only says "still learning".
5. val_easier              -- the validation loss ends clearly below the training loss.
6. unrepresentative_train  -- both fell and settled, but a large gap remains between them.
7. good_fit                -- none of the above.

All losses are measured against `scale` = the first epoch's training loss, so the thresholds do not depend on the
units of the loss (the jitter is measured against the curve's own mean).

Where the thresholds come from: they were set between the values measured on the calibration runs, the seven CNN
runs in `CASES` with seeds 0-4 (`python -m cnnlab.curves record` writes them to tests/data/learning_curves.json;
the comment next to each threshold gives the values it separates). They are checked on runs they were not set on:
tests/data/learning_curves_holdout.json (`python -m cnnlab.curves record-holdout`: seeds 100-104, and seeds
100-102 with half and double the training-set sizes and with an MLP in place of the CNN), on fresh runs in
tests/test_curves.py, and on hand-built curves that follow the lectures' definitions.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from numbers import Real
from typing import Sequence

import torch

from cnnlab.data import load_split
from cnnlab.models import dropout_cnn, fast_cnn, mlp
from cnnlab.runtime import set_seed
from cnnlab.train import History, accuracy, fit, predict
from cnnlab.validation import check_bool, check_choice, check_float, check_instance, check_int, check_tensor

__all__ = [
    "LABELS",
    "CASES",
    "VAL_NOISE_MIN",
    "Diagnosis",
    "diagnose",
    "deduplicate",
    "case_data",
    "run_case",
    "SizeConfig",
    "SizeRun",
    "size_run",
    "mean_errors",
    "size_claims",
    "complexity_claims",
]

# --- thresholds (fractions of the first epoch's training loss unless said otherwise) ---------------------------------
# Each was set between the values measured on the calibration runs (tests/data/learning_curves.json, CASES x seeds
# 0-4); the comment gives the range on the case it flags and the closest value of any other case.
UNDERFIT_MAX_DROP = 0.25  # underfit: the training loss fell by less than 25% of its first-epoch value
#                             (underfit runs: -0.02 to 0.00; every other run: >= 0.55)
VAL_NOISE_MIN = 0.11  # unrepresentative_val: validation jitter (median |v_i - (v_{i-1}+v_{i+1})/2|, as a fraction
#                       of the mean validation loss after epoch 1) above 11%... (unrepresentative_val: 0.12 to 0.38;
#                       good_fit: <= 0.10)
VAL_NOISE_RATIO = 2.5  # ...and at least 2.5x the training loss's jitter, measured the same way
#                        (unrepresentative_val: 3.7x to 7.4x; other runs with jitter above 11%: <= 1.8x)
OVERFIT_MIN_RISE = 0.1  # overfit: the last validation loss >= 10% of scale above its minimum...
#                         (overfit: 0.14 to 0.26; the runs the overfit rule sees next: <= 0.08)
OVERFIT_MIN_TREND = 0.35  # ...with Kendall's tau of the validation loss over the epochs after its minimum >= 0.35:
#                           a steady rise, not one jump (overfit: 0.39 to 0.74; every other run: <= 0.33)
OVERFIT_MIN_EPOCHS = 3  # ...over at least 3 epochs after the minimum (overfit: 16 to 21)...
OVERFIT_MAX_TRAIN_RISE = 0.05  # ...while the training loss did not rise (by 5% of scale or more) after that minimum:
#                                a rising training loss is a training problem, not overfitting (overfit: it fell
#                                by 0.16 to 0.22); this one follows the definition, no calibration run rose
UNDERTRAINED_MIN_TAIL_SHARE = 0.2  # undertrained: the last third of epochs gave > 20% of the total training-loss drop
#                                    (undertrained: 0.37 to 0.62; the runs the rule sees next: <= 0.16)
VAL_EASIER_MARGIN = 0.02  # val_easier: over the last third, mean(val) < mean(train) - 2% of scale
#                           (val_easier: -0.067 to -0.057; good_fit and unrepresentative_train: >= +0.09)
GAP_MIN = 0.2  # unrepresentative_train: over the last third, mean(val) - mean(train) > 20% of scale
#                (unrepresentative_train: 0.26 to 0.36; good_fit: <= 0.15)

ADVICE = {
    "good_fit": "Train and validation losses settle together with a small gap: keep this setup; "
    "stop at the best validation epoch.",
    "underfit": "The model cannot learn the training set: increase model capacity, reduce regularisation "
    "(dropout, weight decay), add more informative features or observations, check the learning rate.",
    "undertrained": "Training stopped while the loss was still falling: train for more epochs with early stopping "
    "on the validation loss; if that takes too long, raise the learning rate and add a scheduler.",
    "overfit": "Validation loss rose steadily after its minimum while the training loss kept falling or stayed near "
    "its minimum: stop at the inflection (early stopping), add dropout or weight decay, reduce the model's size, lower "
    "the learning rate, or get more data.",
    "unrepresentative_train": "Both improve but a large gap remains: the training set is too small or unlike the "
    "validation set; add observations, use data augmentation, sample the splits at random, use cross-validation.",
    "unrepresentative_val": "Validation loss is noisy around the training loss: the validation set is too small; "
    "add observations to it or use cross-validation.",
    "val_easier": "Validation loss is below training loss: check for duplicates or leakage between the splits, "
    "sample the splits at random, use cross-validation; remember dropout/augmentation act only in training.",
}
LABELS = tuple(ADVICE)


@dataclass
class Diagnosis:
    """What `diagnose` decided: one of `LABELS`, the remedies, the numbers it used, and the best epoch (1-based)."""

    label: str
    advice: str
    evidence: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0

    def __str__(self) -> str:
        return f"{self.label} (best epoch {self.best_epoch}): {self.advice}"


def _as_losses(name: str, values: Sequence[float]) -> list[float]:
    """Validate one loss sequence: real, finite numbers."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise ValueError(f"{name} must be a sequence of numbers (one loss per epoch), got {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, Real):
            raise ValueError(f"{name}[{i}] must be a number, got {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"{name}[{i}] is {v}; losses must be finite (a NaN/inf loss means training diverged)")
        out.append(float(v))
    return out


def _jitter(values: list[float]) -> float:
    """Median distance of each inner point from the midpoint of its neighbours: 0 for a straight line.

    The median ignores one kink (the turn of an overfitting curve) and measures epoch-to-epoch noise.
    """
    d = sorted(abs(values[i] - (values[i - 1] + values[i + 1]) / 2) for i in range(1, len(values) - 1))
    mid = len(d) // 2
    return d[mid] if len(d) % 2 else (d[mid - 1] + d[mid]) / 2


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _kendall_tau(values: list[float]) -> float:
    """Kendall's tau between epoch and value (tau-b, ties allowed): +1 for a curve that only rises, -1 for one that
    only falls, near 0 for noise without a trend. 0.0 for fewer than 2 values or a flat curve.

    >>> _kendall_tau([1.0, 2.0, 3.0]), _kendall_tau([3.0, 1.0, 2.0])
    (1.0, -0.3333333333333333)
    """
    n = len(values)
    signs = [(values[j] > values[i]) - (values[j] < values[i]) for i in range(n) for j in range(i + 1, n)]
    untied = sum(s != 0 for s in signs)  # pairs of epochs are never tied, so tau-b's other factor is n(n-1)/2
    return sum(signs) / math.sqrt(untied * len(signs)) if untied else 0.0


def diagnose(train_loss: Sequence[float], val_loss: Sequence[float]) -> Diagnosis:
    """Name the learning-curve case of a run from its per-epoch training and validation losses.

    >>> diagnose([2.0, 1.9, 1.95, 1.9, 1.92], [2.0, 1.95, 1.96, 1.94, 1.95]).label
    'underfit'
    >>> d = diagnose([2.0, 1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [2.0, 1.1, 0.8, 0.9, 1.0, 1.2, 1.4])
    >>> d.label, d.best_epoch
    ('overfit', 3)
    >>> diagnose([2.0, 0.8, 0.3, 0.1, 0.05, 0.04, 0.04, 0.04], [2.0, 1.0, 0.8, 0.7, 0.8, 0.9, 1.0, 1.1]).label
    'overfit'
    """
    train, val = _as_losses("train_loss", train_loss), _as_losses("val_loss", val_loss)
    if len(train) != len(val):
        raise ValueError(f"train_loss and val_loss need one value per epoch each; got {len(train)} and {len(val)}")
    if len(train) < 3:
        raise ValueError(f"need at least 3 epochs to read a learning curve, got {len(train)}")
    n = len(train)
    scale = abs(train[0]) if train[0] != 0 else 1.0  # the first epoch's training loss
    best = min(range(n), key=lambda i: val[i])  # 0-based epoch of the lowest validation loss
    k = max(1, n // 3)  # the last third of the run
    total_drop = train[0] - train[-1]
    ev = {
        "scale": scale,
        "train_drop": total_drop / scale,
        "val_noise": _jitter(val) / max(_mean(val[1:]), 1e-12),
        "train_noise": _jitter(train) / max(_mean(train[1:]), 1e-12),
        "val_rise": (val[-1] - val[best]) / scale,
        "val_trend": _kendall_tau(val[best + 1:]),  # over the epochs after the minimum
        "epochs_after_best": n - 1 - best,
        "train_fall_after_best": (train[best] - train[-1]) / scale,
        "gap": (_mean(val[-k:]) - _mean(train[-k:])) / scale,
        "tail_share": (train[-k - 1] - train[-1]) / total_drop if total_drop > 0 else 0.0,
        "best_epoch": best + 1,
    }
    overfit = (ev["val_rise"] >= OVERFIT_MIN_RISE and ev["val_trend"] >= OVERFIT_MIN_TREND
               and ev["epochs_after_best"] >= OVERFIT_MIN_EPOCHS
               and ev["train_fall_after_best"] > -OVERFIT_MAX_TRAIN_RISE)
    if ev["train_drop"] < UNDERFIT_MAX_DROP:
        label = "underfit"
    elif ev["val_noise"] > VAL_NOISE_MIN and ev["val_noise"] > VAL_NOISE_RATIO * ev["train_noise"]:
        label = "unrepresentative_val"
    elif overfit:
        label = "overfit"
    elif ev["tail_share"] > UNDERTRAINED_MIN_TAIL_SHARE:
        label = "undertrained"
    elif ev["gap"] < -VAL_EASIER_MARGIN:
        label = "val_easier"
    elif ev["gap"] > GAP_MIN:
        label = "unrepresentative_train"
    else:
        label = "good_fit"
    return Diagnosis(label, ADVICE[label], {key: round(v, 4) for key, v in ev.items()}, best + 1)


# --- real runs that produce each case (Fashion-MNIST, small CNNs: about 0.2-1.5 s each on one CPU core) --------------
CASES: dict[str, dict] = {
    # the model (a cnnlab.models builder) and its width, training/validation examples (first n of the train/test
    # split), SGD lr (momentum 0.9) and weight decay, epochs; fast_cnn(8): two strided convolutions, 9.4k parameters
    "good_fit": dict(model="fast_cnn", width=8, n_train=2000, n_val=1000, lr=0.05, weight_decay=3e-3, num_epochs=12),
    # the good fit with a huge L2 penalty: weight decay 1.0 holds every weight near zero
    "underfit": dict(model="fast_cnn", width=8, n_train=2000, n_val=1000, lr=0.05, weight_decay=1.0, num_epochs=12),
    # stopped early: a small lr (2e-3) for 6 epochs
    "undertrained": dict(model="fast_cnn", width=8, n_train=2000, n_val=1000, lr=2e-3, weight_decay=0.0,
                         num_epochs=6),
    # a CNN with a 256-unit fully-connected head (204k parameters), 250 images, no regularisation, 30 epochs
    "overfit": dict(model="dropout_cnn", width=8, n_train=250, n_val=1000, lr=0.02, weight_decay=0.0, num_epochs=30,
                    batch_size=32),
    # 200 training images against 1000 validation images; weight decay 0.05 keeps it from overfitting
    "unrepresentative_train": dict(model="fast_cnn", width=8, n_train=200, n_val=1000, lr=0.02, weight_decay=0.05,
                                   num_epochs=15, batch_size=32),
    # the good fit measured on only 8 validation images
    "unrepresentative_val": dict(model="fast_cnn", width=8, n_train=2000, n_val=8, lr=0.05, weight_decay=3e-3,
                                 num_epochs=12),
    # leakage: 950 of the 1000 training images copied into the validation set (next to 50 fresh ones), in a CNN with
    # dropout 0.6 before its last layer, which makes the training loss (measured with dropout on) a little harder than
    # evaluation: the copies are already-learnt images, seen in evaluation mode
    "val_easier": dict(model="dropout_cnn", width=8, dropout=0.6, n_train=1000, n_val=50, leak=950, lr=0.03,
                       weight_decay=0.0, num_epochs=15),
}

MODELS = ("fast_cnn", "dropout_cnn", "mlp")  # the builders a case can use (mlp: for checks on another model)
SETTINGS = ("model", "width", "hidden", "dropout", "dropout_conv", "n_train", "n_val", "leak", "lr", "weight_decay",
            "num_epochs", "batch_size")


def duplicates(X: torch.Tensor, X_ref: torch.Tensor) -> torch.Tensor:
    """Boolean mask over the images of `X`: True where the image is byte-for-byte equal to some image of `X_ref`.

    >>> X_ref = torch.tensor([[1, 2], [3, 4]], dtype=torch.uint8)
    >>> duplicates(torch.tensor([[3, 4], [5, 6], [1, 2]], dtype=torch.uint8), X_ref).tolist()
    [True, False, True]
    """
    seen = {x.numpy().tobytes() for x in X_ref.cpu()}  # one hashable key per reference image
    return torch.tensor([x.numpy().tobytes() in seen for x in X.cpu()], dtype=torch.bool)


def deduplicate(
    X_val: torch.Tensor, y_val: torch.Tensor, X_train: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Remove from the validation set every image that also occurs in the training set; returns (X, y, n_removed)."""
    check_tensor("X_val", X_val, nonempty=False)
    check_tensor("X_train", X_train, nonempty=False)
    if not isinstance(y_val, torch.Tensor) or len(y_val) != len(X_val):
        raise ValueError(f"y_val must be a tensor with one label per image of X_val ({len(X_val)})")
    leaked = duplicates(X_val, X_train)
    return X_val[~leaked], y_val[~leaked], int(leaked.sum())


def case_data(name: str, **overrides) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """((X_train, y_train), (X_val, y_val)) of `CASES[name]`: the first n_train train and n_val test images of
    Fashion-MNIST, plus, if the case has `leak`, that many training images copied into the validation set."""
    if not isinstance(name, str) or name not in CASES:
        raise ValueError(f"unknown case {name!r}; choose one of {sorted(CASES)}")
    unknown = sorted(set(overrides) - set(SETTINGS))
    if unknown:
        raise ValueError(f"unknown settings {unknown}; a case can override {', '.join(SETTINGS)}")
    c = {**CASES[name], **overrides}
    check_int("n_train", c["n_train"], ge=1)
    check_int("n_val", c["n_val"], ge=1)
    check_int("leak", c.get("leak", 0), ge=0)
    check_choice("model", c["model"], MODELS)
    n, m, leak = c["n_train"], c["n_val"], c.get("leak", 0)
    if leak > n:
        raise ValueError(f"leak must be <= n_train ({n}): it copies that many training images; got {leak}")
    s = _split(max(n, leak), m)
    X_train, y_train, X_val, y_val = s.X_train, s.y_train, s.X_val, s.y_val
    X_val, y_val = torch.cat([X_val[:m], X_train[:leak]]), torch.cat([y_val[:m], y_train[:leak]])
    return (X_train[:n], y_train[:n]), (X_val, y_val)


def _split(n_train: int, n_val: int):
    """Fashion-MNIST: the first n_train (at least 4000) training images; validation: the first n_val (at least 1000)
    test images. Loading the same sizes every time lets `load_split` reuse its cache."""
    return load_split("fashion-mnist", max(n_train, 4000), max(n_val, 1000), 0, val_from="test")


def _build(c: dict) -> torch.nn.Module:
    """The net of a case's settings `c`: fast_cnn(width), dropout_cnn(dropout, dropout_conv, width) or mlp(hidden)."""
    model = check_choice("model", c["model"], MODELS)
    if model == "fast_cnn":
        return fast_cnn(c.get("width", 8))
    if model == "dropout_cnn":
        return dropout_cnn(c.get("dropout", 0.0), c.get("dropout_conv", 0.0), width=c.get("width", 8))
    return mlp(c.get("hidden", (64,)), dropout=c.get("dropout", 0.0))


def run_case(
    name: str, seed: int = 0, device: torch.device | str | None = None, dedup: bool = False, **overrides
) -> History:
    """Train the real run configured in `CASES[name]` (with any setting overridden) and return its History.

    `dedup=True` first removes from the validation set the images that also occur in the training set."""
    check_bool("dedup", dedup)
    check_int("seed", seed, ge=0)
    train, val = case_data(name, **overrides)
    if dedup:
        val = deduplicate(*val, train[0])[:2]
    c = {**CASES[name], **overrides}
    set_seed(seed)
    net = _build(c)
    optimizer = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=c["weight_decay"])
    norm = _split(c["n_train"], c["n_val"]).norm
    return fit(net, train, val, num_epochs=c["num_epochs"], optimizer=optimizer, batch_size=c.get("batch_size", 128),
               **norm, device=device, seed=seed, progress=False)


# --- error against training-set size, and the data-size x model-complexity table ------------------------------------
@dataclass(frozen=True)
class SizeConfig:
    """How every run of the error-vs-training-set-size experiments trains (Fashion-MNIST, `fast_cnn(width)`)."""

    images_seen: int = 8000  # every run sees this many training images, so about the same number of SGD steps
    #                          (125 at batch 64): 250 images are seen 32 times, 2,000 images 4 times
    batch_size: int = 64
    lr: float = 0.05  # SGD with momentum 0.9 and no weight decay: nothing but the data and the width holds a net back
    n_test: int = 1000  # the test error is measured on the first 1,000 images of the test split

    def __post_init__(self) -> None:
        check_int("images_seen", self.images_seen, ge=1)
        check_int("batch_size", self.batch_size, ge=1)
        check_float("lr", self.lr, gt=0)
        check_int("n_test", self.n_test, ge=1)


@dataclass(frozen=True)
class SizeRun:
    """One run of `size_run`: its settings, its errors (fractions of images misclassified) and the trained net."""

    n_train: int
    width: int
    seed: int
    num_epochs: int
    train_error: float  # on the n_train training images, in eval mode
    test_error: float  # on the config's n_test test images
    config: SizeConfig = SizeConfig()
    net: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def gap(self) -> float:
        """Test error minus training error: what the net learnt about its own images and not about the task."""
        return self.test_error - self.train_error


def size_run(n_train: int, width: int = 8, seed: int = 0, config: SizeConfig = SizeConfig(),
             device: torch.device | str | None = None) -> SizeRun:
    """Train `fast_cnn(width)` on the first `n_train` Fashion-MNIST training images for `images_seen // n_train`
    epochs (at least 1) and measure its training and test errors.

    >>> r = size_run(100, width=1, config=SizeConfig(images_seen=200, n_test=50), device="cpu")
    >>> r.num_epochs, 0 <= r.train_error <= 1, 0 <= r.test_error <= 1
    (2, True, True)
    """
    check_int("n_train", n_train, ge=1)
    check_int("width", width, ge=1)
    check_int("seed", seed, ge=0)
    check_instance("config", config, SizeConfig, "a SizeConfig")
    split = _split(n_train, config.n_test)
    X, y = split.X_train[:n_train], split.y_train[:n_train]
    X_test, y_test = split.X_val[:config.n_test], split.y_val[:config.n_test]
    num_epochs = max(1, config.images_seen // n_train)
    set_seed(seed)
    net = fast_cnn(width)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9)
    fit(net, (X, y), num_epochs=num_epochs, optimizer=optimizer, batch_size=config.batch_size, **split.norm,
        device=device, seed=seed, progress=False)
    errors = [1 - accuracy(predict(net, X_, **split.norm), y_) for X_, y_ in ((X, y), (X_test, y_test))]
    return SizeRun(n_train, width, seed, num_epochs, *errors, config=config, net=net)


def _check_runs(runs: Sequence[SizeRun]) -> list[SizeRun]:
    if isinstance(runs, SizeRun) or not isinstance(runs, (list, tuple)) or not runs:
        raise TypeError(f"runs must be a non-empty list of SizeRun (from size_run), got {type(runs).__name__}")
    for i, r in enumerate(runs):
        check_instance(f"runs[{i}]", r, SizeRun, "a SizeRun (from size_run)")
    return list(runs)


def _cell(runs: list[SizeRun], width: int, n_train: int) -> dict[int, SizeRun]:
    """seed -> the run of that width and training-set size; ValueError if there is none."""
    cell = {r.seed: r for r in runs if r.width == width and r.n_train == n_train}
    if not cell:
        have = sorted({(r.width, r.n_train) for r in runs})
        raise ValueError(f"runs hold no run of width {width} on {n_train} images; they hold (width, n_train) {have}")
    return cell


def _seeds(runs: list[SizeRun], cells: list[tuple[int, int]]) -> list[int]:
    """The seeds every one of `cells` ((width, n_train) pairs) was run with; ValueError if they differ."""
    seeds = [sorted(_cell(runs, w, n)) for w, n in cells]
    if any(s != seeds[0] for s in seeds):
        raise ValueError(f"every (width, n_train) compared needs the same seeds; got {dict(zip(cells, seeds))}")
    return seeds[0]


def mean_errors(runs: Sequence[SizeRun]) -> dict[tuple[int, int], tuple[float, float]]:
    """(width, n_train) -> (mean training error, mean test error) over the seeds run, sorted by width then size.

    >>> runs = [SizeRun(100, 8, s, 2, tr, te) for s, tr, te in ((0, 0.0, 0.3), (1, 0.1, 0.4))]
    >>> mean_errors(runs)
    {(8, 100): (0.05, 0.35)}
    """
    runs = _check_runs(runs)
    out = {}
    for w, n in sorted({(r.width, r.n_train) for r in runs}):
        cell = list(_cell(runs, w, n).values())
        out[(w, n)] = (sum(r.train_error for r in cell) / len(cell), sum(r.test_error for r in cell) / len(cell))
    return out


def size_claims(runs: Sequence[SizeRun], width: int = 8) -> dict[str, bool]:
    """The effects of more training data for one width, from its smallest to its largest training set, in every seed:

    - `test_error_falls`: the test error is lower with the largest training set;
    - `gap_shrinks`: the test-minus-training gap is smaller (less overfitting);
    - `train_error_rises`: the training error is higher (the lecture: "training error gets larger when data size
      becomes large": a net of the same size cannot memorise more images as well).

    >>> runs = [SizeRun(100, 8, 0, 8, 0.0, 0.3), SizeRun(800, 8, 0, 1, 0.1, 0.2)]
    >>> size_claims(runs)
    {'test_error_falls': True, 'gap_shrinks': True, 'train_error_rises': True}
    """
    runs = _check_runs(runs)
    check_int("width", width, ge=1)
    sizes = sorted({r.n_train for r in runs if r.width == width})
    if len(sizes) < 2:
        raise ValueError(f"size_claims compares training-set sizes: width {width} needs runs on at least 2 sizes, "
                         f"got {sizes}")
    seeds = _seeds(runs, [(width, sizes[0]), (width, sizes[-1])])
    small, large = _cell(runs, width, sizes[0]), _cell(runs, width, sizes[-1])
    return {"test_error_falls": all(large[s].test_error < small[s].test_error for s in seeds),
            "gap_shrinks": all(large[s].gap < small[s].gap for s in seeds),
            "train_error_rises": all(large[s].train_error > small[s].train_error for s in seeds)}


def complexity_claims(runs: Sequence[SizeRun], simple_width: int, complex_width: int, small_n: int,
                      large_n: int) -> dict[str, bool]:
    """The lectures' data-size x model-complexity table, read from a 2 x 2 grid of runs (widths `simple_width` <
    `complex_width`, training-set sizes `small_n` < `large_n`), in every seed:

    - `small_data_complex_overfits`: on the small set the complex net's gap is larger than the simple net's
      (small data - complex model: overfitting; small data - simple model: less overfitting);
    - `large_data_simple_underfits`: on the large set the simple net's training error is higher than the complex
      net's (large data - simple model: underfitting);
    - `large_data_complex_overfits_less`: the complex net's gap is smaller on the large set than on the small one
      (large data - complex model: less overfitting).

    >>> runs = [SizeRun(n, w, 0, 1, tr, te) for n, w, tr, te in
    ...         ((100, 1, 0.2, 0.4), (100, 8, 0.0, 0.3), (800, 1, 0.3, 0.32), (800, 8, 0.1, 0.2))]
    >>> claims = complexity_claims(runs, simple_width=1, complex_width=8, small_n=100, large_n=800)
    >>> all(claims.values()), len(claims)
    (True, 3)
    """
    runs = _check_runs(runs)
    for name, v in (("simple_width", simple_width), ("complex_width", complex_width), ("small_n", small_n),
                    ("large_n", large_n)):
        check_int(name, v, ge=1)
    if not (simple_width < complex_width and small_n < large_n):
        raise ValueError(f"need simple_width < complex_width and small_n < large_n; got simple_width={simple_width}, "
                         f"complex_width={complex_width}, small_n={small_n}, large_n={large_n}")
    cells = [(simple_width, small_n), (complex_width, small_n), (simple_width, large_n), (complex_width, large_n)]
    seeds = _seeds(runs, cells)
    ss, cs, sl, cl = (_cell(runs, w, n) for w, n in cells)
    return {"small_data_complex_overfits": all(cs[s].gap > ss[s].gap for s in seeds),
            "large_data_simple_underfits": all(sl[s].train_error > cl[s].train_error for s in seeds),
            "large_data_complex_overfits_less": all(cl[s].gap < cs[s].gap for s in seeds)}


# --- recording the calibration and hold-out runs (python -m cnnlab.curves record | record-holdout) -------------------
CALIBRATION_SEEDS = range(5)  # the thresholds above were set on these runs
HOLDOUT_SEEDS = range(100, 105)  # disjoint from the calibration seeds: 5 for the "seeds" variant, the first 3 for
#                                   the others (half and double the training images, an MLP)


def _holdout_variants(name: str) -> dict[str, dict]:
    """Settings the thresholds were not set on: other seeds only, half and double the training images, an MLP."""
    c = CASES[name]
    half = {"n_train": c["n_train"] // 2, **({"leak": c["leak"] // 2} if "leak" in c else {})}
    double = {"n_train": c["n_train"] * 2, **({"leak": c["leak"] * 2} if "leak" in c else {})}
    other = {"model": "mlp", "hidden": (512, 512) if c["model"] == "dropout_cnn" else (64,)}
    return {"seeds": {}, "half_train": half, "double_train": double, "mlp": other}


def _record(path: str, holdout: bool) -> None:
    """Run every case (and, for the hold-out file, every variant) on CPU and write the losses as JSON."""
    import json
    from pathlib import Path

    runs = []
    for name in CASES:
        variants = _holdout_variants(name) if holdout else {"calibration": {}}
        for variant, change in variants.items():
            seeds = CALIBRATION_SEEDS if not holdout else HOLDOUT_SEEDS if variant == "seeds" else HOLDOUT_SEEDS[:3]
            for seed in seeds:
                h = run_case(name, seed, device="cpu", **change)
                runs.append(dict(case=name, variant=variant, change={k: v for k, v in change.items()}, seed=seed,
                                 train_loss=[round(v, 5) for v in h.train_loss],
                                 val_loss=[round(v, 5) for v in h.val_loss]))
                print(f"{name:23s} {variant:13s} seed {seed:3d} -> {diagnose(h.train_loss, h.val_loss).label}")
    how = (f"python -m cnnlab.curves {'record-holdout' if holdout else 'record'} (OMP_NUM_THREADS=1, torch "
           f"{torch.__version__}, CPU): for each name in cnnlab.curves.CASES, "
           + ("each variant of _holdout_variants(name) (settings changed as in 'change') and seed in 100..104 "
              "(variant 'seeds') or 100..102 (the others)"
              if holdout else "seed in 0..4")
           + ": h = run_case(name, seed, device='cpu', **change); stored h.train_loss, h.val_loss rounded to 5 decimals."
           + (" The thresholds were NOT set on these runs." if holdout else " The thresholds were set on these runs."))
    Path(path).write_text(json.dumps({"how": how, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":  # python -m cnnlab.curves record | record-holdout [path]
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("record", "record-holdout"):
        sys.exit("usage: python -m cnnlab.curves record|record-holdout [path]")
    default = "tests/data/learning_curves.json" if command == "record" else "tests/data/learning_curves_holdout.json"
    _record(sys.argv[2] if len(sys.argv) > 2 else default, holdout=command == "record-holdout")
