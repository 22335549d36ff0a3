"""The exercises of notebook 04 (activation functions): predictions about saturation, Maxout's size and gradient
signs, and two functions to write, checked against PyTorch's autograd on inputs the notebook never shows."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.to(torch.float64), b.to(torch.float64), rtol=1e-6, atol=1e-9)


def _elu_cases(seed: int, count: int) -> list[tuple[torch.Tensor, float]]:
    """Random inputs (with the kink x = 0 among them) and random alphas the learner has not seen."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for _ in range(count):
        x = torch.cat([torch.randn(60, generator=g, dtype=torch.float64) * 4, torch.zeros(1, dtype=torch.float64)])
        alpha = round(0.3 + 2.7 * float(torch.rand(1, generator=g)), 3)
        cases.append((x[torch.randperm(len(x), generator=g)], alpha))
    return cases


def _judge_elu_grad(fn: Any) -> Feedback:
    """The learner's `fn(x, alpha)` against autograd through F.elu, on 8 unseen inputs and alphas."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for x, alpha in _elu_cases(seed=4, count=8):
        got = fn(x.clone(), alpha)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the derivative"
        if not isinstance(got, torch.Tensor):
            return False, f"give back a tensor of the same shape as x, got {type(got).__name__}"
        if got.shape != x.shape:
            return False, f"on an input of shape {tuple(x.shape)} your function gives shape {tuple(got.shape)}"
        leaf = x.clone().requires_grad_(True)
        F.elu(leaf, alpha=alpha).sum().backward()
        want = leaf.grad
        if _close(got, want):
            continue
        neg, pos, zero = x < 0, x > 0, x == 0
        gd = got.to(torch.float64)
        if _close(gd, F.elu(x, alpha=alpha)):
            return False, "your function computes ELU itself, not its derivative"
        if not torch.allclose(gd[pos], want[pos]):
            return False, "for x > 0 ELU is x itself: its slope there is constant"
        if torch.allclose(gd[neg], torch.exp(x[neg])) and alpha != 1:
            return False, f"for x < 0 the derivative misses the factor alpha (alpha = {alpha} here)"
        if torch.allclose(gd[neg], alpha * (torch.exp(x[neg]) - 1)):
            return False, "for x < 0 the derivative of alpha (e^x - 1) is not alpha (e^x - 1): the constant drops out"
        if torch.allclose(gd[neg], torch.zeros_like(gd[neg])):
            return False, "for x < 0 your slope is 0: that is ReLU's derivative; ELU keeps a slope there"
        if not torch.allclose(gd[neg], want[neg]):
            return False, f"for x < 0 (alpha = {alpha}) the values are off: differentiate alpha (e^x - 1)"
        if not torch.allclose(gd[zero], want[zero]):
            return False, ("right everywhere except at the kink x = 0: PyTorch's ELU takes the negative side's slope "
                           "there (x <= 0), so with alpha != 1 the two conventions differ")
        return False, "the values differ from autograd's; compare them on a few inputs"
    return True, "it equals autograd's derivative of F.elu on 8 random inputs and alphas, the kink at 0 included."


def _dead_case(seed: int) -> torch.Tensor:
    """Pre-activations (N, C, H, W) of a conv layer: some channels off everywhere (some touching exactly 0), some
    off everywhere but at one position of one image, the rest ordinary."""
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = (int(v) for v in (torch.randint(3, 7, (1,), generator=g), torch.randint(8, 17, (1,), generator=g),
                                   torch.randint(4, 9, (1,), generator=g), torch.randint(4, 9, (1,), generator=g)))
    z = torch.randn(N, C, H, W, generator=g)
    kinds = torch.randint(0, 4, (C,), generator=g)
    kinds[:4] = torch.tensor([0, 1, 2, 3])  # every kind at least once
    kinds = kinds[torch.randperm(C, generator=g)]
    for c in range(C):
        if kinds[c] == 0:  # dead: negative everywhere
            z[:, c] = -z[:, c].abs() - 0.1
        elif kinds[c] == 1:  # dead: <= 0 everywhere, exactly 0 somewhere (ReLU's gradient at 0 is 0)
            z[:, c] = -z[:, c].abs()
            z[int(torch.randint(0, N, (1,), generator=g)), c, 0, 0] = 0.0
        elif kinds[c] == 2:  # alive at one position of one image only
            z[:, c] = -z[:, c].abs() - 0.1
            n, i, j = (int(torch.randint(0, s, (1,), generator=g)) for s in (N, H, W))
            z[n, c, i, j] = 0.5
    return z


def _judge_dead_channels(fn: Any) -> Feedback:
    """The learner's `fn(z)` against the channels through which autograd sends no gradient at all past a ReLU."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for seed in range(6):
        z = _dead_case(seed)
        N, C = z.shape[:2]
        got = fn(z.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the mask"
        if not isinstance(got, torch.Tensor):
            return False, f"give back a tensor of C bools (one per channel), got {type(got).__name__}"
        leaf = z.clone().requires_grad_(True)
        torch.relu(leaf).sum().backward()
        want = (leaf.grad == 0).all(dim=(0, 2, 3))  # (C,): no gradient reaches the channel anywhere
        if got.shape != want.shape:
            if got.shape == (N, C):
                return False, "one answer per image: a channel is dead only if it is off for every image"
            if got.numel() == 1:
                return False, "one bool per channel, not a single number for the layer"
            return False, (f"for z of shape {tuple(z.shape)} (N, C, H, W) your mask has shape {tuple(got.shape)}: "
                           f"one entry per channel")
        got = got.bool()
        if torch.equal(got, want):
            continue
        if torch.equal(got, (z < 0).all(dim=(0, 2, 3))):
            return False, ("a channel that is exactly 0 somewhere and negative elsewhere gets no gradient either: "
                           "PyTorch's ReLU has slope 0 at 0")
        if torch.equal(got, (z <= 0).any(dim=(0, 2, 3))) or torch.equal(got, (z < 0).any(dim=(0, 2, 3))):
            return False, "a unit off somewhere is normal; dead means off at every position of every image"
        if torch.equal(got, ~want):
            return False, "your mask is inverted: True should mark the dead channels"
        return False, f"on z of shape {tuple(z.shape)} your mask differs from the channels autograd finds dead"
    return True, "it finds exactly the channels autograd sends no gradient to, on 6 random conv outputs."


# ----------------------------------------------------------------------------------------------------------
# Notebook 04: activation functions
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="04.1", kind="predict",
    question="Backpropagation passes through 5 sigmoid activations. By at least what factor is the gradient shrunk?",
    judge=number_judge(1024, {
        1024: "each sigmoid multiplies the gradient by at most 1/4, so five of them by at most (1/4)^5 = 1/1024.",
        20: "the factors multiply, one per layer; they do not add up",
        4: "that is one sigmoid; the gradient passes through five",
        32: "the sigmoid's derivative peaks at 1/4 (at x = 0), not at 1/2",
        3125: "the sigmoid's derivative peaks at 1/4, not 1/5",
        625: "base and exponent swapped: one factor per layer, each the inverse of the derivative's peak",
        1: "the sigmoid's derivative is never 1: its peak is at x = 0, where sigma = 1/2"}, "(the factor)"),
    hints=("sigma'(x) = sigma(x) (1 - sigma(x)). Where is it largest, and how large?",
           "At x = 0, sigma = 1/2, so sigma' = 1/4 at best.",
           "Backpropagation multiplies by one derivative per layer: five factors of at most 1/4."),
    solution="1024: sigma' = sigma (1 - sigma) is at most 1/4 (at x = 0), and backpropagation multiplies one such "
             "factor per layer, so the gradient is at most (1/4)^5 = 1/1024 of what it was (ignoring the weights).",
    model=1024, wrong=20,
))

