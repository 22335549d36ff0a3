"""Activation functions from their formulas, with their derivatives written by hand, and the two that are layers.

Each elementwise activation is a few lines of tensor arithmetic (`sigmoid`, `tanh`, `relu`, ...) next to its
derivative (`sigmoid_grad`, ...); `ACTIVATIONS` ties each to its formula and to the PyTorch module that computes the
same thing, which the tests use as the oracle. `Maxout` (a max over several linear maps) is a layer, not a function
of one number. The lecture's table also lists the identity, the binary step, arctan and softplus: they are here too.
PyTorch has no layer for arctan or the binary step, so their oracle is `torch.atan` or `torch.heaviside` wrapped as a
module; autograd cannot differentiate `torch.heaviside` at all (`Activation.autograd` is False), so the step's
derivative is checked by finite differences instead.

At x = 0 the kinked functions (ReLU, Leaky ReLU, ELU) have no derivative; we use the value PyTorch's autograd uses
there, the slope of the negative side: 0 for ReLU, the leak for Leaky ReLU, alpha for ELU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.validation import check_callable, check_choice, check_float, check_int, check_module, check_tensor

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "Maxout",
    "autograd_grad",
    "per_example_weight_grads",
    "one_sign_fraction",
    "fit_single_unit",
    "step_unit_claims",
    "layer_gradient_rms",
    "vanishing_gradient_claims",
    "dying_relu_claims",
]

Fn = Callable[[torch.Tensor], torch.Tensor]
LEAK = 0.1  # the lectures' Leaky ReLU, max(0.1x, x); PyTorch's nn.LeakyReLU defaults to 0.01
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
RRELU_LOWER, RRELU_UPPER = 1 / 8, 1 / 3  # RReLU's random slope range in training (PyTorch's defaults)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + e^-x): squashes to (0, 1).

    >>> sigmoid(torch.tensor([0.0])).item()
    0.5
    """
    x = _floats(x)
    return 1 / (1 + torch.exp(-x))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) (1 - sigma(x)): at most 1/4, at x = 0.

    >>> sigmoid_grad(torch.tensor([0.0])).item()
    0.25
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """(e^x - e^-x) / (e^x + e^-x) = 2 sigma(2x) - 1: a sigmoid stretched to (-1, 1), zero-centred."""
    return 2 * sigmoid(2 * x) - 1  # this form never divides inf by inf for large |x|


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """1 - tanh(x)^2: 1 at x = 0."""
    return 1 - tanh(x) ** 2


def _kinked(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """`out`, with NaN wherever `x` is NaN: a comparison such as `x > 0` is False for NaN and would pick a finite
    branch, turning a NaN input into a number (PyTorch's own layers pass NaN through)."""
    return torch.where(torch.isnan(x), x, out)


def _floats(x: object) -> torch.Tensor:
    return check_tensor("x", x, dtype="float", nonempty=False)


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x); NaN stays NaN.

    >>> relu(torch.tensor([-1.0, 2.0, float("nan")]))
    tensor([0., 2., nan])
    """
    x = _floats(x)
    return _kinked(x, torch.where(x > 0, x, torch.zeros_like(x)))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """1 for x > 0, else 0 (PyTorch's choice at x = 0)."""
    x = _floats(x)
    return _kinked(x, (x > 0).to(x.dtype))


def leaky_relu(x: torch.Tensor, negative_slope: float = LEAK) -> torch.Tensor:
    """max(slope * x, x) for 0 < slope < 1: a small slope instead of 0 on the negative side."""
    x, negative_slope = _floats(x), check_float("negative_slope", negative_slope, ge=0, lt=1)
    return _kinked(x, torch.where(x > 0, x, negative_slope * x))


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = LEAK) -> torch.Tensor:
    """1 for x > 0, else the slope: never exactly 0, so a unit can always recover."""
    x, negative_slope = _floats(x), check_float("negative_slope", negative_slope, ge=0, lt=1)
    return _kinked(x, torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope)))


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """x for x > 0, alpha (e^x - 1) below: smooth, and it saturates to -alpha for very negative x."""
    x, alpha = _floats(x), check_float("alpha", alpha, gt=0)
    return _kinked(x, torch.where(x > 0, x, alpha * torch.expm1(x)))


def elu_grad(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """1 for x > 0, alpha e^x below."""
    x, alpha = _floats(x), check_float("alpha", alpha, gt=0)
    return _kinked(x, torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x)))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """x Phi(x), Phi the standard normal CDF: ReLU's smooth cousin used by Transformers."""
    x = _floats(x)
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """Phi(x) + x phi(x), phi the standard normal density."""
    x = _floats(x)
    return 0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)


