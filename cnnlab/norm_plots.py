"""Figures for the normalisation notebook, kept out of the story: activation histograms, learning-rate sweeps,
and Ioffe & Szegedy's Fig. 1 (test accuracy and one unit's input percentiles per step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnlab.normalization import PERCENTILES, Trace
from cnnlab.plots import check_ax
from cnnlab.validation import check_float, check_int, check_mapping, check_tensor

__all__ = ["plot_activation_histograms", "plot_layer_std", "plot_lr_sweep", "plot_trace"]


def _check_rows(rows: object) -> None:
    """rows: label -> a non-empty list of layer outputs (tensors)."""
    check_mapping("rows", rows, str_keys=True)
    for label, outputs in rows.items():
        if not isinstance(outputs, (list, tuple)) or not outputs:
            raise ValueError(f"rows[{label!r}] must be a non-empty list of layer outputs (tensors), got {outputs!r}")
        for i, a in enumerate(outputs):
            check_tensor(f"rows[{label!r}][{i}]", a, dtype="number")


def plot_activation_histograms(rows: Mapping[str, Sequence[torch.Tensor]], bins: int = 40) -> Figure:
    """One row per network (label -> its layers' outputs), one histogram per layer, like the lectures' figures."""
    _check_rows(rows)
    bins = check_int("bins", bins, ge=1, le=10_000)
    num_layers = max(len(outputs) for outputs in rows.values())
    fig, axes = plt.subplots(len(rows), num_layers, figsize=(2.1 * num_layers, 1.5 * len(rows)), squeeze=False)
    for r, (label, outputs) in enumerate(rows.items()):
        for i, a in enumerate(outputs):
            ax = axes[r, i]
            ax.hist(a.flatten().float().cpu().numpy(), bins=bins, color=f"C{r}")
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            if r == 0:
                ax.set_title(f"layer {i + 1}", fontsize=9)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_layer_std(rows: Mapping[str, Sequence[torch.Tensor]], ax=None) -> Figure:
    """Standard deviation of every layer's outputs, one line per network, on a log scale."""
    _check_rows(rows)
    check_ax(ax)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    for label, outputs in rows.items():
        stds = [a.float().std().item() for a in outputs]
        style = "-" if "BN" in label else "--"
        ax.plot(range(1, len(stds) + 1), stds, style, marker="o", label=label)
    ax.set(yscale="log", xlabel="layer", ylabel="std of the layer's outputs")
    ax.set_xticks(range(1, max(len(o) for o in rows.values()) + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_lr_sweep(lrs: Sequence[float], accuracies: Mapping[str, Sequence[float]], ax=None) -> Figure:
    """Final test accuracy against the learning rate (log scale), one line per network."""
    if not isinstance(lrs, (list, tuple)) or not lrs:
        raise TypeError(f"lrs must be a non-empty list of learning rates, got {lrs!r}")
    for i, lr in enumerate(lrs):
        check_float(f"lrs[{i}]", lr, gt=0)
    check_mapping("accuracies", accuracies, str_keys=True)
    for label, accs in accuracies.items():
        if not isinstance(accs, (list, tuple)) or len(accs) != len(lrs):
            raise ValueError(f"accuracies[{label!r}] must be a list of {len(lrs)} accuracies (one per lr), "
                             f"got {accs!r}")
        for i, acc in enumerate(accs):
            check_float(f"accuracies[{label!r}][{i}]", acc, ge=0, le=1)
    check_ax(ax)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    else:
        fig = ax.figure
    for label, accs in accuracies.items():
        ax.plot(lrs, accs, "o-", label=label)
    ax.axhline(0.1, color="gray", linestyle=":", label="chance")
    ax.set(xscale="log", xlabel="learning rate", ylabel="test accuracy", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_trace(traces: Mapping[str, Trace], unit: int = 0) -> Figure:
    """Ioffe & Szegedy's Fig. 1: test accuracy per step, then one unit's input percentiles per step, per network."""
    check_mapping("traces", traces, str_keys=True)
    unit = check_int("unit", unit, ge=0)
    for label, trace in traces.items():
        if not isinstance(trace, Trace):
            raise TypeError(f"traces[{label!r}] must be a cnnlab.normalization.Trace, got {type(trace).__name__}")
        if not trace.percentiles:
            raise ValueError(f"traces[{label!r}] has no checkpoints to plot")
        units = trace.percentiles[0].shape[-1]
        if unit >= units:
            raise ValueError(f"unit must be an int < {units} (the traced layer's units in {label!r}), got {unit}")
    fig, axes = plt.subplots(1, 1 + len(traces), figsize=(4 * (1 + len(traces)), 3.2))
    for i, (label, trace) in enumerate(traces.items()):
        axes[0].plot(trace.steps, trace.test_acc, label=label, color=f"C{i}")
        P = torch.stack(trace.percentiles)[:, :, unit]  # (T, 3): the 15th, 50th, 85th percentile per checkpoint
        ax = axes[1 + i]
        for j, q in enumerate(PERCENTILES):
            ax.plot(trace.steps, P[:, j], color=f"C{i}", alpha=1.0 if j == 1 else 0.5, label=f"{q:.0%}")
        ax.set(title=f"{label}: input to one sigmoid", xlabel="step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="percentile", title_fontsize=7)
    lo = min(axes[1 + i].get_ylim()[0] for i in range(len(traces)))
    hi = max(axes[1 + i].get_ylim()[1] for i in range(len(traces)))
    for i in range(len(traces)):
        axes[1 + i].set_ylim(lo, hi)  # the same scale, so the drift is comparable
    axes[0].set(xlabel="step", ylabel="test accuracy", title="test accuracy", ylim=(0, 1))
    axes[0].grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    return fig
