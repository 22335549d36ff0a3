"""The exercises of notebook 01 (the framework): predictions of iterations, activation memory and strides, and three
functions to write (a convolution as unfold + one matrix product, a numerically stable cross-entropy, a per-channel
input normalisation), checked against PyTorch and torchvision on inputs the notebook never shows."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _not_a_function(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


def _judge_conv_unfold(fn: Any) -> Feedback:
    """The learner's `fn(x, w)` (stride 1, no padding) against F.conv2d on batches and filter banks of unseen shapes."""
    if (bad := _not_a_function(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(11)
    for trial in range(10):
        N, C_in, C_out = (int(v) for v in torch.randint(1, 5, (3,), generator=g))
        k = int(torch.randint(1, 5, (1,), generator=g))
        H, W = k + int(torch.randint(0, 8, (1,), generator=g)), k + 2 + int(torch.randint(0, 8, (1,), generator=g))
        x = torch.randn(N, C_in, H, W, generator=g, dtype=torch.float64)
        w = torch.randn(C_out, C_in, k, k, generator=g, dtype=torch.float64)
        want = F.conv2d(x, w)
        got = fn(x.clone(), w.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the feature maps"
        if not isinstance(got, torch.Tensor):
            return False, f"return a tensor, got {type(got).__name__}"
        setting = f"a batch of shape {(N, C_in, H, W)} with filters of shape {(C_out, C_in, k, k)}"
        if got.shape != want.shape:
            if got.numel() == want.numel():
                return False, (f"for {setting} your output has shape {tuple(got.shape)}, PyTorch's "
                               f"{tuple(want.shape)}: the numbers are there, view them as (N, C_out, H_out, W_out)")
            return False, (f"for {setting} your output has shape {tuple(got.shape)}, PyTorch's {tuple(want.shape)}: "
                           f"a k x k window fits H - k + 1 times down and W - k + 1 times across")
        if not torch.allclose(got.to(want.dtype), want, atol=1e-8):
            if torch.allclose(got.to(want.dtype), F.conv2d(x, w.flip(2, 3)), atol=1e-8):
                return False, "your kernels are flipped: deep learning's convolution is a cross-correlation"
            return False, (f"the shape is right but the values differ for {setting}: reshape the filters to "
                           f"(C_out, C_in * k * k), in the same order as unfold's columns")
    return True, "unfold + one matrix product equals F.conv2d on 10 batches and filter banks you had not seen."


def _judge_cross_entropy(fn: Any) -> Feedback:
    """The learner's `fn(z, y)` against F.cross_entropy, first on ordinary logits, then on huge ones."""
    if (bad := _not_a_function(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(12)
    for trial in range(12):
        N, K = int(torch.randint(2, 9, (1,), generator=g)), int(torch.randint(2, 12, (1,), generator=g))
        scale = 3.0 if trial < 6 else 1000.0  # the last six: logits as large as a confidently wrong network makes
        z = scale * torch.randn(N, K, generator=g)
        y = torch.randint(0, K, (N,), generator=g)
        want = F.cross_entropy(z, y)
        got = fn(z.clone(), y.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the loss"
        if not isinstance(got, torch.Tensor):
            got = torch.as_tensor(got, dtype=torch.float32)
        got = got.detach().to(torch.float64)
        want64 = want.to(torch.float64)
        if got.numel() == N and got.numel() != 1:
            return False, "your loss has one value per example: average them over the batch into one number"
        if got.numel() != 1:
            return False, f"return one number (a scalar tensor), got a tensor of shape {tuple(got.shape)}"
        got = got.reshape(())
        if not torch.isfinite(got):
            return False, (f"on logits as large as {z.abs().max().item():.0f} your loss is {got.item()}: exp of a "
                           f"large logit overflows to inf; softmax does not change if you subtract a constant first")
        if torch.isclose(got, want64, rtol=1e-4, atol=1e-5):
            continue
        if torch.isclose(got, N * want64, rtol=1e-4, atol=1e-5):
            return False, "that is the sum over the batch; cross-entropy is the mean"
        if torch.isclose(got, -want64, rtol=1e-4, atol=1e-5):
            return False, "the sign is wrong: the loss is minus the log of the right class's probability"
        return False, (f"on {N} examples with {K} classes your loss differs from F.cross_entropy: pick each "
                       f"example's own class y[i] (row i, column y[i])")
    return True, "it equals F.cross_entropy on 12 batches, including logits in the thousands."


def _judge_normalize(fn: Any) -> Feedback:
    """The learner's `fn(x, mean, std)` against torchvision's Normalize on batches of unseen shapes and channels."""
    from torchvision.transforms import Normalize

    if (bad := _not_a_function(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(13)
    for trial in range(8):
        N, C = int(torch.randint(1, 5, (1,), generator=g)), (1, 3, 4, 2, 3, 3, 5, 3)[trial]
        H, W = int(torch.randint(2, 7, (1,), generator=g)), int(torch.randint(2, 7, (1,), generator=g))
        x = torch.rand(N, C, H, W, generator=g, dtype=torch.float64)
        mean = [round(v, 3) for v in torch.rand(C, generator=g).tolist()]
        std = [round(0.1 + v, 3) for v in torch.rand(C, generator=g).tolist()]
        want = Normalize(mean, std)(x)
        try:
            got = fn(x.clone(), list(mean), list(std))
        except RuntimeError as error:  # a (C,) tensor broadcast against W
            return False, (f"on a batch of shape {(N, C, H, W)} your function raised {error}: the means line up "
                           f"with the last dimension (W); shape them (1, C, 1, 1) to line up with the channels")
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the batch"
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            shown = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            return False, f"return a tensor of the input's shape {(N, C, H, W)}, got {shown}"
        got = got.to(want.dtype)
        if torch.allclose(got, want, atol=1e-6):
            continue
        m = torch.tensor(mean, dtype=x.dtype)[None, :, None, None]
        s = torch.tensor(std, dtype=x.dtype)[None, :, None, None]
        if torch.allclose(got, (x - m) * s, atol=1e-6):
            return False, "you multiplied by the standard deviation: normalising divides by it"
        if torch.allclose(got, x / s - m, atol=1e-6):
            return False, "subtract the mean first, then divide the difference by the standard deviation"
        if W == C and torch.allclose(got, (x - torch.tensor(mean, dtype=x.dtype)) / torch.tensor(std, dtype=x.dtype),
                                     atol=1e-6):
            return False, (f"on a batch of shape {(N, C, H, W)} your means line up with the last dimension (W), "
                           f"not with the channels: shape them (1, C, 1, 1)")
        return False, (f"on a batch of shape {(N, C, H, W)} with {C} channels your result differs from "
                       f"torchvision's Normalize: channel c must use mean[c] and std[c] at every pixel")
    return True, "it equals torchvision.transforms.Normalize on 8 batches of 1 to 5 channels you had not seen."


# ----------------------------------------------------------------------------------------------------------
# Notebook 01: the framework
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="01.1", kind="predict",
    question="Iterations per epoch for 60,000 Fashion-MNIST images with batch size 128 (drop_last=False)?",
    judge=number_judge(469, {469: "ceil(60,000 / 128): 468 full batches and a last one of 96 images.",
                        468: "the short last batch is an iteration too, unless drop_last=True: round up",
                        7_680_000: "the examples are divided among the batches, not multiplied by the batch size",
                        60_000: "that is the number of examples; one iteration handles a whole batch",
                        128: "that is the batch size; how many batches make one pass over the data?"}, "iterations"),
    hints=("An iteration is one forward and backward pass of one mini-batch.",
           "One epoch must show every image once: how many batches of 128 does that take?",
           "Divide, and round up: the last, shorter batch is trained on too."),
    solution="469 = ceil(60,000 / 128): 468 full batches of 128 and a last batch of 96 (len(TensorLoader(...)) "
             "and len(DataLoader(...)) say the same; with drop_last=True the last batch is skipped: 468).",
    model=469, wrong=468,
))

add(Exercise(
    id="01.2", kind="predict",
    question="How many floats does nn.Conv2d(1, 32, 3, padding=1, bias=False), small_cnn's first layer, output for "
             "a batch of 64 Fashion-MNIST images?",
    judge=number_judge(1_605_632, {
        1_605_632: "64 images x 32 channels x 28 x 28 positions; 6.4 MB in float32, kept for the backward pass.",
        25_088: "that is one image's activations; the layer keeps one copy per image of the batch",
        1_384_448: "padding 1 keeps a 3x3 convolution's output the size of its input",
        6_422_528: "that is bytes (4 per float32); the question asks for floats",
        288: "that is the layer's parameters, which do not depend on the batch; the question asks for its output",
        320: "that is a parameter count, which does not depend on the batch; the question asks for the output",
        50_176: "one output channel per filter: 32 of them, not 1"}, "floats"),
    hints=("The output shape is (N, C_out, H_out, W_out).",
           "Padding 1 with a 3x3 kernel and stride 1 keeps 28 x 28.",
           "Multiply the four numbers of the output shape."),
    solution="1,605,632 = 64 x 32 x 28 x 28 (output shape (64, 32, 28, 28)); in float32 that is 6.4 MB, "
             "and it grows linearly with the batch size, unlike the layer's 288 weights.",
    model=1_605_632, wrong=25_088,
))

add(Exercise(
    id="01.3", kind="predict",
    question="x = torch.zeros(8, 3, 32, 32).contiguous(memory_format=torch.channels_last): what is x.stride(2) "
             "(the H dimension), in elements?",
    judge=number_judge(96, {96: "in channels-last memory one row holds W x C = 32 x 3 values: the next row is that "
                                "far on.",
                            32: "that is H's stride in the ordinary channels-first memory; here the channels sit "
                                "inside each pixel",
                            1024: "that is C's stride in channels-first memory; the question asks for H in "
                                  "channels-last",
                            3: "that is W's stride: one pixel further is C values on; a row is many pixels",
                            3072: "that is N's stride: one whole image further"}, "elements"),
    hints=("channels_last keeps the logical shape (N, C, H, W) but stores the values as N x H x W x C.",
           "In that memory order, the channels of one pixel are neighbours, then the next pixel of the row follows.",
           "To step one row down you skip a whole row of pixels, each with all its channels."),
    solution="96 = W x C = 32 x 3. x.stride() is (3072, 1, 96, 3): C varies fastest (stride 1), then W (3), "
             "then H (96), then N (32 x 32 x 3 = 3072).",
    model=96, wrong=32,
))

add(Exercise(
    id="01.4", kind="code",
    question="Complete conv2d_unfold(x, w): a convolution (stride 1, no padding) of a (N, C_in, H, W) batch with "
             "(C_out, C_in, k, k) filters, as F.unfold and one matrix product.",
    judge=_judge_conv_unfold,
    hints=("F.unfold(x, kernel_size=k) gives (N, C_in * k * k, L): one column per output position.",
           "w.view(C_out, -1) @ columns gives (N, C_out, L): one row per filter.",
           "L = (H - k + 1) * (W - k + 1): view the result as (N, C_out, H - k + 1, W - k + 1)."),
    solution=("def conv2d_unfold(x, w):\n"
              "    N, _, H, W = x.shape\n"
              "    C_out, _, k, _ = w.shape\n"
              "    columns = F.unfold(x, kernel_size=k)  # (N, C_in * k * k, L)\n"
              "    out = w.reshape(C_out, -1) @ columns  # (N, C_out, L)\n"
              "    return out.view(N, C_out, H - k + 1, W - k + 1)"),
    model=lambda x, w: F.conv2d(x, w),
    wrong=lambda x, w: F.conv2d(x, w.flip(2, 3)),
))

add(Exercise(
    id="01.5", kind="code",
    question="Complete my_cross_entropy(z, y): the mean cross-entropy of (N, K) logits and (N,) class indices, "
             "without overflow on huge logits.",
    judge=_judge_cross_entropy,
    hints=("The loss of one example is -log p_y, with p = softmax(z); average over the batch.",
           "exp(1000) is inf in float32: subtract each row's largest logit first (softmax does not change).",
           "log p_y = z_y - log(sum_k exp(z_k)); with m = max(z), log(sum exp z) = m + log(sum exp(z - m))."),
    solution=("def my_cross_entropy(z, y):\n"
              "    z = z - z.max(dim=1, keepdim=True).values  # no overflow; the loss does not change\n"
              "    log_p = z - z.exp().sum(dim=1, keepdim=True).log()  # log softmax\n"
              "    return -log_p[torch.arange(len(y)), y].mean()"),
    model=lambda z, y: F.cross_entropy(z, y),
    wrong=lambda z, y: -(z.exp() / z.exp().sum(1, keepdim=True))[torch.arange(len(y)), y].log().mean(),  # overflows
))

add(Exercise(
    id="01.6", kind="explain",
    question="In the hand-written loop, why is the update inside torch.no_grad(), why p.grad = None, and what goes "
             "wrong with p = p - lr * p.grad?",
    judge=None,
    hints=("Which tensor does the name p refer to after p = p - ...? Which tensor does the network hold?",
           "What does backward do to .grad: set it or add to it?"),
    solution=("p -= lr * p.grad changes the network's own weight tensor in place. p = p - lr * p.grad builds a new "
              "tensor and rebinds the loop variable p to it: the network still holds the old weights, so it never "
              "changes (and the new tensor would be recorded in the graph). torch.no_grad() keeps the update "
              "itself out of the autograd graph (and an in-place change of a leaf that requires grad is an error "
              "otherwise). backward() adds to .grad, so without p.grad = None (or optimizer.zero_grad()) every "
              "step would use the sum of all gradients so far."),
))

add(Exercise(
    id="01.7", kind="code",
    question="Complete normalize(x, mean, std): a (N, C, H, W) batch with channel c shifted by mean[c] and divided "
             "by std[c] (mean and std are lists of C numbers), as torchvision.transforms.Normalize does.",
    judge=_judge_normalize,
    hints=("Normalising is (x - mean) / std, with each channel's own mean and std.",
           "torch.tensor(mean) has shape (C,), which broadcasts against the last dimension, W, not against C.",
           "Reshape the means and stds to (1, C, 1, 1): then they line up with the channels of every pixel."),
    solution=("def normalize(x, mean, std):\n"
              "    mean = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)  # (1, C, 1, 1)\n"
              "    std = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)\n"
              "    return (x - mean) / std"),
    model=lambda x, mean, std: (x - torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1))
    / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1),
    wrong=lambda x, mean, std: (x - torch.tensor(mean, dtype=x.dtype)) / torch.tensor(std, dtype=x.dtype),
))
