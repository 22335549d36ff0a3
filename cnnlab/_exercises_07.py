"""The exercises of notebook 07 (transposed convolution): predictions of a transposed convolution's output shape,
parameters and overlaps, and three functions to write (its output size, the scatter form, PixelShuffle), checked
against PyTorch on settings the notebook never shows."""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F

from cnnlab.exercises import Exercise, Feedback, add, number_judge, shape_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _is_callable(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


def _close(a: Any, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.to(b.dtype), b, atol=1e-8)


# ----------------------------------------------------------------------------------------------------------
# 07.4: the output size of a transposed convolution
# ----------------------------------------------------------------------------------------------------------
def _size_cases(seed: int, count: int) -> list[dict[str, int]]:
    """Transposed-convolution settings the learner has not seen: input size, kernel, stride, padding, output
    padding (smaller than the stride or the dilation, as PyTorch requires) and dilation."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    while len(cases) < count:
        i, k, s, p, d = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in
                         ((1, 15), (1, 7), (1, 5), (0, 4), (1, 4)))
        op = int(torch.randint(0, max(s, d), (1,), generator=g))
        if (i - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1:
            cases.append(dict(i=i, k=k, s=s, p=p, op=op, d=d))
    return cases


_SIZE_MISTAKES = (
    (lambda i, k, s, p, op, d: (i + 2 * p - d * (k - 1) - 1) // s + 1,
     "that is the ordinary convolution's formula, which shrinks; the transposed convolution runs it backwards"),
    (lambda i, k, s, p, op, d: (i - 1) * s - 2 * p + k + op,
     "dilation is missing: a dilated kernel covers d * (k - 1) + 1 pixels"),
    (lambda i, k, s, p, op, d: (i - 1) * s - 2 * p + d * (k - 1) + 1,
     "output_padding is missing: it adds rows and columns at the bottom and right"),
    (lambda i, k, s, p, op, d: (i - 1) * s - p + d * (k - 1) + op + 1,
     "padding crops p rows from each side, so 2p in all"),
    (lambda i, k, s, p, op, d: (i - 1) * s + 2 * p + d * (k - 1) + op + 1,
     "padding shrinks a transposed convolution's output (it crops), it does not enlarge it"),
    (lambda i, k, s, p, op, d: i * s - 2 * p + d * (k - 1) + op + 1,
     "the stride separates the i input stamps, so it multiplies i - 1 gaps, not i"),
    (lambda i, k, s, p, op, d: i * s,
     "a transposed convolution with stride s does not simply multiply the size by s"),
)


@functools.cache
def _size_truth() -> tuple[list[dict[str, int]], list[int]]:
    """The 40 unseen settings and the sizes PyTorch's conv_transpose2d makes for them (computed once)."""
    cases = _size_cases(seed=7, count=40)
    sizes = []
    for c in cases:
        x, w = torch.zeros(1, 1, c["i"], c["i"]), torch.zeros(1, 1, c["k"], c["k"])
        sizes.append(F.conv_transpose2d(x, w, stride=c["s"], padding=c["p"], output_padding=c["op"],
                                        dilation=c["d"]).shape[-1])
    return cases, sizes


def _judge_transposed_size(fn: Any) -> Feedback:
    """The learner's `fn(i, k, s, p, op, d)` against the size F.conv_transpose2d produces, on 40 unseen settings."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    cases, want_all = _size_truth()
    got_all = []
    for c in cases:
        got = fn(c["i"], c["k"], c["s"], c["p"], c["op"], c["d"])
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the size"
        got_all.append(got)
    if got_all == want_all:
        return True, "it matches PyTorch's conv_transpose2d on 40 settings you had not seen."
    for formula, message in _SIZE_MISTAKES:
        if got_all == [formula(**c) for c in cases]:
            return False, message
    at = next(j for j, (a, b) in enumerate(zip(got_all, want_all, strict=True)) if a != b)
    setting = ", ".join(f"{k}={v}" for k, v in cases[at].items())
    return False, (f"for {setting} your function gives {got_all[at]!r} but PyTorch's conv_transpose2d makes "
                   f"{want_all[at]}; check each term of the formula")


# ----------------------------------------------------------------------------------------------------------
# 07.5: the transposed convolution by scattering stamps
# ----------------------------------------------------------------------------------------------------------
def _judge_scatter(fn: Any) -> Feedback:
    """The learner's `fn(x, w, stride, padding)` on (H, W) tensors against F.conv_transpose2d, on unseen shapes."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(75)
    for trial in range(12):
        H, W = (int(v) for v in torch.randint(2, 7, (2,), generator=g))
        k = int(torch.randint(2, 5, (1,), generator=g))
        s = int(torch.randint(1, 4, (1,), generator=g)) if trial else 2
        p = min(trial % 3, k - 1)
        x = torch.randn(H, W, generator=g, dtype=torch.float64)
        w = torch.randn(k, k, generator=g, dtype=torch.float64)

        def tconv(kernel: torch.Tensor, stride: int = s, padding: int = p, x: torch.Tensor = x) -> torch.Tensor:
            return F.conv_transpose2d(x[None, None], kernel[None, None], stride=stride, padding=padding)[0, 0]

        want = tconv(w)
        got = fn(x.clone(), w.clone(), s, p)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor):
            return False, f"return a tensor, got {type(got).__name__}"
        setting = f"a {H}x{W} input, a {k}x{k} kernel, stride {s}, padding {p}"
        if got.shape != want.shape:
            full = tconv(w, padding=0)
            if got.shape == full.shape:
                return False, (f"on {setting} your output is too big: the padding of a transposed convolution "
                               f"crops p rows and columns from each side of the stamped canvas")
            if p and tuple(got.shape) == (full.shape[0] - p, full.shape[1] - p):
                return False, f"on {setting} you crop from one side only: padding crops p from each side"
            if got.shape == tconv(w, stride=1).shape:
                return False, f"on {setting} your stamps are not placed stride pixels apart"
            if got.shape[0] < H:
                return False, (f"on {setting} your output is smaller than the input: that is an ordinary "
                               f"convolution; a transposed one stamps the kernel once per input pixel")
            return False, (f"on {setting} your output has shape {tuple(got.shape)}, PyTorch's "
                           f"{tuple(want.shape)}: check the canvas size and the crop")
        if not _close(got, want):
            if _close(got, tconv(w.flip(0, 1))):
                return False, (f"on {setting} your kernel is flipped: the scatter form stamps w as it is (the "
                               f"zero-insertion form is the one that convolves with the rotated kernel)")
            return False, (f"the shape is right but the values differ ({setting}): each input pixel x[i, j] adds "
                           f"x[i, j] * w at rows i*s .. i*s+k-1 and columns j*s .. j*s+k-1, then crop p")
    return True, "it equals F.conv_transpose2d on 12 random shapes, strides and paddings."


