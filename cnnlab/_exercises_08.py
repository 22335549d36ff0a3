"""The exercises of notebook 08 (learning-rate schedules and optimisers): predictions of step counts, scheduler
learning rates, Adam's first step and Adagrad's shrinking steps, and three functions to write (one Adam step, a
warmup + cosine schedule, one Adagrad step), checked against torch.optim.Adam, torch.optim.Adagrad and
torch.optim.lr_scheduler on settings the notebook never shows."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim import lr_scheduler

from cnnlab.exercises import Exercise, Feedback, add, number_judge
from cnnlab.optimizers import adagrad_step, adam_step

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution

_ORDINAL = ("first", "second", "third", "fourth", "fifth")


def _close(a: float, b: float, rel: float, abs_: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def _values_judge(truth: Sequence[float], known: Sequence[tuple[Sequence[float], str]], what: str,
                  rel: float = 2e-2, abs_: float = 5e-4, why: str = "") -> Callable[[Any], Feedback]:
    """A judge for a tuple of numbers (learning rates, step sizes): right within rounding, a recognised mistake
    (`known`: wrong tuple -> what went wrong), or which entries are off — never the expected values."""

    def same(got: Sequence[float], want: Sequence[float]) -> bool:
        return all(_close(g, w, rel, abs_) for g, w in zip(got, want))

    def judge(answer: Any) -> Feedback:
        if (not isinstance(answer, (tuple, list)) or len(answer) != len(truth)
                or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in answer)):
            return False, f"write {len(truth)} numbers as a tuple ({what}), got {answer!r}"
        got = [float(a) for a in answer]
        if same(got, truth):
            return True, why
        for values, message in known:
            if same(got, values):
                return False, message
        wrong = [_ORDINAL[i] for i, (g, w) in enumerate(zip(got, truth)) if not _close(g, w, rel, abs_)]
        return False, f"the {' and '.join(wrong)} {'value is' if len(wrong) == 1 else 'values are'} not right"

    return judge


def _torch_epoch_lrs(make: Callable[[torch.optim.Optimizer], Any], lr0: float, epochs: Sequence[int]) -> list[float]:
    """The lr PyTorch's scheduler gives in each epoch of `epochs` (read before that epoch's scheduler.step())."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = make(opt)
    lrs = []
    for _ in range(max(epochs) + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return [lrs[e] for e in epochs]


# ----------------------------------------------------------------------------------------------------------
# 08.1: how many optimizer steps
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="08.1", kind="predict",
    question="How many optimizer steps does one quick-profile run take (2000 images, batch 64, 3 epochs)?",
    judge=number_judge(96, {96: "ceil(2000 / 64) = 32 batches per epoch (the last has 16 images), times 3 epochs.",
                            93: "the last, smaller batch of each epoch is a step too: round the batches up",
                            31: "that is one epoch with the last batch forgotten; the run has 3 epochs",
                            32: "that is one epoch; the run has 3",
                            6000: "a step is one mini-batch, not one image",
                            2000: "a step is one mini-batch, not one image"}, "steps"),
    hints=("One optimizer step per mini-batch.",
           "2000 is not a multiple of 64: what happens to the images left over at the end of an epoch?",
           "Batches per epoch = ceil(N / batch size), the notebook's STEPS_PER_EPOCH; then multiply by the epochs."),
    solution="96: STEPS_PER_EPOCH = ceil(2000 / 64) = 32 (31 full batches and one of 16 images), and 3 epochs "
             "make TOTAL = 3 * 32 = 96 steps. A per-step schedule (cosine, warmup) is laid out over these 96 steps.",
    model=96, wrong=93,
))

# ----------------------------------------------------------------------------------------------------------
# 08.2: StepLR at given epochs
# ----------------------------------------------------------------------------------------------------------
_STEP_EPOCHS = (29, 30, 65)
_STEP_TRUTH = _torch_epoch_lrs(lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.1), 0.1, _STEP_EPOCHS)

