"""Tests for cnnlab.explorer: the drawing and the widget agree with the PyTorch layers on a grid of settings."""

from __future__ import annotations

import html
import itertools
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from matplotlib.colors import to_rgb  # noqa: E402

from cnnlab._exercises_02 import _random_cases  # noqa: E402
from cnnlab.conv_plots import INPUT_COLOR  # noqa: E402
from cnnlab.exercises import _get as get_exercise  # noqa: E402
from cnnlab.explorer import (BIG_GRID, FIG_HEIGHT, FIG_WIDTH, SLIDER_RANGES, WIDGET_DPI, ConvExplorer,  # noqa: E402
                             _figure_png, conv_geometry, describe, draw_conv, explore, torch_layer, torch_output_size)

SIZES, KERNELS, STRIDES, PADDINGS, DILATIONS = range(1, 7), range(1, 5), range(1, 4), range(0, 4), range(1, 3)


def pytorch_size(n: int, k: int, s: int, p: int, d: int, transposed: bool) -> int | None:
    """Output height of a freshly built PyTorch layer on zeros(1, 1, n, n); None where PyTorch rejects it."""
    kind = nn.ConvTranspose2d if transposed else nn.Conv2d
    try:
        size = kind(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, n, n)).shape[-1]
    except RuntimeError:
        return None
    return size if size > 0 else None  # ConvTranspose2d returns an empty tensor for some settings


