"""The exercises of notebook 06 (batch normalisation): predictions of BatchNorm's stored numbers, its statistics and
its running averages, and three functions to write (BatchNorm's training and evaluation forward, GroupNorm), checked
against PyTorch's own layers on shapes, momenta and statistics the notebook never shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


# ----------------------------------------------------------------------------------------------------------
# Helpers shared by the code judges
# ----------------------------------------------------------------------------------------------------------
def _close(a: Any, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.to(b.dtype), b, rtol=1e-5,
                                                                                 atol=1e-6)


def _first_known(got: torch.Tensor, known: list[tuple[torch.Tensor, str]]) -> str | None:
    """The message of the first known mistake whose result equals `got`, if any."""
    for result, message in known:
        if _close(got, result):
            return message
    return None


def _bn_case(g: torch.Generator) -> dict[str, Any]:
    """An unseen (N, C, H, W) batch, per-channel gamma/beta and running statistics, a momentum and an eps."""
    N, C, H, W = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((2, 7), (1, 5), (1, 5), (1, 5)))
    x = torch.randn(N, C, H, W, generator=g, dtype=torch.float64) * (1 + 4 * torch.rand(C, 1, 1, generator=g,
                                                                                         dtype=torch.float64))
    x = x + 3 * torch.randn(C, 1, 1, generator=g, dtype=torch.float64)
    return dict(
        x=x,
        gamma=torch.rand(C, generator=g, dtype=torch.float64) + 0.5,
        beta=torch.randn(C, generator=g, dtype=torch.float64),
        running_mean=torch.randn(C, generator=g, dtype=torch.float64),
        running_var=torch.rand(C, generator=g, dtype=torch.float64) + 0.5,
        momentum=(0.1, 0.05, 0.3, 0.2)[int(torch.randint(0, 4, (1,), generator=g))],
        eps=(1e-5, 1e-3, 0.1)[int(torch.randint(0, 3, (1,), generator=g))],
    )


def _torch_bn(c: dict[str, Any], training: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyTorch's nn.BatchNorm2d on case `c`: (output, running_mean after, running_var after)."""
    C = c["x"].shape[1]
    bn = nn.BatchNorm2d(C, eps=c["eps"], momentum=c["momentum"]).double()
    with torch.no_grad():
        bn.weight.copy_(c["gamma"])
        bn.bias.copy_(c["beta"])
        bn.running_mean.copy_(c["running_mean"])
        bn.running_var.copy_(c["running_var"])
        bn.train(training)
        y = bn(c["x"])
    return y, bn.running_mean.clone(), bn.running_var.clone()


