"""Normalisation from scratch: BatchNorm as a module, LayerNorm, InstanceNorm and GroupNorm as functions.

Every one of them computes a mean and a (biased) variance over some of the axes of an (N, C, H, W) tensor, subtracts,
divides by sqrt(var + eps) and, optionally, scales by gamma and shifts by beta per channel. They differ only in the
axes, which the shape of the statistics makes visible:

    batch     mean over (N, H, W)         statistics (1, C, 1, 1)
    layer     mean over (C, H, W)         statistics (N, 1, 1, 1)
    instance  mean over (H, W)            statistics (N, C, 1, 1)
    group     mean over (C // G, H, W)    statistics (N, G, 1, 1, 1) of x seen as (N, G, C // G, H, W)

Only BatchNorm mixes the examples of a batch, so only BatchNorm behaves differently in training (batch statistics)
and in evaluation (running averages kept during training); `BatchNorm` decides from `self.training`, set by
`net.train()` / `net.eval()` -- never from `torch.is_grad_enabled()`, which mixes up "no gradients" with "inference".

The second half of the module holds the experiments the notebook runs (networks with and without BatchNorm on real
data) as functions, so that the tests can re-check every printed claim over several seeds.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlab.data import Split
from cnnlab.models import forward_hooks, mlp, norm_cnn
from cnnlab.train import TensorLoader, evaluate, fit, train_one_epoch
from cnnlab.validation import check_bool, check_float, check_int, check_module, check_tensor

__all__ = [
    "NORM_KINDS",
    "norm_stats",
    "layer_norm",
    "instance_norm",
    "group_norm",
    "BatchNorm",
    "fit_accuracy",
    "STALLED",
    "LEARNS",
    "run_mlp",
    "run_convnet",
    "largest_lr_that_learns",
    "saturated_fraction",
    "well_spread",
    "activation_spread",
    "PERCENTILES",
    "Trace",
    "train_with_trace",
]

NORM_KINDS = ("batch", "layer", "instance", "group")


# ----------------------------------------------------------------------------------------------------------
# Statistics: which axes each normalisation averages over
# ----------------------------------------------------------------------------------------------------------
def _check_rank(x: torch.Tensor, min_ndim: int, what: str, nonempty: bool = True) -> None:
    """A clear error for a non-tensor, a tensor with too few dimensions, an integer tensor or an empty one."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} expects a torch.Tensor x, got {type(x).__name__}")
    if x.ndim < min_ndim:
        layout = "(N, C)" if min_ndim == 2 else "(N, C, L) or (N, C, H, W)"
        raise ValueError(f"{what} expects input x of at least {min_ndim} dimensions {layout}, "
                         f"got {x.ndim}D input of shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} expects a float tensor x, got dtype {x.dtype}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{what} expects a non-empty input x, got shape {tuple(x.shape)}")


def _check_groups(C: int, num_groups: int) -> None:
    """num_groups must be a positive int that divides the channels."""
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"num_groups must be a positive int, got {num_groups!r}")
    if C % num_groups != 0:
        raise ValueError(f"num_groups={num_groups} must divide the number of channels C={C}")