def silu(x: torch.Tensor) -> torch.Tensor:
    """x sigma(x), also called Swish."""
    return x * sigmoid(x)


def silu_grad(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) (1 + x (1 - sigma(x)))."""
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def identity(x: torch.Tensor) -> torch.Tensor:
    """x: no non-linearity (a linear layer's own output); stacking such layers collapses them into one."""
    return _floats(x).clone()


def identity_grad(x: torch.Tensor) -> torch.Tensor:
    """1 everywhere."""
    return _kinked(_floats(x), torch.ones_like(x))


def binary_step(x: torch.Tensor) -> torch.Tensor:
    """1 for x >= 0, else 0 (the perceptron's threshold, `torch.heaviside(x, 1)`); NaN stays NaN.

    >>> binary_step(torch.tensor([-2.0, 0.0, 3.0])).tolist()
    [0.0, 1.0, 1.0]
    """
    x = _floats(x)
    return _kinked(x, (x >= 0).to(x.dtype))


def binary_step_grad(x: torch.Tensor) -> torch.Tensor:
    """0 for every x != 0; at x = 0 the step has no derivative (the lecture's "?"), and we use 0 there too.

    Zero almost everywhere: gradient descent gets no signal through a binary step.
    """
    x = _floats(x)
    return _kinked(x, torch.zeros_like(x))


def arctan(x: torch.Tensor) -> torch.Tensor:
    """tan^-1(x): an S-shape in (-pi/2, pi/2), like tanh but with tails that flatten only as 1/x^2."""
    return torch.atan(_floats(x))


def arctan_grad(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + x^2): 1 at x = 0, and 1/101 at x = +-10 (tanh's is 8e-9 there).

    >>> round(arctan_grad(torch.tensor([10.0])).item(), 5)
    0.0099
    """
    x = _floats(x)
    return 1 / (1 + x**2)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x): a smooth ReLU, always positive; written as max(x, 0) + log(1 + e^-|x|) so e^x never overflows.

    >>> round(softplus(torch.tensor([0.0])).item(), 4)  # log 2
    0.6931
    """
    x = _floats(x)
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))


def softplus_grad(x: torch.Tensor) -> torch.Tensor:
    """1 / (1 + e^-x): softplus's derivative is the sigmoid."""
    return sigmoid(x)


class _Elementwise(nn.Module):
    """A torch function as a module, for the activations PyTorch has no layer for (arctan, the binary step)."""

    def __init__(self, name: str, fn: Fn) -> None:
        super().__init__()
        self.name, self.fn = name, fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def _atan_module() -> nn.Module:
    return _Elementwise("torch.atan", torch.atan)


def _heaviside_module() -> nn.Module:
    return _Elementwise("torch.heaviside(x, 1)", lambda x: torch.heaviside(x, torch.ones((), dtype=x.dtype)))


@dataclass(frozen=True)
class Activation:
    """One elementwise activation: its formula, our function and derivative, and the PyTorch module (the oracle)."""

    name: str
    formula: str  # LaTeX, for plot titles
    fn: Fn
    grad: Fn
    module: Callable[[], nn.Module]
    autograd: bool = True  # False: PyTorch's autograd cannot differentiate the module (torch.heaviside)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", r"$\sigma(x) = 1/(1+e^{-x})$", sigmoid, sigmoid_grad, nn.Sigmoid),
        Activation("tanh", r"$\tanh(x)$", tanh, tanh_grad, nn.Tanh),
        Activation("relu", r"$\max(0, x)$", relu, relu_grad, nn.ReLU),
        Activation("leaky_relu", rf"$\max({LEAK}x, x)$", leaky_relu, leaky_relu_grad, lambda: nn.LeakyReLU(LEAK)),
        Activation("elu", r"$x$ if $x>0$ else $e^x-1$", elu, elu_grad, nn.ELU),
        Activation("gelu", r"$x\,\Phi(x)$", gelu, gelu_grad, nn.GELU),
        Activation("silu", r"$x\,\sigma(x)$", silu, silu_grad, nn.SiLU),
        Activation("identity", r"$x$", identity, identity_grad, nn.Identity),
        Activation("binary_step", r"$1$ if $x \geq 0$ else $0$", binary_step, binary_step_grad, _heaviside_module,
                   autograd=False),
        Activation("arctan", r"$\tan^{-1}(x)$", arctan, arctan_grad, _atan_module),
        Activation("softplus", r"$\log(1+e^x)$", softplus, softplus_grad, nn.Softplus),
    )
}
# PReLU is Leaky ReLU with a learned slope (one per channel, starting at 0.25); RReLU draws the slope at random
# from U(1/8, 1/3) in training and uses the mean 11/48 at test time. Both are PyTorch modules: nn.PReLU, nn.RReLU.
LAYER_ACTIVATIONS = ("prelu", "rrelu", "maxout")


