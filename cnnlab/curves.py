"""Learning-curve diagnosis: read a run's train/validation loss per epoch and name what went wrong (or right).

The seven cases and their remedies follow the lectures ("training process: learning curves" and "diagnosing
unrepresentative datasets"). The rules are checked in a fixed order, first match wins:

1. underfit                -- the training loss hardly fell (flat or noisy and high).
2. unrepresentative_val    -- the validation loss jitters around its own trend, far more than the training loss.
3. overfit                 -- the validation loss turned up while the training loss kept falling.
4. val_easier              -- the validation loss ends clearly below the training loss.
5. unrepresentative_train  -- both fell, but a large gap remains between them.
6. undertrained            -- the training loss was still falling fast at the end.
7. good_fit                -- none of the above.

All losses are measured against `scale` = the first epoch's training loss, so the thresholds do not depend on
the units of the loss (the jitter is measured against the curve's own mean). The thresholds were set
between the values measured on the real runs in `CASES` over 5 seeds (tests/data/learning_curves.json).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Sequence


import torch

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_split
from cnnlab.models import mlp
from cnnlab.runtime import set_seed
from cnnlab.train import History, fit
from cnnlab.validation import check_bool, check_int, check_tensor

__all__ = [
    "LABELS",
    "CASES",
    "VAL_NOISE_MIN",
    "Diagnosis",
    "diagnose",
    "deduplicate",
    "case_data",
    "run_case",
]

# --- thresholds (fractions of the first epoch's training loss unless said otherwise) ---------------------------------
UNDERFIT_MAX_DROP = 0.25  # underfit: the training loss fell by less than 25% of its first-epoch value
VAL_NOISE_MIN = 0.15  # unrepresentative_val: validation jitter (median |v_i - (v_{i-1}+v_{i+1})/2|, as a fraction
#                       of the mean validation loss after epoch 1) above 15%...
VAL_NOISE_RATIO = 2.0  # ...and at least 2x the training loss's jitter (measured the same way)
OVERFIT_MIN_RISE = 0.075  # overfit: last validation loss >= 7.5% of scale above its minimum...
OVERFIT_MIN_TRAIN_FALL = 0.05  # ...while the training loss fell >= 5% of scale after that minimum
VAL_EASIER_MARGIN = 0.05  # val_easier: over the last third, mean(val) < mean(train) - 5% of scale
GAP_MIN = 0.25  # unrepresentative_train: over the last third, mean(val) - mean(train) > 25% of scale
UNDERTRAINED_MIN_TAIL_SHARE = 0.2  # undertrained: the last third of epochs gave > 20% of the total training-loss drop

ADVICE = {
    "good_fit": "Train and validation losses settle together with a small gap: keep this setup; "
    "stop at the best validation epoch.",
    "underfit": "The model cannot learn the training set: increase model capacity, reduce regularisation "
    "(dropout, weight decay), add more informative features or observations, check the learning rate.",
    "undertrained": "Training stopped while the loss was still falling: train for more epochs with early stopping "
    "on the validation loss; if that takes too long, raise the learning rate and add a scheduler.",
    "overfit": "Validation loss turned up while training loss kept falling: stop at the inflection (early stopping), "
    "add dropout or weight decay, reduce the model's size, lower the learning rate, or get more data.",
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


def diagnose(train_loss: Sequence[float], val_loss: Sequence[float]) -> Diagnosis:
    """Name the learning-curve case of a run from its per-epoch training and validation losses.

    >>> diagnose([2.0, 1.9, 1.95, 1.9, 1.92], [2.0, 1.95, 1.96, 1.94, 1.95]).label
    'underfit'
    >>> d = diagnose([2.0, 1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [2.0, 1.1, 0.8, 0.9, 1.0, 1.2, 1.4])
    >>> d.label, d.best_epoch
    ('overfit', 3)
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
        "train_fall_after_best": (train[best] - train[-1]) / scale,
        "gap": (_mean(val[-k:]) - _mean(train[-k:])) / scale,
        "tail_share": (train[-k - 1] - train[-1]) / total_drop if total_drop > 0 else 0.0,
        "best_epoch": best + 1,
    }
    if ev["train_drop"] < UNDERFIT_MAX_DROP:
        label = "underfit"
    elif ev["val_noise"] > VAL_NOISE_MIN and ev["val_noise"] > VAL_NOISE_RATIO * ev["train_noise"]:
        label = "unrepresentative_val"
    elif ev["val_rise"] >= OVERFIT_MIN_RISE and ev["train_fall_after_best"] >= OVERFIT_MIN_TRAIN_FALL:
        label = "overfit"
    elif ev["gap"] < -VAL_EASIER_MARGIN:
        label = "val_easier"
    elif ev["gap"] > GAP_MIN:
        label = "unrepresentative_train"
    elif ev["tail_share"] > UNDERTRAINED_MIN_TAIL_SHARE:
        label = "undertrained"
    else:
        label = "good_fit"
    return Diagnosis(label, ADVICE[label], {key: round(v, 4) for key, v in ev.items()}, best + 1)


