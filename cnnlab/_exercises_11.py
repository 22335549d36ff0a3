"""The exercises of notebook 11 (regularisation): weight decay, label smoothing, early stopping and the dropout
paper's test-time scaling to predict, and three functions to write (an L2 penalty, inverted dropout, a label-smoothed
cross-entropy), checked against PyTorch (SGD's weight_decay, F.dropout, F.cross_entropy(label_smoothing=...)) on
inputs the notebook never shows."""

from __future__ import annotations

import math
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, float_judge, number_judge
from cnnlab.train import EarlyStopping

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


# ----------------------------------------------------------------------------------------------------------
# 11.1: how fast weight decay shrinks a weight
# ----------------------------------------------------------------------------------------------------------
_LR, _WD = 0.1, 5e-3
_HALF = math.ceil(math.log(0.5) / math.log(1 - _LR * _WD))  # first step at which the weight is below half

add(Exercise(
    id="11.1", kind="predict",
    question="SGD with lr=0.1 and weight_decay=5e-3; a weight whose loss gradient stays 0. After how many steps is it "
             "below half its starting value?",
    judge=number_judge(_HALF, {
        _HALF: "each step multiplies the weight by 1 - lr * weight_decay = 0.9995, and 0.9995^n < 0.5 from that n on.",
        _HALF - 1: "close: after that many steps it is still just above half; round up",
        math.ceil(math.log(0.5) / math.log(1 - _WD)): "the step is lr * weight_decay * w: the learning rate scales "
                                                       "the decay too",
        round(0.5 / (_LR * _WD)): "the decay is multiplicative (a fixed fraction of the weight per step), not a "
                                  "fixed amount",
        round(0.5 / _WD): "the decay is multiplicative, and the learning rate scales it",
        7: "weight_decay is not the factor per step; the factor is 1 - lr * weight_decay",
    }, "steps"),
    hints=("With a zero loss gradient, SGD's update is w <- w - lr * weight_decay * w.",
           "So after n steps the weight is (1 - lr * weight_decay)^n times its start.",
           "Solve (1 - 0.0005)^n < 0.5 with logarithms; round up."),
    solution=f"{_HALF}: w_n = 0.9995^n w_0 < w_0 / 2 for n > ln 2 / -ln 0.9995 = 1385.9. Weight decay is a "
             "multiplicative shrink, and lr and weight_decay act only through their product here.",
    model=_HALF, wrong=round(0.5 / (_LR * _WD)),
))


# ----------------------------------------------------------------------------------------------------------
# 11.2: the smoothed target of the true class
# ----------------------------------------------------------------------------------------------------------
def _judge_smoothed_target(answer: Any) -> Feedback:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False, f"give a number, in percent; got {answer!r}"
    if 0 < answer < 1:
        return False, "give it in percent (a probability of 0.5 is 50)"
    value = float(answer)
    if abs(value - 91) < 0.05:
        return True, "(1 - 0.1) * 1 + 0.1 / 10 = 0.91: the true class gets its share of the uniform part too."
    if abs(value - 90) < 0.05:
        return False, "the eps / K part is spread over all K classes, the true class included"
    if abs(value - 99) < 0.05:
        return False, "the one-hot part is scaled by (1 - eps) before the eps / K part is added"
    if abs(value - 1) < 0.05 or abs(value - 10) < 0.05:
        return False, "that is (part of) what the other classes get; the question asks about the true class"
    return False, f"{value:g}% is not it; write q = (1 - eps) * one_hot + eps / K for the true class"


add(Exercise(
    id="11.2", kind="predict",
    question="Label smoothing with eps = 0.1 and K = 10 classes: what target probability, in percent, does the true "
             "class get?",
    judge=_judge_smoothed_target,
    hints=("q = (1 - eps) * one_hot + eps / K.", "The eps / K part goes to every class, the true one included."),
    solution="91: (1 - 0.1) * 1 + 0.1 / 10 = 0.91; each of the 9 other classes gets 0.01. PyTorch's "
             "F.cross_entropy(label_smoothing=0.1) uses these targets.",
    model=91, wrong=90,
))