def get_activation(name: str) -> Activation:
    """The activation called `name` (one of ACTIVATIONS), or a ValueError listing the allowed names."""
    return ACTIVATIONS[check_choice("name", name, tuple(ACTIVATIONS))]


def autograd_grad(fn: Fn, x: torch.Tensor) -> torch.Tensor:
    """d fn(x) / dx at every point of `x`, by autograd (the oracle for the hand-written derivatives).

    >>> autograd_grad(torch.relu, torch.tensor([-10.0, 0.0, 10.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    check_callable("fn", fn, optional=False)
    x = check_tensor("x", x, dtype="float").detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x).sum(), x)  # elementwise fn: the gradient of the sum is each derivative
    return g


class Maxout(nn.Module):
    """max(w_1^T x + b_1, ..., w_k^T x + b_k) per output unit: `pieces` linear maps, keep the largest.

    ReLU is the special case max(0, w^T x + b); Maxout learns both pieces, so it never dies, at `pieces` times
    the parameters.

    >>> Maxout(4, 3, pieces=2)(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2) -> None:
        super().__init__()
        check_int("in_features", in_features, ge=1)
        check_int("out_features", out_features, ge=1)
        check_int("pieces", pieces, ge=1)
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)  # (N, out * pieces)
        return z.view(*z.shape[:-1], self.out_features, self.pieces).amax(dim=-1)  # -> (N, out)