add(Exercise(
    id="08.2", kind="predict",
    question="StepLR(opt, step_size=30, gamma=0.1) on SGD(lr=0.1), stepped once after every epoch: the lr used in "
             "epochs 29, 30 and 65 (the first epoch is 0)?",
    judge=_values_judge(_STEP_TRUTH, [
        ((0.01, 0.01, 0.001), ("off by one epoch: the first cut comes after 30 epochs, so epochs 0 to 29 all run at "
                              "the initial lr")),
        ((0.1, 0.1, 0.01), ("off by one epoch: before epoch 30 the scheduler has stepped 30 times, so the cut has "
                           "happened")),
        ((0.1, 0.01, 0.0001), "count the cuts before epoch 65 again: one per 30 completed epochs"),
        ((0.1, 0.01, 0.01), "the lr is cut again every 30 epochs, not once"),
        ((0.1, 0.09, 0.08), "gamma multiplies the lr; it is not subtracted"),
        ((0.1, 0.09, 0.081), "gamma = 0.1 multiplies the lr by 0.1 (a cut to a tenth), not by 0.9"),
    ], "the lr in epochs 29, 30, 65", rel=1e-3, abs_=1e-9,
        why="the lr is multiplied by gamma after every 30 completed epochs: lr0 * gamma ** (epoch // 30)."),
    hints=("Epoch e runs with the lr after e calls of scheduler.step().",
           "StepLR's lr is lr0 * gamma ** (e // step_size).",
           "Work out e // 30 for each of the three epochs."),
    solution="(0.1, 0.01, 0.001): lr = 0.1 * 0.1 ** (e // 30), and 29 // 30 = 0, 30 // 30 = 1, 65 // 30 = 2.",
    model=tuple(_STEP_TRUTH), wrong=(0.01, 0.01, 0.001),
))

# ----------------------------------------------------------------------------------------------------------
# 08.3: CosineAnnealingLR, also past T_max
# ----------------------------------------------------------------------------------------------------------
_COS_EPOCHS = (25, 50, 150)
_COS_TRUTH = _torch_epoch_lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=100), 0.1, _COS_EPOCHS)


def _cos(t: float, scale: float = 0.5, plus: float = 1.0) -> float:
    return 0.1 * scale * (plus + math.cos(math.pi * t / 100))


add(Exercise(
    id="08.3", kind="predict",
    question="CosineAnnealingLR(opt, T_max=100) (eta_min 0) on SGD(lr=0.1), stepped once per epoch: the lr in "
             "epochs 25, 50 and 150?",
    judge=_values_judge(_COS_TRUTH, [
        ((_cos(25), _cos(50), 0.0), ("the first two are right; past T_max, PyTorch's CosineAnnealingLR does not "
                                    "stay at eta_min — look at the notebook's 'climbs back up' check")),
        ((0.075, 0.05, 0.0), "that is a linear decay; the cosine falls slowly at first"),
        ((0.075, 0.05, 0.05), "the first value follows a straight line; the cosine falls slowly at first"),
        ((_cos(25, 1.0), _cos(50, 1.0), _cos(150, 1.0)), "the formula has a factor 1/2: (lr0 - eta_min) / 2"),
        ((_cos(25, 1.0, 0.0), _cos(50, 1.0, 0.0), _cos(150, 1.0, 0.0)),
         "the formula is (1 + cos(pi t / T)) / 2, not cos(pi t / T): the lr never goes negative"),
    ], "the lr in epochs 25, 50, 150", rel=2e-2, abs_=5e-4,
        why="lr = lr0 / 2 * (1 + cos(pi t / 100)); past T_max the cosine keeps going and climbs back up."),
    hints=("The cosine schedule is eta_min + (lr0 - eta_min) / 2 * (1 + cos(pi t / T_max)).",
           "At t = T_max / 2 the cosine is 0.",
           "PyTorch's scheduler does not stop at T_max: the same formula continues, so the lr rises again."),
    solution="(0.0854, 0.05, 0.05): 0.05 * (1 + cos(pi/4)) = 0.0854, 0.05 * (1 + cos(pi/2)) = 0.05, and at 150 the "
             "cosine has passed its minimum at 100 and climbed back: 0.05 * (1 + cos(3 pi / 2)) = 0.05. That is why "
             "the notebook pins the lr at eta_min after T with a ConstantLR.",
    model=tuple(_COS_TRUTH), wrong=(0.075, 0.05, 0.0),
))

# ----------------------------------------------------------------------------------------------------------
# 08.4: Adam's first step
# ----------------------------------------------------------------------------------------------------------


def _torch_first_adam_step(grad: float) -> float:
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.01)
    w.grad = torch.tensor([grad], dtype=torch.float64)
    opt.step()
    return abs(w.item())


_ADAM_TRUTH = [_torch_first_adam_step(g) for g in (1000.0, 0.001)]

