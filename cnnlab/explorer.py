"""An explorer for convolution arithmetic: input grid, kernel windows and output grid, checked against PyTorch.

In the spirit of Dumoulin & Visin's "A guide to convolution arithmetic for deep learning" (2016): blue cells are the
input, hatched cells are padding, green cells are the output, and a dark window shows which input cells one output
looks at. A transposed convolution is drawn as the direct convolution it equals: a stride-1 convolution over the input
with (stride - 1) zeros inserted between neighbouring pixels and dilation*(kernel_size - 1) - padding cells of padding.

Every number shown is computed twice, by the formulas of `cnnlab.conv_arith` and by running the PyTorch layer itself
(`nn.Conv2d` or `nn.ConvTranspose2d` on a zero tensor, and on one-hot images for which pixels each output depends on),
so the drawing can never disagree with PyTorch silently.

    draw_conv(input_size=5, kernel_size=3, stride=2, padding=1)  # a static matplotlib figure
    explore()                                                   # sliders (ipywidgets), the same figure, live
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from functools import cached_property

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionPatch, Patch, Rectangle
from torch import nn

from cnnlab.conv_arith import conv_output_size, receptive_field, transposed_output_size
from cnnlab.conv_plots import HIGHLIGHT_OUTPUT, INPUT_COLOR, INPUT_EDGE, OUTPUT_COLOR, WINDOW_COLOR  # the shared palette
from cnnlab.validation import check_bool, check_int, check_module

__all__ = ["conv_geometry", "describe", "draw_conv", "explore"]

# What the sliders of `explore()` allow; the functions themselves accept any valid setting.
# They cover every exercise and questionnaire item of notebook 02 that the explorer can draw (02.1: a 64x64 input, 5x5
# kernel, stride 2, padding 2; 02.4's unseen settings: inputs up to 39, kernels up to 7, strides up to 4, padding up to
# 3, dilation up to 3) and AlexNet's 11x11 stride-4 kernel; tests/test_explorer.py checks that.
SLIDER_RANGES = {"input_size": (1, 64), "kernel_size": (1, 11), "stride": (1, 4), "padding": (0, 5), "dilation": (1, 4)}


def torch_layer(kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                transposed: bool = False) -> nn.Module:
    """The PyTorch layer the explorer draws: one input and one output channel, all weights 1, no bias.

    >>> torch_layer(3, stride=2, padding=1)
    Conv2d(1, 1, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
    """
    kernel_size, stride = check_int("kernel_size", kernel_size, ge=1), check_int("stride", stride, ge=1)
    padding, dilation = check_int("padding", padding, ge=0), check_int("dilation", dilation, ge=1)
    check_bool("transposed", transposed)
    kind = nn.ConvTranspose2d if transposed else nn.Conv2d
    layer = kind(1, 1, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)  # positive weights: an output depends on a pixel exactly when a tap lands on it
    return layer


def torch_output_size(layer: nn.Module, input_size: int) -> int:
    """Output height of `layer` on zeros(1, 1, n, n); a ValueError with PyTorch's message where PyTorch rejects it."""
    check_module("layer", layer)
    input_size = check_int("input_size", input_size, ge=1)
    try:
        with torch.no_grad():
            size = layer(torch.zeros(1, 1, input_size, input_size)).shape[-1]
    except RuntimeError as err:
        raise ValueError(f"PyTorch rejects {layer} on a {input_size}x{input_size} input: {err}") from None
    if size < 1:  # nn.ConvTranspose2d returns an empty tensor for some settings instead of raising
        raise ValueError(f"PyTorch's {layer} gives an empty output on a {input_size}x{input_size} input")
    return size


@dataclass(frozen=True)
class ConvGeometry:
    """One square conv (or transposed conv) layer on an n x n input: sizes from the formula and from PyTorch.

    The drawing works on a grid along each axis: the input pixels `spread` cells apart (1 for a convolution,
    `stride` for a transposed one), surrounded by `grid_padding` cells of padding; output i's window starts at cell
    i * `grid_step` and takes every `dilation`-th cell, `kernel_size` times.
    """

    input_size: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    transposed: bool
    output_size: int  # from the formula in cnnlab.conv_arith
    torch_output_size: int  # from running the PyTorch layer

    @property
    def kernel_span(self) -> int:
        """How many grid cells one window spans: d(k - 1) + 1."""
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def spread(self) -> int:
        """Distance between neighbouring input pixels on the grid: 1, or the stride for a transposed conv."""
        return self.stride if self.transposed else 1

    @property
    def grid_step(self) -> int:
        """How far the window moves between neighbouring outputs: the stride, or 1 for a transposed conv."""
        return 1 if self.transposed else self.stride

    @property
    def grid_padding(self) -> int:
        """Padding cells on each side of the grid; for a transposed conv d(k-1) - p (negative: the grid is cropped)."""
        return self.dilation * (self.kernel_size - 1) - self.padding if self.transposed else self.padding

    @property
    def grid_size(self) -> int:
        """Cells along each axis of the drawn grid."""
        return (self.input_size - 1) * self.spread + 1 + 2 * self.grid_padding

    @cached_property
    def layer(self) -> nn.Module:
        """The PyTorch layer (weights 1, no bias) that this geometry describes."""
        return torch_layer(self.kernel_size, self.stride, self.padding, self.dilation, self.transposed)

    def axis_cells(self) -> list[tuple[str, int]]:
        """Each grid cell along one axis as (kind, pixel): ("input", r), ("padding", -1) or ("zero", -1)."""
        cells = []
        for g in range(self.grid_size):
            t = g - self.grid_padding  # position on the input, with pixel r at t = r * spread
            if t < 0 or t > (self.input_size - 1) * self.spread:
                cells.append(("padding", -1))
            elif t % self.spread:
                cells.append(("zero", -1))  # inserted between two pixels of a transposed conv's input
            else:
                cells.append(("input", t // self.spread))
        return cells

    def taps(self, i: int) -> list[int]:
        """Grid cells (along one axis) that output i's window multiplies by a weight."""
        start = i * self.grid_step
        return [start + self.dilation * m for m in range(self.kernel_size)]

    def seen_pixels(self, position: tuple[int, int]) -> set[tuple[int, int]]:
        """The input pixels (row, col) under output `position`'s window, according to the drawing."""
        i, j = self._check_position(position)
        cells = self.axis_cells()
        rows = [cells[g][1] for g in self.taps(i) if cells[g][0] == "input"]
        cols = [cells[g][1] for g in self.taps(j) if cells[g][0] == "input"]
        return {(r, c) for r in rows for c in cols}

    def torch_seen_pixels(self, position: tuple[int, int]) -> set[tuple[int, int]]:
        """The input pixels (row, col) that output `position` of the PyTorch layer depends on."""
        i, j = self._check_position(position)
        return {(r, c) for r, c in self.torch_footprints()[i, j].nonzero().tolist()}

    def torch_footprints(self) -> torch.Tensor:
        """(o, o, n, n) booleans: which input pixels each output of the PyTorch layer depends on.

        The layer is linear with positive weights, so feeding it the n*n one-hot images answers for every pixel at once.
        """
        n = self.input_size
        one_hot = torch.eye(n * n).reshape(n * n, 1, n, n)  # (n*n, 1, n, n): image k has pixel k set to 1
        with torch.no_grad():
            out = self.layer(one_hot)[:, 0]  # (n*n, o, o): out[k, i, j] > 0 iff output (i, j) sees pixel k
        return (out > 0).permute(1, 2, 0).reshape(self.output_size, self.output_size, n, n)

    def _check_position(self, position: tuple[int, int]) -> tuple[int, int]:
        if not isinstance(position, (tuple, list)) or len(position) != 2:
            raise ValueError(f"position must be a pair (i, j), got {position!r}")
        i, j = check_int("position[0]", position[0], ge=0), check_int("position[1]", position[1], ge=0)
        if i >= self.output_size or j >= self.output_size:
            raise ValueError(f"position {(i, j)} is outside the {self.output_size}x{self.output_size} output")
        return i, j


def conv_geometry(input_size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                  transposed: bool = False) -> ConvGeometry:
    """The geometry of one square layer, its output size from the formula and from PyTorch (a ValueError if invalid).

    >>> g = conv_geometry(5, 3, stride=2, padding=1)
    >>> g.output_size, g.torch_output_size
    (3, 3)
    >>> conv_geometry(2, 3, stride=2, transposed=True).output_size  # 2x2 -> 5x5
    5
    """
    n = check_int("input_size", input_size, ge=1)
    k, s = check_int("kernel_size", kernel_size, ge=1), check_int("stride", stride, ge=1)
    p, d = check_int("padding", padding, ge=0), check_int("dilation", dilation, ge=1)
    check_bool("transposed", transposed)
    if transposed:
        size = transposed_output_size(n, k, stride=s, padding=p, dilation=d)
    else:
        size = conv_output_size(n, k, stride=s, padding=p, dilation=d)
    layer = torch_layer(k, s, p, d, transposed)
    torch_size = torch_output_size(layer, n)
    if torch_size != size:  # never expected: tests/test_explorer.py checks a grid of settings
        raise RuntimeError(f"formula says {size} but {layer} gives {torch_size} on a {n}x{n} input")
    return ConvGeometry(n, k, s, p, d, transposed, size, torch_size)


def _size_formula(g: ConvGeometry) -> str:
    """The output-size formula with this geometry's numbers in it."""
    n, k, s, p, d = g.input_size, g.kernel_size, g.stride, g.padding, g.dilation
    if g.transposed:
        return f"({n} - 1)*{s} - 2*{p} + {d}*({k} - 1) + 1 = {g.output_size}"
    return f"floor(({n} + 2*{p} - {d}*({k} - 1) - 1) / {s}) + 1 = {g.output_size}"


def _span(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def describe(g: ConvGeometry, position: tuple[int, int] = (0, 0)) -> str:
    """What the explorer shows as text: the layer, its output size twice, the receptive field, one output's window."""
    if not isinstance(g, ConvGeometry):
        raise TypeError(f"g must be a ConvGeometry (from conv_geometry(...)), got {type(g).__name__}")
    n, o = g.input_size, g.output_size
    lines = [f"{g.layer} on a {n}x{n} input",
             f"output size: {_size_formula(g)}  |  PyTorch: {g.torch_output_size}x{g.torch_output_size}"]
    if g.transposed:
        zeros = g.stride - 1
        lines.append(f"drawn as a stride-1 convolution over the input with {zeros} zero{'s' * (zeros != 1)} inserted "
                     f"between neighbouring pixels and d*(k-1) - p = {g.grid_padding} cells of padding"
                     + (" (negative: the grid is cropped)" if g.grid_padding < 0 else ""))
    else:
        field = receptive_field([(g.kernel_size, g.stride, g.dilation)])
        lines.append(f"receptive field: d*(k-1) + 1 = {field} input pixels along each axis")
    seen = g.seen_pixels(position)
    taps = g.kernel_size ** 2
    if seen:
        rows, cols = [r for r, _ in seen], [c for _, c in seen]
        lines.append(f"output {tuple(position)} of {o}x{o} sees input rows {_span(rows)}, cols {_span(cols)}: "
                     f"{len(seen)} of its {taps} taps land on a pixel")
    else:
        lines.append(f"output {tuple(position)} of {o}x{o} sees no input pixel: all {taps} taps land on zeros")
    if seen == g.torch_seen_pixels(position):
        lines.append(f"PyTorch agrees: its layer's output {tuple(position)} depends on exactly these pixels.")
    else:
        lines.append(f"PyTorch disagrees: its layer's output {tuple(position)} depends on other pixels than these.")
    return "\n".join(lines)


# Above this many grid cells along an axis, the grids are drawn as images: no per-cell borders, hatching or index
# numbers (too small to read, and thousands of patches take seconds to draw).
BIG_GRID = 16
# The explorer's picture fits beside its sliders on a 1366x768 screen: at most FIG_WIDTH x FIG_HEIGHT inches, drawn at
# WIDGET_DPI (6.2 x 4.3 in -> 558 x 387 px).
FIG_WIDTH, FIG_HEIGHT, WIDGET_DPI = 6.2, 4.3, 90
PADDING_COLOR, ZERO_COLOR = "#e6e6e6", "#f6f6f6"  # big grids: padding and inserted zeros as flat light greys


def _cell_inches(G: int, o: int) -> float:
    """Inches per grid cell, the same in both panels, so the figure stays within FIG_WIDTH x FIG_HEIGHT."""
    return min(0.4, (FIG_WIDTH - 0.6) / (G + o + 3), (FIG_HEIGHT - 1.6) / max(G, o))


def _label_indices(ax, positions: list[tuple[float, int]]) -> None:
    """Pixel indices along the top and the left of a small grid, to read `describe`'s 'rows 1-3, cols 3-4' off."""
    at, labels = [x for x, _ in positions], [str(index) for _, index in positions]
    ax.set_xticks(at, labels)
    ax.set_yticks(at, labels)
    ax.xaxis.tick_top()
    ax.tick_params(length=0, labelsize=6, labelcolor="0.45", pad=1)


def draw_conv(input_size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
              transposed: bool = False, position: tuple[int, int] = (0, 0), fig: Figure | None = None) -> Figure:
    """Draw the input grid (blue, padding hatched), every window's start (dots), one window and the output (green).

    Small grids get a patch per cell, each with a `gid` ("input", "padding", "zero", "output", "highlight") so tests
    can count them, and pixel indices along their edges; grids over BIG_GRID cells are one image per panel (gid
    "cells"). The window ("window") and its taps ("tap") are always patches. The figure is at most 6.2 x 4.3 inches.
    """
    if fig is not None and not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure or None, got {type(fig).__name__}")
    g = conv_geometry(input_size, kernel_size, stride, padding, dilation, transposed)
    i, j = g._check_position(position)
    G, o = g.grid_size, g.output_size
    big = max(G, o) > BIG_GRID
    cell = _cell_inches(G, o)
    width, height = max(cell * (G + o + 3) + 0.6, 6.0), cell * max(G, o) + 1.6  # inches; wide enough for the title
    if fig is None:
        fig = plt.figure(figsize=(width, height))
    else:
        fig.set_size_inches(width, height)
    ax_in, ax_out = fig.subplots(1, 2, gridspec_kw={"width_ratios": [G, o], "wspace": 3 / (G + o) + 0.1})
    fig.subplots_adjust(top=1 - 1.0 / height, bottom=0.55 / height)  # room for two title lines and the legend

    cells = g.axis_cells()
    kinds = [["padding" if "padding" in (rk, ck) else "zero" if "zero" in (rk, ck) else "input" for ck, _ in cells]
             for rk, _ in cells]
    if big:
        colors = {"input": to_rgb(INPUT_COLOR), "padding": to_rgb(PADDING_COLOR), "zero": to_rgb(ZERO_COLOR)}
        ax_in.imshow([[colors[kind] for kind in row] for row in kinds], extent=(0, G, G, 0), interpolation="nearest",
                     gid="cells")
        ax_out.imshow([[to_rgb(OUTPUT_COLOR)] * o] * o, extent=(0, o, o, 0), interpolation="nearest", gid="cells")
        ax_out.add_patch(Rectangle((j, i), 1, 1, facecolor=HIGHLIGHT_OUTPUT, edgecolor="none", gid="highlight"))
    else:
        styles = {"input": dict(facecolor=INPUT_COLOR, edgecolor="white"),
                  "padding": dict(facecolor="white", edgecolor=INPUT_EDGE, hatch="////", alpha=0.6),
                  "zero": dict(facecolor="white", edgecolor=INPUT_EDGE, hatch="..", alpha=0.6)}
        for r, row in enumerate(kinds):
            for c, kind in enumerate(row):
                ax_in.add_patch(Rectangle((c, r), 1, 1, linewidth=1, gid=kind, **styles[kind]))
        for r in range(o):
            for c in range(o):
                highlight = (r, c) == (i, j)
                ax_out.add_patch(Rectangle((c, r), 1, 1, facecolor=HIGHLIGHT_OUTPUT if highlight else OUTPUT_COLOR,
                                           edgecolor="white", linewidth=1, gid="highlight" if highlight else "output"))
    if o * o <= 144:  # where each window starts: the stride made visible
        starts = [g.taps(a)[0] + 0.5 for a in range(o)]
        ax_in.plot([x for _ in starts for x in starts], [y for y in starts for _ in starts], "o", color="0.35",
                   markersize=max(1.5, 9 * cell), zorder=3)
    rows, cols = g.taps(i), g.taps(j)
    for r in rows:
        for c in cols:
            ax_in.add_patch(Rectangle((c, r), 1, 1, facecolor=WINDOW_COLOR, alpha=0.5, edgecolor="none", gid="tap",
                                      zorder=4))
    ax_in.add_patch(Rectangle((cols[0], rows[0]), g.kernel_span, g.kernel_span, fill=False, edgecolor=WINDOW_COLOR,
                              linewidth=2.5 if not big else 1.5, gid="window", zorder=5))
    link = ConnectionPatch(xyA=(cols[-1] + 1, rows[0] + g.kernel_span / 2), coordsA=ax_in.transData,
                           xyB=(j, i + 0.5), coordsB=ax_out.transData, color=WINDOW_COLOR, linewidth=1.2,
                           arrowstyle="->", zorder=6)
    fig.add_artist(link)

    for ax, size in ((ax_in, G), (ax_out, o)):
        ax.set_xlim(-0.05, size + 0.05)
        ax.set_ylim(size + 0.05, -0.05)
        ax.set_aspect("equal")
        ax.set_frame_on(False)
        ax.set_xticks([])
        ax.set_yticks([])
    if not big:
        _label_indices(ax_in, [(g_ + 0.5, pixel) for g_, (kind, pixel) in enumerate(cells) if kind == "input"])
        _label_indices(ax_out, [(a + 0.5, a) for a in range(o)])
    what = "" if not g.transposed else "transposed: zeros inserted, " if g.stride > 1 else "transposed, "
    ax_in.set_title(f"input {g.input_size}x{g.input_size}\n({what}grid {G}x{G})", fontsize=9)
    ax_out.set_title(f"output {o}x{o}\n(PyTorch: {g.torch_output_size}x{g.torch_output_size})", fontsize=9)
    fig.suptitle(str(g.layer).replace(", bias=False", ""), fontsize=10)
    padding_look = dict(facecolor=PADDING_COLOR) if big else dict(facecolor="white", edgecolor=INPUT_EDGE, hatch="////")
    handles = [Patch(facecolor=INPUT_COLOR, label="input pixel"), Patch(label="padding", **padding_look)]
    if g.transposed and g.stride > 1:
        zero_look = dict(facecolor=ZERO_COLOR) if big else dict(facecolor="white", edgecolor=INPUT_EDGE, hatch="..")
        handles.append(Patch(label="inserted zero", **zero_look))
    handles += [Patch(facecolor=WINDOW_COLOR, alpha=0.5, label=f"window of output {(i, j)}")]
    if o * o <= 144:
        handles.append(Line2D([], [], marker="o", linestyle="none", color="0.35", label="window starts"))
    handles += [Patch(facecolor=OUTPUT_COLOR, label="output"),
                Patch(facecolor=HIGHLIGHT_OUTPUT, label=f"output {(i, j)}")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=7, frameon=False)
    return fig


def _figure_png(settings: dict, position: tuple[int, int]) -> bytes:
    """`draw_conv` rendered to PNG bytes at WIDGET_DPI, without pyplot (so no figure is left open)."""
    fig = Figure()
    draw_conv(**settings, position=position, fig=fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=WIDGET_DPI)
    return buffer.getvalue()


def _invalid_message(settings: dict, err: Exception) -> str:
    """One line for a setting that does not fit: what is wrong (the formula's or PyTorch's reason) and how to fix it.

    >>> _invalid_message(dict(transposed=False), ValueError("kernel 5 larger than padded input 3 (input 3 + 2*padding 0)"))
    'This setting does not fit: kernel 5 larger than padded input 3 (input 3 + 2*padding 0). To fix it, make the input larger, add padding, or use a smaller kernel or dilation.'
    """
    reason = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
    reason = reason.split("; use less padding")[0]  # conv_arith's own advice, replaced by the fuller one below
    if settings.get("transposed"):
        fix = "use less padding, or a larger input, kernel, stride or dilation"
    else:
        fix = "make the input larger, add padding, or use a smaller kernel or dilation"
    return f"This setting does not fit: {reason}. To fix it, {fix}."


class ConvExplorer(widgets.VBox):
    """Sliders for input size, kernel, stride, padding, dilation, a transposed toggle and the output to explain.

    It is an ipywidgets VBox: the sliders in a column left of the picture, the text below (about 880 x 520 px in all,
    so it fits a 1366x768 laptop screen inside JupyterLab). `text` (an HTML widget) and `image` (an Image widget
    holding a PNG) update on every change, so the explorer can be driven and checked without a browser:
    ``explorer.sliders["stride"].value = 2``. A setting that does not fit hides the picture and shows one line saying
    what is wrong and how to fix it.
    """

    def __init__(self, input_size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0,
                 dilation: int = 1, transposed: bool = False) -> None:
        super().__init__()
        values = {"input_size": input_size, "kernel_size": kernel_size, "stride": stride, "padding": padding,
                  "dilation": dilation}
        narrow = dict(layout=widgets.Layout(width="290px"), style={"description_width": "80px"})
        self.sliders = {}
        for name, value in values.items():
            low, high = SLIDER_RANGES[name]
            if not low <= check_int(name, value) <= high:
                raise ValueError(f"{name} must be an int in [{low}, {high}] for the explorer's slider, got {value!r}; "
                                 f"draw_conv({name}={value!r}, ...) draws it without sliders")
            self.sliders[name] = widgets.IntSlider(value=value, min=low, max=high, description=name.replace("_", " "),
                                                   continuous_update=False, **narrow)
        self.transposed = widgets.Checkbox(value=check_bool("transposed", transposed),
                                           description="transposed (nn.ConvTranspose2d)", indent=False,
                                           layout=widgets.Layout(width="290px"))
        self.pickers = {axis: widgets.IntSlider(value=0, min=0, max=0, description=f"output {axis}",
                                                continuous_update=False, **narrow) for axis in ("row", "col")}
        self.text = widgets.HTML(layout=widgets.Layout(max_width="880px"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="560px", height="auto"))
        controls = widgets.VBox([*self.sliders.values(), self.transposed, *self.pickers.values()],
                                layout=widgets.Layout(width="300px", flex="0 0 auto"))
        self.children = [widgets.HBox([controls, self.image]), self.text]
        self._updating = False
        for control in (*self.sliders.values(), self.transposed):
            control.observe(self._on_setting, names="value")
        for picker in self.pickers.values():
            picker.observe(self._on_position, names="value")
        self._on_setting()

    @property
    def settings(self) -> dict:
        """The current slider values, as keyword arguments of `draw_conv` and `conv_geometry`."""
        return {**{name: s.value for name, s in self.sliders.items()}, "transposed": self.transposed.value}

    @property
    def position(self) -> tuple[int, int]:
        """The output (row, col) whose window is drawn."""
        return self.pickers["row"].value, self.pickers["col"].value

    def _on_setting(self, change: dict | None = None) -> None:
        """A slider moved: recompute the geometry, resize the output pickers, redraw (or say why it does not fit)."""
        try:
            g = conv_geometry(**self.settings)
        except ValueError as err:
            for picker in self.pickers.values():
                picker.disabled = True
            self.text.value = (f"<p style='color:#b00020; margin:0.3em 0'>"
                               f"{html.escape(_invalid_message(self.settings, err))}</p>")
            self.image.layout.display = "none"  # no broken-image icon: the line above says what is wrong
            self.image.value = b""
            return
        self._updating = True
        for picker in self.pickers.values():
            picker.max = g.output_size - 1  # ipywidgets clamps the value into the new range
            picker.disabled = False
        self._updating = False
        self.image.layout.display = None
        self._draw(g)

    def _on_position(self, change: dict) -> None:
        if not self._updating:
            self._draw(conv_geometry(**self.settings))

    def _draw(self, g: ConvGeometry) -> None:
        position = self.position
        self.text.value = (f"<pre style='white-space:pre-wrap; margin:0.3em 0'>"
                           f"{html.escape(describe(g, position))}</pre>")
        self.image.value = _figure_png(self.settings, position)

    def __repr__(self) -> str:  # short and stable: nbval compares a widget's text/plain output
        values = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"ConvExplorer({values})"


def explore(input_size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
            transposed: bool = False, static: bool = False) -> ConvExplorer | Figure:
    """The interactive explorer, or with `static=True` the same drawing as a plain figure (no widgets needed).

    The sliders cover the course's exercises (e.g. exercise 02.1's 64x64 input with a 5x5 kernel, stride 2, padding 2);
    see SLIDER_RANGES. `draw_conv` draws any valid setting.
    """
    settings = dict(input_size=input_size, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                    transposed=transposed)
    if check_bool("static", static):
        return draw_conv(**settings)
    return ConvExplorer(**settings)
