"""Learning-rate schedules: the lectures' formulas written plainly, and the same curves from `torch.optim.lr_scheduler`.

A schedule is a function `t -> lr` of the step `t = 0, 1, 2, ...` (an epoch or a batch, whichever you step on).
`schedule(kind, lr0, ...)` builds one from a formula; `torch_scheduler(optimizer, kind, lr0, ...)` builds PyTorch's
equivalent out of its own classes; `tests/test_schedules.py` checks that both give the same lr at every step.
`lr_range_test` sweeps the lr upwards, batch by batch, to find a good `lr0`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.optim import lr_scheduler

from cnnlab.models import fast_cnn
from cnnlab.optimizers import make_optimizer
from cnnlab.train import History, TensorLoader, fit, train_one_epoch
from cnnlab.validation import check_callable, check_choice, check_float, check_int, check_module, module_device

__all__ = [
    "schedule",
    "torch_scheduler",
    "lr_curve",
    "torch_lr_curve",
    "lr_range_test",
    "suggest_lr",
    "train_run",
    "ladder_sweep",
]

Schedule = Callable[[int], float]

KINDS = ("constant", "time_based", "sqrt", "exponential", "step", "cosine", "one_cycle")


# ----------------------------------------------------------------------------------------------------------
# The formulas (t is the step number, starting at 0)
# ----------------------------------------------------------------------------------------------------------
def _check_t(t: int, lr0: float) -> None:
    """The step t is an int >= 0 and the starting lr a finite number > 0 (every formula below takes both)."""
    check_int("t", t, ge=0)
    check_float("lr0", lr0, gt=0)


def time_based(t: int, lr0: float, k: float) -> float:
    """Time-based decay lr0 / (1 + k t).

    >>> time_based(9, lr0=1.0, k=1.0)
    0.1
    """
    _check_t(t, lr0)
    check_float("k", k, ge=0)
    return lr0 / (1 + k * t)


def sqrt_decay(t: int, lr0: float) -> float:
    """Square-root decay lr0 / sqrt(t + 1).

    >>> sqrt_decay(3, lr0=1.0)
    0.5
    """
    _check_t(t, lr0)
    return lr0 / math.sqrt(t + 1)


def exponential(t: int, lr0: float, k: float) -> float:
    """Exponential decay lr0 exp(-k t).

    >>> round(exponential(1, lr0=1.0, k=math.log(2)), 12)
    0.5
    """
    _check_t(t, lr0)
    check_float("k", k, ge=0)
    return lr0 * math.exp(-k * t)


def step_decay(t: int, lr0: float, drop: float, every: int) -> float:
    """Step decay: cut the lr by the fraction `drop` (the lectures' a%) every `every` steps (their b epochs).

    >>> [step_decay(t, lr0=1.0, drop=0.5, every=2) for t in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    _check_t(t, lr0)
    check_float("drop", drop, ge=0, lt=1)
    check_int("every", every, ge=1)
    return lr0 * (1 - drop) ** (t // every)


def cosine(t: int, lr0: float, T: int, lr_T: float = 0.0) -> float:
    """Cosine decay eta_T + (eta_0 - eta_T)/2 (1 + cos(pi t / T)) for t <= T, pinned at eta_T after T.

    >>> [cosine(t, lr0=1.0, T=2) for t in range(4)]
    [1.0, 0.5, 0.0, 0.0]
    """
    _check_t(t, lr0)
    check_int("T", T, ge=1)
    check_float("lr_T", lr_T, ge=0, le=lr0)
    if t >= T:
        return lr_T
    return lr_T + (lr0 - lr_T) / 2 * (1 + math.cos(math.pi * t / T))


def linear_warmup(t: int, schedule: Schedule, warmup_steps: int, start_factor: float = 0.1) -> float:
    """Ramp linearly from start_factor * schedule(0) up to schedule(0) in `warmup_steps`, then run `schedule`.

    >>> [linear_warmup(t, lambda s: 1.0 / (s + 1), warmup_steps=2, start_factor=0.5) for t in range(4)]
    [0.5, 0.75, 1.0, 0.5]
    """
    check_int("t", t, ge=0)
    check_callable("schedule", schedule, optional=False)
    check_int("warmup_steps", warmup_steps, ge=0)
    check_float("start_factor", start_factor, gt=0, le=1)
    if t < warmup_steps:
        return schedule(0) * (start_factor + (1 - start_factor) * t / warmup_steps)
    return schedule(t - warmup_steps)


def one_cycle(
    t: int,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> float:
    """The one-cycle policy: cosine warmup from max_lr/div_factor to max_lr, then cosine decay to a tiny final lr.

    >>> [round(one_cycle(t, max_lr=1.0, total_steps=11, pct_start=0.5, div_factor=10), 3) for t in (0, 4, 10)]
    [0.1, 0.973, 0.0]
    """
    check_int("t", t, ge=0)
    check_float("max_lr", max_lr, gt=0)
    check_int("total_steps", total_steps, ge=2)
    check_float("pct_start", pct_start, gt=1 / total_steps, lt=1)  # warmup and decay both at least one step
    check_float("div_factor", div_factor, gt=0)
    check_float("final_div_factor", final_div_factor, gt=0)
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    peak = pct_start * total_steps - 1  # the step at which the lr reaches max_lr (PyTorch's convention)

    def anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))

    if t <= peak:
        return anneal(initial_lr, max_lr, t / peak)
    return anneal(max_lr, min_lr, (t - peak) / (total_steps - 1 - peak))


# ----------------------------------------------------------------------------------------------------------
# One table: each schedule's parameters (with defaults), its formula, and the same curve from PyTorch's classes
# ----------------------------------------------------------------------------------------------------------
Chain = tuple[list[lr_scheduler.LRScheduler], list[int]]  # PyTorch schedulers run one after another, and when


@dataclass(frozen=True)
class _Kind:
    """One schedule kind: parameter defaults (None: required), the formula `(t, lr0, total_steps, **p) -> lr`, and
    `(optimizer, lr0, total_steps, **p) -> (schedulers, milestones)` built from `torch.optim.lr_scheduler`."""

    params: dict[str, float | None]
    formula: Callable[..., float]
    torch: Callable[..., Chain]


def _cosine_chain(opt: torch.optim.Optimizer, lr0: float, total_steps: int | None, T: int, lr_T: float) -> Chain:
    # CosineAnnealingLR alone would climb back up after T; a ConstantLR at lr_T/lr0 pins it there.
    return ([lr_scheduler.CosineAnnealingLR(opt, T_max=T, eta_min=lr_T),
             lr_scheduler.ConstantLR(opt, factor=lr_T / lr0, total_iters=2**62)], [T])


def _one_cycle_chain(opt: torch.optim.Optimizer, lr0: float, total_steps: int | None, **p: float) -> Chain:
    return ([lr_scheduler.OneCycleLR(opt, max_lr=lr0, total_steps=total_steps, anneal_strategy="cos",
                                     cycle_momentum=False, **p)], [])


_KINDS: dict[str, _Kind] = {
    "constant": _Kind({}, lambda t, lr0, n: lr0, lambda opt, lr0, n: ([lr_scheduler.LambdaLR(opt, lambda t: 1.0)], [])),
    "time_based": _Kind(
        {"k": 0.0}, lambda t, lr0, n, k: time_based(t, lr0, k),
        lambda opt, lr0, n, k: ([lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + k * t))], []),  # no torch class
    ),
    "sqrt": _Kind(
        {}, lambda t, lr0, n: sqrt_decay(t, lr0),
        lambda opt, lr0, n: ([lr_scheduler.LambdaLR(opt, lambda t: 1 / math.sqrt(t + 1))], []),  # no torch class
    ),
    "exponential": _Kind(  # lr0 exp(-k t) = lr0 (e^-k)^t
        {"k": 0.0}, lambda t, lr0, n, k: exponential(t, lr0, k),
        lambda opt, lr0, n, k: ([lr_scheduler.ExponentialLR(opt, gamma=math.exp(-k))], []),
    ),
    "step": _Kind(
        {"drop": 0.1, "every": 1}, lambda t, lr0, n, drop, every: step_decay(t, lr0, drop, every),
        lambda opt, lr0, n, drop, every: ([lr_scheduler.StepLR(opt, step_size=every, gamma=1 - drop)], []),
    ),
    "cosine": _Kind({"T": None, "lr_T": 0.0}, lambda t, lr0, n, T, lr_T: cosine(t, lr0, T, lr_T), _cosine_chain),
    "one_cycle": _Kind(
        {"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
        lambda t, lr0, n, **p: one_cycle(t, lr0, n, **p), _one_cycle_chain,
    ),
}
KINDS = tuple(_KINDS)


def _check(
    kind: str, lr0: float, params: dict, warmup_steps: int, total_steps: int | None, start_factor: float
) -> dict[str, float]:
    """Raise a clear error for any argument that makes no sense; return `params` with the kind's defaults filled in."""
    check_choice("kind", kind, KINDS)
    check_float("lr0", lr0, gt=0)
    defaults = _KINDS[kind].params
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"{kind} schedule takes {sorted(defaults) or 'no parameters'}, got unknown {sorted(unknown)}")
    p = {**defaults, **params}
    if "k" in p:
        check_float("k", p["k"], ge=0)
    if kind == "step":
        check_float("drop", p["drop"], ge=0, lt=1)  # the fraction of the lr removed at each step
        check_int("every", p["every"], ge=1)
    if kind == "cosine":
        if p["T"] is None:
            raise ValueError("cosine needs its length T (an int > 0)")
        check_int("T", p["T"], ge=1)
        check_float("lr_T", p["lr_T"], ge=0)
        if p["lr_T"] > lr0:
            raise ValueError(f"lr_T (the final lr) must not exceed lr0; got lr_T={p['lr_T']}, lr0={lr0}")
    if kind == "one_cycle":
        if total_steps is None:
            raise ValueError("one_cycle needs total_steps (the length of training)")
        pct = check_float("pct_start", p["pct_start"], gt=0, lt=1)
        if pct * total_steps - 1 <= 0 or pct * total_steps >= total_steps:
            raise ValueError(f"pct_start must be in (0, 1) with warmup of >= 1 step; got {pct} of {total_steps}")
        check_float("div_factor", p["div_factor"], gt=0)
        check_float("final_div_factor", p["final_div_factor"], gt=0)
        if warmup_steps:
            raise ValueError("one_cycle has its own warmup (pct_start); leave warmup_steps at 0")
    check_int("warmup_steps", warmup_steps, ge=0)
    if total_steps is not None:
        check_int("total_steps", total_steps, ge=1)
        if warmup_steps >= total_steps:
            raise ValueError(f"warmup ({warmup_steps} steps) must be shorter than training ({total_steps} steps)")
    if warmup_steps:
        check_float("start_factor", start_factor, gt=0, le=1)  # first warmup lr / lr0
    return p