def norm_stats(x: torch.Tensor, kind: str, num_groups: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and biased variance over the axes that `kind` normalises, kept as size-1 axes (the lecture's shapes).

    >>> x = torch.randn(8, 6, 5, 5)  # (N, C, H, W)
    >>> [tuple(norm_stats(x, kind, num_groups=3)[0].shape) for kind in NORM_KINDS]
    [(1, 6, 1, 1), (8, 1, 1, 1), (8, 6, 1, 1), (8, 3, 1, 1, 1)]
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(NORM_KINDS)}")
    _check_rank(x, 3 if kind == "instance" else 2, f"{kind} statistics")
    if kind == "group":
        if num_groups is None:
            raise ValueError("group statistics need num_groups")
        _check_groups(x.shape[1], num_groups)
        N, C = x.shape[:2]
        x = x.reshape(N, num_groups, C // num_groups, *x.shape[2:])  # (N, C, H, W) -> (N, G, C // G, H, W)
    dims = {
        "batch": (0, *range(2, x.ndim)),  # everything but C
        "layer": tuple(range(1, x.ndim)),  # everything but N
        "instance": tuple(range(2, x.ndim)),  # everything but N and C
        "group": tuple(range(2, x.ndim)),  # everything but N and G
    }[kind]
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divide by the count, not count - 1
    return mean, var


def _affine(
    x_hat: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, shape: Sequence[int]
) -> torch.Tensor:
    """gamma * x_hat + beta, with gamma and beta reshaped to broadcast; either may be None."""
    if weight is not None:
        x_hat = x_hat * weight.reshape(shape)
    if bias is not None:
        x_hat = x_hat + bias.reshape(shape)
    return x_hat


def _check_per_channel(t: torch.Tensor | None, C: int, name: str) -> None:
    """gamma and beta hold one number per channel."""
    if t is not None and t.numel() != C:
        raise ValueError(f"{name} must hold one value per channel (C={C}), got shape {tuple(t.shape)}")


# ----------------------------------------------------------------------------------------------------------
# LayerNorm, InstanceNorm, GroupNorm: functions equal to F.layer_norm, F.instance_norm, F.group_norm
# ----------------------------------------------------------------------------------------------------------
def layer_norm(
    x: torch.Tensor, normalized_shape: Sequence[int], weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None, eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise each example over its last len(normalized_shape) axes, like F.layer_norm.

    >>> layer_norm(torch.tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]]), (3,)).round(decimals=4)
    tensor([[-1.2247,  0.0000,  1.2247],
            [-0.7071, -0.7071,  1.4142]])
    """
    shape = tuple([normalized_shape] if isinstance(normalized_shape, int) else normalized_shape)
    _check_rank(x, len(shape) + 1 if shape else 1, "layer_norm")
    check_float("eps", eps, gt=0)
    if tuple(x.shape[x.ndim - len(shape):]) != shape or not shape:
        raise ValueError(f"normalized_shape {shape} must be the last axes of the input, got shape {tuple(x.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape normalized_shape={shape}, got {tuple(t.shape)}")
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    mean = x.mean(dim=dims, keepdim=True)  # (N, 1, 1, 1) for normalized_shape = (C, H, W)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    return _affine(x_hat, weight, bias, shape)  # gamma and beta are per element of normalized_shape


def instance_norm(
    x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """Normalise each channel of each example over its spatial axes, like F.instance_norm (no running statistics)."""
    _check_rank(x, 3, "instance_norm")
    check_float("eps", eps, gt=0)
    N, C = x.shape[:2]
    if math.prod(x.shape[2:]) < 2:
        raise ValueError(f"instance_norm expects more than 1 spatial element per channel, got shape {tuple(x.shape)}")
    _check_per_channel(weight, C, "weight")
    _check_per_channel(bias, C, "bias")
    mean, var = norm_stats(x, "instance")  # (N, C, 1, 1)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    return _affine(x_hat, weight, bias, (1, C) + (1,) * (x.ndim - 2))


def group_norm(
    x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalise each example over groups of C // num_groups channels (and H, W), like F.group_norm.

    num_groups=1 is LayerNorm over (C, H, W) with per-channel gamma and beta; num_groups=C is InstanceNorm.
    """
    _check_rank(x, 2, "group_norm")
    check_float("eps", eps, gt=0)
    N, C = x.shape[:2]
    _check_groups(C, num_groups)
    _check_per_channel(weight, C, "weight")
    _check_per_channel(bias, C, "bias")
    mean, var = norm_stats(x, "group", num_groups)  # (N, G, 1, 1, 1)
    xg = x.reshape(N, num_groups, C // num_groups, *x.shape[2:])  # (N, C, H, W) -> (N, G, C // G, H, W)
    x_hat = ((xg - mean) / torch.sqrt(var + eps)).reshape(x.shape)  # -> (N, C, H, W)
    return _affine(x_hat, weight, bias, (1, C) + (1,) * (x.ndim - 2))


# ----------------------------------------------------------------------------------------------------------
# BatchNorm: the module, equal to nn.BatchNorm1d / 2d / 3d
# ----------------------------------------------------------------------------------------------------------
class BatchNorm(nn.Module):
    """Batch normalisation of (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) input; gamma and beta per channel.

    Training: normalise with the batch's mean and biased variance per channel, and update the running averages
    (PyTorch's convention: running = (1 - momentum) * running + momentum * batch, the variance unbiased;
    momentum=None averages all batches so far equally). Evaluation: normalise with the running averages.
    The lecture's 3-sample batch, two features:

    >>> bn = BatchNorm(2)
    >>> z = torch.tensor([[1.0, 2.0], [4.0, 2.0], [7.0, 8.0]])  # (N, C) = (3, 2); means 4 and 4, variances 6 and 8
    >>> bn(z).detach().round(decimals=4)
    tensor([[-1.2247, -0.7071],
            [ 0.0000, -0.7071],
            [ 1.2247,  1.4142]])
    >>> bn.running_mean, bn.running_var  # 0.9 * (0, 0) + 0.1 * (4, 4);  0.9 * (1, 1) + 0.1 * (9, 12), unbiased
    (tensor([0.4000, 0.4000]), tensor([1.8000, 2.1000]))
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        check_float("eps", eps, gt=0)
        if momentum is not None:  # None: a cumulative average of all batches
            check_float("momentum", momentum, ge=0, le=1)
        check_bool("affine", affine)
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        if affine:  # named like PyTorch's so state_dicts are interchangeable; `gamma` and `beta` are aliases
            self.weight = nn.Parameter(torch.ones(num_features))  # gamma
            self.bias = nn.Parameter(torch.zeros(num_features))  # beta
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    @property
    def gamma(self) -> nn.Parameter | None:
        """The learnable scale (PyTorch's `weight`)."""
        return self.weight

    @property
    def beta(self) -> nn.Parameter | None:
        """The learnable shift (PyTorch's `bias`)."""
        return self.bias

    def extra_repr(self) -> str:
        """The settings, shown by print(net)."""
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"

    def _check_input(self, x: torch.Tensor) -> None:
        _check_rank(x, 2, "BatchNorm", nonempty=False)
        if x.ndim > 5:
            raise ValueError(f"BatchNorm expects 2D to 5D input (N, C, *), got {x.ndim}D input of shape "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm({self.num_features}) got {x.shape[1]} channels (dim 1 of {tuple(x.shape)})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise with the batch's statistics in training mode, with the running ones in eval mode."""
        self._check_input(x)
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)  # per-channel values broadcast as (1, C, 1, 1)
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # statistics in float32 under autocast
        if self.training:
            n = xf.numel() // self.num_features  # values per channel: N * H * W
            if n < 2:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                                 f"{tuple(x.shape)}: the batch variance is 0 (call net.eval() to predict one example)")
            mean, var = norm_stats(xf, "batch")  # (1, C, 1, 1) each, from this batch
            self._update_running(mean.detach().reshape(-1), var.detach().reshape(-1), n)
        else:
            mean, var = self.running_mean.reshape(shape), self.running_var.reshape(shape)
        x_hat = (xf - mean) / torch.sqrt(var + self.eps)  # (N, C, H, W): zero mean, unit variance per channel
        return _affine(x_hat, self.weight, self.bias, shape).to(x.dtype)

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, n: int) -> None:
        """running = (1 - m) * running + m * batch; the variance enters unbiased (times n / (n - 1))."""
        self.num_batches_tracked += 1
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - m).add_(m * mean.to(self.running_mean.dtype))
        self.running_var.mul_(1 - m).add_(m * var.to(self.running_var.dtype) * n / (n - 1))


