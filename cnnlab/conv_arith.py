"""Convolution arithmetic: output sizes, receptive fields, parameter counts, and convolution from scratch.

Every formula here is the one PyTorch uses (`nn.Conv2d`, `nn.MaxPool2d`, `nn.ConvTranspose2d`), and the tests check it.
`trace_shapes` is hand-written with forward hooks (about 30 lines) so that a learner can read how a shape trace works;
`torchinfo.summary` does the same and more (MACs, depth control) and is the tool to use in practice; the tests check
that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models import forward_hooks
from cnnlab.validation import check_bool, check_int, check_module, check_tensor

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "transposed_output_size",
    "receptive_field_steps",
    "receptive_field",
    "conv2d_naive",
    "conv2d_im2col",
    "max_pool_mask",
    "param_count",
    "conv_params",
    "depthwise_separable_params",
    "ShapeTrace",
    "trace_shapes",
]

# ----------------------------------------------------------------------------------------------------------------------
# Checking arguments: every public function says what is wrong and what is allowed, before torch sees anything.


def _pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """An int or an (h, w) pair of ints, as a pair (h, w)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
        return check_int(f"{name}[0]", value[0], ge=minimum), check_int(f"{name}[1]", value[1], ge=minimum)
    number = check_int(name, value, ge=minimum)
    return number, number


def _conv_size(n: int, k: int, s: int, p: int, d: int, axis: str = "") -> int:
    """The conv output size along one axis, for checked ints; a ValueError if the kernel does not fit."""
    k_eff = d * (k - 1) + 1  # a dilated kernel spans d*(k-1)+1 pixels
    if k_eff > n + 2 * p:
        where = f"{axis}: " if axis else ""
        kernel = f"dilated kernel {k_eff} (kernel_size {k}, dilation {d})" if d > 1 else f"kernel {k}"
        raise ValueError(f"{where}{kernel} larger than padded input {n + 2 * p} (input {n} + 2*padding {p})")
    return (n + 2 * p - k_eff) // s + 1


# ----------------------------------------------------------------------------------------------------------------------
# Output sizes along one axis


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output size of `nn.Conv2d` along one axis: floor((n + 2p - d(k-1) - 1) / s) + 1.

    >>> conv_output_size(7, 3)  # lecture: o = (7 - 3)/1 + 1
    5
    >>> conv_output_size(227, 11, stride=4)  # AlexNet CONV1
    55
    >>> conv_output_size(32, 7), conv_output_size(26, 5, stride=2)  # 32x32x3 -> 26x26x10 -> 11x11x6
    (26, 11)
    >>> conv_output_size(6, 3), conv_output_size(6, 3, stride=2)  # the 6x6 image and a 3x3 filter
    (4, 2)
    """
    n = check_int("input size n", n, ge=1)
    k = check_int("kernel_size", kernel_size, ge=1)
    s = check_int("stride", stride, ge=1)
    p = check_int("padding", padding, ge=0)
    d = check_int("dilation", dilation, ge=1)
    return _conv_size(n, k, s, p, d)


def pool_output_size(
    n: int, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output size of `nn.MaxPool2d` along one axis (stride defaults to kernel_size).

    >>> pool_output_size(4, 2)  # lecture: 4x4 -> 2x2 with 2x2 windows at stride 2
    2
    >>> pool_output_size(55, 3, stride=2)  # AlexNet POOL1
    27
    >>> pool_output_size(5, 2), pool_output_size(5, 2, ceil_mode=True)  # ceil_mode keeps the partial last window
    (2, 3)
    """
    n = check_int("input size n", n, ge=1)
    k = check_int("kernel_size", kernel_size, ge=1)
    s = k if stride is None else check_int("stride", stride, ge=1)
    p = check_int("padding", padding, ge=0)
    d = check_int("dilation", dilation, ge=1)
    check_bool("ceil_mode", ceil_mode)
    if p > k // 2:
        raise ValueError(f"padding {p} must be at most half of kernel_size {k} (<= {k // 2}), as nn.MaxPool2d requires")
    k_eff = d * (k - 1) + 1
    if not ceil_mode:
        return _conv_size(n, k, s, p, d)
    out = (n + 2 * p - k_eff + s - 1) // s + 1  # round up instead of down ...
    if (out - 1) * s >= n + p:  # ... but the last window must start inside the input or the left padding
        out -= 1
    if out < 1:
        raise ValueError(f"kernel {k_eff} larger than padded input {n + 2 * p} (input {n} + 2*padding {p}), "
                         f"even with ceil_mode")
    return out