_SCATTER_SOLUTION = (
    "def conv_transpose2d_single(x, w, stride=1, padding=0):\n"
    "    H, W = x.shape\n"
    "    k = w.shape[0]\n"
    "    out = torch.zeros((H - 1) * stride + k, (W - 1) * stride + k, dtype=x.dtype)\n"
    "    for i in range(H):\n"
    "        for j in range(W):  # every input pixel stamps the kernel, scaled by its value\n"
    "            out[i * stride:i * stride + k, j * stride:j * stride + k] += x[i, j] * w\n"
    "    p = padding  # padding crops p rows and columns from each side\n"
    "    return out[p:out.shape[0] - p, p:out.shape[1] - p]"
)


def _scatter_model(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    namespace = {"torch": torch}
    exec(_SCATTER_SOLUTION, namespace)  # noqa: S102 (our own solution text: the model answer is what learners see)
    return namespace["conv_transpose2d_single"](x, w, stride, padding)


# ----------------------------------------------------------------------------------------------------------
# 07.6: PixelShuffle with reshape and permute
# ----------------------------------------------------------------------------------------------------------
def _judge_pixel_shuffle(fn: Any) -> Feedback:
    """The learner's `fn(x, r)` against F.pixel_shuffle on unseen shapes and factors."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(76)
    for _ in range(12):
        r = int(torch.randint(2, 4, (1,), generator=g))
        N, C, H, W = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 3), (2, 4), (2, 5), (2, 5)))
        x = torch.randn(N, C * r * r, H, W, generator=g, dtype=torch.float64)
        want = F.pixel_shuffle(x, r)
        got = fn(x.clone(), r)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor):
            return False, f"return a tensor, got {type(got).__name__}"
        setting = f"an input of shape {tuple(x.shape)} and r = {r}"
        if got.shape != want.shape:
            return False, (f"on {setting} your output has shape {tuple(got.shape)}: PixelShuffle turns "
                           f"(N, C r^2, H, W) into (N, C, H r, W r)")
        if not _close(got, want):
            known = [
                (x.reshape(want.shape), "a reshape alone keeps the values in memory order: each output row is "
                                        "then a run of one channel; the r x r offsets have to be interleaved with "
                                        "H and W by a permute"),
                (x.view(N, C, r, r, H, W).permute(0, 1, 4, 3, 5, 2).reshape(want.shape),
                 "row and column offsets are swapped: of a channel's r^2 sub-channels, index i * r + j goes to "
                 "row offset i and column offset j"),
                (x.view(N, r, r, C, H, W).permute(0, 3, 4, 1, 5, 2).reshape(want.shape),
                 "the channel grouping is off: the r^2 sub-channels of one output channel are consecutive, "
                 "channel c * r^2 + i * r + j"),
                (x.view(N, C, r, r, H, W).permute(0, 1, 2, 4, 3, 5).reshape(want.shape),
                 "the offsets must sit next to H and W: the order is (N, C, H, i, W, j) before the final reshape"),
            ]
            mistake = next((m for result, m in known if _close(got, result)), None)
            return False, (f"on {setting} the shape is right but the values differ from F.pixel_shuffle's: "
                           f"{mistake or 'view x as (N, C, r, r, H, W) and put each offset after its axis'}")
    return True, "it equals F.pixel_shuffle on 12 shapes and factors you had not seen."


# ----------------------------------------------------------------------------------------------------------
# Notebook 07: transposed convolution
# ----------------------------------------------------------------------------------------------------------
def _height_mistakes_07_1(h: int) -> str | None:
    i, k, s, p = 10, 3, 2, 1
    known: dict[int, list[str]] = {}
    for size, why in (((i - 1) * s + k, "that is the size without padding: padding crops a transposed "
                                        "convolution's output"),
                      ((i - 1) * s + k - p, "padding crops p from each side, so 2p in all"),
                      (i * s, "a stride-2 transposed convolution does not simply double the size (output_padding "
                              "would add the missing row)"),
                      ((i + 2 * p - k) // s + 1, "that is the ordinary convolution's formula, which shrinks"),
                      ((i - 1) * s + k - 4 * p, "padding crops p from each side, not 2p"),
                      (i * s + k - 2 * p, "the stride multiplies the i - 1 gaps between stamps, not i")):
        known.setdefault(size, []).append(why)
    return " - or ".join(known[h]) if h in known else None


add(Exercise(
    id="07.1", kind="predict",
    question="Output shape (C, H, W) of nn.ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1) on a "
             "(16, 10, 10) feature map?",
    judge=shape_judge((8, 19, 19), _height_mistakes_07_1,
                      "o' = s(i' - 1) + k - 2p = 2 * 9 + 3 - 2 = 19, and 8 output channels."),
    hints=("The output has out_channels = 8 channels.",
           "o' = s(i' - 1) + k - 2p: padding makes a transposed convolution's output smaller.",
           "Here i' = 10, k = 3, s = 2, p = 1."),
    solution="(8, 19, 19): o' = 2 * (10 - 1) + 3 - 2 * 1 = 19. To get 20 (twice the input) you would add "
             "output_padding=1, or use k = 4 with s = 2, p = 1.",
    model=(8, 19, 19), wrong=(8, 21, 21),
))

add(Exercise(
    id="07.2", kind="predict",
    question="How many parameters does nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1) have?",
    judge=number_judge(32_800, {
        32_800: "a 4x4 kernel for each (input, output) channel pair, 64 * 32 * 16 weights, plus 32 biases.",
        32_768: "that counts the weights; each output channel also has a bias",
        32_832: "the biases belong to the output channels (out_channels), not the input channels",
        131_104: "stride and padding change the output size, not the number of weights",
        544: "each output channel has one 4x4 kernel per input channel",
        1_056: "each output channel has one 4x4 kernel per input channel",
    }, "parameters"),
    hints=("A transposed convolution has as many weights as the convolution it transposes: the weight tensor has "
           "shape (in_channels, out_channels, k, k).",
           "Stride and padding do not change the count.",
           "Add one bias per output channel."),
    solution="32,800 = 64 * 32 * 4 * 4 weights + 32 biases. The weight tensor is (64, 32, 4, 4): in PyTorch a "
             "transposed convolution stores (in, out, k, k), the transpose of the convolution's (out, in, k, k).",
    model=32_800, wrong=32_768,
))

add(Exercise(
    id="07.3", kind="predict",
    question="A transposed convolution with a 5x5 kernel and stride 2 on a large input of ones, all weights 1: "
             "how many stamps does the most-covered output pixel receive?",
    judge=number_judge(9, {
        9: "along each axis a pixel is covered by ceil(5/2) = 3 or 2 stamps; 3 x 3 at most (and 2 x 2 = 4 at least: "
           "a checkerboard, since 5 is not divisible by 2).",
        25: "k x k overlaps would need stride 1; with stride 2 the stamps are two pixels apart",
        3: "that is one axis; a pixel's count is its row count times its column count",
        2: "that is the smallest count along one axis; the question asks for the largest, over both axes",
        4: "that is the least-covered pixel (two stamps along each axis); some get more",
        6: "that is a pixel covered by three stamps along one axis and two along the other; some get more",
        5: "stamps overlap along rows and columns: count per axis, then multiply",
    }, "stamps"),
    hints=("Along one axis, stamps of width 5 start every 2 pixels: how many cover one pixel?",
           "Along one axis it is either 2 or 3.",
           "The 2D count is the product of the row count and the column count."),
    solution="9: along each axis a pixel lies under 3 or 2 stamps (5 / 2 = 2.5), so the 2D counts are 4, 6 and 9 — "
             "an uneven pattern, a checkerboard. overlap_map(8, 5, 2) shows it; k = 4 or 6 with s = 2 would be even.",
    model=9, wrong=25,
))

add(Exercise(
    id="07.4", kind="code",
    question="Complete transposed_output_size(i, k, s, p, op, d): the output size of a transposed convolution "
             "along one axis, with output padding op and dilation d.",
    judge=_judge_transposed_size,
    hints=("Start from the case p = 0, op = 0, d = 1: i stamps of width k, s pixels apart.",
           "Padding crops p from each side; output_padding adds op at the end.",
           "A dilated kernel is d * (k - 1) + 1 pixels wide."),
    solution="def transposed_output_size(i, k, s=1, p=0, op=0, d=1):\n"
             "    return (i - 1) * s - 2 * p + d * (k - 1) + op + 1",
    model=lambda i, k, s, p, op, d: (i - 1) * s - 2 * p + d * (k - 1) + op + 1,
    wrong=lambda i, k, s, p, op, d: (i - 1) * s - 2 * p + k + op,  # forgets dilation
))

add(Exercise(
    id="07.5", kind="code",
    question="Complete conv_transpose2d_single(x, w, stride, padding) for one (H, W) input and one (k, k) kernel, "
             "by scattering stamps.",
    judge=_judge_scatter,
    hints=("Make a canvas of (H - 1) * stride + k rows and (W - 1) * stride + k columns.",
           "Input pixel (i, j) adds x[i, j] * w to the k x k block that starts at row i * stride, column j * stride.",
           "Finally crop padding rows and columns from every side; do not flip the kernel."),
    solution=_SCATTER_SOLUTION,
    model=_scatter_model,
    wrong=lambda x, w, s, p: F.conv_transpose2d(x[None, None], w[None, None], stride=s)[0, 0],  # forgets the crop
))

add(Exercise(
    id="07.6", kind="code",
    question="Complete pixel_shuffle(x, r): (N, C r^2, H, W) -> (N, C, H r, W r) with view/permute/reshape, "
             "without F.pixel_shuffle.",
    judge=_judge_pixel_shuffle,
    hints=("Output pixel (h * r + i, w * r + j) of channel c comes from input channel c * r^2 + i * r + j at (h, w).",
           "View x as (N, C, r, r, H, W).",
           "Permute to (N, C, H, r, W, r), then reshape to (N, C, H * r, W * r)."),
    solution=("def pixel_shuffle(x, r):\n"
              "    N, Cr2, H, W = x.shape\n"
              "    C = Cr2 // (r * r)\n"
              "    x = x.view(N, C, r, r, H, W)      # channel c * r^2 + i * r + j -> (c, i, j)\n"
              "    x = x.permute(0, 1, 4, 2, 5, 3)  # (N, C, H, i, W, j)\n"
              "    return x.reshape(N, C, H * r, W * r)"),
    model=lambda x, r: x.view(x.shape[0], -1, r, r, *x.shape[2:]).permute(0, 1, 4, 2, 5, 3).reshape(
        x.shape[0], -1, x.shape[2] * r, x.shape[3] * r),
    wrong=lambda x, r: x.reshape(x.shape[0], -1, x.shape[2] * r, x.shape[3] * r),  # no permute
))

add(Exercise(
    id="07.7", kind="explain",
    question="Why is conv_transpose2d the gradient of conv2d with respect to its input?",
    judge=None,
    hints=("Write the convolution as y = C x, with C the matrix of section 1.",
           "For a loss L, what is dL/dx in terms of dL/dy and C?"),
    solution=("A convolution is linear: y = C x. By the chain rule dL/dx = C^T dL/dy, and C^T applied to a map is "
              "exactly what conv_transpose2d computes (with the same kernel, stride and padding). So autograd's "
              "backward pass of conv2d *is* a transposed convolution — check it with "
              "torch.autograd.grad((F.conv2d(x, w) * g).sum(), x) == F.conv_transpose2d(g, w). Conversely, the "
              "backward pass of a transposed convolution is an ordinary convolution; that is where the name comes "
              "from, and why 'deconvolution' is a misnomer."),
))

add(Exercise(
    id="07.8", kind="explain",
    question="Where do checkerboard artifacts come from, and why do k = 4 with s = 2, resize-then-conv and "
             "sub-pixel convolution help to different degrees?",
    judge=None,
    hints=("Count how many stamps cover each output pixel when k is not divisible by s.",
           "Even coverage is one thing; do the stride-2 phases of a transposed convolution use the same weights?"),
    solution=("With stride s, a transposed convolution's stamps overlap unevenly when k is not divisible by s "
              "(k = 3, s = 2: pixels get 1, 2 or 4 contributions): a periodic pattern is built into the geometry. "
              "k = 4, s = 2 covers every inner pixel equally, but its s^2 = 4 phases use different kernel entries, "
              "and so does PixelShuffle's r^2 channels: the net must learn to make them agree (ICNR initialisation "
              "starts them equal). Nearest-neighbour resize followed by an ordinary convolution applies the same "
              "kernel everywhere, so a flat input stays flat by construction — Odena et al.'s recommendation."),
))
