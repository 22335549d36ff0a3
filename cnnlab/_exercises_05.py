"""The exercises of notebook 05 (weight initialisation): predictions of fan-in, of the variance lost through ReLU
layers and of zero init's symmetry, and two functions to write, checked against what torch.nn.init actually draws
on layers of random sizes the notebook never shows."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _random_layers(seed: int, count: int) -> list[nn.Module]:
    """Conv2d and Linear layers of random sizes, each with at least 20,000 weights (so an empirical std is within
    about 1% of the true one) and a fan-in far from its fan-out and from its channel count."""
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []

    def draw(lo: int, hi: int) -> int:
        return int(torch.randint(lo, hi, (1,), generator=g))

    while len(layers) < count:
        if len(layers) % 2 == 0:
            c_in, c_out, k = draw(4, 49), draw(8, 97), (3, 5, 7)[draw(0, 3)]
            fan_in, fan_out = c_in * k * k, c_out * k * k
            if c_out * c_in * k * k >= 20_000 and not 0.75 < fan_in / fan_out < 1.33:
                layers.append(nn.Conv2d(c_in, c_out, k))
        else:
            d_in, d_out = draw(100, 700), draw(100, 700)
            if d_in * d_out >= 20_000 and not 0.75 < d_in / d_out < 1.33:
                layers.append(nn.Linear(d_in, d_out))
    return layers


def _fans(layer: nn.Module) -> tuple[int, int, int, int]:
    """(fan_in, fan_out, C_in, C_out) of a Linear or Conv2d layer."""
    w = layer.weight
    k2 = w[0, 0].numel()
    return w.shape[1] * k2, w.shape[0] * k2, w.shape[1], w.shape[0]


def _describe(layer: nn.Module) -> str:
    if isinstance(layer, nn.Conv2d):
        return f"nn.Conv2d({layer.in_channels}, {layer.out_channels}, {layer.kernel_size[0]})"
    return f"nn.Linear({layer.in_features}, {layer.out_features})"


def _number(got: Any) -> float | None:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
        return None
    return float(got)


def _judge_init_number(
    fn: Any, what: str, draw: Callable[[torch.Tensor, torch.Generator], None],
    empirical: Callable[[torch.Tensor], float], mistakes: Callable[[int, int, int, int], list[tuple[float, str]]],
    done: str,
) -> Feedback:
    """The learner's `fn(layer)` against what torch.nn.init draws for that layer (measured on the drawn weights)."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for i, layer in enumerate(_random_layers(seed=5, count=8)):
        raw = fn(layer)
        if raw is None:
            return False, f"your function returns None: write its body (replace the ...) and return the {what}"
        got = _number(raw)
        if got is None:
            return False, f"give back one number (a float), got {raw!r}"
        w = torch.empty_like(layer.weight)
        draw(w, torch.Generator().manual_seed(100 + i))
        measured = empirical(w)
        if abs(got - measured) <= 0.03 * measured:
            continue
        for value, why in mistakes(*_fans(layer)):
            if math.isclose(got, value, rel_tol=1e-4):
                return False, f"for {_describe(layer)}: {why}"
        side = "large" if got > measured else "small"
        return False, (f"for {_describe(layer)} your {what} is {got:.4g}, {got / measured:.2f} times what "
                       f"torch.nn.init gives (too {side}): check the fans and the formula")
    return True, done


def _he_mistakes(fan_in: int, fan_out: int, c_in: int, c_out: int) -> list[tuple[float, str]]:
    return [
        (math.sqrt(1 / fan_in), ("that is 1/sqrt(D_in), right for tanh; He doubles the variance to make up for the "
                                "half of the inputs ReLU zeroes")),
        (math.sqrt(2 / (fan_in + fan_out)), ("that is Glorot's (Xavier's) std, which averages fan-in and fan-out; He "
                                            "uses the fan-in only")),
        (2 / fan_in, "that is the variance; the std is its square root"),
        (math.sqrt(2 / c_in), ("the fan-in of a conv counts every weight one output sees: the k x k window of each "
                              "input channel")),
        (math.sqrt(2 / fan_out), ("that uses the fan-out; the forward pass keeps its variance with the fan-in "
                                 "(weight.shape[1] times the kernel area)")),
    ]