def transposed_output_size(
    n: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Output size of `nn.ConvTranspose2d` along one axis: (n - 1)s - 2p + d(k - 1) + output_padding + 1.

    >>> transposed_output_size(2, 3)  # lecture: o' = 1(2 - 1) + 3
    4
    >>> transposed_output_size(6, 4, padding=2)  # lecture: o' = 1(6 - 1) + 4 - 2*2
    5
    """
    n = check_int("input size n", n, ge=1)
    k = check_int("kernel_size", kernel_size, ge=1)
    s = check_int("stride", stride, ge=1)
    p = check_int("padding", padding, ge=0)
    op = check_int("output_padding", output_padding, ge=0)
    d = check_int("dilation", dilation, ge=1)
    if op >= s and op >= d:
        raise ValueError(f"output_padding {op} must be smaller than stride {s} or dilation {d}, "
                         f"as nn.ConvTranspose2d requires")
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(f"output size {out} < 1: (input {n} - 1)*stride {s} - 2*padding {p} "
                         f"+ dilation {d}*(kernel_size {k} - 1) + output_padding {op} + 1; use less padding")
    return out


# ----------------------------------------------------------------------------------------------------------------------
# Receptive field

# Layers that act on each pixel on its own do not widen the receptive field. (Normalisers take their statistics over the
# batch or the image, but by convention they do not count either.)
_POINTWISE = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
    nn.Sigmoid, nn.Tanh, nn.Dropout, nn.Dropout2d,
    nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LocalResponseNorm,
)


def _layer_geometry(name: str, layer: nn.Module) -> tuple[int, int, int] | None:
    """(kernel_size, stride, dilation) of a square conv or pool layer; None for a pointwise layer."""
    if isinstance(layer, _POINTWISE):
        return None
    if not isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        raise ValueError(
            f"receptive_field does not know layer {name!r} ({type(layer).__name__}); allowed: Conv2d, MaxPool2d, "
            f"AvgPool2d and pointwise layers (activations, BatchNorm2d, Dropout, ...) inside nn.Sequential. "
            f"Pass only the convolutional part (e.g. net.features) or a list of (kernel_size, stride) tuples"
        )
    geometry = []
    for attr in ("kernel_size", "stride", "dilation"):
        h, w = _pair(f"{name}.{attr}", getattr(layer, attr, 1), 1)  # AvgPool2d has no dilation
        if h != w:
            raise ValueError(f"layer {name!r} ({type(layer).__name__}) has {attr} {(h, w)}; "
                             f"receptive_field needs the same value along height and width")
        geometry.append(h)
    return geometry[0], geometry[1], geometry[2]


def _sequential_geometries(net: nn.Sequential, prefix: str = "") -> list[tuple[int, int, int]]:
    """(kernel_size, stride, dilation) of each conv/pool layer of an nn.Sequential, nested ones included, in order."""
    geometries = []
    for name, child in net.named_children():
        if isinstance(child, nn.Sequential):
            geometries += _sequential_geometries(child, prefix=f"{prefix}{name}.")
        elif (geometry := _layer_geometry(prefix + name, child)) is not None:
            geometries.append(geometry)
    return geometries


def _as_geometries(layers: Sequence[tuple[int, ...]] | nn.Module) -> list[tuple[int, int, int]]:
    """A list of (kernel_size, stride, dilation) from tuples or from a module."""
    if isinstance(layers, nn.Sequential):
        return _sequential_geometries(layers)
    if isinstance(layers, nn.Module):
        geometry = _layer_geometry(type(layers).__name__, layers)
        return [] if geometry is None else [geometry]
    if not isinstance(layers, (list, tuple)):
        raise TypeError(f"layers must be a list of (kernel_size, stride[, dilation]) tuples or an nn.Sequential, "
                        f"got {type(layers).__name__}")
    geometries = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ValueError(f"layers[{i}] must be (kernel_size, stride) or (kernel_size, stride, dilation), "
                             f"got {layer!r}")
        dilation = layer[2] if len(layer) == 3 else 1
        geometries.append((check_int(f"layers[{i}] kernel_size", layer[0], ge=1), check_int(f"layers[{i}] stride", layer[1], ge=1),
                           check_int(f"layers[{i}] dilation", dilation, ge=1)))
    return geometries


def receptive_field_steps(layers: Sequence[tuple[int, ...]] | nn.Module) -> list[int]:
    """The receptive field after each conv/pool layer: R_k = R_(k-1) + (k_eff - 1) * (product of earlier strides).

    >>> receptive_field_steps([(3, 1), (3, 1), (2, 2), (3, 1)])  # lecture: 5 + (2-1)*(1*1) = 6, 6 + (3-1)*(1*1*2) = 10
    [3, 5, 6, 10]
    """
    fields, field, jump = [], 1, 1  # jump: how far apart (in input pixels) neighbouring outputs of this layer look
    for k, s, d in _as_geometries(layers):
        field += d * (k - 1) * jump  # a dilated kernel adds k_eff - 1 = d(k - 1) steps of size `jump`
        jump *= s
        fields.append(field)
    return fields


def receptive_field(layers: Sequence[tuple[int, ...]] | nn.Module) -> int:
    """Receptive field (in input pixels, along one axis) of a stack of (kernel_size, stride[, dilation]) layers.

    >>> receptive_field([(3, 1), (3, 1), (2, 2), (3, 1)])  # lecture: two 3x3 convs, 2x2 pool at stride 2, a 3x3 conv
    10
    >>> receptive_field(nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3, dilation=2)))  # 3, then 3 + 4
    7
    """
    fields = receptive_field_steps(layers)
    return fields[-1] if fields else 1


# ----------------------------------------------------------------------------------------------------------------------
# Convolution from scratch: loops, then im2col


def _check_conv_args(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride: object, padding: object, dilation: object
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], int, int]:
    """Checked stride, padding and dilation pairs and the output size (H_out, W_out) of a conv2d call."""
    for name, tensor in (("x", x), ("w", w), ("b", b)):
        if not (name == "b" and tensor is None):
            check_tensor(name, tensor, nonempty=False)
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    check_tensor("x", x)  # not empty: at least one image with at least one channel
    if w.dim() != 4 or w.numel() == 0:
        raise ValueError(f"w must be 4-D (C_out, C_in, kH, kW) with no empty dimension, got shape {tuple(w.shape)}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects C_in = {w.shape[1]} (w has shape "
                         f"{tuple(w.shape)}); they must match (groups are not supported)")
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise ValueError(f"b must have shape (C_out,) = ({w.shape[0]},), got {tuple(b.shape)}")
    tensors = {"x": x, "w": w} if b is None else {"x": x, "w": w, "b": b}
    if not all(t.is_floating_point() and t.dtype == x.dtype for t in tensors.values()):
        found = ", ".join(f"{name} {t.dtype}" for name, t in tensors.items())
        raise TypeError(f"x, w and b must have the same floating-point dtype, got {found}")
    if any(t.device != x.device for t in tensors.values()):
        found = ", ".join(f"{name} on {t.device}" for name, t in tensors.items())
        raise ValueError(f"x, w and b must be on the same device, got {found}")
    s, p, d = _pair("stride", stride, 1), _pair("padding", padding, 0), _pair("dilation", dilation, 1)
    H_out = _conv_size(x.shape[2], w.shape[2], s[0], p[0], d[0], axis="height")
    W_out = _conv_size(x.shape[3], w.shape[3], s[1], p[1], d[1], axis="width")
    return s, p, d, H_out, W_out


def conv2d_naive(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """`F.conv2d` from scratch: one dot product per output position (slow, but every step is visible).

    >>> image = torch.tensor([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
    ...                       [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]], dtype=torch.float32)
    >>> filter1 = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float32)
    >>> conv2d_naive(image[None, None], filter1[None, None])[0, 0]  # lecture: the 6x6 image and Filter 1
    tensor([[ 3., -1., -3., -1.],
            [-3.,  1.,  0., -3.],
            [-3., -3.,  0.,  1.],
            [ 3., -2., -2., -1.]])
    >>> conv2d_naive(image[None, None], filter1[None, None], stride=2)[0, 0]  # lecture: stride 2 starts 3, -3
    tensor([[ 3., -3.],
            [-3.,  0.]])
    """
    (sH, sW), (pH, pW), (dH, dW), H_out, W_out = _check_conv_args(x, w, b, stride, padding, dilation)
    C_out, C_in, kH, kW = w.shape
    x = F.pad(x, (pW, pW, pH, pH))  # (N, C_in, H + 2pH, W + 2pW): zeros around the image
    out = x.new_zeros(x.shape[0], C_out, H_out, W_out)  # (N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * sH, j * sW  # the window's top-left corner in the padded input
            bottom, right = top + dH * (kH - 1) + 1, left + dW * (kW - 1) + 1  # one past its last pixel
            patch = x[:, :, top:bottom:dH, left:right:dW]  # (N, C_in, kH, kW): every dH-th row, every dW-th column
            # (N, 1, C_in, kH, kW) * (1, C_out, C_in, kH, kW), summed over C_in, kH, kW -> (N, C_out)
            out[:, :, i, j] = (patch[:, None] * w[None]).sum(dim=(2, 3, 4))
    if b is not None:
        out = out + b[:, None, None]  # (C_out, 1, 1) broadcasts over (N, C_out, H_out, W_out)
    return out


def conv2d_im2col(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """`F.conv2d` as one matrix product: unfold every window into a column (im2col), multiply by the flat filters.

    >>> x, w = torch.randn(2, 3, 7, 5), torch.randn(4, 3, 3, 3)
    >>> torch.allclose(conv2d_im2col(x, w, padding=1), F.conv2d(x, w, padding=1), atol=1e-5)
    True
    """
    s, p, d, H_out, W_out = _check_conv_args(x, w, b, stride, padding, dilation)
    C_out, C_in, kH, kW = w.shape
    cols = F.unfold(x, (kH, kW), dilation=d, padding=p, stride=s)  # (N, C_in*kH*kW, L), L = H_out*W_out windows
    rows = w.reshape(C_out, -1)  # (C_out, C_in*kH*kW): one filter per row
    out = rows @ cols  # (C_out, C_in*kH*kW) @ (N, C_in*kH*kW, L) -> (N, C_out, L)
    if b is not None:
        out = out + b[:, None]  # (C_out, 1) broadcasts over (N, C_out, L)
    return out.reshape(x.shape[0], C_out, H_out, W_out)  # (N, C_out, L) -> (N, C_out, H_out, W_out)


def max_pool_mask(x: torch.Tensor, kernel_size: int = 2, stride: int | None = None) -> torch.Tensor:
    """Which activations a max pool passes on: True at the largest value of each window (the first, on a tie).

    Everything else is discarded; its gradient is 0. With 2x2 windows at stride 2 that is 3 of every 4 values.

    >>> grid = torch.tensor([[1., 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])  # the lecture's 4x4 example
    >>> max_pool_mask(grid[None, None])[0, 0].int()
    tensor([[0, 0, 0, 0],
            [0, 1, 0, 1],
            [1, 0, 0, 0],
            [0, 0, 0, 1]], dtype=torch.int32)
    """
    x = check_tensor("x", x, ndim=4, dtype="float")  # (N, C, H, W)
    k = check_int("kernel_size", kernel_size, ge=1)
    s = k if stride is None else check_int("stride", stride, ge=1)
    N, C, H, W = x.shape
    H_out, W_out = _conv_size(H, k, s, 0, 1, axis="height"), _conv_size(W, k, s, 0, 1, axis="width")
    cols = F.unfold(x.reshape(N * C, 1, H, W), k, stride=s)  # (N*C, k*k, L): every window as a column
    winner = cols.argmax(dim=1)  # (N*C, L): which of the k*k taps holds the max (the first one on a tie)
    rows = torch.arange(H_out, device=x.device).repeat_interleave(W_out) * s + winner // k  # (N*C, L) input rows
    columns = torch.arange(W_out, device=x.device).repeat(H_out) * s + winner % k  # ... and input columns
    mask = torch.zeros(N * C, H * W, dtype=torch.bool, device=x.device)
    mask.scatter_(1, rows * W + columns, True)
    return mask.reshape(N, C, H, W)


# ----------------------------------------------------------------------------------------------------------------------
# Parameter counts


def param_count(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of `module` (a shared tensor counts once; buffers such as BatchNorm's running mean do not).

    With `trainable_only=True`, only the parameters with requires_grad (the ones an optimiser would update).

    >>> param_count(nn.Conv2d(3, 10, 5))  # lecture: 3x5x5x10 + 10
    760
    >>> param_count(nn.Conv2d(1, 64, 3))  # lecture: 64 3x3 filters on a 1-channel input, (3*3*1*64) + 64
    640
    """
    check_module("module", module)
    check_bool("trainable_only", trainable_only)
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def conv_params(c_in: int, c_out: int, k: int | tuple[int, ...], bias: bool = True, dims: int = 2) -> int:
    """Parameters of `nn.Conv2d(c_in, c_out, k)`: c_out filters of c_in*kH*kW weights, plus c_out biases.

    `dims=3` counts `nn.Conv3d` (c_in*kT*kH*kW weights per filter) and `dims=1` `nn.Conv1d` (c_in*k); `k` is then an
    int (the same size along every axis) or one size per axis.

    >>> conv_params(3, 10, 5), conv_params(1, 64, 3)  # the lectures' 760 and 640
    (760, 640)
    >>> conv_params(3, 96, 11), conv_params(3, 96, 11, bias=False)  # AlexNet CONV1: "(11x11x3)x96 = 35K" has no biases
    (34944, 34848)
    >>> conv_params(3, 64, 3, dims=3)  # a 3D conv on RGB video: 64 filters of 3 channels x 3 frames x 3 x 3
    5248
    """
    c_in, c_out = check_int("c_in", c_in, ge=1), check_int("c_out", c_out, ge=1)
    dims = check_int("dims", dims, ge=1, le=3)
    if dims == 2:
        sizes = list(_pair("k", k, 1))
    elif isinstance(k, (tuple, list)):
        if len(k) != dims:
            raise ValueError(f"k must be an int or {dims} sizes (one per axis of a Conv{dims}d), got {k!r}")
        sizes = [check_int(f"k[{i}]", size, ge=1) for i, size in enumerate(k)]
    else:
        sizes = [check_int("k", k, ge=1)] * dims
    check_bool("bias", bias)
    return c_out * c_in * math.prod(sizes) + (c_out if bias else 0)


def depthwise_separable_params(c_in: int, c_out: int, k: int | tuple[int, int], bias: bool = True) -> int:
    """Parameters of a depthwise kxk conv (one filter per channel) followed by a pointwise 1x1 conv, as in MobileNet.

    >>> conv_params(256, 256, 3), depthwise_separable_params(256, 256, 3)  # about 8.6x fewer
    (590080, 68352)
    """
    c_in, c_out = check_int("c_in", c_in, ge=1), check_int("c_out", c_out, ge=1)
    kH, kW = _pair("k", k, 1)
    check_bool("bias", bias)
    depthwise = c_in * kH * kW + (c_in if bias else 0)  # nn.Conv2d(c_in, c_in, k, groups=c_in)
    pointwise = conv_params(c_in, c_out, 1, bias=bias)  # nn.Conv2d(c_in, c_out, 1)
    return depthwise + pointwise


# ----------------------------------------------------------------------------------------------------------------------
# Shape trace


@dataclass(frozen=True)
class LayerShape:
    """One row of `trace_shapes`: a leaf layer, the shape of its output and its own parameter count."""

    name: str  # e.g. "features.0"; "(net)" when the net is a single layer
    layer_type: str  # e.g. "Conv2d"
    output_shape: tuple  # (N, C, H, W) for a tensor; a tuple of shapes for a tuple of tensors
    num_params: int


class ShapeTrace(list):
    """The rows of `trace_shapes`: a plain list of LayerShape that prints as a table."""

    def __init__(self, rows: list[LayerShape], input_shape: tuple[int, ...], total_params: int) -> None:
        super().__init__(rows)
        self.input_shape = input_shape
        self.total_params = total_params  # param_count(net): shared layers once

    def __str__(self) -> str:
        table = [("name", "type", "output shape", "params"), ("input", "", str(self.input_shape), "")]
        table += [(r.name, r.layer_type, str(r.output_shape), f"{r.num_params:,}") for r in self]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = [f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {shape:<{widths[2]}}  {params:>{widths[3]}}".rstrip()
                 for name, kind, shape, params in table]
        return "\n".join(lines + [f"total params: {self.total_params:,}"])


def _shape_of(output: object) -> tuple:
    """The shape of a tensor, a tuple of shapes for a tuple or list of tensors, else the type's name."""
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return tuple(_shape_of(item) for item in output)
    return (type(output).__name__,)


def trace_shapes(net: nn.Module, input_shape: Sequence[int]) -> ShapeTrace:
    """Output shape and parameter count of every leaf layer of `net`, from one forward pass of a zero input.

    >>> alexnet_start = nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, stride=2))
    >>> print(trace_shapes(alexnet_start, (1, 3, 227, 227)))  # lecture: 55x55x96 and "35K"; pooling has 0 parameters
    name   type       output shape      params
    input             (1, 3, 227, 227)
    0      Conv2d     (1, 96, 55, 55)   34,944
    1      ReLU       (1, 96, 55, 55)        0
    2      MaxPool2d  (1, 96, 27, 27)        0
    total params: 34,944
    """
    check_module("net", net)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) == 0:
        raise TypeError(f"input_shape must be a non-empty tuple of ints such as (1, 3, 32, 32), got {input_shape!r}")
    shape = tuple(check_int(f"input_shape[{i}]", size, ge=1) for i, size in enumerate(input_shape))
    first = next(net.parameters(), None)  # the dummy input goes where the net lives (CPU for a fresh net)
    like = first if first is not None and first.is_floating_point() else torch.zeros(())
    x = torch.zeros(shape, dtype=like.dtype, device=like.device)  # zeros: tracing draws nothing from the RNG

    rows: list[LayerShape] = []

    def record(name: str, module: nn.Module, inputs: tuple, output: object) -> None:  # one row per leaf layer
        rows.append(LayerShape(name or "(net)", type(module).__name__, _shape_of(output), param_count(module)))

    try:  # eval mode inside: no BatchNorm statistics change, no dropout; hooks and modes undone afterwards
        with forward_hooks(net, record), torch.no_grad():
            net(x)
    except Exception as err:  # the net's own error, said with the shapes that led to it
        after = f"after layer {rows[-1].name!r} ({rows[-1].layer_type})" if rows else "before its first layer"
        so_far = ShapeTrace(rows, shape, param_count(net))
        raise ValueError(f"{type(net).__name__} failed {after} on input {shape}: {err}\n{so_far}") from None
    return ShapeTrace(rows, shape, param_count(net))