add(Exercise(
    id="08.4", kind="predict",
    question="Adam(lr=0.01), default betas and eps, first step: how far does a weight with gradient 1000 move, and "
             "one with gradient 0.001?",
    judge=_values_judge(_ADAM_TRUTH, [
        ((0.01 * 0.1 / math.sqrt(0.001),) * 2, ("that leaves out the bias correction: m and v start at 0, and "
                                               "Adam divides them by 1 - beta ** t")),
        ((10.0, 1e-5), "that is plain SGD's step, lr times the gradient; Adam divides by the gradient's size"),
        ((0.01 * 1000 * 0.1 / 0.001, 0.01 * 0.001 * 0.1 / 0.001), "v is divided by its square root in the step"),
    ], "two distances", rel=1e-2, abs_=1e-9,
        why="after bias correction m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps): the same size "
            "for both, whatever the gradient's scale."),
    hints=("After the first step, m = (1 - beta1) g and v = (1 - beta2) g^2.",
           "The bias correction divides them by (1 - beta1) and (1 - beta2) at t = 1.",
           "Then the step is lr * m_hat / (sqrt(v_hat) + eps); eps = 1e-8 matters only for tiny gradients."),
    solution="Both move by (almost exactly) lr = 0.01: with the bias correction m_hat = g and v_hat = g^2, so the "
             "step is lr * g / (|g| + 1e-8), which is 0.01 for g = 1000 and 0.0099999 for g = 0.001. Adam's step "
             "size is set by the lr, not by the gradient's scale. Without the bias correction it would be "
             "lr * 0.1 / sqrt(0.001) = 3.2 lr.",
    model=tuple(_ADAM_TRUTH), wrong=(0.01 * 0.1 / math.sqrt(0.001),) * 2,
))

# ----------------------------------------------------------------------------------------------------------
# 08.5: one Adam step, against torch.optim.Adam
# ----------------------------------------------------------------------------------------------------------


def _adam_variant(mistake: str) -> Callable[..., torch.Tensor]:
    """Adam with one typical mistake, to name what a learner's step does wrong."""

    def step(x, grad, state, lr, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        t = state.get("t", 0) + 1
        m = b1 * state.get("m", torch.zeros_like(x)) + (1 - b1) * grad
        v = b2 * state.get("v", torch.zeros_like(x)) + (1 - b2) * grad**2
        state.update(t=t, m=m, v=v)
        tc = t + 1 if mistake == "t_plus_one" else t
        m_hat = m if mistake == "no_correction" else m / (1 - b1**tc)
        v_hat = v if mistake in ("no_correction", "only_m") else v / (1 - b2**tc)
        if mistake == "eps_inside":
            return x - lr * m_hat / (v_hat + eps).sqrt()
        if mistake == "no_sqrt":
            return x - lr * m_hat / (v_hat + eps)
        if mistake == "plus":
            return x + lr * m_hat / (v_hat.sqrt() + eps)
        return x - lr * m_hat / (v_hat.sqrt() + eps)

    return step


_ADAM_MISTAKES = {
    "no_correction": "you leave out the bias correction: m and v start at 0, so early on they are too small; "
                     "divide them by 1 - beta1 ** t and 1 - beta2 ** t",
    "only_m": "you correct m for its bias but not v",
    "t_plus_one": "off by one: the step counter t is 1 at the first step",
    "eps_inside": "eps goes outside the square root: sqrt(v_hat) + eps",
    "no_sqrt": "divide by the square root of v_hat (plus eps), not by v_hat itself",
    "plus": "the step goes against the gradient: subtract it",
}


def _step_trials(seed: int, num_steps: int, log_lr: tuple[float, float], eps: tuple[float, float],
                 extra: Callable[[torch.Generator], dict[str, Any]] = lambda g: {}) -> list[dict[str, Any]]:
    """5 trials a step rule is judged on: a float64 x of 1-3 dimensions, `num_steps` gradients from 1e-2 to 1e2 in
    size, a learning rate 10^U(log_lr), one of two eps, and whatever `extra(generator)` draws (Adam's betas)."""
    g = torch.Generator().manual_seed(seed)
    trials = []
    for k in range(5):
        shape = tuple(int(s) for s in torch.randint(1, 6, (1 + k % 3,), generator=g))
        trial = {"x": torch.randn(shape, generator=g, dtype=torch.float64),
                 "grads": [torch.randn(shape, generator=g, dtype=torch.float64) * 10 ** (k - 2)
                           for _ in range(num_steps)],
                 "lr": float(10 ** torch.empty(1).uniform_(*log_lr, generator=g))}
        trials.append({**trial, **extra(g), "eps": eps[k % 2]})
    return trials


def _adam_trials() -> list[dict[str, Any]]:
    return _step_trials(8, 6, (-3, -1), (1e-8, 1e-3),
                        lambda g: {"betas": (float(torch.empty(1).uniform_(0.8, 0.95, generator=g)),
                                             float(torch.empty(1).uniform_(0.95, 0.9999, generator=g)))})


def _run_step_rule(fn: Callable[..., Any], trial: dict[str, Any]) -> list[Any]:
    x, state, out = trial["x"].clone(), {}, []
    for grad in trial["grads"]:
        x = fn(x.clone(), grad.clone(), state, trial["lr"], trial["betas"], trial["eps"])
        out.append(x)
        if not isinstance(x, torch.Tensor):
            break
    return out


def _torch_adam(trial: dict[str, Any]) -> list[torch.Tensor]:
    w = trial["x"].clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=trial["lr"], betas=trial["betas"], eps=trial["eps"])
    out = []
    for grad in trial["grads"]:
        w.grad = grad.clone()
        opt.step()
        out.append(w.detach().clone())
    return out


