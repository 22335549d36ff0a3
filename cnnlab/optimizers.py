"""Optimisers by hand: the update rules of SGD, SGD + momentum, RMSprop, Adam, AdamW, Adagrad, Adadelta, Adamax and
Nadam, and 2-D loss surfaces.

Each `*_step` takes the parameter `x`, its gradient and a `state` dict (empty at the start, filled as it goes) and
returns the new `x`; `tests/test_optimizers.py` checks each one against `torch.optim`. `path` runs a torch optimiser
on a 2-D surface and records where it goes, for plots; `track_update_sizes` records how far each step moves a net.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from cnnlab.validation import check_bool, check_callable, check_choice, check_float, check_int, check_tensor

__all__ = [
    "sgd_step",
    "rmsprop_step",
    "adam_step",
    "adamw_step",
    "adagrad_step",
    "adadelta_step",
    "adamax_step",
    "nadam_step",
    "OPTIMIZERS",
    "make_optimizer",
    "track_update_sizes",
    "ill_conditioned",
    "rosenbrock",
    "saddle",
    "path",
]

Surface = Callable[[torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------------------
# Update rules
# ----------------------------------------------------------------------------------------------------------
def _check_step(x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, **nonnegative: float) -> None:
    """What every update rule takes: x and its gradient (float tensors of one shape), the state dict, lr > 0, and
    numbers that must be >= 0 (eps, weight_decay). NaN inside x or grad passes through, as in torch.optim."""
    check_tensor("x", x, dtype="float")
    check_tensor("grad", grad, dtype="float")
    if x.shape != grad.shape:
        raise ValueError(f"x and grad must have the same shape, got x {tuple(x.shape)} and grad {tuple(grad.shape)}")
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (empty at the first step), got {type(state).__name__}")
    check_float("lr", lr, gt=0)
    for name, value in nonnegative.items():
        check_float(name, value, ge=0)


def sgd_step(x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, momentum: float = 0.0) -> torch.Tensor:
    """SGD, and with momentum rho the lectures' rule v = rho v + grad, x = x - lr v.

    >>> sgd_step(torch.tensor([1.0]), torch.tensor([2.0]), {}, lr=0.1)
    tensor([0.8000])
    """
    _check_step(x, grad, state, lr)
    check_float("momentum", momentum, ge=0, lt=1)
    if momentum == 0:
        return x - lr * grad
    v = state.get("v", torch.zeros_like(x))
    v = momentum * v + grad  # velocity: a running sum of past gradients, decayed by rho
    state["v"] = v
    return x - lr * v


def rmsprop_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, alpha: float = 0.99, eps: float = 1e-8
) -> torch.Tensor:
    """RMSprop: divide the step by a running root-mean-square of the gradient, per coordinate."""
    _check_step(x, grad, state, lr, eps=eps)
    check_float("alpha", alpha, ge=0, le=1)
    s = alpha * state.get("s", torch.zeros_like(x)) + (1 - alpha) * grad**2
    state["s"] = s
    return x - lr * grad / (s.sqrt() + eps)


def adam_step(
    x: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> torch.Tensor:
    """Adam: momentum (m) and RMSprop (v) with bias correction; weight decay as L2 (Adam) or decoupled (AdamW)."""
    _check_step(x, grad, state, lr, eps=eps, weight_decay=weight_decay)
    beta1, beta2 = _check_betas(betas)
    check_bool("decoupled", decoupled)
    if weight_decay and decoupled:
        x = x * (1 - lr * weight_decay)  # AdamW: shrink the weights directly, apart from the gradient
    elif weight_decay:
        grad = grad + weight_decay * x  # Adam: add the L2 gradient, which then gets rescaled by v
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", torch.zeros_like(x)) + (1 - beta1) * grad
    v = beta2 * state.get("v", torch.zeros_like(x)) + (1 - beta2) * grad**2
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1**t)  # undo the bias towards 0 of averages started at 0
    v_hat = v / (1 - beta2**t)
    return x - lr * m_hat / (v_hat.sqrt() + eps)


def _check_betas(betas: tuple[float, float]) -> tuple[float, float]:
    """Adam's two decay rates, each in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r:.40}")
    return check_float("betas[0]", betas[0], ge=0, lt=1), check_float("betas[1]", betas[1], ge=0, lt=1)


def adamw_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8, weight_decay: float = 0.01,
) -> torch.Tensor:
    """AdamW: Adam with decoupled weight decay x = x (1 - lr wd) (PyTorch's default wd = 0.01)."""
    return adam_step(x, grad, state, lr, betas, eps, weight_decay, decoupled=True)