def _xavier_uniform_mistakes(fan_in: int, fan_out: int, c_in: int, c_out: int) -> list[tuple[float, str]]:
    return [
        (math.sqrt(2 / (fan_in + fan_out)), ("that is Xavier's std; a uniform U(-a, a) has std a / sqrt(3), so the "
                                            "bound is larger")),
        (2 / (fan_in + fan_out), "that is Xavier's variance, not the bound of the uniform distribution"),
        (6 / (fan_in + fan_out), "the bound is a square root"),
        (math.sqrt(3 / fan_in), ("that gives Var(w) = 1/D_in, the lecture's fan-in version; xavier_uniform_ uses "
                                "Glorot's average of fan-in and fan-out")),
        (math.sqrt(6 / fan_in), "that is He's uniform bound (kaiming_uniform_), made for ReLU"),
        (1 / math.sqrt(fan_in), "that is PyTorch's default init for Linear and Conv layers, not Xavier's"),
        (math.sqrt(6 / (c_in + c_out)), "a conv layer's fans count the k x k kernel positions too"),
    ]


def _judge_he_std(fn: Any) -> Feedback:
    return _judge_init_number(
        fn, "std",
        lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
        lambda w: float(w.std()), _he_mistakes,
        "it matches the std of torch.nn.init.kaiming_normal_'s weights on 8 random Linear and Conv2d layers.")


def _judge_xavier_bound(fn: Any) -> Feedback:
    return _judge_init_number(
        fn, "bound",
        lambda w, g: nn.init.xavier_uniform_(w, generator=g),
        lambda w: float(w.std()) * math.sqrt(3), _xavier_uniform_mistakes,
        "it matches the range of torch.nn.init.xavier_uniform_'s weights on 8 random Linear and Conv2d layers.")


# ----------------------------------------------------------------------------------------------------------
# Notebook 05: weight initialisation
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="05.1", kind="predict",
    question="What is the fan-in D_in of nn.Conv2d(64, 128, kernel_size=3)?",
    judge=number_judge(576, {
        576: "one output sees a 3x3 window of each of the 64 input channels: 3 * 3 * 64.",
        9: "that is the kernel window of one channel; the output sees it in every input channel",
        64: "that counts the input channels; the output sees a 3x3 window of each",
        192: "the window is 3 x 3, not 3: k^2 per channel",
        1152: "that is the fan-out (k^2 C_out); the fan-in counts the inputs of one output",
        73728: "that is the number of weights of the whole layer; the fan-in is per output value",
        73856: "that is the layer's parameter count; the fan-in is the number of inputs of one output value"},
        "inputs"),
    hints=("The fan-in is the number of inputs that one output value is a weighted sum of.",
           "A conv output sees a k x k window of every input channel.",
           "D_in = k^2 C_in."),
    solution="576 = 3 * 3 * 64: D_in = k^2 C_in for a conv layer (fan_in_out gives (576, 1152)). He init therefore "
             "uses std sqrt(2/576) = 0.059 for it.",
    model=576, wrong=64,
))

add(Exercise(
    id="05.2", kind="predict",
    question="10 ReLU layers with Xavier init (Var(w) = 1/D_in) on unit-variance inputs: by what factor has the "
             "variance shrunk after the 10th?",
    judge=number_judge(1024, {
        1024: "each ReLU zeroes half of a symmetric input, so E[x^2] = Var(z)/2, and ten layers give 2^-10.",
        32: "that is the factor for the std (2^5); the variance loses a factor 2 per layer",
        20: "the factors multiply, one per layer; they do not add up",
        2: "that is one layer; there are ten",
        10: "a factor 2 per layer compounds: it is a power of 2",
        100: "the factor per layer is 2 (the ReLU zeroes half of the inputs), and it compounds over ten layers",
        1: "Xavier keeps the variance only without a ReLU: the ReLU halves the second moment"}, "(the factor)"),
    hints=("Var(y) = D_in Var(w) E[x^2]; with Var(w) = 1/D_in that is E[x^2].",
           "For a symmetric z, E[ReLU(z)^2] = Var(z) / 2.",
           "One factor 1/2 per layer, ten layers."),
    solution="1024 = 2^10: with Var(w) = 1/D_in each layer's Var(y) equals the E[x^2] of its input, and a ReLU of a "
             "symmetric input keeps only half of the second moment. He's Var(w) = 2/D_in gives the factor 2 back.",
    model=1024, wrong=32,
))

