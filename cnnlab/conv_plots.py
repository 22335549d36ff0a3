"""Figures for the convolution notebooks, kept out of the story: number grids, image grids, filters, feature maps.

One palette for the whole topic, so a colour always means the same thing: blue is an input, green is an output,
hatching is padding (zeros that are not part of the image), a dark overlay is the kernel window.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnlab.validation import check_bool, check_choice, check_float, check_int, check_tensor

__all__ = ["matrix_text", "draw_grid", "show_grids", "show_images", "show_filters", "show_feature_maps"]

INPUT_COLOR = "#9ecae1"  # light blue: input cells
INPUT_EDGE = "#3182bd"  # blue: input cell borders, hatching of padding
OUTPUT_COLOR = "#a1d99b"  # light green: output cells
OUTPUT_EDGE = "#31a354"  # green
HIGHLIGHT_OUTPUT = "#006d2c"  # dark green: the output cell being explained
WINDOW_COLOR = "#08306b"  # dark navy: the kernel window over the input
KERNEL_COLOR = "#fdd0a2"  # light orange: kernels (the weights), neither input nor output

_ROLE_COLORS = {"input": INPUT_COLOR, "output": OUTPUT_COLOR, "kernel": KERNEL_COLOR}


def _as_array(matrix: torch.Tensor | np.ndarray | Sequence, name: str = "matrix",
              ndim: tuple[int, ...] = (2,)) -> np.ndarray:
    """A NumPy array of numbers of an allowed rank (2-D by default) from a tensor, an array or nested lists."""
    if isinstance(matrix, torch.Tensor):
        t = matrix.detach().cpu()
        array = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    elif isinstance(matrix, (np.ndarray, list, tuple)):
        try:
            array = np.asarray(matrix)
        except ValueError:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular matrix of numbers, got ragged rows") from None
    else:
        raise TypeError(f"{name} must be a tensor, an array or nested lists of numbers, got {type(matrix).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim not in ndim:
        words = " or ".join(f"{n}-D" for n in ndim)
        raise ValueError(f"{name}: expected a {words} matrix, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    return array


def _check_titles(name: str, titles: object, count: int, what: str) -> list[str]:
    """`titles` as a list of `count` strings (one per matrix or image)."""
    if isinstance(titles, str) or not isinstance(titles, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(titles).__name__}")
    if len(titles) != count:
        raise ValueError(f"need one {name[:-1]} per {what}, got {count} {what}s and {len(titles)} {name}")
    for i, title in enumerate(titles):
        if not isinstance(title, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(title).__name__}")
    return list(titles)


def _check_list(name: str, items: object) -> list:
    """`items` as a non-empty list (a tuple or list; not a string or a single tensor)."""
    if not isinstance(items, (list, tuple)):
        raise TypeError(f"{name} must be a list, got {type(items).__name__}")
    if not items:
        raise ValueError(f"{name} must not be empty")
    return list(items)


def _format(value: float, decimals: int) -> str:
    """A cell's label: an integer without a decimal point, otherwise `decimals` decimals."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.{decimals}f}"


def matrix_text(matrix: torch.Tensor | np.ndarray | Sequence, decimals: int = 0) -> str:
    """A 2-D matrix as right-aligned rows of numbers, like the lectures' tables (-0 printed as 0).

    >>> print(matrix_text(torch.tensor([[3.0, -1.0], [-3.0, 10.0]])))
     3 -1
    -3 10
    >>> print(matrix_text([[1.0, 1.8]], decimals=1))
    1.0 1.8
    """
    decimals = check_int("decimals", decimals, ge=0, le=20)
    array = _as_array(matrix).astype(float) + 0.0  # + 0.0 turns -0.0 into 0.0
    cells = [[f"{value:.{decimals}f}" for value in row] for row in array]
    width = max(len(cell) for row in cells for cell in row)
    return "\n".join(" ".join(cell.rjust(width) for cell in row) for row in cells)