def schedule(
    kind: str,
    lr0: float,
    *,
    warmup_steps: int = 0,
    total_steps: int | None = None,
    start_factor: float = 0.1,
    **params: float,
) -> Schedule:
    """The function t -> lr for `kind` (see KINDS), with an optional linear warmup in front.

    >>> f = schedule("step", 0.1, drop=0.5, every=10)
    >>> f(0), f(10), f(25)
    (0.1, 0.05, 0.025)
    >>> g = schedule("cosine", 1.0, T=4, warmup_steps=2, total_steps=6, start_factor=0.5)
    >>> [round(g(t), 3) for t in range(7)]
    [0.5, 0.75, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    p = _check(kind, lr0, params, warmup_steps, total_steps, start_factor)
    formula = _KINDS[kind].formula
    base: Schedule = lambda t: formula(t, lr0, total_steps, **p)  # noqa: E731
    if warmup_steps == 0:
        return base
    return lambda t: linear_warmup(t, base, warmup_steps, start_factor)


def torch_scheduler(
    optimizer: torch.optim.Optimizer,
    kind: str,
    lr0: float,
    *,
    warmup_steps: int = 0,
    total_steps: int | None = None,
    start_factor: float = 0.1,
    **params: float,
) -> lr_scheduler.LRScheduler:
    """PyTorch's scheduler for `kind` built from its own classes; sets the optimizer's lr to `lr0` first."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    p = _check(kind, lr0, params, warmup_steps, total_steps, start_factor)
    for group in optimizer.param_groups:
        group["lr"] = lr0
        group.pop("initial_lr", None)
    chain, milestones = _KINDS[kind].torch(optimizer, lr0, total_steps, **p)
    if warmup_steps > 0:  # SequentialLR cannot nest, so the warmup goes in front of the same flat chain
        warm = lr_scheduler.LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)
        chain = [warm, *chain]
        milestones = [warmup_steps] + [m + warmup_steps for m in milestones]
    if len(chain) == 1:
        return chain[0]
    for group in optimizer.param_groups:  # each scheduler in the chain starts from lr0
        group["lr"] = lr0
    return lr_scheduler.SequentialLR(optimizer, chain, milestones=milestones)