# ----------------------------------------------------------------------------------------------------------
# 11.3: when early stopping stops
# ----------------------------------------------------------------------------------------------------------
_VAL_3 = [1.9, 1.2, 0.95, 0.86, 0.84, 0.85, 0.83, 0.87, 0.88, 0.86, 0.9, 0.92, 0.95, 0.97, 1.0]


def _stop_epoch(val: list[float], patience: int) -> int:
    """The last epoch EarlyStopping lets fit run, on a recorded validation curve (cnnlab.train's own rule)."""
    stopper = EarlyStopping(patience=patience, restore_best=False)
    for n in range(1, len(val) + 1):
        if stopper.on_epoch_end(nn.Identity(), SimpleNamespace(val_loss=val[:n], epoch=list(range(1, n + 1)))):
            return n
    return len(val)


_STOP_3 = _stop_epoch(_VAL_3, 3)

add(Exercise(
    id="11.3", kind="predict",
    question=f"EarlyStopping(patience=3) watches val_loss = {_VAL_3} (epochs 1, 2, ...). At the end of which epoch "
             "does training stop?",
    judge=number_judge(_STOP_3, {
        _STOP_3: "the best epoch is 7 (0.83, below epoch 5's 0.84); epochs 8, 9, 10 bring no improvement.",
        8: "epoch 5 was a minimum, but epoch 7 beats it and starts the count again",
        7: "that is the best epoch, whose weights are restored; training runs patience epochs past it",
        _STOP_3 + 1: "one too many: it stops at the end of the patience-th epoch without improvement",
        _STOP_3 - 1: "count the epochs after the best one: patience of them run",
        len(_VAL_3): "early stopping does not run to the end here",
    }, "epochs"),
    hints=("Find the epoch with the lowest validation loss so far, and keep updating it as you go.",
           "Epoch 10's 0.86 is not below the best; only a new minimum resets the count.",
           "Training stops patience epochs after the best epoch."),
    solution=f"{_STOP_3}: the minimum is 0.83 at epoch 7 (epoch 5's 0.84 was beaten); epochs 8-10 do not improve on "
             "it, so fit stops after epoch 10 and restores epoch 7's weights.",
    model=_STOP_3, wrong=8,
))


# ----------------------------------------------------------------------------------------------------------
# 11.4: an L2 penalty that equals SGD's weight_decay
# ----------------------------------------------------------------------------------------------------------
def _small_net(g: torch.Generator, sizes: tuple[int, ...]) -> nn.Module:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers += [nn.Linear(a, b)] + ([nn.Tanh()] if i < len(sizes) - 2 else [])
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net


def _sgd_step(net: nn.Module, X: torch.Tensor, y: torch.Tensor, lr: float, wd: float, penalty=None) -> list:
    """One SGD step on cross-entropy (+ penalty(net, wd) if given, else weight_decay=wd); the new parameters."""
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=0.0 if penalty else wd)
    loss = F.cross_entropy(net(X), y)
    if penalty is not None:
        extra = penalty(net, wd)
        if extra is None:
            return None
        loss = loss + extra
    opt.zero_grad()
    loss.backward()
    opt.step()
    return [p.detach().clone() for p in net.parameters()]


