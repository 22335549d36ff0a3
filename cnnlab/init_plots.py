"""Figures for the activation and initialisation notebooks, kept out of the story, and the interactive explorer."""

from __future__ import annotations

import io
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from cnnlab.activations import ACTIVATIONS, get_activation
from cnnlab.initialization import (
    SCHEMES,
    LayerStats,
    activation_stats,
    init_weights,
    only,
)
from cnnlab.models import mlp
from cnnlab.plots import check_ax
from cnnlab.validation import check_bool, check_choice, check_float, check_int

__all__ = ["plot_activation_functions", "plot_layer_histograms", "plot_layer_std", "plot_saturation",
           "histograms_for", "InitExplorer", "explore_init"]


def _check_fig(fig: object) -> None:
    if fig is not None and not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure or None, got {type(fig).__name__}")


def _check_rows(rows: object) -> None:
    """rows: label -> a non-empty list of LayerStats."""
    if not isinstance(rows, dict):
        raise TypeError(f"rows must be a dict of label -> [LayerStats, ...], got {type(rows).__name__}")
    if not rows:
        raise ValueError("rows is empty: give {label: [LayerStats, ...]}")
    for label, stats in rows.items():
        if not isinstance(label, str):
            raise TypeError(f"rows labels must be strings, got {type(label).__name__} {label!r}")
        if not isinstance(stats, (list, tuple)) or not stats or not all(isinstance(x, LayerStats) for x in stats):
            raise ValueError(f"rows[{label!r}] must be a non-empty list of LayerStats, got {stats!r}")