def torch_lr_curve(kind: str, lr0: float, num_steps: int, **kwargs: float) -> list[float]:
    """The lr PyTorch's scheduler gives at steps 0..num_steps-1 (read before each `scheduler.step()`)."""
    check_int("num_steps", num_steps, ge=1)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = torch_scheduler(optimizer, kind, lr0, **kwargs)
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        sched.step()
    return lrs


def lr_curve(kind: str, lr0: float, num_steps: int, **kwargs: float) -> list[float]:
    """The formula's lr at steps 0..num_steps-1.

    >>> lr_curve("sqrt", 1.0, 4)
    [1.0, 0.7071067811865475, 0.5773502691896258, 0.5]
    """
    check_int("num_steps", num_steps, ge=1)
    f = schedule(kind, lr0, **kwargs)
    return [f(t) for t in range(num_steps)]


# ----------------------------------------------------------------------------------------------------------
# Finding lr0: the LR range test
# ----------------------------------------------------------------------------------------------------------
def lr_range_test(
    net: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    *,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    num_steps: int = 100,
    batch_size: int = 64,
    mean: float | None = None,
    std: float | None = None,
    seed: int = 0,
) -> tuple[list[float], list[float]]:
    """Train `net` for `num_steps` batches with the lr growing geometrically from lr_min to lr_max; (lrs, losses).

    Uses SGD with momentum 0.9 and `train_one_epoch` with a per-batch ExponentialLR; `net` is changed (use a copy).
    Stops early once the loss is 4x its best or not finite: the lr has become too large.
    """
    check_float("lr_min", lr_min, gt=0)
    check_float("lr_max", lr_max, gt=0)
    if lr_max <= lr_min:
        raise ValueError(f"lr_max must exceed lr_min, got {lr_min} .. {lr_max}")
    check_int("num_steps", num_steps, ge=2)
    check_module("net", net, has_parameters=True)
    device = module_device(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr_min, momentum=0.9)
    sched = lr_scheduler.ExponentialLR(optimizer, gamma=(lr_max / lr_min) ** (1 / (num_steps - 1)))
    lrs: list[float] = []
    losses: list[float] = []

    class Diverged(Exception):
        pass

    def recording_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.cross_entropy(logits, y)
        value = loss.item()
        if len(losses) >= num_steps or not math.isfinite(value) or (losses and value > 4 * min(losses)):
            raise Diverged
        lrs.append(optimizer.param_groups[0]["lr"])  # the lr this batch is about to be trained with
        losses.append(value)
        return loss

    loader = TensorLoader(
        *train_data, batch_size, shuffle=True, mean=mean, std=std, device=device, seed=seed, drop_last=True
    )
    try:
        while len(losses) < num_steps:
            train_one_epoch(net, loader, optimizer, recording_loss, device, scheduler=sched)
    except Diverged:
        pass
    return lrs, losses


