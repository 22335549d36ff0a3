"""The exercises of notebook 14 (speedrun and data-parallel training): the linear scaling rule, steps per epoch, what
2 processes with DDP equal, a data-parallel gradient to write (checked on nets and batches the notebook never shows,
with PyTorch's full-batch gradient as the oracle), and an explain question on BatchNorm under DDP."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, float_judge, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


# ----------------------------------------------------------------------------------------------------------
# 14.1: the linear scaling rule
# ----------------------------------------------------------------------------------------------------------
_judge_scaled_lr = float_judge(0.2, {
    0.2: "4x the batch, 4x the learning rate: each step now averages 4x as many gradients.",
    0.05: "with 4x fewer steps per epoch at the same rate, the net moves 4x less per epoch; the rule scales the rate "
          "with the batch",
    0.1: "that is the square-root rule (x sqrt(4)); the linear rule multiplies by the batch ratio itself",
    0.0125: "a bigger batch gets a bigger rate under the rule, not a smaller one",
}, "a learning rate", otherwise="that is not what the rule gives; multiply the rate by (new batch / old batch)")


add(Exercise(
    id="14.1", kind="predict",
    question="The default recipe trains with lr 0.05 at batch 128. By the linear scaling rule, which learning rate "
             "goes with batch 512?",
    judge=_judge_scaled_lr,
    hints=("Per epoch, batch 512 takes 4x fewer steps than batch 128.",
           "Each step's gradient is a mean over 4x more images: about as noisy-free as 4 small steps' worth of "
           "direction, so it can move 4x as far.",
           "Multiply the rate by new batch / old batch."),
    solution="0.2 = 0.05 x 512/128 (Goyal et al. 2017). It holds up to a point: beyond a few thousand images per "
             "batch it needs a warm-up, and eventually breaks.",
    model=0.2, wrong=0.05,
))

# ----------------------------------------------------------------------------------------------------------
# 14.2: steps per epoch
# ----------------------------------------------------------------------------------------------------------
_STEPS = math.ceil(60_000 / 512)  # 118

add(Exercise(
    id="14.2", kind="predict",
    question="How many optimiser steps does one epoch of the 60,000 Fashion-MNIST training images take with batches "
             "of 512 (fit keeps the last, smaller batch)?",
    judge=number_judge(_STEPS, {
        _STEPS: "117 full batches of 512 and one of 96.",
        _STEPS - 1: "the last, smaller batch is a step too (fit's drop_last is False)",
        math.ceil(60_000 / 128): "that is the step count for batches of 128",
    }, "steps"),
    hints=("Each step uses one batch.", "60,000 / 512 is not a whole number.", "Round up: the remainder is a batch."),
    solution="118 = ceil(60,000 / 512). With batches of 128 it is 469: 4x as many steps, which is why the larger "
             "batch needs the larger learning rate.",
    model=_STEPS, wrong=_STEPS - 1,
))

# ----------------------------------------------------------------------------------------------------------
# 14.3: what 2 processes with DDP equal
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="14.3", kind="predict",
    question="2 processes train a net without BatchNorm with DistributedDataParallel, each on its own batches of 64. "
             "After one step, their weights equal those of 1 process trained on a batch of how many images?",
    judge=number_judge(128, {
        128: "each process averages its 64 images' gradients, then the all-reduce averages the 2 processes' means: "
             "the mean over 128.",
        64: "each process sees 64 images, but after backward the processes' gradients are averaged: whose images "
            "does the averaged gradient come from?",
        32: "the processes do not split a batch of 64 between them; each has 64 of its own",
    }, "images"),
    hints=("What does DDP do to the gradients after backward?",
           "The mean of two means over equal shares is the mean over both shares."),
    solution="128: the all-reduce averages the 2 processes' gradients, each a mean over 64, which is the gradient of "
             "the mean loss over all 128. That is why 2 processes with batch B match 1 process with batch 2B.",
    model=128, wrong=64,
))


# ----------------------------------------------------------------------------------------------------------
# 14.4: the data-parallel gradient, written out
# ----------------------------------------------------------------------------------------------------------
def _cases() -> list[tuple[nn.Module, torch.Tensor, torch.Tensor, int]]:
    """Nets, batches and world sizes the notebook never shows (a fixed seed: the same cases every time)."""
    g = torch.Generator().manual_seed(1414)
    cases = []
    for width, n, world in ((3, 12, 2), (5, 12, 3), (4, 16, 4), (2, 6, 1)):
        torch.manual_seed(int(torch.randint(0, 10**6, (1,), generator=g)))
        net = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                            nn.Linear(4 * width, 5)).double()
        X = torch.randn(n, 1, 6, 6, generator=g, dtype=torch.float64)
        y = torch.randint(0, 5, (n,), generator=g)
        cases.append((net, X, y, world))
    return cases


def _full_batch_gradient(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    net.zero_grad()
    nn.functional.cross_entropy(net(X), y).backward()
    return [p.grad.clone() for p in net.parameters()]


def _judge_data_parallel_gradient(fn: Any) -> Feedback:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for net, X, y, world in _cases():
        truth = _full_batch_gradient(net, X, y)
        got = fn(net, X.clone(), y.clone(), world)
        if got is None:
            return False, "your function returns None: return a list with one gradient tensor per parameter"
        if not isinstance(got, (list, tuple)) or len(got) != len(truth) or \
                not all(isinstance(t, torch.Tensor) for t in got):
            return False, (f"return a list of {len(truth)} tensors (one gradient per parameter, in "
                           f"net.parameters() order), got {type(got).__name__}")
        if any(a.shape != b.shape for a, b in zip(got, truth)):
            return False, "each gradient must have its parameter's shape"
        if all(torch.allclose(a, world * b, atol=1e-9) for a, b in zip(got, truth)) and world > 1:
            return False, f"with {world} processes your gradient is {world}x too large: average the shares, do not add them"
        if not all(torch.allclose(a, b, atol=1e-9) for a, b in zip(got, truth)):
            return False, (f"with {world} processes on a batch of {len(y)} your gradient differs from the full "
                           f"batch's; does each share use the mean loss over its own images?")
    return True, "averaging equal shares' mean-loss gradients gives the full batch's gradient, as DDP's all-reduce does."


def _model_data_parallel_gradient(net: nn.Module, X: torch.Tensor, y: torch.Tensor, world_size: int) -> list:
    shares = [[torch.zeros_like(p) for p in net.parameters()] for _ in range(world_size)]
    for share, (xs, ys) in zip(shares, zip(X.chunk(world_size), y.chunk(world_size))):
        net.zero_grad()
        nn.functional.cross_entropy(net(xs), ys).backward()
        for s, p in zip(share, net.parameters()):
            s += p.grad
    return [sum(parts) / world_size for parts in zip(*shares)]


def _wrong_data_parallel_gradient(net: nn.Module, X: torch.Tensor, y: torch.Tensor, world_size: int) -> list:
    return [g * world_size for g in _model_data_parallel_gradient(net, X, y, world_size)]  # summed, not averaged


add(Exercise(
    id="14.4", kind="code",
    question="Complete data_parallel_gradient(net, X, y, world_size): split the batch into world_size equal shares, "
             "compute each share's gradient of the mean cross-entropy as a process would, and combine them as DDP's "
             "all-reduce does. Return one tensor per parameter. It is checked against the full batch's gradient.",
    judge=_judge_data_parallel_gradient,
    hints=("X.chunk(world_size) and y.chunk(world_size) give the shares.",
           "For each share: net.zero_grad(), loss = F.cross_entropy(net(xs), ys), loss.backward(), then copy every "
           "p.grad (clone it: the next share's backward overwrites it).",
           "DDP averages: add the shares' gradients and divide by world_size."),
    solution=("def data_parallel_gradient(net, X, y, world_size):\n"
              "    shares = []\n"
              "    for xs, ys in zip(X.chunk(world_size), y.chunk(world_size)):\n"
              "        net.zero_grad()\n"
              "        F.cross_entropy(net(xs), ys).backward()\n"
              "        shares.append([p.grad.clone() for p in net.parameters()])\n"
              "    return [sum(parts) / world_size for parts in zip(*shares)]"),
    model=_model_data_parallel_gradient, wrong=_wrong_data_parallel_gradient,
))

# ----------------------------------------------------------------------------------------------------------
# 14.5: BatchNorm under DDP
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="14.5", kind="explain",
    question="2 processes with batch 64 train small_cnn (which has BatchNorm) and end with other weights than 1 "
             "process with batch 128. Why, and what would make them equal?",
    judge=None,
    hints=("What does BatchNorm compute from the batch in training mode?",
           "Which images does each process's BatchNorm see?"),
    solution="In training mode BatchNorm normalises with the mean and variance of the images in its batch. Each "
             "process sees only its 64, so its statistics (and the gradients through them) differ from those of the "
             "128 together; the all-reduce averages gradients, not statistics. torch.nn.SyncBatchNorm computes the "
             "statistics over all processes (on GPUs), or a norm that does not use the batch (GroupNorm, LayerNorm) "
             "sidesteps it. The running statistics also differ per process; DDP copies rank 0's buffers.",
))