# ----------------------------------------------------------------------------------------------------------
# Experiments: networks with and without normalisation, on real images
# ----------------------------------------------------------------------------------------------------------
# The experiments use PyTorch's nn.BatchNorm1d / 2d and nn.GroupNorm: `BatchNorm` above is equal to them (tests/),
# and their fused kernels are several times faster, which a 2-core laptop notices.
def _init_normal_(net: nn.Module, std: float) -> nn.Module:
    """Careless initialisation: every Linear and Conv weight drawn from N(0, std^2), every bias 0."""
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                layer.weight.normal_(0.0, std)
                if layer.bias is not None:
                    layer.bias.zero_()
    return net


def fit_accuracy(
    net: nn.Module, task: Split, *, lr: float, num_epochs: int = 1, batch_size: int = 64, seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """Train `net` with `cnnlab.train.fit` (SGD, momentum 0.9) and return its final test accuracy (eval mode)."""
    history = fit(net, (task.X_train, task.y_train), (task.X_test, task.y_test), num_epochs=num_epochs, lr=lr,
                  batch_size=batch_size, mean=task.mean, std=task.std, seed=seed, device=device, progress=False)
    return history.val_acc[-1]


STALLED = 0.2  # test accuracy below this (10 classes, chance is 0.1): the run diverged or never left chance
LEARNS = 0.5  # test accuracy above this: the run learns


def run_mlp(
    task: Split, *, depth: int, activation: type[nn.Module], norm: str | None, lr: float, width: int = 100,
    batch_size: int = 64, num_epochs: int = 1, seed: int = 0, device: torch.device | str | None = None,
) -> float:
    """Seed, build `mlp([width] * depth, activation=activation, norm=norm)`, train it with `fit` and return its test accuracy."""
    torch.manual_seed(seed)
    net = mlp([width] * depth, activation=activation, norm=norm)
    return fit_accuracy(net, task, lr=lr, num_epochs=num_epochs, batch_size=batch_size, seed=seed, device=device)


def run_convnet(
    task: Split, *, norm: str | None, placement: str, lr: float, batch_size: int = 64, num_epochs: int = 1,
    seed: int = 0, device: torch.device | str | None = None,
) -> float:
    """Seed, build `norm_cnn(norm, placement)`, train it with `fit` and return its test accuracy."""
    torch.manual_seed(seed)
    net = norm_cnn(norm, placement)
    return fit_accuracy(net, task, lr=lr, num_epochs=num_epochs, batch_size=batch_size, seed=seed, device=device)


def largest_lr_that_learns(lrs: Sequence[float], accuracies: Sequence[float]) -> float | None:
    """The largest learning rate whose run reached LEARNS test accuracy (None if none did).

    >>> largest_lr_that_learns([0.1, 0.3, 1.0], [0.9, 0.8, 0.1])
    0.3
    """
    if len(lrs) != len(accuracies):
        raise ValueError(f"lrs and accuracies must have one value per run each, got {len(lrs)} and {len(accuracies)}")
    good = [lr for lr, acc in zip(lrs, accuracies) if acc > LEARNS]
    return max(good) if good else None


# ------------------------------------------------------------------------------ activations of every layer
SATURATED = 0.99  # |tanh| or |2 * sigmoid - 1| above this: the flat tails, where the gradient is < 2% of its peak
SPREAD_STD = (0.3, 1.0)  # a layer is "well spread" if its outputs' std lies here and < 5% of them are saturated


def _layer_outputs(net: nn.Module, X: torch.Tensor, kinds: tuple[type[nn.Module], ...]) -> list[torch.Tensor]:
    """What every layer of the given kinds puts out in one forward pass of X (train mode, no gradients)."""
    outputs: list[torch.Tensor] = []
    # train mode: the batch statistics, as during training; the net's modes are restored afterwards
    with forward_hooks(net, lambda name, m, i, o: outputs.append(o.detach()), kinds=kinds, train=True), torch.no_grad():
        net(X)
    return outputs


def saturated_fraction(a: torch.Tensor, activation: type[nn.Module]) -> float:
    """Fraction of outputs in the flat tails of tanh or sigmoid (0 for activations without two tails, like ReLU)."""
    check_tensor("a", a, dtype="float")
    if activation is nn.Tanh:
        return (a.abs() > SATURATED).float().mean().item()
    if activation is nn.Sigmoid:
        return ((2 * a - 1).abs() > SATURATED).float().mean().item()
    return 0.0


def well_spread(a: torch.Tensor, activation: type[nn.Module]) -> bool:
    """True if the std of `a` lies in SPREAD_STD and under 5% of it sits in saturated tails."""
    return SPREAD_STD[0] <= a.std().item() <= SPREAD_STD[1] and saturated_fraction(a, activation) < 0.05


def activation_spread(
    X: torch.Tensor, activation: type[nn.Module], weight_std: float, norm: str | None, *, depth: int = 5,
    width: int = 100, seed: int = 0,
) -> list[torch.Tensor]:
    """Outputs of every activation of a `depth`-layer MLP with N(0, weight_std^2) weights, on the images X."""
    check_tensor("X", X, ndim=(2, 3, 4), dtype="float")
    check_float("weight_std", weight_std, gt=0)
    torch.manual_seed(seed)
    net = mlp([width] * depth, activation=activation, norm=norm, in_features=X[0].numel())
    net = _init_normal_(net, weight_std).to(X.device)
    return _layer_outputs(net, X, (activation,))


# --------------------------------------------------------------------- test accuracy and one unit, per step
@dataclass
class Trace:
    """A training run seen every few steps: test accuracy, and the 15/50/85th percentiles of one layer's inputs."""

    steps: list[int] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    percentiles: list[torch.Tensor] = field(default_factory=list)  # per checkpoint: (3, units)

    def steps_to(self, accuracy: float) -> float:
        """The first step whose test accuracy reaches `accuracy` (inf if none does)."""
        return next((s for s, a in zip(self.steps, self.test_acc) if a >= accuracy), math.inf)

    def median_drift(self) -> torch.Tensor:
        """Per unit: how far its median input moved over training, in units of its final 15-85 percentile band."""
        P = torch.stack(self.percentiles)  # (T, 3, units)
        median, band = P[:, 1], P[-1, 2] - P[-1, 0]  # (T, units), (units,)
        return (median.max(dim=0).values - median.min(dim=0).values) / band


PERCENTILES = (0.15, 0.50, 0.85)


def _probe_inputs(net: nn.Module, probe: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """What `probe` (a layer of `net`) receives when `net` sees X, in eval mode and without gradients."""
    seen: list[torch.Tensor] = []
    hook = probe.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    try:
        net.eval()
        with torch.no_grad():
            net(X)
    finally:
        hook.remove()
    return seen[0]


def train_with_trace(
    net: nn.Module, task: Split, probe: nn.Module, *, lr: float, num_steps: int, every: int, batch_size: int = 60,
    seed: int = 0, n_probe: int = 500, device: torch.device | str | None = None,
) -> Trace:
    """Train with SGD (momentum 0.9) by `train_one_epoch` on slices of `every` batches; after each slice record the
    test accuracy and the percentiles of the input to `probe` over `n_probe` test images (eval mode: a BatchNorm net
    is seen as it would predict, with its running statistics)."""
    check_module("net", net, has_parameters=True)
    if not isinstance(probe, nn.Module) or all(m is not probe for m in net.modules()):
        raise ValueError(f"probe must be a layer of net, got {type(probe).__name__}")
    check_int("num_steps", num_steps, ge=1)
    check_int("every", every, ge=1, le=num_steps)
    check_int("n_probe", n_probe, ge=1)
    device = torch.device(device) if device is not None else next(net.parameters()).device
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    train = TensorLoader(task.X_train, task.y_train, batch_size, shuffle=True, mean=task.mean, std=task.std,
                         seed=seed, device=device)
    test = TensorLoader(task.X_test, task.y_test, 1000, mean=task.mean, std=task.std, device=device)
    X_probe = task.normalized(task.X_test[:n_probe]).to(device)  # (n_probe, 1, 28, 28)
    batches = itertools.chain.from_iterable(itertools.repeat(train))  # epoch after epoch, reshuffled each time
    q = torch.tensor(PERCENTILES, device=device)
    trace = Trace()
    for step in range(every, num_steps + 1, every):
        train_one_epoch(net, itertools.islice(batches, every), optimizer, device=device)
        trace.steps.append(step)
        trace.test_acc.append(evaluate(net, test, device=device)[1])  # eval mode: running statistics
        inputs = _probe_inputs(net, probe, X_probe)  # (n_probe, units)
        trace.percentiles.append(torch.quantile(inputs.float(), q, dim=0).cpu())  # -> (3, units)
    return trace