def _judge_l2(fn: Any) -> Feedback:
    """`fn(net, lam)` added to the loss must make one plain SGD step equal SGD(weight_decay=lam), on random nets."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    g = torch.Generator().manual_seed(111)
    for trial in range(5):
        sizes = tuple(int(v) for v in torch.randint(2, 7, (2 + trial % 2,), generator=g)) + (3,)
        lam = float(torch.empty(1).uniform_(0.01, 0.5, generator=g))
        lr = float(torch.empty(1).uniform_(0.05, 0.5, generator=g))
        X, y = torch.randn(8, sizes[0], generator=g, dtype=torch.float64), torch.randint(0, 3, (8,), generator=g)
        net = _small_net(g, sizes)
        state = {k: v.clone() for k, v in net.state_dict().items()}
        want = _sgd_step(net, X, y, lr, lam)
        net.load_state_dict(state)
        got = _sgd_step(net, X, y, lr, lam, penalty=fn)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the penalty"
        if all(torch.allclose(a, b, atol=1e-9) for a, b in zip(got, want)):
            continue
        net.load_state_dict(state)
        base = _sgd_step(net, X, y, lr, 0.0)
        decay_got = [a - c for a, c in zip(got, base)]  # what the penalty added to the step
        decay_want = [w - c for w, c in zip(want, base)]
        ratios = [float((dg * dw).sum() / (dw * dw).sum()) for dg, dw in zip(decay_got, decay_want)]
        if all(abs(r - 2) < 1e-6 for r in ratios):
            return False, "your penalty pulls twice as hard: the gradient of lam * ||w||^2 is 2 lam w"
        if all(abs(r - 1) < 1e-6 for r in ratios[0::2]) and all(abs(r) < 1e-9 for r in ratios[1::2]):
            return False, ("the weights are right but the biases are not decayed: SGD's weight_decay decays every "
                           "parameter it is given, biases included")
        if all(abs(r) < 1e-9 for r in ratios):
            return False, "your penalty does not change the step: is it computed from the parameters, with autograd?"
        return False, ("one SGD step with your penalty differs from SGD(weight_decay=lam): is it the squared "
                       "norm (not the norm itself), summed over every parameter?")
    return True, "loss + your penalty gives exactly the step of SGD(weight_decay=lam), on 5 random nets."


add(Exercise(
    id="11.4", kind="code",
    question="Complete l2_penalty(net, lam) so that one plain SGD step on loss + l2_penalty(net, lam) equals one step "
             "of torch.optim.SGD(..., weight_decay=lam) on the loss alone.",
    judge=_judge_l2,
    hints=("SGD's weight_decay adds lam * p to the gradient of every parameter p.",
           "Which function of p has gradient lam * p? Mind the factor 1/2.",
           "Sum over net.parameters() (biases included: SGD decays whatever it is given)."),
    solution=("def l2_penalty(net, lam):\n"
              "    return lam / 2 * sum((p ** 2).sum() for p in net.parameters())"),
    model=lambda net, lam: lam / 2 * sum((p ** 2).sum() for p in net.parameters()),
    wrong=lambda net, lam: lam * sum((p ** 2).sum() for p in net.parameters()),  # forgets the 1/2
))


# ----------------------------------------------------------------------------------------------------------
# 11.5: inverted dropout
# ----------------------------------------------------------------------------------------------------------
def _judge_dropout(fn: Any) -> Feedback:
    """`fn(x, p, training)` against F.dropout's rule: zeros with probability p, survivors times 1/(1-p), identity in
    eval; checked on its statistics over large random inputs (the mask is random, so not element by element)."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    g = torch.Generator().manual_seed(115)
    for p in (0.2, 0.5, 0.7):
        x = torch.rand(50_000, generator=g, dtype=torch.float64) + 0.5  # no zeros of its own
        torch.manual_seed(int(p * 10))
        got = fn(x.clone(), p, True)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the output"
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            return False, f"return a tensor of the input's shape {tuple(x.shape)}"
        got = got.to(torch.float64)
        dropped = got == 0
        frac = float(dropped.float().mean())
        if torch.equal(got, x):
            return False, f"with p = {p} in training your function returns the input unchanged"
        if abs(frac - (1 - p)) < 0.01 and abs(p - 0.5) > 0.05:
            return False, f"with p = {p}, about {frac:.0%} of the units are zeroed: p is the probability of dropping"
        if abs(frac - p) > 0.01:
            return False, (f"with p = {p}, {frac:.0%} of the units are zeroed; each should be, independently, "
                           "with probability p")
        factor = got[~dropped] / x[~dropped]
        want = float(F.dropout(torch.ones(10, dtype=torch.float64), p, training=True).max())  # PyTorch's 1/(1-p)
        if not torch.allclose(factor, torch.full_like(factor, want)):
            if torch.allclose(factor, torch.ones_like(factor)):
                return False, "the survivors are not scaled: the expected output would shrink by (1 - p)"
            if torch.allclose(factor, torch.full_like(factor, 1 - p)):
                return False, "the survivors are multiplied by (1 - p); inverted dropout divides by it in training"
            return False, f"with p = {p} the survivors are scaled by a factor that does not keep the expectation"
        if abs(float(got.mean()) - float(x.mean())) > 0.02:
            return False, "the mean of the output differs from the input's: dropout must keep the expectation"
        if not torch.equal(fn(x.clone(), p, False).to(torch.float64), x):
            return False, "in evaluation (training=False) dropout must return the input unchanged"
    return True, "zeros with probability p, survivors scaled like F.dropout's, and the identity in evaluation."