def _per_channel(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(1, -1, 1, 1)


def _normalise(c: dict[str, Any], mean: torch.Tensor, var: torch.Tensor, eps: float | None = None,
               affine: bool = True) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps), then gamma and beta; mean and var broadcast against x."""
    y = (c["x"] - mean) / torch.sqrt(var + (c["eps"] if eps is None else eps))
    return _per_channel(c["gamma"]) * y + _per_channel(c["beta"]) if affine else y


def _is_callable(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


def _setting(c: dict[str, Any]) -> str:
    return f"an input of shape {tuple(c['x'].shape)}, momentum {c['momentum']}, eps {c['eps']}"


# ----------------------------------------------------------------------------------------------------------
# 06.4: BatchNorm's training-mode forward, with the running statistics
# ----------------------------------------------------------------------------------------------------------
def _judge_bn_train(fn: Any) -> Feedback:
    """The learner's `fn(x, gamma, beta, running_mean, running_var, momentum, eps)` -> (y, new_mean, new_var)
    against nn.BatchNorm2d in train mode, on 12 unseen batches."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(6_4)
    for _ in range(12):
        c = _bn_case(g)
        want_y, want_mean, want_var = _torch_bn(c, training=True)
        got = fn(c["x"].clone(), c["gamma"].clone(), c["beta"].clone(), c["running_mean"].clone(),
                 c["running_var"].clone(), c["momentum"], c["eps"])
        if got is None:
            return False, ("your function returns None: write its body (replace the ...) and return "
                           "(y, running_mean, running_var)")
        if not isinstance(got, (tuple, list)) or len(got) != 3 or not all(isinstance(t, torch.Tensor) for t in got):
            return False, "return three tensors: (y, new running_mean, new running_var)"
        y, mean, var = got
        dims = (0, 2, 3)
        n = c["x"].numel() // c["x"].shape[1]
        batch_mean, batch_var = c["x"].mean(dims), c["x"].var(dims, unbiased=False)
        unbiased = c["x"].var(dims, unbiased=True)
        m, rm, rv = c["momentum"], c["running_mean"], c["running_var"]
        if y.shape != want_y.shape:
            return False, f"on {_setting(c)} your output has shape {tuple(y.shape)}: it must keep the input's shape"
        if not _close(y, want_y):
            mistake = _first_known(y, [
                (_normalise(c, _per_channel(batch_mean), _per_channel(unbiased)),
                 "you normalise with the unbiased variance (dividing by n - 1); the batch itself is normalised with "
                 "the biased one (dividing by n)"),
                (_normalise(c, _per_channel(rm), _per_channel(rv)),
                 "in training mode the batch is normalised with its own statistics, not the running ones"),
                (_normalise(c, _per_channel(batch_mean), _per_channel(batch_var), eps=0.0),
                 "eps is missing: it goes under the square root, sqrt(var + eps)"),
                (_normalise(c, _per_channel(batch_mean), _per_channel(batch_var).sqrt()),
                 "you divide by the variance (plus eps), not by its square root"),
                (_normalise(c, c["x"].mean(0, keepdim=True), c["x"].var(0, unbiased=False, keepdim=True)),
                 "you take the statistics over the batch only; a channel's statistics pool the batch and every "
                 "position (dims 0, 2 and 3)"),
                (_normalise(c, c["x"].mean((1, 2, 3), keepdim=True), c["x"].var((1, 2, 3), unbiased=False,
                                                                                 keepdim=True)),
                 "you normalise each example on its own (that is LayerNorm); BatchNorm's statistics are per channel"),
                (_normalise(c, _per_channel(batch_mean), _per_channel(batch_var), affine=False),
                 "the normalised values still have to be scaled by gamma and shifted by beta"),
            ])
            return False, (f"on {_setting(c)} your output differs from nn.BatchNorm2d's in train mode: "
                           f"{mistake or 'check the four steps: batch mean and variance, normalise, scale and shift'}")
        if not _close(mean, want_mean):
            mistake = _first_known(mean, [
                (m * rm + (1 - m) * batch_mean, "that is the other momentum convention: in PyTorch momentum is the "
                                                "weight of the new batch, (1 - momentum) the weight of the past"),
                (rm, "the running mean was not updated: training mode moves it towards the batch mean"),
                (batch_mean, "the running mean is a moving average: mix the old value with the batch mean"),
            ])
            return False, (f"on {_setting(c)} your new running mean differs from nn.BatchNorm2d's: "
                           f"{mistake or 'running = (1 - momentum) * running + momentum * batch mean'}")
        if not _close(var, want_var):
            mistake = _first_known(var, [
                ((1 - m) * rv + m * batch_var, "the running variance uses the unbiased batch variance "
                                               "(times n / (n - 1)), although the batch is normalised with the "
                                               "biased one"),
                (m * rv + (1 - m) * unbiased, "that is the other momentum convention: in PyTorch momentum is the "
                                              "weight of the new batch"),
                (rv, "the running variance was not updated: training mode moves it towards the batch variance"),
                ((1 - m) * rv + m * unbiased.sqrt(), "the running average is of the variance, not the standard "
                                                     "deviation"),
            ])
            return False, (f"on {_setting(c)} ({n} values per channel) your new running variance differs from "
                           f"nn.BatchNorm2d's: {mistake or 'check the moving average and which variance enters it'}")
    return True, "output and running statistics equal nn.BatchNorm2d's in train mode on 12 batches you had not seen."


_BN_TRAIN_SOLUTION = (
    "def batch_norm_train(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):\n"
    "    dims = (0, 2, 3)                        # per channel: over the batch and every position\n"
    "    mean = x.mean(dims)                     # (C,)\n"
    "    var = x.var(dims, unbiased=False)       # (C,): the biased variance normalises the batch\n"
    "    shape = (1, -1, 1, 1)\n"
    "    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)\n"
    "    y = gamma.view(shape) * y + beta.view(shape)\n"
    "    n = x.numel() // x.shape[1]             # values per channel\n"
    "    running_mean = (1 - momentum) * running_mean + momentum * mean\n"
    "    running_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)  # unbiased\n"
    "    return y, running_mean, running_var"
)