def _same_path(got: list[Any], want: list[torch.Tensor]) -> bool:
    return len(got) == len(want) and all(isinstance(a, torch.Tensor) and a.shape == b.shape
                                         and torch.allclose(a.to(b.dtype), b, rtol=1e-9, atol=1e-12)
                                         for a, b in zip(got, want))


def _judge_step_rule(fn: Any, trials: list[dict[str, Any]], run: Callable[..., list[Any]],
                     torch_run: Callable[[dict[str, Any]], list[torch.Tensor]], mistakes: dict[str, str],
                     variant: Callable[[str], Callable[..., torch.Tensor]], name: str, keep: str) -> Feedback | None:
    """The learner's step rule `fn`, run by `run` over each trial, against torch.optim's class `name` (`torch_run`);
    a result equal to one of the known `mistakes` (made by `variant`) gets its message."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for trial in trials:
        got, want = run(fn, trial), torch_run(trial)
        if got[0] is None:
            return False, "your function returns None: write its body (replace the ...) and return the new x"
        if not isinstance(got[-1], torch.Tensor):
            return False, f"return the updated x as a tensor, got {type(got[-1]).__name__}"
        if got[-1].shape != want[-1].shape:
            return False, f"x has shape {tuple(want[-1].shape)} but you return {tuple(got[-1].shape)}"
        if _same_path(got, want):
            continue
        for mistake, message in mistakes.items():
            if _same_path(got, run(variant(mistake), trial)):
                return False, message
        first = next(i for i, (a, b) in enumerate(zip(got, want))
                     if not torch.allclose(a.to(b.dtype), b, rtol=1e-9, atol=1e-12))
        where = "at the very first step" if first == 0 else f"from step {first + 1} on (the first {first} agree)"
        return False, (f"your x differs from torch.optim.{name}'s {where}: check that {keep} kept in `state` "
                       f"between calls, and each term of the update")
    return None


def _judge_adam(fn: Any) -> Feedback:
    """The learner's `fn(x, grad, state, lr, betas, eps)` over 6 steps on 5 random tensors, against torch.optim.Adam."""
    wrong = _judge_step_rule(fn, _adam_trials(), _run_step_rule, _torch_adam, _ADAM_MISTAKES, _adam_variant, "Adam",
                             "m, v and the step count are")
    return wrong or (True, "it equals torch.optim.Adam over 6 steps on 5 random tensors, learning rates, betas and eps.")


