"""Figures of notebook 13: the zoo's accuracy-cost frontier, and where parameters and compute sit layer by layer."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from cnnlab.architectures import LayerCost, ZooEntry
from cnnlab.validation import check_mapping

__all__ = ["plot_zoo", "plot_layer_costs", "plot_receptive_fields"]


def plot_zoo(rows: Sequence[ZooEntry]) -> Figure:
    """Top-1 against GMACs (left) and against parameters (right), log x axes, one labelled point per model."""
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, ZooEntry) for r in rows):
        raise TypeError(f"rows must be a non-empty list of ZooEntry (what zoo_table returns), got {rows!r}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True, layout="constrained")
    for ax, (attr, label) in zip(axes, (("gmacs", "GMACs per image (log)"), ("params", "parameters (log)"))):
        for r in rows:
            x = getattr(r, attr)
            ax.scatter(x, r.top1, s=40, color="C0", zorder=3)
            ax.annotate(r.name, (x, r.top1), textcoords="offset points", xytext=(4, 3), fontsize=8)
        ax.set_xscale("log")
        ax.set(xlabel=label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("ImageNet-1K top-1 (%)")
    fig.suptitle("torchvision's zoo: accuracy against cost (published numbers)")
    return fig


def plot_layer_costs(costs: dict[str, Sequence[LayerCost]]) -> Figure:
    """For each net (a row), the share of all parameters and of all MACs in each conv (blue) and FC (orange) layer."""
    check_mapping("costs", costs)
    fig, axes = plt.subplots(len(costs), 2, figsize=(12, 3.0 * len(costs)), squeeze=False, layout="constrained")
    for (name, rows), (ax_p, ax_m) in zip(costs.items(), axes):
        if not rows or not all(isinstance(r, LayerCost) for r in rows):
            raise TypeError(f"costs[{name!r}] must be a non-empty list of LayerCost (what layer_costs returns)")
        colors = ["C0" if r.kind == "conv" else "C1" for r in rows]
        total_p, total_m = sum(r.params for r in rows), sum(r.macs for r in rows)
        for ax, values, total, what in ((ax_p, [r.params for r in rows], total_p, "parameters"),
                                        (ax_m, [r.macs for r in rows], total_m, "MACs")):
            ax.bar(range(1, len(rows) + 1), [100 * v / total for v in values], color=colors)
            ax.set(title=f"{name}: share of the {what} per layer", xlabel="layer (input side first)",
                   ylabel=f"% of all {what}")
            ax.grid(alpha=0.3, axis="y")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("C0", "C1")]
    axes[0, 0].legend(handles, ["conv", "fully connected"], fontsize=8)
    return fig


def plot_receptive_fields(fields: dict[str, Sequence[int]], input_size: int = 224) -> Figure:
    """Receptive field (pixels, one side) after each conv/pool layer of each net, against the layer's position."""
    check_mapping("fields", fields)
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for name, steps in fields.items():
        if not isinstance(steps, (list, tuple)) or not steps:
            raise TypeError(f"fields[{name!r}] must be a non-empty list of receptive fields (receptive_field_steps)")
        ax.plot(range(1, len(steps) + 1), steps, "o-", ms=3, label=name)
    ax.axhline(input_size, color="gray", linestyle=":", label=f"input size ({input_size})")
    ax.set(xlabel="conv/pool layer on the main path (input side first)", ylabel="receptive field (pixels)",
           title="Receptive field growth")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
