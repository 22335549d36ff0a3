"""Figures for the transfer-learning notebook: predictions on photos, augmented views, strategy bars, feature PCA."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from cnnlab.plots import check_ax
from cnnlab.validation import (
    check_float,
    check_int,
    check_mapping,
    check_str,
    check_tensor,
)

__all__ = ["show_top5", "show_images", "plot_strategies", "plot_pca", "plot_yosinski", "plot_matrix"]


def _check_records(name: str, rows: object, keys: tuple[str, ...]) -> None:
    """A non-empty list of dicts, each with at least `keys`."""
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"{name} must be a list of dicts, got {type(rows).__name__}")
    if not rows:
        raise ValueError(f"{name} must not be empty")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not set(keys) <= set(row):
            raise ValueError(f"{name}[{i}] must be a dict with keys {', '.join(keys)}, got {row!r}")


def show_top5(photos: dict[str, torch.Tensor], top5: dict[str, list[tuple[str, float]]]) -> plt.Figure:
    """Each photo (H, W, 3) uint8 above a bar chart of its top-5 ImageNet classes and probabilities."""
    check_mapping("photos", photos)
    check_mapping("top5", top5)
    for name, image in photos.items():
        check_tensor(f"photos[{name!r}]", image, ndim=3)
        if image.shape[-1] != 3:
            raise ValueError(f"photos[{name!r}] must be (H, W, 3), got shape {tuple(image.shape)}")
        guesses = top5.get(name)
        if not isinstance(guesses, (list, tuple)) or len(guesses) != 5:
            raise ValueError(f"top5[{name!r}] must be a list of 5 (label, probability) pairs, got {guesses!r}")
        for i, pair in enumerate(guesses):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"top5[{name!r}][{i}] must be a (label, probability) pair, got {pair!r}")
            label, prob = pair
            check_str(f"top5[{name!r}][{i}] label", label)
            check_float(f"top5[{name!r}][{i}] probability", prob, ge=0, le=1)
    fig, axes = plt.subplots(2, len(photos), figsize=(3 * len(photos), 5.2), gridspec_kw={"height_ratios": [3, 2]})
    for col, (name, image) in enumerate(photos.items()):
        axes[0, col].imshow(image.numpy())
        axes[0, col].set_title(name)
        axes[0, col].axis("off")
        labels, probs = zip(*top5[name])
        axes[1, col].barh(range(5)[::-1], probs, color="tab:blue")
        axes[1, col].set_yticks(range(5)[::-1], labels, fontsize=8)
        axes[1, col].set_xlim(0, 1)
        axes[1, col].set_xlabel("probability")
    fig.tight_layout()
    return fig


def show_images(batch: torch.Tensor, title: str = "", ncols: int = 8) -> plt.Figure:
    """A grid of images (N, 3, H, W) with values in [0, 1]."""
    check_tensor("batch", batch, ndim=4, dtype="number")
    if batch.shape[1] != 3:
        raise ValueError(f"batch must be (N, 3, H, W) colour images, got shape {tuple(batch.shape)}")
    check_str("title", title)
    ncols = check_int("ncols", ncols, ge=1)
    n = len(batch)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.6 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, batch.detach().cpu()):
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_strategies(rows: list[dict], title: str) -> plt.Figure:
    """Accuracy (mean and seeds), seconds and trainable parameters per strategy, side by side."""
    _check_records("rows", rows, ("strategy", "acc", "seconds", "trainable"))
    check_str("title", title)
    names = sorted({r["strategy"] for r in rows}, key=[r["strategy"] for r in rows].index)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for i, name in enumerate(names):
        mine = [r for r in rows if r["strategy"] == name]
        accs = [r["acc"] for r in mine]
        axes[0].bar(i, np.mean(accs), color=f"C{i}", alpha=0.6)
        axes[0].plot([i] * len(accs), accs, "k.", ms=8)
        axes[1].bar(i, np.mean([r["seconds"] for r in mine]), color=f"C{i}")
        axes[2].bar(i, mine[0]["trainable"], color=f"C{i}")
    for ax, label in zip(axes, ["test accuracy (dots: seeds)", "seconds (this machine)", "trainable parameters"]):
        ax.set_xticks(range(len(names)), names)
        ax.set_title(label)
    axes[0].set_ylim(0, 1)
    axes[2].set_yscale("log")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_pca(features: torch.Tensor, y: torch.Tensor, class_names: list[str], ax: plt.Axes | None = None,
             title: str = "") -> plt.Axes:
    """Features (N, D) projected on their first two principal components, coloured by class."""
    check_tensor("features", features, ndim=2, dtype="float", finite=True)
    if min(features.shape) < 2:
        raise ValueError(f"features must be (N, D) with N >= 2 and D >= 2 for two components, "
                         f"got shape {tuple(features.shape)}")
    check_tensor("y", y, ndim=1, dtype="int")
    if len(y) != len(features):
        raise ValueError(f"y must have one label per row of features, got {len(y)} labels for {len(features)} rows")
    if not isinstance(class_names, (list, tuple)) or not all(isinstance(c, str) for c in class_names):
        raise TypeError(f"class_names must be a list of strings, got {class_names!r}")
    if int(y.min()) < 0 or int(y.max()) >= len(class_names):
        raise ValueError(f"y must hold class indices from 0 to len(class_names) - 1 = {len(class_names) - 1}, "
                         f"got values from {int(y.min())} to {int(y.max())}")
    check_ax(ax)
    check_str("title", title)
    F = features - features.mean(0)
    _, _, V = torch.pca_lowrank(F, q=2, center=False, niter=4)
    Z = (F @ V[:, :2]).numpy()  # (N, D) -> (N, 2)
    ax = ax if ax is not None else plt.subplots(figsize=(4, 4))[1]
    for c, name in enumerate(class_names):
        ax.scatter(*Z[y.numpy() == c].T, s=10, label=name, alpha=0.7)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    ax.legend(fontsize=7, markerscale=1.5)
    return ax


def plot_yosinski(runs: list[dict[str, list[float]]], ax: plt.Axes | None = None) -> plt.Axes:
    """Accuracy on task B against the number n of copied layers: frozen, fine-tuned, selffer (dots: seeds)."""
    _check_records("runs", runs, ("AnB", "AnB+", "BnB"))
    if len({len(r[key]) for r in runs for key in ("AnB", "AnB+", "BnB")}) != 1 or not runs[0]["AnB"]:
        raise ValueError("runs must give AnB, AnB+ and BnB accuracies for the same (> 0) numbers of copied layers")
    check_ax(ax)
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.8))[1]
    styles = {"AnB": ("A's layers, frozen (AnB)", "C3", "o-"), "AnB+": ("A's layers, fine-tuned (AnB+)", "C2", "s-"),
              "BnB": ("B's own layers, frozen (BnB, selffer)", "C0", "^--")}
    for key, (label, colour, marker) in styles.items():
        curves = np.array([r[key] for r in runs])  # (seeds, L + 1)
        n = np.arange(curves.shape[1])
        ax.plot(n, curves.mean(0), marker, color=colour, label=label)
        for c in curves:
            ax.plot(n, c, ".", color=colour, alpha=0.4)
    ax.axhline(np.mean([r["AnB"][0] for r in runs]), color="grey", lw=0.8, ls=":", label="baseline (n = 0)")
    ax.set_xticks(n)
    ax.set_xlabel("layers copied from the source net (n)")
    ax.set_ylabel("test accuracy on task B")
    ax.legend(fontsize=8)
    return ax


def plot_matrix(acc: dict[tuple[str, str], dict[str, list[float]]], guideline: dict[tuple[str, str], str]
                ) -> plt.Figure:
    """The size-similarity matrix as a 2 x 2 grid of bar charts: accuracy per strategy (dots: seeds)."""
    check_mapping("acc", acc)
    check_mapping("guideline", guideline)
    for key, cell in acc.items():
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] in ("small", "large")
                and key[1] in ("similar", "dissimilar")):
            raise ValueError(f"acc keys must be (size, similarity) with size 'small' or 'large' and similarity "
                             f"'similar' or 'dissimilar', got {key!r}")
        if key not in guideline:
            raise ValueError(f"guideline has no entry for {key!r}")
        if not isinstance(cell, Mapping) or not cell or not all(isinstance(a, (list, tuple)) and a
                                                                 for a in cell.values()):
            raise ValueError(f"acc[{key!r}] must be a dict strategy -> non-empty list of accuracies, got {cell!r}")
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharey=False)
    for (size, similarity), cell in acc.items():
        ax = axes[["small", "large"].index(size), ["similar", "dissimilar"].index(similarity)]
        for i, (name, accs) in enumerate(cell.items()):
            ax.bar(i, np.mean(accs), color=f"C{i}", alpha=0.6)
            ax.plot([i] * len(accs), accs, "k.", ms=7)
        ax.set_xticks(range(len(cell)), list(cell))
        low = min(min(a) for a in cell.values())
        ax.set_ylim(max(0.0, low - 0.1), 1)
        ax.set_title(f"{size} & {similarity}\nguideline: {guideline[(size, similarity)]}", fontsize=9)
    axes[0, 0].set_ylabel("test accuracy")
    axes[1, 0].set_ylabel("test accuracy")
    fig.tight_layout()
    return fig