def _bn_train_model(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    namespace = {"torch": torch}
    exec(_BN_TRAIN_SOLUTION, namespace)  # noqa: S102 (our own solution text: the model answer is what learners see)
    return namespace["batch_norm_train"](x, gamma, beta, running_mean, running_var, momentum, eps)


def _bn_train_wrong(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """The lecture's momentum convention with PyTorch's momentum value: the weights of past and present swapped."""
    y, _, _ = _bn_train_model(x, gamma, beta, running_mean, running_var, momentum, eps)
    mean, n = x.mean((0, 2, 3)), x.numel() // x.shape[1]
    var = x.var((0, 2, 3), unbiased=False) * n / (n - 1)
    return y, momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var


# ----------------------------------------------------------------------------------------------------------
# 06.5: BatchNorm's evaluation-mode forward
# ----------------------------------------------------------------------------------------------------------
def _judge_bn_eval(fn: Any) -> Feedback:
    """The learner's `fn(x, gamma, beta, running_mean, running_var, eps)` against nn.BatchNorm2d in eval mode."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(6_5)
    for _ in range(12):
        c = _bn_case(g)
        want, _, _ = _torch_bn(c, training=False)
        rm, rv = c["running_mean"].clone(), c["running_var"].clone()
        got = fn(c["x"].clone(), c["gamma"].clone(), c["beta"].clone(), rm, rv, c["eps"])
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor):
            return False, f"return one tensor, the normalised output, got {type(got).__name__}"
        if not (torch.equal(rm, c["running_mean"]) and torch.equal(rv, c["running_var"])):
            return False, "your function changed the running statistics: evaluation only reads them"
        if got.shape != want.shape:
            return False, f"on {_setting(c)} your output has shape {tuple(got.shape)}: it must keep the input's shape"
        if not _close(got, want):
            dims = (0, 2, 3)
            mistake = _first_known(got, [
                (_normalise(c, _per_channel(c["x"].mean(dims)), _per_channel(c["x"].var(dims, unbiased=False))),
                 "you normalise with the batch's statistics: in eval mode BatchNorm uses the running statistics, so "
                 "a prediction does not depend on the rest of the batch"),
                (_normalise(c, _per_channel(c["x"].mean(dims)), _per_channel(c["x"].var(dims, unbiased=True))),
                 "you normalise with the batch's statistics: in eval mode BatchNorm uses the running statistics"),
                (_normalise(c, _per_channel(c["running_mean"]), _per_channel(c["running_var"]), eps=0.0),
                 "eps is missing: it goes under the square root, sqrt(running_var + eps)"),
                (_normalise(c, _per_channel(c["running_mean"]), _per_channel(c["running_var"]).sqrt()),
                 "running_var is a variance: divide by its square root, sqrt(running_var + eps)"),
                (_normalise(c, _per_channel(c["running_mean"]), _per_channel(c["running_var"]), affine=False),
                 "the normalised values still have to be scaled by gamma and shifted by beta"),
            ])
            return False, (f"on {_setting(c)} your output differs from nn.BatchNorm2d's in eval mode: "
                           f"{mistake or 'normalise with the running mean and variance, then scale and shift'}")
    return True, "it equals nn.BatchNorm2d in eval mode on 12 batches and running statistics you had not seen."


# ----------------------------------------------------------------------------------------------------------
# 06.6: GroupNorm from scratch
# ----------------------------------------------------------------------------------------------------------
def _group_norm_by(x: torch.Tensor, groups: torch.Tensor, G: int, eps: float, unbiased: bool = False
                   ) -> torch.Tensor:
    """Normalise each example's channels in the groups `groups[c]` (a group index per channel), no affine."""
    out = torch.empty_like(x)
    for gi in range(G):
        chans = (groups == gi).nonzero().flatten()
        part = x[:, chans]
        mean = part.mean((1, 2, 3), keepdim=True)
        var = part.var((1, 2, 3), unbiased=unbiased, keepdim=True)
        out[:, chans] = (part - mean) / torch.sqrt(var + eps)
    return out


def _judge_group_norm(fn: Any) -> Feedback:
    """The learner's `fn(x, num_groups, gamma, beta, eps)` against F.group_norm on unseen shapes and group counts."""
    if (bad := _is_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(6_6)
    for _ in range(12):
        C = (4, 6, 8, 12)[int(torch.randint(0, 4, (1,), generator=g))]
        choices = [d for d in range(2, C // 2 + 1) if C % d == 0]  # neither LayerNorm (1) nor InstanceNorm (C)
        G = choices[int(torch.randint(0, len(choices), (1,), generator=g))]
        N, H, W = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((2, 5), (2, 5), (2, 5)))
        x = torch.randn(N, C, H, W, generator=g, dtype=torch.float64) * 3 + torch.randn(1, C, 1, 1, generator=g,
                                                                                        dtype=torch.float64)
        gamma = torch.rand(C, generator=g, dtype=torch.float64) + 0.5
        beta = torch.randn(C, generator=g, dtype=torch.float64)
        eps = 1e-3
        want = F.group_norm(x, G, gamma, beta, eps)
        got = fn(x.clone(), G, gamma.clone(), beta.clone(), eps)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor):
            return False, f"return one tensor, the normalised output, got {type(got).__name__}"
        setting = f"an input of shape {tuple(x.shape)} in {G} groups"
        if got.shape != want.shape:
            return False, f"on {setting} your output has shape {tuple(got.shape)}: it must keep the input's shape"
        if not _close(got, want):
            affine = gamma.view(1, -1, 1, 1), beta.view(1, -1, 1, 1)
            consecutive = torch.arange(C) // (C // G)
            known = [
                (affine[0] * _group_norm_by(x, consecutive, G, eps, unbiased=True) + affine[1],
                 "you use the unbiased variance (n - 1); normalisation layers divide by n"),
                (affine[0] * _group_norm_by(x, torch.arange(C) % G, G, eps) + affine[1],
                 "your groups interleave the channels; a group is a block of consecutive channels (view the C "
                 "channels as G x C/G)"),
                (affine[0] * _group_norm_by(x, torch.arange(C), C, eps) + affine[1],
                 "that is InstanceNorm: every channel on its own; a group holds C/G channels"),
                (affine[0] * _group_norm_by(x, torch.zeros(C, dtype=torch.long), 1, eps) + affine[1],
                 "that is LayerNorm: all channels of an example together; split them into the groups"),
                (F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps),
                 "that is BatchNorm: GroupNorm normalises each example alone, never over the batch"),
                (_group_norm_by(x, consecutive, G, eps),
                 "the normalised values still have to be scaled by gamma and shifted by beta, one of each per channel"),
                (affine[0] * _group_norm_by(x, consecutive, G, 0.0) + affine[1],
                 "eps is missing: it goes under the square root"),
            ]
            mistake = _first_known(got, known)
            return False, (f"on {setting} your output differs from F.group_norm's: "
                           f"{mistake or 'statistics per example and group, over its channels and all positions'}")
    return True, "it equals F.group_norm on 12 shapes and group counts you had not seen."


_GROUP_NORM_SOLUTION = (
    "def group_norm(x, num_groups, gamma, beta, eps=1e-5):\n"
    "    N, C, H, W = x.shape\n"
    "    xg = x.reshape(N, num_groups, C // num_groups, H, W)  # consecutive channels form a group\n"
    "    mean = xg.mean(dim=(2, 3, 4), keepdim=True)           # (N, G, 1, 1, 1)\n"
    "    var = xg.var(dim=(2, 3, 4), unbiased=False, keepdim=True)\n"
    "    y = ((xg - mean) / torch.sqrt(var + eps)).reshape(N, C, H, W)\n"
    "    return gamma.view(1, C, 1, 1) * y + beta.view(1, C, 1, 1)"
)


def _from_solution(source: str, name: str) -> Callable[..., Any]:
    namespace = {"torch": torch}
    exec(source, namespace)  # noqa: S102 (our own solution text)
    return namespace[name]


# ----------------------------------------------------------------------------------------------------------
# Notebook 06: batch normalisation
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="06.1", kind="predict",
    question="How many numbers does nn.BatchNorm2d(64) save in its state_dict (parameters and buffers together)?",
    judge=number_judge(257, {
        257: "gamma and beta (64 each, learned), running_mean and running_var (64 each, buffers) and one counter, "
             "num_batches_tracked.",
        128: "that counts the learned parameters, gamma and beta; the running statistics are saved too (as buffers)",
        256: "almost: there is one more buffer, a single counter of the batches seen (num_batches_tracked)",
        192: "there are two running statistics per channel, a mean and a variance, besides gamma and beta",
        193: "there are two running statistics per channel, a mean and a variance, besides gamma and beta",
        129: "the running mean and variance are saved too, one of each per channel",
        64: "gamma, beta and the two running statistics are each one number per channel",
        4: "each of gamma, beta, running_mean and running_var holds one number per channel",
        5: "each of gamma, beta, running_mean and running_var holds one number per channel",
    }, "numbers"),
    hints=("list(nn.BatchNorm2d(64).state_dict()) names them; but predict first.",
           "Two learned vectors (gamma, beta) and two running statistics, each one number per channel.",
           "And one integer buffer counts the training batches."),
    solution="257 = 64 (gamma) + 64 (beta) + 64 (running_mean) + 64 (running_var) + 1 (num_batches_tracked). Only "
             "gamma and beta are parameters (128, what the optimiser sees); the rest are buffers, saved and moved "
             "with .to(device) but not learned.",
    model=257, wrong=128,
))

