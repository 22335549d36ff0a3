"""Small reference networks the notebooks and the benchmark share."""

from __future__ import annotations

from torch import nn


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution (same padding, no bias: BatchNorm's beta plays that role), BatchNorm, ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def small_cnn(in_channels: int = 1, num_classes: int = 10, width: int = 32) -> nn.Sequential:
    """The course's default CNN for 28x28 images: three conv blocks, 2x2 max pools, global max pool, one linear layer.

    >>> import torch
    >>> small_cnn()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in small_cnn().parameters())
    94186
    """
    if width < 1 or in_channels < 1 or num_classes < 2:
        raise ValueError(f"need width >= 1, in_channels >= 1, num_classes >= 2; got {width}, {in_channels}, {num_classes}")
    w = width
    return nn.Sequential(
        conv_bn_relu(in_channels, w),  # (N, 1, 28, 28) -> (N, w, 28, 28)
        nn.MaxPool2d(2),  # -> (N, w, 14, 14)
        conv_bn_relu(w, 2 * w),  # -> (N, 2w, 14, 14)
        nn.MaxPool2d(2),  # -> (N, 2w, 7, 7)
        conv_bn_relu(2 * w, 4 * w),  # -> (N, 4w, 7, 7)
        nn.AdaptiveMaxPool2d(1),  # -> (N, 4w, 1, 1): position-free features
        nn.Flatten(),  # -> (N, 4w)
        nn.Linear(4 * w, num_classes),  # -> (N, num_classes) logits
    )


def fast_cnn(width: int = 8, num_classes: int = 10) -> nn.Sequential:
    """A two-layer CNN for 28x28 images with strided convolutions instead of pooling: seconds per run on a CPU.

    >>> import torch
    >>> fast_cnn()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    if width < 1 or num_classes < 2:
        raise ValueError(f"need width >= 1 and num_classes >= 2; got {width}, {num_classes}")
    return nn.Sequential(
        nn.Conv2d(1, width, 5, stride=2, padding=2),  # (N, 1, 28, 28) -> (N, w, 14, 14)
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # -> (N, 2w, 7, 7)
        nn.ReLU(),
        nn.Flatten(),  # -> (N, 2w * 49)
        nn.Linear(2 * width * 49, num_classes),  # -> (N, num_classes) logits
    )