def draw_grid(ax: Axes, matrix: torch.Tensor | np.ndarray | Sequence, role: str = "input", title: str = "",
              decimals: int = 1) -> None:
    """Draw one matrix as a grid of labelled cells on `ax`, coloured by its role: input, kernel or output."""
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    check_choice("role", role, tuple(_ROLE_COLORS))
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    decimals = check_int("decimals", decimals, ge=0, le=20)
    array = _as_array(matrix)
    H, W = array.shape
    ax.imshow(np.ones((H, W, 3)), extent=(0, W, H, 0))  # a white canvas with the right aspect
    for (r, c), value in np.ndenumerate(array):
        ax.add_patch(plt.Rectangle((c, r), 1, 1, facecolor=_ROLE_COLORS[role], edgecolor="white", linewidth=1.5))
        ax.text(c + 0.5, r + 0.5, _format(value, decimals), ha="center", va="center", fontsize=9)
    ax.set(xlim=(0, W), ylim=(H, 0), title=title)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def show_grids(matrices: Sequence, titles: Sequence[str], roles: Sequence[str], decimals: int = 1,
               cell_inches: float = 0.32) -> Figure:
    """Matrices side by side as labelled grids (input blue, kernel orange, output green), cells of one size."""
    matrices = _check_list("matrices", matrices)
    if not isinstance(titles, (list, tuple)) or not isinstance(roles, (list, tuple)):
        raise TypeError(f"titles and roles must be lists, got {type(titles).__name__} and {type(roles).__name__}")
    if not len(matrices) == len(titles) == len(roles):
        raise ValueError(f"need as many titles and roles as matrices, got {len(matrices)}, {len(titles)}, {len(roles)}")
    for i, role in enumerate(roles):
        check_choice(f"roles[{i}]", role, tuple(_ROLE_COLORS))
    decimals = check_int("decimals", decimals, ge=0, le=20)
    cell_inches = check_float("cell_inches", cell_inches, gt=0, le=10)
    arrays = [_as_array(m, f"matrices[{i}]") for i, m in enumerate(matrices)]
    widths = [a.shape[1] for a in arrays]
    height = max(a.shape[0] for a in arrays)
    fig = plt.figure(figsize=(cell_inches * (sum(widths) + 1.5 * len(arrays)), cell_inches * height + 0.6))
    axes = fig.subplots(1, len(arrays), gridspec_kw={"width_ratios": widths})
    for ax, array, title, role in zip(np.atleast_1d(axes), arrays, titles, roles):
        draw_grid(ax, array, role, title, decimals)
    return fig


def show_images(images: Sequence[torch.Tensor], titles: Sequence[str], ncols: int = 4, cmap: str = "gray",
                size: float = 2.6, symmetric: Sequence[bool] | None = None) -> Figure:
    """Images in a grid with titles; where `symmetric[i]`, a diverging map centred on 0 (for signed outputs).

    A signed image's colour scale ends at the 99.5th percentile of its absolute values, so that a few extreme
    pixels do not wash out the rest.
    """
    images = _check_list("images", images)
    titles = _check_titles("titles", titles, len(images), "image")
    arrays = [_as_array(image, f"images[{i}]", ndim=(2, 3)) for i, image in enumerate(images)]
    for i, array in enumerate(arrays):
        if array.ndim == 3 and array.shape[2] not in (3, 4):
            raise ValueError(f"images[{i}] must be (H, W) or (H, W, 3 or 4 channels), got shape {array.shape}")
    ncols = check_int("ncols", ncols, ge=1)
    if not isinstance(cmap, str):
        raise TypeError(f"cmap must be the name of a matplotlib colormap, got {type(cmap).__name__}")
    size = check_float("size", size, gt=0, le=20)
    if symmetric is None:
        symmetric = [False] * len(images)
    else:
        symmetric = _check_list("symmetric", symmetric)
        if len(symmetric) != len(images):
            raise ValueError(f"symmetric needs one flag per image, got {len(symmetric)} flags and {len(images)} images")
        symmetric = [check_bool(f"symmetric[{i}]", flag) for i, flag in enumerate(symmetric)]
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, array, title, signed in zip(axes.flat, arrays, titles, symmetric):
        if signed:
            limit = float(np.percentile(np.abs(array), 99.5)) or float(np.abs(array).max()) or 1.0
            ax.imshow(array, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(array, cmap=cmap)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def show_filters(weight: torch.Tensor, title: str = "", size: float = 1.1) -> Figure:
    """The 2-D kernels of a conv layer's weight (C_out, C_in, kH, kW): one row per input channel, blue < 0 < red."""
    check_tensor("weight", weight, dtype="number")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in, kH, kW), got shape {tuple(weight.shape)}")
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    size = check_float("size", size, gt=0, le=20)
    w = weight.detach().cpu().float().numpy()
    C_out, C_in = w.shape[:2]
    limit = float(np.abs(w).max()) or 1.0
    fig, axes = plt.subplots(C_in, C_out, figsize=(size * C_out, size * C_in + 0.4), squeeze=False)
    for (c_in, c_out), ax in np.ndenumerate(axes):
        ax.imshow(w[c_out, c_in], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        if c_in == 0:
            ax.set_title(f"filter {c_out}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_feature_maps(maps: torch.Tensor, title: str = "", ncols: int = 8, size: float = 1.2) -> Figure:
    """The channels of one feature map (C, H, W) as small images, each on its own colour scale."""
    check_tensor("maps", maps, dtype="number")
    if maps.dim() != 3:
        raise ValueError(f"maps must be 3-D (C, H, W): one example's feature maps, got shape {tuple(maps.shape)}")
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    ncols, size = check_int("ncols", ncols, ge=1), check_float("size", size, gt=0, le=20)
    maps = maps.detach().cpu().float()
    titles = [f"channel {c}" for c in range(len(maps))]
    fig = show_images(list(maps), titles, ncols=min(ncols, len(maps)), cmap="viridis", size=size)
    if title:
        fig.suptitle(title)
        fig.tight_layout()
    return fig
