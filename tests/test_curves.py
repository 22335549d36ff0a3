"""Tests for cnnlab.curves: every label on synthetic and on recorded real histories, bad input, the plots."""

import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnnlab.curves import (  # noqa: E402
    ADVICE,
    CASES,
    LABELS,
    VAL_NOISE_MIN,
    Diagnosis,
    case_data,
    deduplicate,
    diagnose,
    duplicates,
    run_case,
)
from cnnlab.curve_plots import plot_curve_grid, plot_learning_curves  # noqa: E402
from cnnlab.train import History  # noqa: E402

E = np.arange(20)
SYNTHETIC = {  # label -> (train_loss, val_loss), drawn to the lectures' textbook shapes
    "good_fit": (0.3 + 2.0 * np.exp(-E / 2), 0.4 + 1.9 * np.exp(-E / 2)),
    "underfit": (2.2 - 0.01 * E + 0.02 * np.sin(E), 2.25 - 0.01 * E),
    "undertrained": (2.3 - 0.06 * E, 2.35 - 0.06 * E),
    "overfit": (2.0 * np.exp(-E / 3), 0.8 + 1.2 * np.exp(-E / 3) + 0.03 * np.maximum(E - 5, 0)),
    "unrepresentative_train": (0.2 + 2.0 * np.exp(-E / 2), 1.0 + 1.3 * np.exp(-E / 2)),
    "unrepresentative_val": (0.3 + 2.0 * np.exp(-E / 2), 0.3 + 2.0 * np.exp(-E / 2) + 0.3 * (-1.0) ** E),
    "val_easier": (0.6 + 1.7 * np.exp(-E / 2), 0.3 + 1.7 * np.exp(-E / 2)),
}
REAL = json.loads((Path(__file__).parent / "data" / "learning_curves.json").read_text())


def test_labels_are_the_seven_cases():
    assert set(LABELS) == set(SYNTHETIC) == set(CASES) and len(LABELS) == 7
    assert all(len(ADVICE[label]) > 40 for label in LABELS)


@pytest.mark.parametrize("label", list(SYNTHETIC))
def test_synthetic_histories(label):
    train, val = SYNTHETIC[label]
    d = diagnose(train.tolist(), val.tolist())
    assert isinstance(d, Diagnosis)
    assert d.label == label, d.evidence
    assert d.advice == ADVICE[label]
    assert {"train_drop", "val_noise", "val_rise", "gap", "tail_share"} <= set(d.evidence)


def test_overfit_best_epoch_is_the_inflection():
    train, val = SYNTHETIC["overfit"]
    d = diagnose(train, val)
    assert d.best_epoch == int(np.argmin(val)) + 1 == 9


@pytest.mark.parametrize("run", REAL["runs"], ids=lambda r: f"{r['case']}-seed{r['seed']}")
def test_recorded_real_runs(run):
    """5 seeds x 7 cases recorded with cnnlab.train.fit on Fashion-MNIST (see the JSON's "how")."""
    assert diagnose(run["train_loss"], run["val_loss"]).label == run["case"]


def test_recorded_runs_cover_every_label_over_5_seeds():
    seeds = {case: sorted(r["seed"] for r in REAL["runs"] if r["case"] == case) for case in LABELS}
    assert all(s == [0, 1, 2, 3, 4] for s in seeds.values())


@pytest.mark.parametrize("name", ["undertrained", "unrepresentative_train", "unrepresentative_val"])
def test_fresh_real_runs_are_stable_over_3_seeds(name):
    """The cheapest cases, re-run now: the recorded labels are not an artefact of one machine or seed."""
    assert [diagnose(h.train_loss, h.val_loss).label for h in (run_case(name, s, device="cpu") for s in range(3))] == [
        name
    ] * 3


def test_notebook_remedies_over_3_seeds():
    """The remedies printed in notebooks/10_learning_curves.ipynb, each re-measured with diagnose()."""
    for s in range(3):
        label = lambda h: diagnose(h.train_loss, h.val_loss).label  # noqa: E731
        assert label(run_case("underfit", s, weight_decay=3e-3, device="cpu")) == "good_fit"
        assert label(run_case("undertrained", s, num_epochs=20, device="cpu")) == "good_fit"
        assert label(run_case("unrepresentative_train", s, n_train=4000, batch_size=128, device="cpu")) == "good_fit"
        assert label(run_case("val_easier", s, dedup=True, device="cpu")) == "good_fit"
        more_val = run_case("unrepresentative_val", s, n_val=1000, device="cpu")
        assert diagnose(more_val.train_loss, more_val.val_loss).evidence["val_noise"] < VAL_NOISE_MIN