add(Exercise(
    id="08.5", kind="code",
    question="Complete adam_step(x, grad, state, lr, betas, eps): one Adam step; `state` (a dict, empty at first) "
             "keeps m, v and the step count between calls.",
    judge=_judge_adam,
    hints=("Keep three things in state: the step count t (1 at the first step), m and v (zeros at first).",
           ("m = beta1 m + (1 - beta1) g and v = beta2 v + (1 - beta2) g^2; then correct both: m / (1 - beta1 ** t), "
           "v / (1 - beta2 ** t)."),
           "The update is x - lr * m_hat / (sqrt(v_hat) + eps)."),
    solution=("def adam_step(x, grad, state, lr, betas=(0.9, 0.999), eps=1e-8):\n"
              "    beta1, beta2 = betas\n"
              "    t = state.get('t', 0) + 1\n"
              "    m = beta1 * state.get('m', torch.zeros_like(x)) + (1 - beta1) * grad\n"
              "    v = beta2 * state.get('v', torch.zeros_like(x)) + (1 - beta2) * grad**2\n"
              "    state.update(t=t, m=m, v=v)\n"
              "    m_hat = m / (1 - beta1**t)\n"
              "    v_hat = v / (1 - beta2**t)\n"
              "    return x - lr * m_hat / (v_hat.sqrt() + eps)"),
    model=adam_step,
    wrong=_adam_variant("no_correction"),
))

# ----------------------------------------------------------------------------------------------------------
# 08.6: warmup + cosine, against LinearLR + CosineAnnealingLR in a SequentialLR
# ----------------------------------------------------------------------------------------------------------


def _torch_warmup_cosine(lr0: float, warmup: int, total: int, start_factor: float) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = lr_scheduler.LinearLR(opt, start_factor=start_factor, end_factor=1.0, total_iters=warmup)
        cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup)
        sched = lr_scheduler.SequentialLR(opt, [warm, cosine], milestones=[warmup])
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    return lrs


def _warmup_cosine_variant(mistake: str) -> Callable[..., float]:
    def lr_at(t, lr0, warmup, total, start_factor):
        sf = 0.0 if mistake == "from_zero" else start_factor
        if t < warmup:
            span = warmup - 1 if mistake == "warmup_short" else warmup
            return lr0 * (sf + (1 - sf) * min(t / max(span, 1), 1.0))
        T = total if mistake == "T_total" else total - warmup
        s = t if mistake == "t_not_shifted" else t - warmup
        return lr0 / 2 * (1 + math.cos(math.pi * s / T))

    return lr_at


_WARMUP_MISTAKES = {
    "warmup_short": "off by one: the warmup reaches lr0 at step `warmup` (the first cosine step), not one step earlier",
    "from_zero": "the warmup starts at start_factor * lr0, not at 0",
    "T_total": "the cosine lasts total - warmup steps, not total: the warmup takes the first steps",
    "t_not_shifted": "the cosine starts when the warmup ends: count its steps from `warmup`, not from 0",
}


def _warmup_cases() -> list[tuple[float, int, int, float]]:
    g = torch.Generator().manual_seed(6)
    cases = []
    for _ in range(10):
        warmup = int(torch.randint(2, 15, (1,), generator=g))
        total = warmup + int(torch.randint(5, 60, (1,), generator=g))
        cases.append((float(10 ** torch.empty(1).uniform_(-3, 0, generator=g)), warmup, total,
                      float(torch.empty(1).uniform_(0.01, 0.5, generator=g))))
    return cases


def _curve(fn: Callable[..., Any], case: tuple[float, int, int, float]) -> list[Any]:
    lr0, warmup, total, sf = case
    return [fn(t, lr0, warmup, total, sf) for t in range(total)]


def _same_curve(got: list[Any], want: list[float]) -> bool:
    return all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=1e-6,
                                                                                        abs_tol=1e-12)
               for a, b in zip(got, want))


def _judge_warmup_cosine(fn: Any) -> Feedback:
    """The learner's `fn(t, lr0, warmup, total, start_factor)` at every step of 10 unseen settings, against PyTorch."""
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for case in _warmup_cases():
        lr0, warmup, total, sf = case
        got, want = _curve(fn, case), _torch_warmup_cosine(*case)
        if got[0] is None:
            return False, "your function returns None: write its body (replace the ...) and return the lr at step t"
        if any(isinstance(a, torch.Tensor) for a in got):
            got = [float(a) for a in got]
        if _same_curve(got, want):
            continue
        for mistake, message in _WARMUP_MISTAKES.items():
            if _same_curve(got, _curve(_warmup_cosine_variant(mistake), case)):
                return False, message
        t = next(i for i, (a, b) in enumerate(zip(got, want)) if not _same_curve([a], [b]))
        phase = "warmup" if t < warmup else "cosine"
        return False, (f"with lr0={lr0:.4g}, warmup={warmup}, total={total}, start_factor={sf:.3g}, your lr at step "
                       f"{t} (in the {phase}) is {got[t]!r}; PyTorch's LinearLR + CosineAnnealingLR give "
                       f"{want[t]:.6g}")
    return True, "it equals PyTorch's LinearLR + CosineAnnealingLR (in a SequentialLR) at every step of 10 settings."