add(Exercise(
    id="04.2", kind="predict",
    question="How many parameters does Maxout(in_features=256, out_features=128, pieces=3) have?",
    judge=number_judge(98688, {
        98688: "3 pieces, each a Linear(256, 128) with its own biases: 3 x (256*128 + 128).",
        32896: "that is one piece; each of the pieces has its own weights and biases",
        65792: "that is two pieces; count them again",
        98304: "that counts the weights; every piece of every unit also has a bias",
        32768: "that is one piece without biases: each piece has its own weights and biases",
        0: "Maxout is not a fixed function: it learns its pieces"}, "parameters"),
    hints=("Maxout is Linear(in, out * pieces) followed by a max over each group of `pieces` outputs.",
           "Each piece is a full linear map from 256 inputs to 128 outputs, with biases.",
           "Count one Linear(256, 128) (weights and biases), then multiply by the number of pieces."),
    solution="98688 = 3 x (256 x 128 + 128): Maxout keeps `pieces` linear maps and takes their maximum, so it has "
             "pieces times the parameters of nn.Linear(256, 128) (the price of learning the activation's shape).",
    model=98688, wrong=32896,
))

add(Exercise(
    id="04.3", kind="predict",
    question="Section 5 with ReLU instead of sigmoid: what share (in %) of the per-example weight-gradient rows has "
             "a single sign?",
    judge=number_judge(100, {
        100: "ReLU's outputs are never negative either, so each row is (one number) x (inputs >= 0); zeros do not "
             "break a sign.",
        0: "that is what the zero-centred tanh gives; are ReLU's outputs ever negative?",
        50: "the sign of a row is decided by one number times inputs that are never negative",
        1: "count the zeros: a ReLU output of 0 makes a gradient entry 0, which fits either sign"}, "percent"),
    hints=("The row for unit j is dL/df_j times the layer's inputs x: its sign pattern is the sign pattern of x.",
           "What signs can ReLU(z) take?",
           "A zero entry belongs to both 'all >= 0' and 'all <= 0'."),
    solution="100%: ReLU's outputs are >= 0, exactly like the sigmoid's are > 0, so every per-example row "
             "dL/df_j * x is all >= 0 or all <= 0 (zeros fit either). ReLU is not zero-centred either; minibatches, "
             "BatchNorm and the fact that the sign differs from example to example make it harmless in practice.",
    model=100, wrong=0,
))

