"""The exercises of notebook 03 (how CNNs see): predictions of weight counts and of shifts through pooling, and two
functions to write (find a pattern anywhere in a signal, a circular convolution that is exactly shift-equivariant),
checked against PyTorch on signals and images the notebook never shows."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _not_a_function(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


def _correlate(signal: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """How well `pattern` matches each window of `signal` (the dot product): F.conv1d, a cross-correlation."""
    return F.conv1d(signal[None, None], pattern[None, None])[0, 0]


def _judge_best_match(fn: Any) -> Feedback:
    """The learner's `fn(signal, pattern)` against the argmax of F.conv1d, on noisy signals with a hidden pattern."""
    if (bad := _not_a_function(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(31)
    for trial in range(20):
        T, M = int(torch.randint(40, 200, (1,), generator=g)), int(torch.randint(4, 12, (1,), generator=g))
        pattern = torch.randn(M, generator=g, dtype=torch.float64)
        signal = 0.5 * torch.randn(T, generator=g, dtype=torch.float64)
        start = int(torch.randint(0, T - M + 1, (1,), generator=g))
        signal[start:start + M] += pattern
        scores = _correlate(signal, pattern)
        want = int(scores.argmax())
        got = fn(signal.clone(), pattern.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the position"
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not float(got).is_integer():
            return False, f"return one whole number, the start of the best window; got {got!r}"
        got = int(got)
        if got == want:
            continue
        if got == want + M // 2:
            return False, "you return the middle of the best window; return where the window starts"
        if got == int(_correlate(signal, pattern.flip(0)).argmax()):
            return False, ("your pattern is flipped (np.convolve and a textbook convolution flip the kernel): "
                           "slide the pattern as it is, a cross-correlation like F.conv1d")
        if got == int(signal.argmax()):
            return False, "that is where the signal itself is largest, not where it looks most like the pattern"
        if got == int(scores.argmin()):
            return False, "that is the worst match: the best window has the largest dot product with the pattern"
        return False, (f"on a signal of {T} samples and a pattern of {M}, your position is not the window with the "
                       f"largest dot product with the pattern")
    return True, "it finds the best window on 20 noisy signals you had not seen, as the argmax of F.conv1d would."


def _judge_circular_conv(fn: Any) -> Feedback:
    """The learner's `fn(x, weight, bias)` against nn.Conv2d(padding_mode="circular") with the same weights."""
    if (bad := _not_a_function(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(32)
    for trial in range(10):
        N, C_in, C_out = (int(v) for v in torch.randint(1, 4, (3,), generator=g))
        k = (1, 3, 5)[int(torch.randint(0, 3, (1,), generator=g))]
        H, W = (int(v) for v in torch.randint(6, 13, (2,), generator=g))
        layer = nn.Conv2d(C_in, C_out, k, padding=k // 2, padding_mode="circular").double()
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=g, dtype=torch.float64))
            layer.bias.copy_(torch.randn(C_out, generator=g, dtype=torch.float64))
        x = torch.randn(N, C_in, H, W, generator=g, dtype=torch.float64)
        w, b = layer.weight.detach().clone(), layer.bias.detach().clone()
        with torch.no_grad():
            want = layer(x)
        got = fn(x.clone(), w.clone(), b.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the feature maps"
        if not isinstance(got, torch.Tensor):
            return False, f"return a tensor, got {type(got).__name__}"
        got = got.detach().to(torch.float64)
        setting = f"a {H}x{W} input with {k}x{k} kernels"
        if got.shape != want.shape:
            return False, (f"for {setting} your output has shape {tuple(got.shape)}, the layer's "
                           f"{tuple(want.shape)}: pad k // 2 on every side so that the size stays")
        if torch.allclose(got, want, atol=1e-8):
            continue
        p = k // 2
        if torch.allclose(got, F.conv2d(x, w, b, padding=p), atol=1e-8):
            return False, ("the inside is right but the border is not: the padding must wrap the image around "
                           "(mode=\"circular\"), not add zeros")
        if torch.allclose(got, want - b[None, :, None, None], atol=1e-8):
            return False, "everything but the bias: add one bias per output channel"
        if torch.allclose(got, F.conv2d(F.pad(x, (p,) * 4, mode="circular"), w.flip(2, 3), b), atol=1e-8):
            return False, "your kernels are flipped: deep learning's convolution is a cross-correlation"
        return False, f"the shape is right but the values differ for {setting}: wrap first, then convolve"
    return True, "it equals nn.Conv2d(padding_mode=\"circular\") on 10 inputs and filter banks you had not seen."


# ----------------------------------------------------------------------------------------------------------
# Notebook 03: how CNNs see
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="03.1", kind="predict",
    question="A layer maps a 28x28x1 digit to 16 feature maps of 28x28 with 3x3 windows (padding 1). How many weights "
             "(no biases) does it have if it is locally connected, without weight sharing?",
    judge=number_judge(112_896, {
        112_896: "3x3x1 weights per window, one window per output position: 9 x 16 x 784.",
        144: "that is the convolution, whose 16 filters are shared by all positions; here every position has its own",
        160: "that is the shared convolution with its biases; here every position has its own weights",
        9_834_496: "that is fully connected: every output sees all 784 pixels; here each sees only its window",
        7_056: "that is one feature map's worth; there are 16",
        125_440: "the question asks for the weights, without the biases"}, "weights"),
    hints=("Each output unit sees its 3x3x1 window and has its own weights for it.",
           "How many output units are there? 16 maps of 28 x 28.",
           "Multiply the weights per unit by the number of units."),
    solution="112,896 = (3 x 3 x 1) x (16 x 28 x 28). Sharing the weights across the 784 positions leaves 144 "
             "(the convolution, 160 with biases): 784 times fewer.",
    model=112_896, wrong=144,
))

add(Exercise(
    id="03.2", kind="predict",
    question="Replace nn.Flatten(), nn.Linear(16 * 7 * 7, 10) in make_cnn by nn.AdaptiveMaxPool2d(1), nn.Flatten(), "
             "nn.Linear(16, 10). How many parameters does the CNN have now?",
    judge=number_judge(3_594, {
        3_594: "208 + 3,216 for the two conv layers, and 16 x 10 + 10 = 170 for the new linear layer.",
        11_274: "that is the old count, with one weight per position of the 7x7 maps; the global pool leaves "
                "one number per channel",
        3_424: "that counts the conv layers; the new linear layer has parameters too",
        3_584: "the new linear layer has a bias per class too",
        170: "that is the new linear layer alone; the conv layers are still there",
        3_544: "each conv layer has one bias per filter, too"}, "parameters"),
    hints=("The conv layers do not change: count them as in notebook 02 (C_out x C_in x k x k + C_out).",
           "After the global max pool, each of the 16 channels is one number.",
           "Add the linear layer from 16 inputs to 10 classes, with its biases."),
    solution="3,594 = (8 x 1 x 25 + 8) + (16 x 8 x 25 + 16) + (16 x 10 + 10) = 208 + 3,216 + 170, down from "
             "11,274: the 7,850 parameters of the position-tied linear layer become 170, and the network no longer "
             "has separate weights for each position.",
    model=3_594, wrong=11_274,
))

add(Exercise(
    id="03.3", kind="predict",
    question="A digit is shifted 4 pixels to the right (wrapping around). After the circular conv layer and "
             "nn.MaxPool2d(2), by how many pixels has the pooled 14x14 map moved?",
    judge=number_judge(2, {2: "the pooled map has half the resolution, and a shift by a multiple of the stride "
                              "survives pooling exactly, halved.",
                           4: "that is how far the conv layer's maps move; the pooled map has half as many columns",
                           8: "pooling makes the map coarser: shifts shrink with it, they do not grow",
                           0: "the maps move with the input (equivariance), and pooling keeps most of that motion",
                           1: "the pooling window's width and stride divide the shift once, not twice"}, "pixels"),
    hints=("Shift, then convolve equals convolve, then shift: the feature maps move by 4 too.",
           "A 2x2 max pool with stride 2 turns every two columns into one.",
           "A shift by an even number of pixels keeps the same pairs of columns together."),
    solution="2: the feature maps move by 4 (equivariance), and a 2x2 max pool with stride 2 maps a shift by 4 to a "
             "shift by 4 / 2 = 2 of the pooled map, exactly. A shift by an odd number (1, 3, ...) regroups the "
             "pairs of columns, and no shift of the pooled map reproduces it.",
    model=2, wrong=4,
))

add(Exercise(
    id="03.4", kind="code",
    question="Complete best_match_start(signal, pattern): the start of the window of a 1-D signal that matches the "
             "pattern best (the largest dot product), as a 1-D conv layer followed by a global max pool would.",
    judge=_judge_best_match,
    hints=("F.conv1d wants (N, C, T): signal[None, None] and pattern[None, None].",
           "Output position t of F.conv1d is the dot product of the pattern with signal[t : t + len(pattern)].",
           "Return the argmax of that output, as an int."),
    solution=("def best_match_start(signal, pattern):\n"
              "    scores = F.conv1d(signal[None, None], pattern[None, None])[0, 0]  # (T - M + 1,)\n"
              "    return int(scores.argmax())"),
    model=lambda s, p: int(_correlate(s, p).argmax()),
    wrong=lambda s, p: int(_correlate(s, p.flip(0)).argmax()),  # np.convolve's flip
))

add(Exercise(
    id="03.5", kind="code",
    question="Complete conv_circular(x, weight, bias): a 2-D convolution that keeps the size of x by wrapping the "
             "image around (circular padding), for odd kernel sizes.",
    judge=_judge_circular_conv,
    hints=("F.pad(x, (p, p, p, p), mode=\"circular\") wraps p columns and rows around each side.",
           "For an odd k x k kernel, p = k // 2 keeps the size.",
           "Then F.conv2d(padded, weight, bias), with no further padding."),
    solution=("def conv_circular(x, weight, bias):\n"
              "    p = weight.shape[-1] // 2\n"
              "    return F.conv2d(F.pad(x, (p, p, p, p), mode=\"circular\"), weight, bias)"),
    model=lambda x, w, b: F.conv2d(F.pad(x, (w.shape[-1] // 2,) * 4, mode="circular"), w, b),
    wrong=lambda x, w, b: F.conv2d(x, w, b, padding=w.shape[-1] // 2),  # zero padding
))

add(Exercise(
    id="03.6", kind="explain",
    question="In section 6, the MLP learns the sequence task where it was trained but is at chance where the pattern "
             "moved, while the 50-parameter 1-D CNN still works. Why?",
    judge=None,
    hints=("Which of the MLP's weights received any gradient during training, and which never saw a pattern?",
           "The CNN's kernels slide over every position; what does the global max pool ask?"),
    solution=("The MLP has a separate weight for every time step. In training the pattern only ever sat in the first "
              "20 samples, so only those weights learned what the motif looks like; the weights of the second half "
              "never saw it and respond to nothing useful. The 1-D CNN learns a few 9-sample kernels (matched "
              "filters of the motif) and slides the same kernels over every position (weight sharing gives "
              "translation equivariance); the global max pool then asks \"did it match anywhere?\", which does not "
              "depend on where (invariance). The structure builds in what the MLP would have to learn from examples "
              "at every position."),
))

add(Exercise(
    id="03.7", kind="predict",
    question="How many parameters does nn.Conv1d(50, 100, kernel_size=3) have (a text CNN: d = 50, 3-word kernels)?",
    judge=number_judge(15100, {
        15100: "100 filters of 50 x 3 weights (all 50 numbers of each of 3 words) plus 100 biases; the sentence's "
               "length does not enter.",
        15000: "that counts the weights; every filter also has a bias",
        450: "that is one filter with its 3 x 50 weights, without its bias: there are 100 filters",
        151: "that is one filter with its bias: there are 100 filters",
        400: "a kernel spans all 50 numbers of each word, not one number per word",
        300: "a kernel spans all 50 numbers of each word, not one number per word"}, "parameters"),
    hints=("A Conv1d filter holds one weight per input channel per kernel position.",
           "The channels are the 50 embedding dimensions; a kernel spans 3 positions (words).",
           "100 filters x (50 x 3) weights, plus one bias per filter."),
    solution="15100 = 100 x (50 x 3) + 100: each filter covers all 50 embedding dimensions of 3 consecutive words and "
             "has one bias. The same kernels slide over a sentence of any length, so the count does not depend on it "
             "(conv_params(50, 100, 3, dims=1) agrees).",
    model=15100, wrong=15000,
))
