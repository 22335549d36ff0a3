"""Figures for the schedules and optimisers notebook: lr curves, optimiser paths on 2-D surfaces, learning curves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Real

import matplotlib.pyplot as plt
import numpy as np
import torch

from cnnlab.optimizers import path
from cnnlab.plots import check_ax
from cnnlab.train import History
from cnnlab.validation import (
    check_bool,
    check_callable,
    check_choice,
    check_float,
    check_int,
    check_mapping,
    check_str,
)

__all__ = ["plot_schedules", "plot_paths", "plot_runs", "plot_range_test"]


def _check_numbers(name: str, values: object, min_len: int = 1) -> list:
    """A list of at least `min_len` real numbers (NaN and inf allowed: a diverged loss is still drawn)."""
    if not isinstance(values, (list, tuple, np.ndarray, torch.Tensor)) or len(values) < min_len:
        raise TypeError(f"{name} must be a list of at least {min_len} numbers, got {values!r}")
    values = values.tolist() if isinstance(values, (np.ndarray, torch.Tensor)) else list(values)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"{name}[{i}] must be a number, got {type(v).__name__} {v!r}")
    return values


def _check_point(name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (x, y) of numbers, got {value!r}")
    return check_float(f"{name}[0]", value[0]), check_float(f"{name}[1]", value[1])


def plot_schedules(curves: dict[str, Sequence[float]], ax=None, title: str = "learning-rate schedules"):
    """All lr curves on one axis, one line each, labelled by name."""
    check_mapping("curves", curves)
    for name, lrs in curves.items():
        _check_numbers(f"curves[{name!r}]", lrs)
    check_ax(ax)
    check_str("title", title)
    ax = ax if ax is not None else plt.subplots(figsize=(8, 4))[1]
    for name, lrs in curves.items():
        ax.plot(range(len(lrs)), lrs, label=name, lw=2)
    ax.set(xlabel="step t", ylabel="lr", title=title)
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_paths(
    surface: Callable[[torch.Tensor], torch.Tensor],
    start: tuple[float, float],
    runs: dict[str, dict],
    num_steps: int,
    extent: tuple[float, float, float, float],
    ax=None,
    title: str = "",
    log_levels: bool = False,
    minimum: tuple[float, float] | None = None,
):
    """Contours of `surface` over `extent` and the path of each optimiser in `runs` (name -> {optimizer, lr, ...})."""
    check_callable("surface", surface, optional=False)
    start = _check_point("start", start)
    check_mapping("runs", runs)
    for name, hp in runs.items():
        if not isinstance(hp, Mapping) or not {"optimizer", "lr"} <= set(hp):
            raise ValueError(f"runs[{name!r}] must be a dict with 'optimizer' and 'lr' (and other hyperparameters), "
                             f"got {hp!r}")
    num_steps = check_int("num_steps", num_steps, ge=1)
    if not isinstance(extent, (tuple, list)) or len(extent) != 4:
        raise TypeError(f"extent must be (x0, x1, y0, y1), got {extent!r}")
    extent = tuple(check_float(f"extent[{i}]", v) for i, v in enumerate(extent))
    if not (extent[0] < extent[1] and extent[2] < extent[3]):
        raise ValueError(f"extent must be (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {extent}")
    check_ax(ax)
    check_str("title", title)
    check_bool("log_levels", log_levels)
    if minimum is not None:
        minimum = _check_point("minimum", minimum)
    ax = ax if ax is not None else plt.subplots(figsize=(5, 4))[1]
    x0, x1, y0, y1 = extent
    xs, ys = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    grid = torch.tensor(np.stack([xs, ys], axis=-1))  # (200, 200, 2)
    zs = surface(grid).numpy()
    if log_levels:
        ax.contour(xs, ys, np.log1p(zs - zs.min()), levels=25, cmap="Greys", linewidths=0.6)
    else:
        ax.contour(xs, ys, zs, levels=25, cmap="Greys", linewidths=0.6)
    for name, hp in runs.items():
        hp = dict(hp)
        p = path(surface, start, hp.pop("optimizer"), hp.pop("lr"), num_steps, **hp).numpy()
        ax.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=1.2, label=name)
    ax.plot(*start, "ko", ms=5)
    if minimum is not None:
        ax.plot(*minimum, "r*", ms=12)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), title=title)
    ax.legend(fontsize=7)
    return ax


def plot_runs(histories: dict[str, list], metric: str = "val_acc", ax=None, title: str = ""):
    """Mean and min..max band over seeds of `metric` per epoch, for each named group of Histories."""
    check_mapping("histories", histories)
    check_choice("metric", metric, ("train_loss", "train_acc", "val_loss", "val_acc", "lr"))
    for name, hs in histories.items():
        if not isinstance(hs, (list, tuple)) or not hs or not all(isinstance(h, History) for h in hs):
            raise TypeError(f"histories[{name!r}] must be a non-empty list of History (one per seed), got {hs!r}")
        lengths = {len(getattr(h, metric)) for h in hs}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"histories[{name!r}] must record {metric} for the same number (> 0) of epochs in every "
                             f"run, got lengths {sorted(lengths)}")
    check_ax(ax)
    check_str("title", title)
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
    for name, hs in histories.items():
        values = np.array([getattr(h, metric) for h in hs])  # (seeds, epochs)
        epochs = np.arange(1, values.shape[1] + 1)
        line = ax.plot(epochs, values.mean(0), "o-", label=name)[0]
        ax.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    ax.set(xlabel="epoch", ylabel=metric.replace("_", " "), title=title)
    ax.legend(fontsize=8)
    return ax


def plot_range_test(lrs: Sequence[float], losses: Sequence[float], suggested: float, ax=None):
    """Loss against lr on a log axis, with the suggested lr marked."""
    lrs = _check_numbers("lrs", lrs)
    for i, lr in enumerate(lrs):
        check_float(f"lrs[{i}]", lr, gt=0)
    losses = _check_numbers("losses", losses)
    if len(losses) != len(lrs):
        raise ValueError(f"losses must have one value per lr, got {len(losses)} losses for {len(lrs)} lrs")
    suggested = check_float("suggested", suggested, gt=0)
    check_ax(ax)
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.5))[1]
    ax.semilogx(lrs, losses, lw=1.5)
    ax.axvline(suggested, color="C3", ls="--", label=f"suggested lr = {suggested:.2g}")
    ax.set(xlabel="lr (grows every batch)", ylabel="training loss of the batch", title="LR range test")
    ax.legend()
    return ax