def _numbers(name: str, values: Sequence[float], **bounds: float) -> list[float]:
    """`values` as a list of finite floats within `bounds` (each checked like `check_float`, named `name[i]`)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of numbers, got {type(values).__name__} {values!r:.40}")
    return [check_float(f"{name}[{i}]", v, **bounds) for i, v in enumerate(values)]


def suggest_lr(lrs: list[float], losses: list[float], smooth: float = 0.9) -> float:
    """A good lr0 from a range test: a tenth of the lr at which the smoothed loss was lowest.

    >>> suggest_lr([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.5, 1.0, 3.0], smooth=0.0)
    0.01
    """
    lrs, losses = _numbers("lrs", lrs, gt=0), _numbers("losses", losses)
    check_float("smooth", smooth, ge=0, lt=1)  # the weight of the past in the moving average (1 would never move)
    if len(lrs) != len(losses) or len(lrs) < 2:
        raise ValueError(f"need matching lrs and losses of length >= 2, got {len(lrs)} and {len(losses)}")
    avg, smoothed = 0.0, []
    for i, loss in enumerate(losses):  # exponential moving average, bias-corrected
        avg = smooth * avg + (1 - smooth) * loss
        smoothed.append(avg / (1 - smooth ** (i + 1)))
    best = min(range(len(smoothed)), key=smoothed.__getitem__)
    return lrs[best] / 10


# ----------------------------------------------------------------------------------------------------------
# Experiments: one small, fast CNN trained with a given optimiser and schedule (the loop is cnnlab.train.fit)
# ----------------------------------------------------------------------------------------------------------
def train_run(
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    *,
    seed: int,
    lr: float,
    optimizer: str = "SGD",
    momentum: float = 0.9,
    num_epochs: int = 3,
    batch_size: int = 64,
    width: int = 8,
    schedule_kind: str | None = None,
    warmup_steps: int = 0,
    step_scheduler: str = "batch",
    mean: float | None = None,
    std: float | None = None,
    **schedule_params: float,
) -> History:
    """Train a fresh `fast_cnn(width)` with `fit` and return its History; a schedule, if given, steps per batch."""
    check_int("seed", seed, ge=0)
    torch.manual_seed(seed)
    net = fast_cnn(width).to(train_data[0].device)
    opt = make_optimizer(net.parameters(), optimizer, lr, momentum)
    sched = None
    if schedule_kind is not None or warmup_steps:
        steps_per_epoch = math.ceil(len(train_data[0]) / batch_size) if step_scheduler == "batch" else 1
        total = num_epochs * steps_per_epoch
        sched = torch_scheduler(
            opt, schedule_kind or "constant", lr, warmup_steps=warmup_steps, total_steps=total, **schedule_params
        )
    return fit(  # the course's one training loop
        net, train_data, val_data, num_epochs=num_epochs, optimizer=opt, scheduler=sched, step_scheduler=step_scheduler,
        batch_size=batch_size, mean=mean, std=std, seed=seed, progress=False,
    )


LADDER = {"lr": [0.003, 0.03, 0.3], "width": [4, 8, 16], "batch_size": [32, 64, 128], "momentum": [0.5, 0.9, 0.95]}
LADDER_BASE = {"lr": 0.03, "width": 8, "batch_size": 64, "momentum": 0.9}


def ladder_sweep(
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    *,
    seed: int,
    grid: dict[str, list] | None = None,
    **fixed,
) -> dict[str, list[float]]:
    """Final validation accuracy as one hyperparameter at a time moves over its `grid` (the rest at LADDER_BASE)."""
    grid = grid if grid is not None else LADDER
    unknown = set(grid) - set(LADDER_BASE)
    if unknown:
        raise ValueError(f"can sweep only {sorted(LADDER_BASE)}, got {sorted(unknown)}")
    cache: dict[tuple, float] = {}
    result = {}
    for name, values in grid.items():
        accs = []
        for value in values:
            config = {**LADDER_BASE, name: value}
            key = tuple(sorted(config.items()))
            if key not in cache:  # the base configuration appears in every row: train it once
                cache[key] = train_run(train_data, val_data, seed=seed, **config, **fixed).val_acc[-1]
            accs.append(cache[key])
        result[name] = accs
    return result