def pytorch_footprint(n: int, k: int, s: int, p: int, d: int, transposed: bool, i: int, j: int) -> set:
    """Input pixels output (i, j) depends on, from autograd: a nonzero gradient through positive weights."""
    kind = nn.ConvTranspose2d if transposed else nn.Conv2d
    layer = kind(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
    x = torch.rand(1, 1, n, n, requires_grad=True)
    layer(x)[0, 0, i, j].backward()
    return {tuple(rc) for rc in (x.grad[0, 0] != 0).nonzero().tolist()}


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("s", STRIDES)
def test_geometry_matches_pytorch_or_raises(s, transposed):
    checked = 0
    for n, k, p, d in itertools.product(SIZES, KERNELS, PADDINGS, DILATIONS):
        expected = pytorch_size(n, k, s, p, d, transposed)
        if expected is None:
            with pytest.raises(ValueError):
                conv_geometry(n, k, s, p, d, transposed)
            continue
        g = conv_geometry(n, k, s, p, d, transposed)
        assert g.output_size == g.torch_output_size == expected
        unused = g.grid_size - g.kernel_span - (g.output_size - 1) * g.grid_step  # grid cells after the last window
        assert 0 <= unused < g.grid_step  # the last window fits, and one more step would not
        footprints = g.torch_footprints()
        for i, j in itertools.product(range(g.output_size), repeat=2):  # what is drawn is what PyTorch computes
            assert g.seen_pixels((i, j)) == {tuple(rc) for rc in footprints[i, j].nonzero().tolist()}
        checked += 1
    assert checked > 50  # most of the grid is valid: the test is not vacuous


@pytest.mark.parametrize("n, k, s, p, d, transposed", [
    (5, 3, 1, 0, 1, False), (5, 3, 2, 1, 1, False), (7, 3, 1, 0, 2, False), (6, 4, 3, 2, 1, False),
    (2, 3, 1, 0, 1, True), (3, 3, 2, 1, 1, True), (6, 4, 1, 2, 1, True), (3, 2, 3, 0, 2, True), (4, 3, 2, 3, 1, True),
])
def test_footprints_match_autograd(n, k, s, p, d, transposed):
    g = conv_geometry(n, k, s, p, d, transposed)
    for i, j in itertools.product(range(g.output_size), repeat=2):
        assert g.seen_pixels((i, j)) == pytorch_footprint(n, k, s, p, d, transposed, i, j)


def gids(fig: Figure) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ax in fig.axes:
        for patch in ax.patches:
            counts[patch.get_gid()] = counts.get(patch.get_gid(), 0) + 1
    return counts


@pytest.mark.parametrize("n, k, s, p, d, transposed", [
    (5, 3, 1, 0, 1, False), (5, 3, 2, 1, 1, False), (7, 3, 1, 0, 2, False), (1, 1, 1, 2, 1, False),
    (2, 3, 1, 0, 1, True), (3, 3, 2, 1, 1, True), (4, 3, 2, 3, 1, True), (3, 2, 3, 0, 2, True),
])
def test_drawing_reports_pytorch_sizes(n, k, s, p, d, transposed):
    expected = pytorch_size(n, k, s, p, d, transposed)
    g = conv_geometry(n, k, s, p, d, transposed)
    last = (expected - 1, expected - 1)
    fig = draw_conv(n, k, s, p, d, transposed, position=last)
    counts = gids(fig)
    assert counts["output"] + counts["highlight"] == expected * expected
    assert counts["highlight"] == 1 and counts["window"] == 1 and counts["tap"] == k * k
    assert sum(counts.get(kind, 0) for kind in ("input", "padding", "zero")) == g.grid_size ** 2
    visible_pixels = sum(1 for kind, _ in g.axis_cells() if kind == "input") ** 2
    assert counts.get("input", 0) == visible_pixels  # every pixel, unless a transposed conv's grid crops some
    assert f"output {expected}x{expected}" in fig.axes[1].get_title()
    assert f"PyTorch: {expected}x{expected}" in fig.axes[1].get_title()
    plt.close(fig)


def test_describe_names_the_layer_and_agrees():
    text = describe(conv_geometry(5, 3, stride=2, padding=1), (1, 2))
    assert text.splitlines()[0] == "Conv2d(1, 1, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False) on a 5x5 input"
    assert "= 3  |  PyTorch: 3x3" in text
    assert "output (1, 2) of 3x3 sees input rows 1-3, cols 3-4: 6 of its 9 taps land on a pixel" in text
    assert text.endswith("PyTorch agrees: its layer's output (1, 2) depends on exactly these pixels.")


def test_describe_lecture_transposed_examples():
    assert "= 4  |  PyTorch: 4x4" in describe(conv_geometry(2, 3, transposed=True))  # o' = 1(2 - 1) + 3
    assert "= 5  |  PyTorch: 5x5" in describe(conv_geometry(6, 4, padding=2, transposed=True))  # 1(6 - 1) + 4 - 4


@pytest.mark.parametrize("settings, message", [
    (dict(input_size=3, kernel_size=5), "kernel 5 larger than padded input 3"),
    (dict(input_size=3, kernel_size=3, dilation=2), "dilated kernel 5"),
    (dict(input_size=1, kernel_size=1, padding=1, transposed=True), "output size -1 < 1"),
])
def test_invalid_settings_give_the_message(settings, message):
    with pytest.raises(ValueError, match=message):
        conv_geometry(**settings)
    with pytest.raises(ValueError, match=message):
        draw_conv(**settings)
    explorer = ConvExplorer(**settings)
    shown = html.unescape(re.sub(r"<[^>]+>", "", explorer.text.value))  # the text a learner reads
    assert shown.startswith("This setting does not fit: ") and message in shown and "To fix it, " in shown
    assert "\n" not in shown and "Traceback" not in shown and "Error" not in shown, shown  # one plain line
    assert explorer.image.layout.display == "none", "no picture (and no broken-image icon) for an invalid setting"
    assert all(picker.disabled for picker in explorer.pickers.values())


def test_invalid_setting_says_how_to_fix_it_and_the_fix_works():
    explorer = ConvExplorer(input_size=3, kernel_size=5)  # kernel 5 on a 3x3 input
    assert "make the input larger, add padding" in html.unescape(explorer.text.value)
    explorer.sliders["padding"].value = 1  # the advice, followed: 3 + 2*1 = 5 fits a 5x5 kernel
    assert explorer.image.layout.display is None and bytes(explorer.image.value).startswith(b"\x89PNG")
    assert "PyTorch: 1x1" in explorer.text.value and not any(p.disabled for p in explorer.pickers.values())
    explorer.transposed.value = True
    explorer.sliders["padding"].value = 5  # (3 - 1)*1 - 10 + 4 + 1 = -3: too much padding for a transposed conv
    assert "use less padding" in html.unescape(explorer.text.value)


def test_bad_types_and_positions():
    with pytest.raises(TypeError):
        conv_geometry(5, 3.0)
    with pytest.raises(TypeError):
        conv_geometry(5, 3, transposed=1)
    with pytest.raises(ValueError, match="outside the 3x3 output"):
        draw_conv(5, 3, position=(3, 0))
    with pytest.raises(ValueError, match=r"input_size must be an int in \[1, 64\] for the explorer's slider, got 65; "
                                         r"draw_conv\(input_size=65, ...\) draws it without sliders"):
        ConvExplorer(input_size=65)
    with pytest.raises(ValueError, match=r"kernel_size must be an int in \[1, 11\]"):
        explore(kernel_size=12)


@pytest.mark.parametrize("call, error, message", [
    (lambda: ConvExplorer(stride=2.0), TypeError, r"stride must be an int, got float 2.0"),
    (lambda: ConvExplorer(transposed="no"), TypeError, r"transposed must be True or False \(a bool\), got str 'no'"),
    (lambda: explore(static="no"), TypeError, r"static must be True or False \(a bool\), got str 'no'"),
    (lambda: torch_layer(0), ValueError, r"kernel_size must be a positive int, got 0"),
    (lambda: torch_layer(3, padding=-1), ValueError, r"padding must be an int >= 0, got -1"),
    (lambda: torch_layer(3, transposed=1), TypeError, r"transposed must be True or False"),
    (lambda: torch_output_size("conv", 5), TypeError, r"layer must be a torch.nn.Module, got str"),
    (lambda: torch_output_size(torch_layer(3), 0), ValueError, r"input_size must be a positive int, got 0"),
    (lambda: describe((5, 3)), TypeError, r"g must be a ConvGeometry"),
    (lambda: describe(conv_geometry(5, 3), position=(0, -1)), ValueError, r"position\[1\] must be an int >= 0"),
    (lambda: draw_conv(fig="fig"), TypeError, r"fig must be a matplotlib Figure or None, got str"),
])
def test_bad_arguments_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_widget_builds_headless_and_updates():
    explorer = explore()
    assert isinstance(explorer, ConvExplorer)
    assert repr(explorer) == ("ConvExplorer(input_size=5, kernel_size=3, stride=1, padding=0, dilation=1, "
                              "transposed=False)")
    assert explorer._repr_mimebundle_()["text/plain"] == repr(explorer)  # what nbval compares: short and stable
    assert "PyTorch: 3x3" in explorer.text.value and bytes(explorer.image.value).startswith(b"\x89PNG")
    assert [p.max for p in explorer.pickers.values()] == [2, 2] and explorer.position == (0, 0)
    before = bytes(explorer.image.value)

    explorer.sliders["stride"].value = 2  # 5x5, k=3, s=2 -> 2x2
    assert "PyTorch: 2x2" in explorer.text.value and "stride=2" in repr(explorer)
    assert [p.max for p in explorer.pickers.values()] == [1, 1] and bytes(explorer.image.value) != before

    explorer.pickers["row"].value, explorer.pickers["col"].value = 1, 1
    assert explorer.position == (1, 1)
    assert "output (1, 1) of 2x2 sees input rows 2-4, cols 2-4" in explorer.text.value

    explorer.sliders["kernel_size"].value = 5
    explorer.sliders["input_size"].value = 3  # kernel 5 on a 3x3 input: invalid, the message instead of a crash
    assert "This setting does not fit: kernel 5 larger than padded input 3" in explorer.text.value

    explorer.transposed.value = True  # ... but fine as a transposed conv: 3x3 -> 9x9
    assert "ConvTranspose2d" in explorer.text.value and "PyTorch: 9x9" in explorer.text.value
    assert [p.max for p in explorer.pickers.values()] == [8, 8] and bytes(explorer.image.value).startswith(b"\x89PNG")
    assert explorer.image.layout.display is None


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its IHDR chunk."""
    assert data.startswith(b"\x89PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_exercise_02_1_fits_the_sliders_and_matches_pytorch():
    """Exercise 02.1's layer on its image (read from the exercise's question): the explorer draws it, as PyTorch does."""
    question = get_exercise("02.1").question
    n = int(re.search(r"(\d+)x\1 ", question).group(1))
    k, s, p = (int(re.search(rf"{name}=(\d+)", question).group(1)) for name in ("kernel_size", "stride", "padding"))
    want = nn.Conv2d(3, 8, kernel_size=k, stride=s, padding=p)(torch.zeros(1, 3, n, n)).shape[-1]
    explorer = explore(input_size=n, kernel_size=k, stride=s, padding=p)
    assert f"PyTorch: {want}x{want}" in explorer.text.value, explorer.text.value
    assert explorer.pickers["row"].max == want - 1 and explorer.image.layout.display is None


def test_slider_ranges_cover_the_exercises_unseen_settings():
    """Exercise 02.4 is checked on random settings; the sliders reach every one of them, so a learner can draw them."""
    cases = _random_cases(seed=2, count=40)
    for name, key in (("input_size", "n"), ("kernel_size", "k"), ("stride", "s"), ("padding", "p"), ("dilation", "d")):
        low, high = SLIDER_RANGES[name]
        values = [c[key] for c in cases]
        assert low <= min(values) and max(values) <= high, f"{name}: {min(values)}..{max(values)} vs {low}..{high}"


@pytest.mark.parametrize("n, k, s, p, d, transposed", [
    (64, 5, 2, 2, 1, False), (64, 11, 4, 5, 4, False), (64, 11, 4, 5, 4, True), (64, 1, 1, 0, 1, False),
    (1, 1, 1, 5, 1, False), (28, 2, 2, 0, 1, False), (9, 3, 1, 1, 1, False), (5, 3, 2, 1, 1, False),
    (3, 3, 2, 1, 1, True), (16, 3, 1, 0, 2, False),
])
def test_picture_fits_beside_the_sliders_and_big_grids_are_images(n, k, s, p, d, transposed):
    """At most 558 x 387 px (6.2 x 4.3 in at 90 dpi) for any slider setting; big grids: one image, no cell patches."""
    g = conv_geometry(n, k, s, p, d, transposed)
    i = g.output_size - 1
    width, height = png_size(_figure_png(dict(input_size=n, kernel_size=k, stride=s, padding=p, dilation=d,
                                              transposed=transposed), (i, 0)))
    assert width <= round(FIG_WIDTH * WIDGET_DPI) and height <= round(FIG_HEIGHT * WIDGET_DPI), (width, height)
    fig = draw_conv(n, k, s, p, d, transposed, position=(i, 0))
    counts = gids(fig)
    assert counts["window"] == 1 and counts["tap"] == k * k and counts["highlight"] == 1
    big = max(g.grid_size, g.output_size) > BIG_GRID
    images = [im for ax in fig.axes for im in ax.images if im.get_gid() == "cells"]
    if big:
        assert len(images) == 2 and "input" not in counts and "output" not in counts
        cells = images[0].get_array()  # (G, G, 3): the input panel, one pixel per grid cell
        assert cells.shape[:2] == (g.grid_size, g.grid_size)
        blue = (abs(cells - torch.tensor(to_rgb(INPUT_COLOR)).numpy()).sum(-1) < 1e-6).sum()
        assert blue == sum(1 for kind, _ in g.axis_cells() if kind == "input") ** 2
        assert images[1].get_array().shape[:2] == (g.output_size, g.output_size)
        assert fig.axes[0].get_xticks().size == 0, "no index numbers on a big grid"
    else:
        assert images == [] and counts["output"] + 1 == g.output_size ** 2
        assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == [str(a) for a in range(g.output_size)]
    highlight = next(patch for patch in fig.axes[1].patches if patch.get_gid() == "highlight")
    assert highlight.get_xy() == (0, i)  # (x, y) = (column, row) of the output being explained
    plt.close(fig)


def test_static_explore_is_a_figure():
    fig = explore(input_size=4, kernel_size=2, stride=2, static=True)
    assert isinstance(fig, Figure)
    assert gids(fig)["output"] + 1 == 4
    plt.close(fig)