add(Exercise(
    id="06.2", kind="predict",
    question="A batch of feature maps of shape (32, 16, 28, 28) goes through nn.BatchNorm2d(16) in train mode. From "
             "how many values is each channel's mean computed?",
    judge=number_judge(25_088, {
        25_088: "32 images x 28 x 28 positions: a channel pools the batch and every position.",
        32: "that is the batch only: in a convolutional layer a channel's statistics pool every position too",
        784: "that is one image's positions: BatchNorm pools the whole batch as well",
        12_544: "that is the positions of every image for all 16 channels: the mean is per channel, over the batch",
        401_408: "that is every value of the batch: BatchNorm2d keeps one mean per channel",
        512: "that is batch x channels: the mean is per channel, over the batch and the positions",
    }, "values"),
    hints=("BatchNorm2d's statistics have shape 1 x C x 1 x 1: which axes are averaged away?",
           "The batch axis and both spatial axes.",
           "Multiply N, H and W."),
    solution="25,088 = 32 x 28 x 28: one mean per channel over the batch and all positions (dims 0, 2, 3), so a "
             "feature detector keeps one scale wherever it fires. That is why small batches hurt a CNN less than an "
             "MLP: even two images give 2 x 28 x 28 = 1,568 values per channel.",
    model=25_088, wrong=32,
))

