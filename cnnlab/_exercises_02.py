"""The exercises of notebook 02 (convolution arithmetic): predictions of shapes, counts and receptive fields, and
two functions to write, checked against PyTorch on settings the notebook never shows."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from cnnlab.exercises import Exercise, Feedback, add, number_judge, shape_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _random_cases(seed: int, count: int) -> list[dict[str, int]]:
    """Convolution settings the learner has not seen: input size, kernel, stride, padding, dilation."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    while len(cases) < count:
        n, k, s, p, d = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in
                         ((5, 40), (1, 8), (1, 5), (0, 4), (1, 4)))
        if n + 2 * p >= d * (k - 1) + 1:  # the kernel fits the padded input
            cases.append(dict(n=n, k=k, s=s, p=p, d=d))
    return cases


def _judge_output_size(fn: Any) -> Feedback:
    """The learner's `fn(n, k, s, p, d)` against the size PyTorch's own conv2d produces, on 40 unseen settings."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for c in _random_cases(seed=2, count=40):
        got = fn(c["n"], c["k"], c["s"], c["p"], c["d"])
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the size"
        x, w = torch.zeros(1, 1, c["n"], c["n"]), torch.zeros(1, 1, c["k"], c["k"])
        want = F.conv2d(x, w, stride=c["s"], padding=c["p"], dilation=c["d"]).shape[-1]
        if got != want:
            setting = ", ".join(f"{k}={v}" for k, v in c.items())
            return False, (f"for {setting} your function gives {got!r} but PyTorch's conv2d makes {want}; "
                           f"{'check the floor' if isinstance(got, float) else 'check each term of the formula'}")
    return True, "it matches PyTorch's conv2d on 40 settings you had not seen."


def _judge_conv2d(fn: Any) -> Feedback:
    """The learner's `fn(x, w, stride, padding)` on (H, W) tensors against F.conv2d, on unseen shapes."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    g = torch.Generator().manual_seed(5)
    for trial in range(12):
        H, W = (int(v) for v in torch.randint(5, 12, (2,), generator=g))
        k, s, p = int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(1, 3, (1,), generator=g)), trial % 3
        x, w = torch.randn(H, W, generator=g, dtype=torch.float64), torch.randn(k, k, generator=g, dtype=torch.float64)
        want = F.conv2d(x[None, None], w[None, None], stride=s, padding=p)[0, 0]
        got = fn(x.clone(), w.clone(), s, p)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor):
            return False, f"return a tensor, got {type(got).__name__}"
        if got.shape != want.shape:
            return False, (f"on a {H}x{W} input with a {k}x{k} kernel, stride {s}, padding {p}, your output is "
                           f"{tuple(got.shape)} and PyTorch's is {tuple(want.shape)}: check the loop ranges")
        if not torch.allclose(got.to(want.dtype), want, atol=1e-8):
            flipped = F.conv2d(x[None, None], w.flip(0, 1)[None, None], stride=s, padding=p)[0, 0]
            if torch.allclose(got.to(want.dtype), flipped, atol=1e-8):
                return False, "your kernel is flipped: deep learning's convolution is a cross-correlation"
            return False, (f"the shape is right but the values differ (a {H}x{W} input, {k}x{k} kernel, stride {s}, "
                           f"padding {p}): check where each window starts and that padding adds zeros")
    return True, "it equals F.conv2d on 12 random shapes, strides and paddings."


