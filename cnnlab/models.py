"""Every network the course builds, in one place; each docstring names the notebooks that use it.

Builders are plain functions returning `nn.Sequential` where the net is a stack, and small `nn.Module` classes where
the forward pass branches (skips, residual bicubic). Shapes are commented where they change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.validation import check_bool, check_choice, check_float, check_int, check_module

__all__ = [
    "conv_bn_relu",
    "small_cnn",
    "fast_cnn",
    "mlp",
    "norm_cnn",
    "dropout_cnn",
    "plain_cnn",
    "TinyFCN",
    "SubPixelSR",
    "leaf_layers",
    "forward_hooks",
]

NORMS = (None, "batch", "group")  # the normalisation layers `mlp` and `norm_cnn` can insert
PLACEMENTS = ("before", "after")  # BatchNorm before the activation (the lectures' Conv-BN-ReLU-Pool) or after it


def conv_bn_relu(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution (same padding, also when dilated; no bias: BatchNorm's beta plays that role), BatchNorm, ReLU.

    Used by `small_cnn` and `TinyFCN` (notebooks 00, 01, 03, 07).

    >>> conv_bn_relu(3, 8)(torch.zeros(2, 3, 6, 6)).shape
    torch.Size([2, 8, 6, 6])
    """
    check_int("c_in", c_in, ge=1)
    check_int("c_out", c_out, ge=1)
    check_int("dilation", dilation, ge=1)
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


def small_cnn(in_channels: int = 1, num_classes: int = 10, width: int = 32, stem: str = "pool") -> nn.Sequential:
    """The course's default CNN for 28x28 images: three conv blocks, 2x2 max pools, global max pool, one linear layer.

    `stem="patch"` replaces the first block and its pool with one 2x2 convolution at stride 2 (each 2x2 patch of the
    image becomes a pixel with `width` channels): the same output size, without the full-resolution layers, which
    are cheap in FLOPs but slow in memory traffic (notebook 14's speedrun).

    Notebooks 00, 01, 03, 09, 14 and `make bench`.

    >>> small_cnn()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in small_cnn().parameters())
    94186
    >>> small_cnn(width=16, stem="patch")[0][0]
    Conv2d(1, 16, kernel_size=(2, 2), stride=(2, 2), bias=False)
    """
    check_int("in_channels", in_channels, ge=1)
    check_int("num_classes", num_classes, ge=2)
    w = check_int("width", width, ge=1)
    check_choice("stem", stem, ("pool", "patch"))
    if stem == "pool":
        first = [conv_bn_relu(in_channels, w),  # (N, 1, 28, 28) -> (N, w, 28, 28)
                 nn.MaxPool2d(2)]  # -> (N, w, 14, 14)
    else:  # (N, 1, 28, 28) -> (N, w, 14, 14) in one step
        first = [nn.Sequential(nn.Conv2d(in_channels, w, 2, stride=2, bias=False), nn.BatchNorm2d(w), nn.ReLU())]
    return nn.Sequential(
        *first,
        conv_bn_relu(w, 2 * w),  # -> (N, 2w, 14, 14)
        nn.MaxPool2d(2),  # -> (N, 2w, 7, 7)
        conv_bn_relu(2 * w, 4 * w),  # -> (N, 4w, 7, 7)
        nn.AdaptiveMaxPool2d(1),  # -> (N, 4w, 1, 1): position-free features
        nn.Flatten(),  # -> (N, 4w)
        nn.Linear(4 * w, num_classes),  # -> (N, num_classes) logits
    )