def plot_activation_functions(names: Sequence[str] = tuple(ACTIVATIONS), x_range: tuple[float, float] = (-5, 5),
                              fig: Figure | None = None) -> Figure:
    """One panel per activation: the function (solid) and its hand-written derivative (dashed)."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise TypeError(f"names must be a non-empty list of activation names, got {names!r}")
    for i, name in enumerate(names):
        check_choice(f"names[{i}]", name, tuple(ACTIVATIONS))
    if not isinstance(x_range, (list, tuple)) or len(x_range) != 2:
        raise TypeError(f"x_range must be a pair (low, high), got {x_range!r}")
    low, high = check_float("x_range[0]", x_range[0]), check_float("x_range[1]", x_range[1])
    if not low < high:
        raise ValueError(f"x_range must have low < high, got {tuple(x_range)}")
    _check_fig(fig)
    x = torch.linspace(*x_range, 401)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig = fig if fig is not None else plt.figure(figsize=(3.2 * cols, 2.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax, name in zip(axes, names):
        a = get_activation(name)
        ax.plot(x, a.fn(x), label="f(x)")
        ax.plot(x, a.grad(x), "--", label="f'(x)")
        ax.axhline(0, color="gray", lw=0.5)
        ax.axvline(0, color="gray", lw=0.5)
        ax.set_title(f"{name}: {a.formula}", fontsize=9)
        ax.set_ylim(-1.5, 3)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_layer_histograms(rows: dict[str, list[LayerStats]], title: str | None = None, density: bool = True,
                          fig: Figure | None = None) -> Figure:
    """The lecture's "neuron output values at each hidden layer": one row per label (scheme), one column per layer.

    Each panel is that layer's streamed histogram; its title gives the layer's mean and std, and the share of
    values outside the histogram's range when there are any.
    """
    _check_rows(rows)
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    check_bool("density", density)
    _check_fig(fig)
    n_cols = max(len(stats) for stats in rows.values())
    fig = fig if fig is not None else plt.figure(figsize=(1.9 * n_cols + 1, 1.7 * len(rows) + 0.4))
    axes = fig.subplots(len(rows), n_cols, squeeze=False, sharex=True)
    for r, (label, stats) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(stats):
                ax.set_visible(False)
                continue
            s = stats[c]
            counts = s.hist / max(float(s.hist.sum()), 1.0) if density else s.hist
            ax.stairs(counts.numpy(), s.edges.numpy(), fill=True, alpha=0.8)
            outside = s.below + s.above
            note = f"\n{outside:.0%} off-range" if outside >= 0.005 else ""
            ax.set_title(f"mean {s.mean:.2g}, std {s.std:.2g}{note}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            if r == 0:
                ax.text(0.5, 1.35 if note else 1.22, f"layer {c + 1}", transform=ax.transAxes, ha="center", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_layer_std(rows: dict[str, list[LayerStats]], ylabel: str = "std of the layer's output",
                   ax: plt.Axes | None = None) -> Figure:
    """The std of every layer, one line per label, on a log scale: collapse, explosion and the flat line."""
    _check_rows(rows)
    if not isinstance(ylabel, str):
        raise TypeError(f"ylabel must be a str, got {type(ylabel).__name__}")
    check_ax(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, stats in rows.items():
        ax.plot(range(1, len(stats) + 1), [s.std for s in stats], "o-", label=label)
    ax.set(yscale="log", xlabel="layer", ylabel=ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_saturation(result: dict[str, list], ax: plt.Axes | None = None) -> Figure:
    """Mean activation of each sigmoid hidden layer against images seen (Glorot & Bengio's Figure 2, in small)."""
    if not isinstance(result, dict) or not {"means", "seen"} <= set(result):
        raise TypeError(f"result must be a dict with 'means' and 'seen' (as notebook 05, section 7, builds it), "
                        f"got {type(result).__name__}")
    if not result["seen"] or len(result["means"]) != len(result["seen"]):
        raise ValueError(f"result must have one row of means per 'seen' checkpoint, got {len(result['means'])} rows "
                         f"for {len(result['seen'])} checkpoints")
    check_ax(ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    means = torch.tensor(result["means"])  # (checkpoints + 1, layers)
    for layer in range(means.shape[1]):
        ax.plot(result["seen"], means[:, layer], "o-", ms=3, label=f"hidden layer {layer + 1}")
    ax.set(xlabel="training images seen", ylabel="mean sigmoid output", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


# ----------------------------------------------------------------------------------------------------------
# The interactive panel: activation, scheme, depth, width -> per-layer histograms
# ----------------------------------------------------------------------------------------------------------
EXPLORER_ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "elu", "gelu")
HIST_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}  # the ReLU family: (-1, 3)


def histograms_for(activation: str, scheme: str, depth: int, width: int, n: int = 256, seed: int = 0,
                   fig: Figure | None = None) -> Figure:
    """Per-layer histograms of a `depth` x `width` MLP with `activation`, initialised by `scheme`, on N(0, 1) inputs."""
    check_choice("activation", activation, tuple(ACTIVATIONS))
    act = get_activation(activation)
    check_choice("scheme", scheme, SCHEMES)
    depth, width = check_int("depth", depth, ge=1, le=100), check_int("width", width, ge=1, le=10_000)
    n, seed = check_int("n", n, ge=2, le=1_000_000), check_int("seed", seed, ge=0)
    _check_fig(fig)
    torch.manual_seed(seed)
    net = init_weights(mlp([width] * depth, in_features=width, num_classes=None, activation=act.module), scheme)
    X = torch.randn(n, width)  # (N, width)
    kind = type(act.module()).__name__
    stats = only(activation_stats(net, X, hist_range=HIST_RANGES.get(activation, (-1.0, 3.0)), bins=40), kind)
    return plot_layer_histograms({f"{activation}\n{scheme}": stats}, fig=fig)


def _png(activation: str, scheme: str, depth: int, width: int) -> bytes:
    fig = Figure(figsize=(1.9 * depth + 1, 2.3))
    histograms_for(activation, scheme, depth, width, fig=fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class InitExplorer(widgets.VBox):
    """Pick an activation, a scheme, a depth and a width; the per-layer histograms redraw (an Image widget)."""

    def __init__(self, activation: str = "tanh", scheme: str = "xavier", depth: int = 6, width: int = 256) -> None:
        check_choice("activation", activation, EXPLORER_ACTIVATIONS)
        check_choice("scheme", scheme, SCHEMES)
        if not 2 <= check_int("depth", depth) <= 10:
            raise ValueError(f"depth must be an int in [2, 10] for the explorer's slider, got {depth}")
        check_choice("width", check_int("width", width), (64, 128, 256, 512, 1024))
        super().__init__()
        self.activation = widgets.Dropdown(options=EXPLORER_ACTIVATIONS, value=activation, description="activation")
        self.scheme = widgets.Dropdown(options=SCHEMES, value=scheme, description="scheme")
        self.depth = widgets.IntSlider(value=depth, min=2, max=10, description="depth", continuous_update=False)
        self.width = widgets.Dropdown(options=(64, 128, 256, 512, 1024), value=width, description="width")
        self.image = widgets.Image(format="png")
        self.children = [widgets.HBox([self.activation, self.scheme]), widgets.HBox([self.depth, self.width]),
                         self.image]
        for control in (self.activation, self.scheme, self.depth, self.width):
            control.observe(self._redraw, names="value")
        self._redraw()

    @property
    def settings(self) -> dict:
        """The current choices, as keyword arguments of `histograms_for`."""
        return {"activation": self.activation.value, "scheme": self.scheme.value, "depth": self.depth.value,
                "width": self.width.value}

    def _redraw(self, change: dict | None = None) -> None:
        self.image.value = _png(**self.settings)

    def __repr__(self) -> str:  # short and stable: nbval compares a widget's text/plain output
        return "InitExplorer(" + ", ".join(f"{k}={v!r}" for k, v in self.settings.items()) + ")"


def explore_init(activation: str = "tanh", scheme: str = "xavier", depth: int = 6, width: int = 256,
                 static: bool = False) -> InitExplorer | Figure:
    """The interactive panel, or with `static=True` the same histograms as a plain figure (no widgets needed)."""
    if check_bool("static", static):
        return histograms_for(activation, scheme, depth, width)
    return InitExplorer(activation, scheme, depth, width)