# ----------------------------------------------------------------------------------------------------------
# Notebook 02: convolution arithmetic
# ----------------------------------------------------------------------------------------------------------
def _height_mistakes_02_1(h: int) -> str | None:
    n, k, s, p = 64, 5, 2, 2
    known: dict[int, list[str]] = {}
    for size, why in (((n - k) // s + 1, "that is the size without padding"),
                      ((n + p - k) // s + 1, "that is the size with padding on one side only: padding adds p to both "
                                             "sides"),
                      (math.ceil((n + 2 * p - k) / s) + 1, "the formula rounds down (floor), not up"),
                      ((n + 2 * p - k) // s, "the formula ends with + 1: the first window counts too"),
                      ((n + 2 * p - k) + 1, "the stride divides the distance the window travels")):
        known.setdefault(size, []).append(why)
    return " - or ".join(known[h]) if h in known else None


add(Exercise(
    id="02.1", kind="predict",
    question="Output shape (C, H, W) of nn.Conv2d(3, 8, kernel_size=5, stride=2, padding=2) on a 64x64 RGB image?",
    judge=shape_judge((8, 32, 32), _height_mistakes_02_1, "o = floor((64 + 2*2 - 5) / 2) + 1 = 32, and 8 filters."),
    hints=("The output has one channel per filter.",
           "Height and width follow o = floor((n + 2p - k) / s) + 1.",
           "Here n = 64, p = 2, k = 5, s = 2: work out n + 2p - k first."),
    solution="(8, 32, 32): 8 filters make 8 channels; o = floor((64 + 2*2 - 5) / 2) + 1 = floor(63 / 2) + 1 = 32.",
    model=(8, 32, 32), wrong=(8, 30, 30),
))

add(Exercise(
    id="02.2", kind="predict",
    question="How many parameters does nn.Conv2d(3, 10, 5) have (the lecture's example)?",
    judge=number_judge(760, {760: "5*5*3 = 75 weights per filter, 10 filters, plus 10 biases.",
                        750: "that counts the weights; each filter also has a bias",
                        250: "each filter has one 5x5 kernel per input channel (3 here)",
                        260: "each filter has one 5x5 kernel per input channel (3 here)",
                        85: "10 filters, each with its own weights"}, "parameters"),
    hints=("A filter has one kernel per input channel.", "Each filter also has one bias.",
           "Count the weights of one filter, multiply by the number of filters, add the biases."),
    solution="760 = 10 filters x (5*5*3 weights + 1 bias) = 10 x 76.",
    model=760, wrong=750,
))

add(Exercise(
    id="02.3", kind="predict",
    question="Receptive field (in pixels, one side) of three stacked 3x3 convolutions with stride 1?",
    judge=number_judge(7, {7: "each 3x3 layer adds k - 1 = 2 pixels to the 1 pixel you start from: 1 + 2 + 2 + 2.",
                      9: "receptive fields grow by adding (k - 1) per layer, not by multiplying",
                      27: "receptive fields grow by adding (k - 1) per layer, not by multiplying",
                      6: "start from the single output pixel (1), then add k - 1 per layer",
                      3: "that is one layer; stack three"}, "pixels"),
    hints=("Start from one output pixel: its receptive field is 1.",
           "Each 3x3 layer with stride 1 widens it by k - 1 = 2.",
           "So it is 1 + 2 + 2 + 2 for three layers."),
    solution="7: 1 + 3 * (3 - 1). That is why VGG stacks 3x3 layers: three of them see a 7x7 patch with "
             "3 * 9 C^2 = 27 C^2 weights instead of 49 C^2 for one 7x7 layer.",
    model=7, wrong=9,
))

add(Exercise(
    id="02.4", kind="code",
    question="Complete output_size(n, k, s, p, d): the output size of a convolution along one axis.",
    judge=_judge_output_size,
    hints=("Dilation spreads the kernel: it covers d * (k - 1) + 1 pixels.",
           "The window can start at positions 0, s, 2s, ... while it still fits into n + 2p pixels.",
           "Use integer division // for the floor."),
    solution="def output_size(n, k, s=1, p=0, d=1):\n    return (n + 2 * p - d * (k - 1) - 1) // s + 1",
    model=lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s + 1,
    wrong=lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,  # forgets dilation
))

add(Exercise(
    id="02.5", kind="code",
    question="Complete conv2d_single(x, w, stride, padding) for one (H, W) image and one (k, k) kernel, with loops.",
    judge=_judge_conv2d,
    hints=("Pad first: torch.nn.functional.pad(x, (p, p, p, p)) adds p zeros on every side.",
           "Output pixel (i, j) is the sum of w times the window that starts at row i*s, column j*s.",
           "Do not flip the kernel: PyTorch's convolution is a cross-correlation."),
    solution=("def conv2d_single(x, w, stride=1, padding=0):\n"
              "    x = torch.nn.functional.pad(x, (padding,) * 4)\n"
              "    k = w.shape[0]\n"
              "    H = (x.shape[0] - k) // stride + 1\n"
              "    W = (x.shape[1] - k) // stride + 1\n"
              "    out = torch.zeros(H, W, dtype=x.dtype)\n"
              "    for i in range(H):\n"
              "        for j in range(W):\n"
              "            window = x[i * stride:i * stride + k, j * stride:j * stride + k]\n"
              "            out[i, j] = (window * w).sum()\n"
              "    return out"),
    model=lambda x, w, s, p: F.conv2d(x[None, None], w[None, None], stride=s, padding=p)[0, 0],
    wrong=lambda x, w, s, p: F.conv2d(x[None, None], w.flip(0, 1)[None, None], stride=s, padding=p)[0, 0],
))

add(Exercise(
    id="02.6", kind="explain",
    question="A 1x1 convolution looks at one pixel. Why is it useful, and how many parameters does "
             "nn.Conv2d(256, 64, 1) have?",
    judge=None,
    hints=("It mixes channels: every output channel is a weighted sum of the input channels at the same pixel.",
           "Count: one weight per (input, output) channel pair, plus biases."),
    solution=("A 1x1 convolution is a small fully connected layer applied at every pixel: it mixes the channels "
              "without looking at neighbours. It changes the number of channels cheaply (GoogLeNet's bottlenecks, "
              "ResNet's projections, MobileNet's pointwise step). nn.Conv2d(256, 64, 1) has 256*64 + 64 = 16,448 "
              "parameters."),
))

add(Exercise(
    id="02.7", kind="predict",
    question="How many parameters does nn.Conv3d(3, 64, kernel_size=3) have?",
    judge=number_judge(5248, {
        5248: "64 filters of 3 (channels) x 3 x 3 x 3 weights, plus 64 biases: 64 x 81 + 64.",
        5184: "that counts the weights; each of the 64 filters also has a bias",
        1792: "that is nn.Conv2d(3, 64, 3): a 3D kernel also spans 3 frames",
        1728: "that is a 2D conv without biases: the 3D kernel spans 3 frames, and each filter has a bias",
        576: "each filter covers all 3 input channels, not one"}, "parameters"),
    hints=("A Conv3d filter has one 3x3x3 kernel per input channel.",
           "One filter: 3 channels x 3 frames x 3 x 3 = 81 weights.",
           "64 filters of 81 weights, plus one bias each."),
    solution="5248 = 64 x (3 x 3 x 3 x 3) + 64: each of the 64 filters spans all 3 input channels and a 3x3x3 "
             "block of (frames, rows, columns), and has one bias; conv_params(3, 64, 3, dims=3) agrees.",
    model=5248, wrong=1792,
))