add(Exercise(
    id="06.3", kind="predict",
    question="A fresh nn.BatchNorm1d(1) (momentum 0.1, running_mean starts at 0) sees, in train mode, two batches "
             "whose mean is 100 each. What is running_mean afterwards?",
    judge=number_judge(19, {
        19: "0.9 x 0 + 0.1 x 100 = 10, then 0.9 x 10 + 0.1 x 100 = 19: the running mean creeps towards 100.",
        99: "that is the lecture's convention with 0.9 as the weight of the new batch; PyTorch's momentum 0.1 is "
            "the weight of the new batch",
        90: "that uses 0.9 as the weight of the new batch, and counts one batch; in PyTorch momentum 0.1 is the "
            "weight of the new batch",
        10: "that is after one batch; there are two",
        100: "the running mean is a moving average that starts at 0 (momentum=None would give the plain average "
             "of the batches, but it is 0.1 here)",
        20: "the second update also shrinks the old value: running = 0.9 x running + 0.1 x batch mean",
        0: "train mode updates the running mean at every forward pass",
    }, "units"),
    hints=("PyTorch: running = (1 - momentum) x running + momentum x batch mean.",
           "Start from 0 and apply the rule once per batch.",
           "After the first batch it is 10."),
    solution="19: after batch 1, 0.9 x 0 + 0.1 x 100 = 10; after batch 2, 0.9 x 10 + 0.1 x 100 = 19. It takes about "
             "22 batches to get within 10% of 100 (0.9^k < 0.1). The lecture writes the same rule with "
             "momentum 0.9 as the weight of the past.",
    model=19, wrong=99,
))