# --- real runs that produce each case (Fashion-MNIST, small MLPs: about 1-5 s each on one CPU core) ------------------
CASES: dict[str, dict] = {
    # hidden sizes, training/validation examples (first n of the train/test split), SGD lr and weight decay, epochs
    "good_fit": dict(hidden=(64,), n_train=4000, n_val=1000, lr=0.02, weight_decay=3e-3, num_epochs=12),
    # huge L2: weight decay 1.0
    "underfit": dict(hidden=(64,), n_train=4000, n_val=1000, lr=0.02, weight_decay=1.0, num_epochs=12),
    # stopped early: a tiny lr for 6 epochs
    "undertrained": dict(hidden=(64,), n_train=4000, n_val=1000, lr=3e-4, weight_decay=0.0, num_epochs=6),
    # a big net, 250 images, no regularisation
    "overfit": dict(hidden=(512, 512), n_train=250, n_val=1000, lr=0.05, weight_decay=0.0, num_epochs=30,
                    batch_size=32),
    # 60 training images against 1000 validation images
    "unrepresentative_train": dict(hidden=(64,), n_train=60, n_val=1000, lr=0.02, weight_decay=3e-2, num_epochs=15,
                                   batch_size=20),
    # only 8 validation images
    "unrepresentative_val": dict(hidden=(64,), n_train=4000, n_val=8, lr=0.05, weight_decay=1e-3, num_epochs=12),
    # leakage: 2000 of the training images copied into the validation set (next to 500 fresh ones), and dropout 0.6,
    # which makes training harder than evaluation: the copies are easy, already-learnt images in evaluation mode
    "val_easier": dict(hidden=(256,), dropout=0.6, n_train=4000, n_val=500, leak=2000, lr=0.02, weight_decay=0.0,
                       num_epochs=12),
}


SETTINGS = ("hidden", "n_train", "n_val", "leak", "lr", "weight_decay", "num_epochs", "batch_size", "dropout")


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
    s = load_split("fashion-mnist", 4000, 1000, 0, val_from="test")  # validation: the first 1,000 test images
    X_train, y_train, X_val, y_val = s.X_train, s.y_train, s.X_val, s.y_val
    n, m, leak = c["n_train"], c["n_val"], c.get("leak", 0)
    X_val, y_val = torch.cat([X_val[:m], X_train[:leak]]), torch.cat([y_val[:m], y_train[:leak]])
    return (X_train[:n], y_train[:n]), (X_val, y_val)


def run_case(
    name: str, seed: int = 0, device: torch.device | str | None = None, dedup: bool = False, **overrides
) -> History:
    """Train the real run configured in `CASES[name]` (with any setting overridden) and return its History.

    `dedup=True` first removes from the validation set the images that also occur in the training set."""
    check_bool("dedup", dedup)
    train, val = case_data(name, **overrides)
    if dedup:
        val = deduplicate(*val, train[0])[:2]
    c = {**CASES[name], **overrides}
    set_seed(seed)
    net = mlp(c["hidden"], dropout=c.get("dropout", 0.0))
    optimizer = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=c["weight_decay"])
    return fit(net, train, val, num_epochs=c["num_epochs"], optimizer=optimizer, batch_size=c.get("batch_size", 128),
               mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device, seed=seed, progress=False)
