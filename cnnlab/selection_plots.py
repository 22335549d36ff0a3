"""Figures of notebook 12: grid against random search."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

__all__ = ["plot_search_trials"]


def plot_search_trials(grid: torch.Tensor, grid_err: Sequence[float], rand: torch.Tensor, rand_err: Sequence[float],
                       curve: tuple[Sequence[float], Sequence[float]] | None = None,
                       names: tuple[str, str] = ("log10 lr (important)", "log10 weight decay (unimportant)")) -> Figure:
    """The classic two-panel figure: grid (left) and random (right) trials in the plane, colour = error, and above each
    panel the error against the important hyperparameter (the projection the search really explores)."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [1, 2]},
                             layout="constrained")
    vmax = max(max(grid_err), max(rand_err))
    for col, (pts, err, title) in enumerate([(grid, grid_err, "grid search"), (rand, rand_err, "random search")]):
        top, ax = axes[0, col], axes[1, col]
        if curve is not None:
            top.plot(curve[0], curve[1], color="0.7", lw=1, label="error vs lr")
        top.scatter(pts[:, 0], err, c="C3", s=25, zorder=3, label="trials")
        best = min(range(len(err)), key=list(err).__getitem__)
        top.scatter([pts[best, 0]], [err[best]], marker="*", s=160, c="gold", edgecolors="k", zorder=4, label="best")
        top.set(title=f"{title}: {len(set(pts[:, 0].tolist()))} distinct lr values", ylabel="val error")
        top.legend(fontsize=8)
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=err, cmap="viridis_r", vmin=0, vmax=vmax, s=60, edgecolors="k")
        for x in pts[:, 0].tolist():
            ax.axvline(x, color="C3", alpha=0.25, lw=0.8)
        ax.set(xlabel=names[0], ylabel=names[1])
    fig.colorbar(sc, ax=axes.ravel().tolist(), label="validation error")
    return fig