add(Exercise(
    id="06.4", kind="code",
    question="Complete batch_norm_train(x, gamma, beta, running_mean, running_var, momentum, eps) for (N, C, H, W) "
             "input: return the training-mode output and the updated running statistics.",
    judge=_judge_bn_train,
    hints=("Statistics per channel: reduce over dims (0, 2, 3), then view them as (1, C, 1, 1) to broadcast.",
           "Normalise the batch with the biased variance (unbiased=False) and sqrt(var + eps).",
           "The running variance averages the unbiased one: var * n / (n - 1), n = N * H * W; and in PyTorch "
           "momentum is the weight of the new batch."),
    solution=_BN_TRAIN_SOLUTION,
    model=_bn_train_model,
    wrong=_bn_train_wrong,
))

add(Exercise(
    id="06.5", kind="code",
    question="Complete batch_norm_eval(x, gamma, beta, running_mean, running_var, eps): BatchNorm2d's forward in "
             "eval mode.",
    judge=_judge_bn_eval,
    hints=("Evaluation does not look at the batch's statistics at all.",
           "Normalise with running_mean and sqrt(running_var + eps), each viewed as (1, C, 1, 1).",
           "Then scale by gamma and shift by beta; leave the running statistics untouched."),
    solution=("def batch_norm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):\n"
              "    shape = (1, -1, 1, 1)\n"
              "    y = (x - running_mean.view(shape)) / torch.sqrt(running_var.view(shape) + eps)\n"
              "    return gamma.view(shape) * y + beta.view(shape)"),
    model=lambda x, gamma, beta, rm, rv, eps=1e-5: F.batch_norm(x, rm.clone(), rv.clone(), gamma, beta,
                                                                training=False, eps=eps),
    wrong=lambda x, gamma, beta, rm, rv, eps=1e-5: F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps),
))

add(Exercise(
    id="06.6", kind="code",
    question="Complete group_norm(x, num_groups, gamma, beta, eps) for (N, C, H, W) input, without F.group_norm.",
    judge=_judge_group_norm,
    hints=("Reshape x to (N, G, C // G, H, W): each group is a block of consecutive channels.",
           "Take mean and biased variance over the last three axes, per example and group.",
           "Reshape back to (N, C, H, W), then apply gamma and beta per channel."),
    solution=_GROUP_NORM_SOLUTION,
    model=_from_solution(_GROUP_NORM_SOLUTION, "group_norm"),
    wrong=lambda x, G, gamma, beta, eps=1e-5: F.group_norm(x, x.shape[1], gamma, beta, eps),  # InstanceNorm
))

add(Exercise(
    id="06.7", kind="explain",
    question="In Conv -> BatchNorm -> ReLU, why can the convolution be built with bias=False?",
    judge=None,
    hints=("What does BatchNorm do first with every channel, in training mode?",
           "A bias adds the same constant to every value of a channel: to the values and to their mean."),
    solution=("A conv bias adds one constant b_c to every value of channel c. BatchNorm subtracts the channel's mean, "
              "which grows by the same b_c, so the bias cancels exactly (and the variance does not change): its "
              "gradient is zero and it is a wasted parameter. BatchNorm's own shift beta does its job, after the "
              "normalisation. (In eval mode the running mean has absorbed the bias the same way.)"),
))

add(Exercise(
    id="06.8", kind="explain",
    question="Why does a net with BatchNorm tolerate a learning rate ten times higher (section 6.2)?",
    judge=None,
    hints=("Multiply a layer's weights by 10: what does the BatchNorm after it output?",
           "And what happens to the gradient of the loss with respect to those weights when they grow?"),
    solution=("BatchNorm makes a layer's output invariant to the scale of the weights before it: BN(a W x) = BN(W x) "
              "for a > 0, because the mean and standard deviation scale with a. So a too-large step that blows a "
              "layer's weights up cannot compound through the next layers, as it does in the plain net, where large "
              "pre-activations make the next step larger until the loss is nan. Moreover the gradient with respect "
              "to W shrinks as 1/a when W grows, so large weights take smaller effective steps: the layer stabilises "
              "itself. (Santurkar et al. 2018 describe it as a smoother loss landscape.)"),
))