add(Exercise(
    id="11.5", kind="code",
    question="Complete dropout(x, p, training): inverted dropout, as nn.Dropout(p) does it.",
    judge=_judge_dropout,
    hints=("In training, keep each entry with probability 1 - p: torch.rand_like(x) > p is a keep-mask.",
           "Scale the kept entries so the expected output equals the input.",
           "In evaluation, do nothing."),
    solution=("def dropout(x, p, training=True):\n"
              "    if not training or p == 0:\n"
              "        return x\n"
              "    keep = (torch.rand_like(x) > p).to(x.dtype)\n"
              "    return x * keep / (1 - p)"),
    model=lambda x, p, training: F.dropout(x, p, training=training),
    wrong=lambda x, p, training: x * (torch.rand_like(x) > p) if training else x,  # no rescaling
))


# ----------------------------------------------------------------------------------------------------------
# 11.6: label-smoothed cross-entropy against F.cross_entropy(label_smoothing=eps)
# ----------------------------------------------------------------------------------------------------------
def _judge_smoothed_ce(fn: Any) -> Feedback:
    """`fn(logits, y, eps)` against F.cross_entropy(logits, y, label_smoothing=eps) on random batches."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    g = torch.Generator().manual_seed(116)
    for trial in range(10):
        N, K = int(torch.randint(2, 20, (1,), generator=g)), int(torch.randint(2, 12, (1,), generator=g))
        eps = (0.05, 0.1, 0.2, 0.3, 0.5)[trial % 5]
        logits = 3 * torch.randn(N, K, generator=g, dtype=torch.float64)
        y = torch.randint(0, K, (N,), generator=g)
        got = fn(logits.clone(), y.clone(), eps)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the loss"
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            return False, "return the mean loss over the batch, a tensor with one number"
        got = float(got)
        want = float(F.cross_entropy(logits, y, label_smoothing=eps))
        if abs(got - want) < 1e-6:
            continue
        logp = F.log_softmax(logits, dim=1)
        onehot = F.one_hot(y, K).double()
        mistakes = {
            "the eps is spread over the K - 1 other classes; PyTorch spreads eps / K over all K, the true class "
            "included": (1 - eps) * onehot + eps / (K - 1) * (1 - onehot),
            "the one-hot part is not scaled by (1 - eps)": onehot + eps / K,
            "eps was not divided by the number of classes": (1 - eps) * onehot + eps,
        }
        for why, q in mistakes.items():
            if abs(got - float(-(q * logp).sum(1).mean())) < 1e-6:
                return False, why
        q = (1 - eps) * onehot + eps / K
        if abs(got - float(-(q * logp).sum(1).mean()) * N) < 1e-6 * N:
            return False, "that is the sum over the batch; cross_entropy averages over the examples"
        if abs(got - float(-(q * logits.softmax(1).log()).sum(1).sum() / (N * K))) < 1e-6:
            return False, "average over the examples only, not over the classes too"
        return False, (f"on {N} examples with K = {K}, eps = {eps} your loss differs from "
                       f"F.cross_entropy(label_smoothing=eps): use log_softmax of the logits and the smoothed targets")
    return True, "it equals F.cross_entropy(label_smoothing=eps) on 10 random batches you had not seen."


add(Exercise(
    id="11.6", kind="code",
    question="Complete smoothed_cross_entropy(logits, y, eps) from scratch; it must equal "
             "F.cross_entropy(logits, y, label_smoothing=eps).",
    judge=_judge_smoothed_ce,
    hints=("Build the targets q = (1 - eps) * one_hot(y, K) + eps / K.",
           "The loss of one example is -sum_k q_k log softmax(z)_k; use F.log_softmax for stability.",
           "Average over the batch."),
    solution=("def smoothed_cross_entropy(logits, y, eps):\n"
              "    K = logits.shape[1]\n"
              "    q = (1 - eps) * F.one_hot(y, K).to(logits.dtype) + eps / K\n"
              "    return -(q * F.log_softmax(logits, dim=1)).sum(dim=1).mean()"),
    model=lambda z, y, eps: F.cross_entropy(z, y, label_smoothing=eps),
    wrong=lambda z, y, eps: -(((1 - eps) * F.one_hot(y, z.shape[1]) + eps / (z.shape[1] - 1)
                               * (1 - F.one_hot(y, z.shape[1]))) * F.log_softmax(z, 1)).sum(1).mean(),
))

add(Exercise(
    id="11.7", kind="explain",
    question="Why is a vertical flip a bad augmentation for Fashion-MNIST, a horizontal flip a good one, and any flip "
             "a bad one for digits?",
    judge=None,
    hints=("An augmented image should be one that could occur in the data, with the same label.",
           "Think of a sneaker upside down, a mirrored shirt, a mirrored 3 and a 6 turned by 180 degrees."),
    solution=("Augmentation teaches invariances: the net learns that the transformed image has the same label. That "
              "is only right if such images could occur with that label. Garments are photographed upright: a "
              "mirrored shirt is still a shirt and could be in the test set, but an upside-down sneaker never is, so "
              "vertical flips spend capacity on an invariance the test never asks for. For digits even a mirror "
              "changes the meaning: a mirrored 2, 3, 4, 5 or 7 is not a digit, and a 6 turned by 180 degrees is a 9, "
              "so the flip creates examples with wrong labels."),
))


# ----------------------------------------------------------------------------------------------------------
# 11.8: the dropout paper's test-time scaling
# ----------------------------------------------------------------------------------------------------------
_KEEP, _ACT = 0.8, 5.0
_SCALED = _KEEP * _ACT  # the paper: no scaling in training, outgoing weights times the keep probability at test time


_judge_test_scaling = float_judge(_SCALED, {
    _SCALED: ("the paper scales by the keep probability at test time, so the unit passes on what it passes on on "
              "average in training (inverted dropout would pass on 5.0 unchanged)."),
    _ACT / _KEEP: "dividing by the keep probability is inverted dropout, and it happens in training, not at test",
    _ACT: "that is inverted dropout's test time; the paper's recipe did not scale in training",
    (1 - _KEEP) * _ACT: "that scales by the drop probability; the paper scales by the probability of keeping the unit",
    _ACT / (1 - _KEEP): "no division at test time here, and the drop probability is not the factor either",
}, "an activation", otherwise="that is not it: which factor makes the test-time output equal the training output's "
                              "average?")


add(Exercise(
    id="11.8", kind="predict",
    question="The dropout paper's recipe with keep probability 0.8 and no scaling in training. At test time a unit "
             "would have the activation 5.0 before dropout's correction. What does it pass on?",
    judge=_judge_test_scaling,
    hints=("In training, the unit passes on its activation with probability 0.8 and nothing otherwise.",
           "At test time it should pass on what it passed on on average in training.",
           "Multiply by the keep probability."),
    solution="4.0: 0.8 * 5.0. In training the unit passed on 5.0 with probability 0.8 and 0 otherwise, 4.0 on "
             "average; the paper multiplies its outgoing weights by the keep probability at test time so that the "
             "next layer sees that average. nn.Dropout (inverted dropout) divides by 0.8 in training instead and "
             "passes 5.0 on at test time.",
    model=_SCALED, wrong=_ACT / _KEEP,
))