add(Exercise(
    id="08.6", kind="code",
    question="Complete warmup_cosine(t, lr0, warmup, total, start_factor): the lr at step t of a linear warmup "
             "followed by a cosine decay to 0, equal to torch's SequentialLR of LinearLR and CosineAnnealingLR.",
    judge=_judge_warmup_cosine,
    hints=("Two phases: t < warmup is the linear ramp, from step `warmup` on the cosine.",
           "LinearLR: lr0 * (start_factor + (1 - start_factor) * t / warmup), so at t = warmup it would reach lr0.",
           "The cosine runs over T = total - warmup steps, with s = t - warmup: lr0 / 2 * (1 + cos(pi * s / T))."),
    solution=("def warmup_cosine(t, lr0, warmup, total, start_factor=0.01):\n"
              "    if t < warmup:\n"
              "        return lr0 * (start_factor + (1 - start_factor) * t / warmup)\n"
              "    T = total - warmup\n"
              "    return lr0 / 2 * (1 + math.cos(math.pi * (t - warmup) / T))"),
    model=_warmup_cosine_variant("none"),
    wrong=_warmup_cosine_variant("T_total"),
))

# ----------------------------------------------------------------------------------------------------------
# 08.7: explain
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="08.7", kind="explain",
    question="Why does the saddle run of section 4 start at y = 1e-3 and not y = 0? What would gradient descent see "
             "from y = 0?",
    judge=None,
    hints=("Look at the gradient's y component on the line y = 0.",
           "A saddle is a minimum along one direction and a maximum along another."),
    solution=("On the line y = 0 the surface's gradient has no y component (the saddle is symmetric in y), so every "
              "optimiser that follows the gradient stays on that line for ever: it slides to the saddle point and "
              "stops there, where the gradient is 0, never discovering the descent along y. Starting at y = 1e-3 "
              "breaks the symmetry, like the noise of real mini-batch gradients: the tiny y component grows, and "
              "momentum and the adaptive methods (which rescale the small y gradient up) escape fast while plain "
              "SGD lingers. In high dimensions exact symmetry is rare, but near-flat saddles are common, which is "
              "why escaping them quickly matters."),
))

# ----------------------------------------------------------------------------------------------------------
# 08.8: Adagrad's steps under a constant gradient
# ----------------------------------------------------------------------------------------------------------


def _torch_adagrad_steps(grad: float, steps: Sequence[int]) -> list[float]:
    """How far torch.optim.Adagrad(lr=0.1) moves a weight at each step in `steps` (from 1), the gradient constant."""
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([w], lr=0.1)
    moved = []
    for _ in range(max(steps)):
        before = w.item()
        w.grad = torch.tensor([grad], dtype=torch.float64)
        opt.step()
        moved.append(abs(w.item() - before))
    return [moved[t - 1] for t in steps]


_ADAGRAD_STEPS = (1, 4, 100)
_ADAGRAD_TRUTH = _torch_adagrad_steps(3.0, _ADAGRAD_STEPS)

add(Exercise(
    id="08.8", kind="predict",
    question="Adagrad(lr=0.1) on a weight whose gradient is 3 at every step: how far does the weight move in step 1, "
             "in step 4 and in step 100?",
    judge=_values_judge(_ADAGRAD_TRUTH, [
        ((0.1, 0.1, 0.1), ("that is a step of constant size, as RMSprop or Adam would take under a constant gradient; "
                           "Adagrad sums the squared gradients, it does not average them")),
        ((0.1, 0.025, 0.001), "G grows like t, but the step divides by the square root of G"),
        ((0.3, 0.15, 0.03), "the gradient's size cancels: it appears on top and, through sqrt(G), below"),
        ((0.3, 0.075, 0.003), "the gradient's size cancels, and the step divides by the square root of G"),
    ], "three distances", rel=1e-2, abs_=1e-6,
        why="after t steps G = t g^2, so step t moves lr * g / sqrt(t g^2) = lr / sqrt(t): the step shrinks for "
            "ever, whatever the gradient's size."),
    hints=("Adagrad adds g^2 to G at every step and moves lr * g / sqrt(G).",
           "With the same g every time, what is G after t steps?",
           "G = t g^2, so the t-th step is lr * g / sqrt(t g^2)."),
    solution="(0.1, 0.05, 0.01): G = t * 9 after t steps, so step t moves 0.1 * 3 / sqrt(9 t) = 0.1 / sqrt(t): "
             "0.1 / 1, 0.1 / 2 and 0.1 / 10. The gradient's size cancels, and the step shrinks as 1 / sqrt(t) "
             "for ever: that is why RMSprop replaced the sum by a moving average.",
    model=tuple(_ADAGRAD_TRUTH), wrong=(0.1, 0.025, 0.001),
))