def adagrad_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, lr_decay: float = 0.0, weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0, eps: float = 1e-10,
) -> torch.Tensor:
    """Adagrad: divide the step by the root of the *sum* of all squared gradients so far, which only grows.

    With a constant gradient g the t-th step is lr g / (sqrt(t) |g|) = lr / sqrt(t): 0.1, then 0.1 / sqrt(2) = 0.0707.

    >>> state = {}
    >>> x = adagrad_step(torch.tensor([1.0]), torch.tensor([2.0]), state, lr=0.1)
    >>> adagrad_step(x, torch.tensor([2.0]), state, lr=0.1)
    tensor([0.8293])
    """
    _check_step(x, grad, state, lr, lr_decay=lr_decay, weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value, eps=eps)
    if weight_decay:
        grad = grad + weight_decay * x
    t = state.get("t", 0) + 1
    G = state.get("G", torch.full_like(x, initial_accumulator_value)) + grad**2  # only grows
    state.update(t=t, G=G)
    lr_t = lr / (1 + (t - 1) * lr_decay)  # torch's optional extra decay of lr itself
    return x - lr_t * grad / (G.sqrt() + eps)


def adadelta_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, rho: float = 0.9, eps: float = 1e-6,
    weight_decay: float = 0.0,
) -> torch.Tensor:
    """Adadelta: a running average of squared gradients (as RMSprop) *and* of squared updates; the step is
    sqrt(avg update^2 + eps) / sqrt(avg grad^2 + eps) * grad, so it has the units of x and needs no lr (torch: 1.0)."""
    _check_step(x, grad, state, lr, eps=eps, weight_decay=weight_decay)
    check_float("rho", rho, ge=0, le=1)
    if weight_decay:
        grad = grad + weight_decay * x
    s = rho * state.get("s", torch.zeros_like(x)) + (1 - rho) * grad**2  # running mean of grad^2
    u = state.get("u", torch.zeros_like(x))  # running mean of update^2, up to the last step
    delta = (u + eps).sqrt() / (s + eps).sqrt() * grad  # RMS of past updates / RMS of gradients: the units of x
    u = rho * u + (1 - rho) * delta**2
    state.update(s=s, u=u)
    return x - lr * delta


def adamax_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8, weight_decay: float = 0.0,
) -> torch.Tensor:
    """Adamax: Adam with the root-mean-square replaced by a decaying maximum u = max(beta2 u, |grad| + eps)."""
    _check_step(x, grad, state, lr, eps=eps, weight_decay=weight_decay)
    beta1, beta2 = _check_betas(betas)
    if weight_decay:
        grad = grad + weight_decay * x
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", torch.zeros_like(x)) + (1 - beta1) * grad
    u = torch.maximum(beta2 * state.get("u", torch.zeros_like(x)), grad.abs() + eps)  # needs no bias correction
    state.update(t=t, m=m, u=u)
    return x - lr / (1 - beta1**t) * m / u


def nadam_step(
    x: torch.Tensor, grad: torch.Tensor, state: dict, lr: float, betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled: bool = False,
) -> torch.Tensor:
    """Nadam: Adam with Nesterov momentum (the step looks one momentum step ahead), with torch's (Dozat's) momentum
    schedule mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2); weight decay as L2 or decoupled (as AdamW)."""
    _check_step(x, grad, state, lr, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay)
    beta1, beta2 = _check_betas(betas)
    check_bool("decoupled", decoupled)
    if weight_decay and decoupled:
        x = x * (1 - lr * weight_decay)
    elif weight_decay:
        grad = grad + weight_decay * x
    t = state.get("t", 0) + 1
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))  # this step's momentum coefficient
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_prod = state.get("mu_prod", 1.0) * mu  # the product of all mu so far: Nadam's bias correction
    m = beta1 * state.get("m", torch.zeros_like(x)) + (1 - beta1) * grad
    v = beta2 * state.get("v", torch.zeros_like(x)) + (1 - beta2) * grad**2
    state.update(t=t, mu_prod=mu_prod, m=m, v=v)
    denom = (v / (1 - beta2**t)).sqrt() + eps
    # Nesterov: part of the step from this gradient, part from the momentum as it will be at the next step
    return x - lr * (1 - mu) / (1 - mu_prod) * grad / denom - lr * mu_next / (1 - mu_prod * mu_next) * m / denom


# ----------------------------------------------------------------------------------------------------------
# 2-D loss surfaces: xy has shape (..., 2)
# ----------------------------------------------------------------------------------------------------------
def ill_conditioned(xy: torch.Tensor) -> torch.Tensor:
    """A long narrow valley 0.5 (x^2 + 25 y^2): curvature 25x larger along y than along x; minimum at (0, 0).

    >>> ill_conditioned(torch.tensor([2.0, 1.0])).item()
    14.5
    """
    return 0.5 * (xy[..., 0] ** 2 + 25 * xy[..., 1] ** 2)


def rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    """Rosenbrock's banana (1 - x)^2 + 100 (y - x^2)^2: a curved flat valley; minimum at (1, 1).

    >>> rosenbrock(torch.tensor([1.0, 1.0])).item()
    0.0
    """
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def saddle(xy: torch.Tensor) -> torch.Tensor:
    """A saddle x^2 - y^2 (plus a small y^4 so it has a floor): flat at (0, 0), downhill along y.

    >>> saddle(torch.tensor([0.0, 0.0])).item()
    0.0
    """
    x, y = xy[..., 0], xy[..., 1]
    return x**2 - y**2 + 0.25 * y**4


SURFACES: dict[str, Surface] = {"ill-conditioned": ill_conditioned, "rosenbrock": rosenbrock, "saddle": saddle}

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "SGD": torch.optim.SGD, "RMSprop": torch.optim.RMSprop, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
    "Adagrad": torch.optim.Adagrad, "Adadelta": torch.optim.Adadelta, "Adamax": torch.optim.Adamax,
    "NAdam": torch.optim.NAdam,
}


def make_optimizer(
    params: Iterable[torch.Tensor], name: str, lr: float, momentum: float = 0.9, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """torch.optim's optimiser called `name` (a key of OPTIMIZERS); `momentum` applies to SGD only (0 = plain SGD),
    and `weight_decay` is passed as given to every optimiser (for AdamW too: 0 means no decay).

    >>> make_optimizer([torch.zeros(1, requires_grad=True)], "AdamW", 0.1).param_groups[0]["weight_decay"]
    0.0
    """
    if isinstance(params, (nn.Module, torch.Tensor)):
        raise TypeError(f"params must be an iterable of tensors such as net.parameters(), got {type(params).__name__}")
    check_choice("name", name, tuple(OPTIMIZERS))
    check_float("lr", lr, gt=0)
    check_float("momentum", momentum, ge=0, lt=1)
    check_float("weight_decay", weight_decay, ge=0)
    extra = {"momentum": momentum} if name == "SGD" else {}
    return OPTIMIZERS[name](params, lr=lr, weight_decay=weight_decay, **extra)


def track_update_sizes(optimizer: torch.optim.Optimizer) -> list[float]:
    """A list that grows by one number at every `optimizer.step()`: the mean |change| of all its parameters' entries
    in that step (hooks on the optimiser; `fit` and any loop that calls step() fill it).

    >>> w = torch.zeros(2, requires_grad=True)
    >>> opt = torch.optim.SGD([w], lr=0.1)
    >>> sizes = track_update_sizes(opt)
    >>> w.grad = torch.tensor([1.0, -3.0])
    >>> opt.step()
    >>> [round(s, 6) for s in sizes]
    [0.2]
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    sizes: list[float] = []
    before: list[torch.Tensor] = []

    def snapshot(opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        before[:] = [p.detach().clone() for group in opt.param_groups for p in group["params"]]

    def measure(opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        after = [p.detach() for group in opt.param_groups for p in group["params"]]
        total = sum((a - b).abs().sum() for a, b in zip(after, before))  # one sync per step, not one per tensor
        sizes.append(float(total) / sum(p.numel() for p in after))

    optimizer.register_step_pre_hook(snapshot)
    optimizer.register_step_post_hook(measure)
    return sizes


def path(
    surface: Surface, start: tuple[float, float], optimizer: str, lr: float, num_steps: int, **hp: float
) -> torch.Tensor:
    """Where `optimizer` (a key of OPTIMIZERS) goes on `surface` from `start` in `num_steps`: (num_steps + 1, 2)."""
    check_callable("surface", surface, optional=False)
    if isinstance(start, (str, bytes)) or not isinstance(start, Sequence):
        raise TypeError(f"start must be a point (x, y) of two numbers, got {type(start).__name__} {start!r:.40}")
    if len(start) != 2:
        raise ValueError(f"start must be a point (x, y) of two numbers, got {len(start)}: {start!r:.40}")
    start = [check_float(f"start[{i}]", v) for i, v in enumerate(start)]
    check_choice("optimizer", optimizer, tuple(OPTIMIZERS))
    check_int("num_steps", num_steps, ge=1)
    check_float("lr", lr, gt=0)
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = OPTIMIZERS[optimizer]([xy], lr=lr, **hp)
    points = [xy.detach().clone()]
    for _ in range(num_steps):
        opt.zero_grad()
        surface(xy).backward()
        opt.step()
        points.append(xy.detach().clone())
    return torch.stack(points)  # (num_steps + 1, 2)