add(Exercise(
    id="05.3", kind="predict",
    question="A sigmoid MLP with a hidden layer of 64 units starts from all zeros and trains for an epoch. How many "
             "different units does that hidden layer have at the end?",
    judge=number_judge(1, {
        1: "every unit starts equal, gets the same gradient and takes the same step: 64 copies of one unit.",
        64: "the weights do train, but every unit of the layer receives the same gradient at every step",
        0: "the units do not vanish, and their weights do move (sigmoid(0) = 1/2 is not 0)",
        2: "at the start all 64 are equal; what could ever make two of them differ?"}, "units"),
    hints=("At the start, are two units of the layer distinguishable?",
           "Two identical units get identical gradients: same inputs, same weights, same outgoing weights.",
           "Section 1 measured the largest gap between any unit and the first one."),
    solution="1: all 64 units start identical, so they compute the same output, receive the same gradient and take "
             "the same step, forever; the layer acts like a single unit. Section 1 measured the gap: exactly 0.0.",
    model=1, wrong=64,
))

add(Exercise(
    id="05.4", kind="code",
    question="Complete he_std(layer) for an nn.Linear or nn.Conv2d: the std of He (Kaiming) normal init for ReLU.",
    judge=_judge_he_std,
    hints=("He: Var(w) = 2 / D_in; the std is its square root.",
           "layer.weight has shape (C_out, C_in) or (C_out, C_in, k, k): D_in = C_in times the kernel area.",
           "layer.weight[0].numel() is exactly D_in for both kinds of layer."),
    solution="def he_std(layer):\n    fan_in = layer.weight[0].numel()  # C_in * k * k (C_in for Linear)\n"
             "    return math.sqrt(2 / fan_in)",
    model=lambda layer: math.sqrt(2 / layer.weight[0].numel()),
    wrong=lambda layer: math.sqrt(2 / layer.weight.shape[1]),  # forgets the kernel area
))

add(Exercise(
    id="05.5", kind="code",
    question="Complete xavier_uniform_bound(layer): the a of U(-a, a) that torch.nn.init.xavier_uniform_ draws from.",
    judge=_judge_xavier_bound,
    hints=("Glorot: Var(w) = 2 / (D_in + D_out).",
           "A uniform U(-a, a) has variance a^2 / 3.",
           "Solve a^2 / 3 = 2 / (D_in + D_out) for a; both fans include the kernel area."),
    solution="def xavier_uniform_bound(layer):\n    k2 = layer.weight[0, 0].numel()  # kernel area (1 for Linear)\n"
             "    fan_in, fan_out = layer.weight.shape[1] * k2, layer.weight.shape[0] * k2\n"
             "    return math.sqrt(6 / (fan_in + fan_out))",
    model=lambda layer: math.sqrt(6 / (_fans(layer)[0] + _fans(layer)[1])),
    wrong=lambda layer: math.sqrt(2 / (_fans(layer)[0] + _fans(layer)[1])),  # the std, not the bound
))

add(Exercise(
    id="05.6", kind="explain",
    question="Why does Leaky ReLU with slope a need Var(w) = 2 / ((1 + a^2) D_in) instead of He's 2 / D_in?",
    judge=None,
    hints=("Redo section 5's step: what is E[LeakyReLU(z)^2] for a symmetric z?",
           "Half of the values are kept, the other half are multiplied by a, so their squares by a^2."),
    solution=("For symmetric z with variance s^2, E[LeakyReLU(z)^2] = (1/2) s^2 + (1/2) a^2 s^2 = (1 + a^2) s^2 / 2: "
              "the positive half is kept and the negative half keeps a^2 of its second moment. The next layer has "
              "Var(y) = D_in Var(w) (1 + a^2) s^2 / 2, which equals s^2 when Var(w) = 2 / ((1 + a^2) D_in). a = 0 "
              "gives He's rule, a = 1 (no non-linearity) gives 1 / D_in, Xavier's fan-in rule. "
              "init_weights(net, 'he', negative_slope=a) and nn.init.kaiming_normal_(w, a=a) use it."),
))