# ----------------------------------------------------------------------------------------------------------
# Measurements for the notebook's experiments, and their claims (tests/test_activations.py re-runs them over seeds)
# ----------------------------------------------------------------------------------------------------------
def per_example_weight_grads(layer: nn.Linear, net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dLoss_n / dW of `layer` for every example n separately: delta_n x_n^T, shape (N, out, in).

    For a Linear layer y = W x the gradient of one example's loss is the outer product of the error arriving at
    the output (delta, from autograd) and the layer's input x. Cross-entropy, summed over examples.
    """
    if not isinstance(layer, nn.Linear) or all(m is not layer for m in check_module("net", net).modules()):
        raise TypeError(f"layer must be an nn.Linear of net, got {type(layer).__name__}")
    saved = {}

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        saved["x"] = inputs[0].detach()
        output.retain_grad()
        saved["out"] = output

    handle = layer.register_forward_hook(keep)
    try:
        nn.functional.cross_entropy(net(X), y, reduction="sum").backward()
    finally:
        handle.remove()
    delta = saved["out"].grad  # (N, out)
    return delta[:, :, None] * saved["x"][:, None, :]  # (N, out, 1) * (N, 1, in) -> (N, out, in)


def one_sign_fraction(grads: torch.Tensor) -> float:
    """Fraction of (example, unit) weight-gradient rows whose non-zero entries all share one sign.

    >>> one_sign_fraction(torch.tensor([[[1.0, 2.0]], [[-1.0, 3.0]]]))
    0.5
    """
    check_tensor("grads", grads, ndim=3, dtype="float")  # (N, out, in)
    nonneg, nonpos = (grads >= 0).all(dim=-1), (grads <= 0).all(dim=-1)
    return float((nonneg | nonpos).double().mean())


def fit_single_unit(name: str, X: torch.Tensor, y: torch.Tensor, lr: float = 1.0, steps: int = 200,
                    seed: int = 0) -> dict[str, float]:
    """Gradient descent on one unit f(w^T x + b) with the squared error to 0/1 labels, using our own derivatives.

    dL/dw = mean((f(z) - y) f'(z) x): the chain rule by hand, because autograd cannot differentiate the binary step.
    Returns the accuracy (f(z) >= 1/2 predicts 1) before and after, and how far the weights moved (L2 norm).
    """
    a = get_activation(name)
    X = check_tensor("X", X, ndim=2, dtype="float")  # (N, D)
    y = check_tensor("y", y, ndim=1)
    if len(y) != len(X) or not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(f"y must hold one 0/1 label per row of X ({len(X)} rows), got shape {tuple(y.shape)}")
    lr, steps = check_float("lr", lr, gt=0), check_int("steps", steps, ge=1)
    seed = check_int("seed", seed, ge=0)
    g = torch.Generator().manual_seed(seed)
    w0 = torch.randn(X.shape[1], generator=g, dtype=X.dtype)  # (D,)
    w, b, target = w0.clone(), torch.zeros((), dtype=X.dtype), y.to(X.dtype)

    def accuracy() -> float:
        return float(((a.fn(X @ w + b) >= 0.5).to(X.dtype) == target).double().mean())

    before = accuracy()
    for _ in range(steps):
        z = X @ w + b  # (N,)
        delta = (a.fn(z) - target) * a.grad(z)  # dL/dz per example, L = mean((f(z) - y)^2) / 2
        w = w - lr * (delta[:, None] * X).mean(dim=0)  # dL/dw = mean(delta x)
        b = b - lr * delta.mean()
    return {"accuracy_before": before, "accuracy_after": accuracy(), "weight_change": float((w - w0).norm())}


def step_unit_claims(step: dict, sigmoid: dict) -> dict[str, bool]:
    """The binary step unit never moves under gradient descent; the sigmoid unit (the soft step) learns the task.

    `step` and `sigmoid` are `fit_single_unit` runs with "binary_step" and "sigmoid" on the same data and seed.
    """
    for label, run in (("step", step), ("sigmoid", sigmoid)):
        if not isinstance(run, dict) or not {"accuracy_before", "accuracy_after", "weight_change"} <= set(run):
            raise TypeError(f"{label} must be a fit_single_unit result, got {run!r}")
    return {
        "binary step: not one weight moved": step["weight_change"] == 0.0,
        "binary step: the accuracy is what it was at the start": step["accuracy_after"] == step["accuracy_before"],
        "sigmoid: above 95% accuracy after training": sigmoid["accuracy_after"] > 0.95,
    }


def layer_gradient_rms(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[float]:
    """The root-mean-square of dLoss/dW of every Linear and Conv layer of `net`, first to last (mean cross-entropy).

    Gradients are taken with `torch.autograd.grad`, so no parameter's `.grad` is touched.
    """
    check_module("net", net)
    layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise TypeError(f"net must have Linear or Conv layers, got {type(net).__name__} with none")
    X = check_tensor("X", X, dtype="float")
    y = check_tensor("y", y, ndim=1, dtype="int")
    if len(y) != len(X):
        raise ValueError(f"y must have one label per row of X ({len(X)}), got {len(y)}")
    grads = torch.autograd.grad(nn.functional.cross_entropy(net(X), y), [m.weight for m in layers])
    return [float(g.pow(2).mean().sqrt()) for g in grads]


def vanishing_gradient_claims(sigmoid: list[float], relu: list[float]) -> dict[str, bool]:
    """Through a deep sigmoid stack the first layer's gradient is tiny next to the last's; through ReLU it is not.

    `sigmoid` and `relu` are `layer_gradient_rms` of the same stack with each activation, first layer to last.
    """
    sigmoid = [check_float(f"sigmoid[{i}]", v, ge=0) for i, v in enumerate(_floats_list("sigmoid", sigmoid))]
    relu = [check_float(f"relu[{i}]", v, ge=0) for i, v in enumerate(_floats_list("relu", relu))]
    return {
        "sigmoid: the first layer's gradient is over 1000x smaller than the last layer's":
            sigmoid[0] < sigmoid[-1] / 1000,
        "sigmoid: it shrinks at every step back through a layer": all(a < b for a, b in zip(sigmoid, sigmoid[1:])),
        "ReLU: the first layer's gradient is within 10x of the last layer's": relu[0] > relu[-1] / 10,
    }


def _floats_list(name: str, values: object) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or len(values) < 2:
        raise TypeError(f"{name} must be a list of at least 2 gradient sizes (first layer to last), got {values!r}")
    return list(values)


def dying_relu_claims(relu_high: dict, relu_low: dict, leaky_high: dict) -> dict[str, bool]:
    """A too-high lr kills ReLU channels for good; a sane lr kills none; Leaky ReLU's off channels keep learning.

    Each run is a dict with `off` (the fraction of the conv layer's channels whose pre-activation is <= 0 at every
    position of every training image, right after the epoch at the high lr), `n_off` (how many) and
    `off_units_moved` (the fraction of those whose weights changed in the epochs at a sane lr that followed; NaN
    when none is off).
    """
    for name, run in (("relu_high", relu_high), ("relu_low", relu_low), ("leaky_high", leaky_high)):
        if not isinstance(run, dict) or not {"off", "n_off", "off_units_moved"} <= set(run):
            raise TypeError(f"{name} must be a dict with 'off', 'n_off' and 'off_units_moved', got {run!r}")
    return {
        "ReLU, too-high lr: more than 3% of the channels are dead after one epoch": relu_high["off"] > 0.03,
        "ReLU, sane lr: no channel is dead": relu_low["off"] == 0.0,
        "ReLU: not one weight of a dead channel changed in the epochs that followed":
            relu_high["off_units_moved"] == 0.0,
        "Leaky ReLU, same too-high lr: fewer channels off than ReLU has dead": leaky_high["off"] < relu_high["off"],
        "Leaky ReLU: every off channel's weights kept changing":
            leaky_high["n_off"] == 0 or leaky_high["off_units_moved"] == 1.0,
    }