def fast_cnn(width: int = 8, num_classes: int = 10) -> nn.Sequential:
    """A two-layer CNN for 28x28 images with strided convolutions instead of pooling: seconds per run on a CPU.

    Notebooks 08 (schedules and optimisers), 10 (the learning-curve cases) and 12 (ensemble members, the
    distillation teacher and student, the nested-CV net).

    >>> fast_cnn()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    check_int("width", width, ge=1)
    check_int("num_classes", num_classes, ge=2)
    return nn.Sequential(
        nn.Conv2d(1, width, 5, stride=2, padding=2),  # (N, 1, 28, 28) -> (N, w, 14, 14)
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # -> (N, 2w, 7, 7)
        nn.ReLU(),
        nn.Flatten(),  # -> (N, 2w * 49)
        nn.Linear(2 * width * 49, num_classes),  # -> (N, num_classes) logits
    )


def _norm_layer(norm: str | None, channels: int, num_groups: int, dims: int) -> nn.Module:
    """nn.BatchNorm1d/2d, nn.GroupNorm or nothing, for `channels` features."""
    if norm is None:
        return nn.Identity()
    if norm == "group":
        if channels % num_groups:
            raise ValueError(f"num_groups must divide the {channels} channels, got {num_groups}")
        return nn.GroupNorm(num_groups, channels)
    return nn.BatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)


def mlp(
    hidden: Sequence[int] = (64,),
    *,
    in_features: int = 784,
    num_classes: int | None = 10,
    activation: Callable[[], nn.Module] = nn.ReLU,
    norm: str | None = None,
    dropout: float = 0.0,
    num_groups: int = 10,
) -> nn.Sequential:
    """A multilayer perceptron: Flatten, then per hidden size Linear -> [norm] -> activation [-> Dropout], then a
    Linear classifier (none if `num_classes` is None: the stack alone, for signal-propagation experiments).

    With a norm the hidden Linear layers have no bias: beta, added right after, does the same job.
    Used where the point needs a dense net: notebook 04 (the signs of weight gradients), 05 (the lecture's deep
    Gaussian stacks), 06 (with BatchNorm/GroupNorm); `in_features` sets the flattened input size.

    >>> mlp((100, 100, 100), activation=nn.Sigmoid, norm="batch")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> mlp([16] * 3, in_features=16, num_classes=None)(torch.zeros(2, 16)).shape
    torch.Size([2, 16])
    """
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths, e.g. (64,) or [128] * 3; got {hidden!r}")
    widths = [check_int(f"hidden[{i}]", h, ge=1) for i, h in enumerate(hidden)]
    check_int("in_features", in_features, ge=1)
    if num_classes is not None:
        check_int("num_classes", num_classes, ge=1)
    if not callable(activation):
        raise TypeError(f"activation must be a layer class such as nn.ReLU, got {activation!r}")
    check_choice("norm", norm, NORMS)
    check_float("dropout", dropout, ge=0, lt=1)
    check_int("num_groups", num_groups, ge=1)
    if num_classes is None and not widths:
        raise ValueError("an mlp needs hidden layers or a classifier: hidden is empty and num_classes is None")
    layers: list[nn.Module] = [nn.Flatten()]  # (N, 1, 28, 28) -> (N, 784)
    d = in_features
    for h in widths:
        layers.append(nn.Linear(d, h, bias=norm is None))  # -> (N, h)
        if norm is not None:
            layers.append(_norm_layer(norm, h, num_groups, dims=1))
        layers.append(activation())
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = h
    if num_classes is not None:
        layers.append(nn.Linear(d, num_classes))  # -> (N, num_classes) logits
    return nn.Sequential(*layers)


def norm_cnn(norm: str | None = "batch", placement: str = "before", width: int = 8, num_groups: int = 4) -> nn.Sequential:
    """Two blocks Conv -> norm -> ReLU -> MaxPool (placement "before") or Conv -> ReLU -> norm -> MaxPool ("after"),
    then a Linear classifier, for 28x28 images. Notebook 06.

    >>> norm_cnn(placement="after")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    check_choice("norm", norm, NORMS)
    check_choice("placement", placement, PLACEMENTS)
    check_int("width", width, ge=1)
    check_int("num_groups", num_groups, ge=1)
    layers: list[nn.Module] = []
    for c_in, c_out in ((1, width), (width, 2 * width)):  # (N, 1, 28, 28) -> (N, w, 14, 14) -> (N, 2w, 7, 7)
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=norm is None or placement == "after")
        n = _norm_layer(norm, c_out, num_groups, dims=2)
        layers += [conv, n, nn.ReLU()] if placement == "before" else [conv, nn.ReLU(), n]
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2 * width * 7 * 7, 10))  # (N, 2w * 49) -> (N, 10)


