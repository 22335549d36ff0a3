"""Figures of notebooks 10 and 11: learning curves with their diagnosis, a grid of runs, error against training-set
size, gaps and weight histograms."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from cnnlab.curves import SizeRun, diagnose, mean_errors
from cnnlab.plots import plot_history
from cnnlab.train import History

__all__ = ["plot_learning_curves", "plot_curve_grid", "plot_error_vs_size", "plot_weight_histograms", "plot_gaps"]


def plot_learning_curves(history: History, axes=None, title: str | None = None, diagnosis: bool = True) -> Figure:
    """Loss and accuracy per epoch, train and validation, best epoch marked, `diagnose`'s label in the title."""
    if not history.val_loss:
        raise ValueError("history has no validation losses: pass val_data to fit to get learning curves")
    if diagnosis and len(history.epoch) >= 3:
        label = diagnose(history.train_loss, history.val_loss).label
        title = f"{title}: {label}" if title else label
    fig = plot_history(history, axes=axes, title=title)
    return fig


def plot_curve_grid(histories: dict[str, History], ncols: int = 4) -> Figure:
    """One loss panel per run (train vs validation from zero, best epoch marked, diagnosis in the title), in a grid."""
    nrows = math.ceil(len(histories) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.8 * nrows), squeeze=False)
    for ax, (name, h) in zip(axes.flat, histories.items()):
        d = diagnose(h.train_loss, h.val_loss)
        ax.plot(h.epoch, h.train_loss, "o-", ms=3, label="train")
        ax.plot(h.epoch, h.val_loss, "s-", ms=3, label="validation")
        ax.axvline(d.best_epoch, color="gray", linestyle=":", label=f"best epoch ({d.best_epoch})")
        ax.set_title(f"{name}\n-> {d.label}", fontsize=9)
        ax.set(xlabel="epoch", ylabel="loss")
        ax.set_ylim(bottom=0)  # from zero, so a flat curve looks flat
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(histories) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_error_vs_size(runs: list[SizeRun]) -> Figure:
    """Training and test error against the training-set size (log axis), one colour per width: the mean over seeds as
    a line, each seed as a dot, the gap between the two lines shaded."""
    means = mean_errors(runs)  # checks runs
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, width in enumerate(sorted({w for w, _ in means})):
        color = f"C{i}"
        sizes = sorted(n for w, n in means if w == width)
        train = [means[(width, n)][0] for n in sizes]
        test = [means[(width, n)][1] for n in sizes]
        ax.plot(sizes, test, "o-", color=color, label=f"fast_cnn({width}): test error")
        ax.plot(sizes, train, "s--", color=color, mfc="white", label=f"fast_cnn({width}): training error")
        ax.fill_between(sizes, train, test, color=color, alpha=0.12)
        mine = [r for r in runs if r.width == width]
        ax.scatter([r.n_train for r in mine], [r.test_error for r in mine], s=10, color=color, alpha=0.4)
        ax.scatter([r.n_train for r in mine], [r.train_error for r in mine], s=10, color=color, alpha=0.4, marker="s")
    ax.set_xscale("log")
    ax.set_xticks(sorted({n for _, n in means}), [str(n) for n in sorted({n for _, n in means})])
    ax.minorticks_off()
    ax.set(xlabel="training images (log scale)", ylabel="error (fraction misclassified)", ylim=(0, None),
           title="error against training-set size (shaded: the train-test gap)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_weight_histograms(nets: dict[str, nn.Module], bins: int = 60) -> Figure:
    """Histogram of |w| of every weight (biases left out) on a log axis, one outline per net: L1's spike near zero."""
    fig, ax = plt.subplots(figsize=(7, 3))
    edges = np.logspace(-8, 0.5, bins)
    for name, net in nets.items():
        w = torch.cat([p.detach().abs().flatten() for p in net.parameters() if p.ndim > 1]).cpu().numpy()
        ax.hist(np.clip(w, edges[0], None), bins=edges, histtype="step", linewidth=1.5, label=name)
    ax.set(xscale="log", xlabel="|w| (log scale; exact zeros drawn at the left edge)", ylabel="number of weights")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_gaps(gaps: dict[str, float], accuracies: dict[str, float]) -> Figure:
    """Two bar charts side by side: the clean train/validation gap and the validation accuracy of each technique."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
    names = list(gaps)
    ax1.barh(names, [gaps[n] for n in names], color="tab:red")
    ax1.set(xlabel="validation - training loss (eval mode, plain images)", title="gap: smaller is better")
    ax2.barh(names, [accuracies[n] for n in names], color="tab:blue")
    ax2.set(xlabel="validation accuracy", title="accuracy: larger is better")
    ax2.set_xlim(min(accuracies.values()) - 0.05, max(accuracies.values()) + 0.02)
    ax1.invert_yaxis()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
