"""Figures for the schedules and optimisers notebook: lr curves, optimiser paths on 2-D surfaces, learning curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from cnnlab.optimizers import path


def plot_schedules(curves: dict[str, Sequence[float]], ax=None, title: str = "learning-rate schedules"):
    """All lr curves on one axis, one line each, labelled by name."""
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
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.5))[1]
    ax.semilogx(lrs, losses, lw=1.5)
    ax.axvline(suggested, color="C3", ls="--", label=f"suggested lr = {suggested:.2g}")
    ax.set(xlabel="lr (grows every batch)", ylabel="training loss of the batch", title="LR range test")
    ax.legend()
    return ax