def test_early_stopping_saving_on_the_recorded_overfit_runs():
    """The notebook's overfit remedy: stopping at best_epoch lowers the validation loss by > 5% of scale (5 seeds)."""
    runs = [r for r in REAL["runs"] if r["case"] == "overfit"]
    assert len(runs) == 5
    for r in runs:
        d = diagnose(r["train_loss"], r["val_loss"])
        assert (r["val_loss"][-1] - r["val_loss"][d.best_epoch - 1]) / r["train_loss"][0] > 0.05


def test_deduplicate_finds_the_leak():
    (X_train, _), (X_val, y_val) = case_data("val_easier")
    X, y, removed = deduplicate(X_val, y_val, X_train)
    assert (len(X_val), removed, len(X), len(y)) == (2500, 2000, 500, 500)
    assert not duplicates(X, X_train).any()
    (X_train, _), (X_val, y_val) = case_data("good_fit")
    assert deduplicate(X_val, y_val, X_train)[2] == 0


def test_accepts_numpy_and_torch_values():
    import torch

    train, val = SYNTHETIC["good_fit"]
    assert diagnose(torch.tensor(train), np.asarray(val)).label == "good_fit"


@pytest.mark.parametrize(
    "train, val, match",
    [
        ([1.0, 0.9, 0.8], [1.0, 0.9], "one value per epoch"),
        ([1.0, 0.9], [1.0, 0.9], "at least 3 epochs"),
        ([1.0, math.nan, 0.8], [1.0, 0.9, 0.8], "finite"),
        ([1.0, 0.9, 0.8], [1.0, math.inf, 0.8], "finite"),
        ([1.0, "0.9", 0.8], [1.0, 0.9, 0.8], "must be a number"),
        ([1.0, True, 0.8], [1.0, 0.9, 0.8], "must be a number"),
        ("1.0, 0.9", [1.0, 0.9], "sequence of numbers"),
        (3.0, [1.0, 0.9, 0.8], "sequence of numbers"),
    ],
)
def test_bad_input(train, val, match):
    with pytest.raises(ValueError, match=match):
        diagnose(train, val)


def test_run_case_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown case"):
        run_case("perfect")


@pytest.mark.parametrize("call, error, match", [
    (lambda: run_case("good_fit", dedup="yes"), TypeError, "dedup must be True or False"),
    (lambda: run_case("good_fit", epochs=3), ValueError, r"unknown settings \['epochs'\]"),
    (lambda: case_data("good_fit", n_val=0), ValueError, "n_val must be a positive int"),
    (lambda: case_data("good_fit", n_train=10.0), TypeError, "n_train must be an int"),
    (lambda: case_data(None), ValueError, "unknown case None"),
    (lambda: deduplicate([1, 2], torch.tensor([0, 1]), torch.zeros(1, 2)), TypeError, "X_val must be a torch.Tensor"),
    (lambda: deduplicate(torch.zeros(2, 2), torch.tensor([0]), torch.zeros(1, 2)), ValueError, "y_val must be"),
])
def test_run_case_checks_its_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _history(train, val):
    h = History()
    for i, (t, v) in enumerate(zip(train, val), start=1):
        h.epoch.append(i), h.train_loss.append(float(t)), h.val_loss.append(float(v))
        h.train_acc.append(0.5), h.val_acc.append(0.5)
    return h


def test_plot_learning_curves_marks_best_epoch_and_label():
    fig = plot_learning_curves(_history(*SYNTHETIC["overfit"]), title="run")
    assert "run: overfit" in fig._suptitle.get_text()
    assert any(line.get_xdata()[0] == 9 for line in fig.axes[0].get_lines() if line.get_linestyle() == ":")
    plt.close(fig)
    with pytest.raises(ValueError, match="no validation"):
        plot_learning_curves(History(epoch=[1, 2, 3], train_loss=[1.0, 0.9, 0.8]))


def test_plot_curve_grid():
    fig = plot_curve_grid({k: _history(*v) for k, v in SYNTHETIC.items()}, ncols=4)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 7 and all(f"-> {k}" in t for k, t in zip(SYNTHETIC, titles))
    plt.close(fig)