# ----------------------------------------------------------------------------------------------------------
# 08.9: one Adagrad step, against torch.optim.Adagrad
# ----------------------------------------------------------------------------------------------------------


def _adagrad_variant(mistake: str) -> Callable[..., torch.Tensor]:
    """Adagrad with one typical mistake, to name what a learner's step does wrong."""

    def step(x, grad, state, lr, eps=1e-10):
        G_old = state.get("G", torch.zeros_like(x))
        t = state.get("t", 0) + 1
        G = G_old + grad**2
        state.update(G=G, t=t)
        if mistake == "mean":
            return x - lr * grad / ((G / t).sqrt() + eps)
        if mistake == "old_G":
            return x - lr * grad / (G_old.sqrt() + eps)
        if mistake == "eps_inside":
            return x - lr * grad / (G + eps).sqrt()
        if mistake == "no_sqrt":
            return x - lr * grad / (G + eps)
        if mistake == "plus":
            return x + lr * grad / (G.sqrt() + eps)
        return x - lr * grad / (G.sqrt() + eps)

    return step


_ADAGRAD_MISTAKES = {
    "mean": "you divide by the root of the *mean* squared gradient, so the step never shrinks; Adagrad divides by "
            "the root of the *sum*, which only grows",
    "old_G": "add this step's squared gradient to G before you divide by it",
    "eps_inside": "eps goes outside the square root: sqrt(G) + eps",
    "no_sqrt": "divide by the square root of G (plus eps), not by G itself",
    "plus": "the step goes against the gradient: subtract it",
}


def _adagrad_trials() -> list[dict[str, Any]]:
    return _step_trials(9, 8, (-3, 0), (1e-10, 1e-3))


def _run_adagrad(fn: Callable[..., Any], trial: dict[str, Any]) -> list[Any]:
    x, state, out = trial["x"].clone(), {}, []
    for grad in trial["grads"]:
        x = fn(x.clone(), grad.clone(), state, trial["lr"], eps=trial["eps"])
        out.append(x)
        if not isinstance(x, torch.Tensor):
            break
    return out


def _torch_adagrad(trial: dict[str, Any]) -> list[torch.Tensor]:
    w = trial["x"].clone().requires_grad_(True)
    opt = torch.optim.Adagrad([w], lr=trial["lr"], eps=trial["eps"])
    out = []
    for grad in trial["grads"]:
        w.grad = grad.clone()
        opt.step()
        out.append(w.detach().clone())
    return out


def _judge_adagrad(fn: Any) -> Feedback:
    """The learner's `fn(x, grad, state, lr, eps)` over 8 steps on 5 random tensors, against torch.optim.Adagrad."""
    wrong = _judge_step_rule(fn, _adagrad_trials(), _run_adagrad, _torch_adagrad, _ADAGRAD_MISTAKES, _adagrad_variant,
                             "Adagrad", "G is")
    return wrong or (True, "it equals torch.optim.Adagrad over 8 steps on 5 random tensors, learning rates and eps.")


add(Exercise(
    id="08.9", kind="code",
    question="Complete adagrad_step(x, grad, state, lr, eps): one Adagrad step; `state` (a dict, empty at first) "
             "keeps the sum of squared gradients G between calls.",
    judge=_judge_adagrad,
    hints=("Keep one thing in state: G, the sum of all squared gradients so far (zeros at first).",
           "Add this step's grad**2 to G first, then use the new G.",
           "The update is x - lr * grad / (sqrt(G) + eps)."),
    solution=("def adagrad_step(x, grad, state, lr, eps=1e-10):\n"
              "    G = state.get('G', torch.zeros_like(x)) + grad**2\n"
              "    state['G'] = G\n"
              "    return x - lr * grad / (G.sqrt() + eps)"),
    model=adagrad_step,
    wrong=_adagrad_variant("mean"),
))