def dropout_cnn(dropout_fc: float = 0.0, dropout_conv: float = 0.0, width: int = 8) -> nn.Sequential:
    """A small CNN with a fully-connected head, dropout optional after each conv block and before the last layer.
    Notebook 11.

    >>> dropout_cnn(0.5)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    check_float("dropout_fc", dropout_fc, ge=0, lt=1)
    check_float("dropout_conv", dropout_conv, ge=0, lt=1)
    w = check_int("width", width, ge=1)
    return nn.Sequential(
        nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 1, 28, 28) -> (N, w, 14, 14)
        nn.Dropout(dropout_conv),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # -> (N, 2w, 7, 7)
        nn.Dropout(dropout_conv),
        nn.Flatten(),  # -> (N, 2w * 49)
        nn.Linear(2 * w * 49, 256), nn.ReLU(),  # -> (N, 256): the fully-connected layer
        nn.Dropout(dropout_fc),  # the classic place for p = 0.5: before the last layer
        nn.Linear(256, 10),  # -> (N, 10) logits
    )


def plain_cnn(
    depth: int, channels: int, activation: Callable[[], nn.Module] = nn.ReLU, in_channels: int = 1,
    num_classes: int | None = 10, stem_stride: int = 1,
) -> nn.Sequential:
    """A plain (no BatchNorm, no skips) stack: `depth` 3x3 convs of `channels`, then global average pool + Linear.

    The first conv may stride (`stem_stride`) to shrink the image and the cost; all others keep the size. Notebooks 04
    and 05.

    >>> plain_cnn(depth=4, channels=8, stem_stride=2)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    check_int("depth", depth, ge=1)
    check_int("channels", channels, ge=1)
    check_int("in_channels", in_channels, ge=1)
    check_int("stem_stride", stem_stride, ge=1)
    if num_classes is not None:
        check_int("num_classes", num_classes, ge=1)
    layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, stride=stem_stride, padding=1), activation()]
    for _ in range(depth - 1):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), activation()]  # (N, C, H, W) -> (N, C, H, W)
    if num_classes is not None:
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]  # -> (N, num_classes)
    return nn.Sequential(*layers)


class TinyFCN(nn.Module):
    """A three-stage FCN: conv/pool encoder, 1x1 score layers, transposed-conv upsampling with skips (FCN-8s style).
    Notebook 07.

    >>> TinyFCN(num_classes=3, width=4)(torch.zeros(1, 1, 16, 16)).shape
    torch.Size([1, 3, 16, 16])
    """

    def __init__(self, num_classes: int = 11, width: int = 16, skips: bool = True) -> None:
        super().__init__()
        w, K = check_int("width", width, ge=1), check_int("num_classes", num_classes, ge=2)
        self.skips = check_bool("skips", skips)
        self.enc1 = conv_bn_relu(1, w)  # (N, 1, H, W) -> (N, w, H, W), pooled to H/2
        self.enc2 = conv_bn_relu(w, 2 * w)  # -> (N, 2w, H/2, W/2), pooled to H/4
        # -> (N, 4w, H/4, W/4), pooled to H/8
        self.enc3 = nn.Sequential(conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.score1, self.score2 = nn.Conv2d(w, K, 1), nn.Conv2d(2 * w, K, 1)  # 1x1 convs: match channels for the skips
        self.score3 = nn.Conv2d(4 * w, K, 1)
        self.up3, self.up2, self.up1 = (nn.ConvTranspose2d(K, K, 4, stride=2, padding=1) for _ in range(3))  # x2 each

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] % 8 or x.shape[3] % 8:
            raise ValueError(f"x must be (N, 1, H, W) with H and W multiples of 8, got {tuple(x.shape)}")
        f1 = F.max_pool2d(self.enc1(x), 2)  # (N, w, H/2, W/2)
        f2 = F.max_pool2d(self.enc2(f1), 2)  # (N, 2w, H/4, W/4)
        f3 = F.max_pool2d(self.enc3(f2), 2)  # (N, 4w, H/8, W/8)
        s = self.up3(self.score3(f3))  # (N, K, H/8, W/8) -> (N, K, H/4, W/4)
        s = self.up2(s + self.score2(f2) if self.skips else s)  # -> (N, K, H/2, W/2)
        return self.up1(s + self.score1(f1) if self.skips else s)  # -> (N, K, H, W): one score per class per pixel