add(Exercise(
    id="04.4", kind="code",
    question="Complete elu_grad(x, alpha): the derivative of ELU, checked against autograd through F.elu.",
    judge=_judge_elu_grad,
    hints=("ELU is x for x > 0 and alpha (e^x - 1) otherwise: differentiate each side.",
           "The negative side's derivative is alpha e^x: the -1 disappears.",
           "torch.where(x > 0, ..., ...) picks the side per element; at x = 0 PyTorch takes the negative side."),
    solution="def elu_grad(x, alpha=1.0):\n    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x))",
    model=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x)),
    wrong=lambda x, alpha: torch.where(x > 0, torch.ones_like(x), torch.exp(x)),  # forgets alpha
))

add(Exercise(
    id="04.5", kind="code",
    question="Complete dead_channels(z): for a conv layer's pre-activations z (N, C, H, W), a (C,) bool mask of the "
             "channels whose ReLU passes no gradient for any image at any position.",
    judge=_judge_dead_channels,
    hints=("ReLU's gradient is 1 where z > 0 and 0 elsewhere (at z = 0 too, in PyTorch).",
           "A channel is dead when it is off at every position (H, W) of every image (N).",
           "Reduce over dims (0, 2, 3) with .all()."),
    solution="def dead_channels(z):\n    return (z <= 0).all(dim=(0, 2, 3))",
    model=lambda z: (z <= 0).all(dim=(0, 2, 3)),
    wrong=lambda z: (z < 0).all(dim=(0, 2, 3)),  # forgets that ReLU's slope at 0 is 0
))

add(Exercise(
    id="04.6", kind="explain",
    question="Replace the ReLU of section 7 by ELU. Can a channel die? Which property of ELU's derivative decides?",
    judge=None,
    hints=("A ReLU unit dies because its derivative is exactly 0 for every negative input.",
           "ELU's derivative on the negative side is alpha e^x: is it ever exactly 0?"),
    solution=("Not in the strict sense. ELU's derivative for x <= 0 is alpha e^x > 0, so a unit pushed negative on "
              "every image still receives a gradient and its weights keep moving: it can come back, unlike a dead "
              "ReLU whose derivative is exactly 0. But alpha e^x fades fast (4.5e-5 at x = -10), so a unit pushed "
              "far negative learns very slowly - it saturates like a sigmoid's tail rather than dying. Leaky ReLU's "
              "constant slope avoids even that."),
))

add(Exercise(
    id="04.7", kind="predict",
    question="arctan'(x) = 1/(1 + x^2). At x = 10 that is 1/n: what is n?",
    judge=number_judge(101, {
        101: "1 + 10^2 = 101: arctan still passes about 1% of the gradient at 10, where tanh passes 8e-9.",
        100: "the derivative is 1/(1 + x^2): the 1 counts too",
        11: "x is squared: 1 + 10^2, not 1 + 10",
        21: "x is squared, not doubled: 1 + 10^2",
        1: "that is the derivative at x = 0; at x = 10 the tail has flattened"}, "(n)"),
    hints=("Put x = 10 into 1 + x^2.",
           "10^2 = 100.",
           "The derivative is 1/(1 + 100)."),
    solution="101: arctan'(10) = 1/(1 + 10^2) = 1/101, about 0.0099. Its tail fades only as 1/x^2, so arctan "
             "saturates far less than tanh, whose derivative 1 - tanh(10)^2 is about 8e-9.",
    model=101, wrong=100,
))