class SubPixelSR(nn.Module):
    """ESPCN-style super-resolution: convs at low resolution make r^2 channels, PixelShuffle turns them into pixels.

    The net predicts a correction to bicubic upsampling; its last conv starts at zero, so it starts *as* bicubic.
    Notebook 07.

    >>> SubPixelSR(scale=2, width=4)(torch.zeros(1, 1, 5, 5)).shape
    torch.Size([1, 1, 10, 10])
    """

    def __init__(self, scale: int = 2, width: int = 32) -> None:
        super().__init__()
        r, w = check_int("scale", scale, ge=2), check_int("width", width, ge=2)
        self.scale = r
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 5, padding=2), nn.ReLU(),  # (N, 1, h, w) -> (N, w, h, w)
            nn.Conv2d(w, w // 2, 3, padding=1), nn.ReLU(),  # -> (N, w/2, h, w)
            nn.Conv2d(w // 2, r * r, 3, padding=1),  # -> (N, r^2, h, w)
            nn.PixelShuffle(r),  # -> (N, 1, r*h, r*w): channel (i, j) becomes pixel (i, j) of each r x r block
        )
        nn.init.zeros_(self.body[-2].weight)
        nn.init.zeros_(self.body[-2].bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        bicubic = F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return bicubic + self.body(lr)  # (N, 1, r*h, r*w)


# ----------------------------------------------------------------------------------------------------------
# Looking inside a net: one forward-hook mechanism for every notebook that records what layers put out
# ----------------------------------------------------------------------------------------------------------
def leaf_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every module of `net` without children, with its name: Linear, Conv, and the parameter-free ones (ReLU,
    Flatten, ...); a net that is itself a single layer is its own leaf, named "".

    >>> [name for name, _ in leaf_layers(nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU())))]
    ['0', '1.0']
    """
    return [(name, m) for name, m in net.named_modules() if next(m.children(), None) is None]


@contextmanager
def forward_hooks(
    net: nn.Module,
    hook: Callable[[str, nn.Module, tuple, Any], None],
    *,
    kinds: tuple[type[nn.Module], ...] | None = None,
    train: bool = False,
) -> Iterator[list[tuple[str, nn.Module]]]:
    """Within the block, `hook(name, layer, inputs, output)` runs after the forward pass of every leaf layer of `net`
    (or of every layer that is one of `kinds`), with `net` in eval mode (or train mode if `train`); on exit the hooks
    are removed and every module's mode restored. Yields the hooked (name, layer) pairs.

    >>> net, seen = nn.Sequential(nn.Linear(3, 4), nn.ReLU()), []
    >>> with forward_hooks(net, lambda name, layer, inputs, out: seen.append((name, tuple(out.shape)))):
    ...     _ = net(torch.zeros(2, 3))
    >>> seen, net[0]._forward_hooks
    ([('0', (2, 4)), ('1', (2, 4))], OrderedDict())
    """
    check_module("net", net)
    if not callable(hook):
        raise TypeError(f"hook must be callable as hook(name, layer, inputs, output), got {hook!r}")
    check_bool("train", train)
    if kinds is not None and (not isinstance(kinds, tuple) or not all(isinstance(k, type) for k in kinds)):
        raise TypeError(f"kinds must be a tuple of layer classes such as (nn.ReLU,), got {kinds!r}")
    layers = leaf_layers(net) if kinds is None else [(n, m) for n, m in net.named_modules() if isinstance(m, kinds)]
    modes = {m: m.training for m in net.modules()}
    net.train(train)  # eval: no BatchNorm running-statistics updates, no dropout; train: the batch statistics
    handles = [layer.register_forward_hook(lambda m, i, o, name=name: hook(name, m, i, o)) for name, layer in layers]
    try:
        yield layers
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
