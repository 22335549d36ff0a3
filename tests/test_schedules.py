"""Schedules: formulas equal PyTorch's schedulers at every step; bad arguments fail clearly; the notebook's claims."""

import math

import pytest
import torch

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.schedules import (
    cosine,
    exponential,
    linear_warmup,
    one_cycle,
    sqrt_decay,
    step_decay,
    time_based,
    fast_cnn,
    ladder_sweep,
    lr_curve,
    lr_range_test,
    schedule,
    suggest_lr,
    torch_lr_curve,
    torch_scheduler,
    train_run,
)

CASES = [
    ("constant", {}),
    ("time_based", {"k": 0.5}),
    ("time_based", {"k": 0.0}),
    ("sqrt", {}),
    ("exponential", {"k": 0.1}),
    ("step", {"drop": 0.5, "every": 3}),
    ("step", {"drop": 0.9, "every": 1}),
    ("cosine", {"T": 10}),
    ("cosine", {"T": 7, "lr_T": 0.01}),
    ("cosine", {"T": 1}),
    ("one_cycle", {"total_steps": 20}),
    ("one_cycle", {"total_steps": 37, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
]


# one_cycle has its own warmup, so it is tested without an extra one
GRID = [(kind, params, w) for kind, params in CASES for w in (0, 1, 4) if kind != "one_cycle" or w == 0]


@pytest.mark.parametrize("kind,params,warmup_steps", GRID)
def test_formula_equals_torch_at_every_step(kind, params, warmup_steps):
    num_steps = params.get("total_steps", 30)
    extra = {"warmup_steps": warmup_steps, "start_factor": 0.05} if warmup_steps else {}
    ours = lr_curve(kind, 0.1, num_steps, **params, **extra)
    theirs = torch_lr_curve(kind, 0.1, num_steps, **params, **extra)
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(theirs, dtype=torch.float64))


def test_cosine_is_pinned_after_T_unlike_plain_cosine_annealing():
    lrs = lr_curve("cosine", 1.0, 20, T=5, lr_T=0.1)
    assert lrs[5:] == [0.1] * 15
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    plain = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.1)
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        plain.step()
    assert max(seen[6:]) > 0.1  # PyTorch's plain class climbs back up: why we pin it


@pytest.mark.parametrize("lr0", [0.1, 2.0])
def test_constant_time_based_and_sqrt_follow_the_lecture_at_every_step(lr0):
    """Their PyTorch twins are LambdaLRs of the same lambdas, so the lecture deck's formulas are the oracle here:
    time-based lr0 / (1 + k t), square-root lr0 / sqrt(t + 1), t = 0, 1, 2, ... (deck 000, "Learning Rate
    Scheduling"); with a warmup the schedule starts at step `warmup_steps`."""
    t = torch.arange(30, dtype=torch.float64)
    expected = {
        ("constant", ()): torch.full((30,), lr0, dtype=torch.float64),
        ("time_based", (("k", 0.5),)): lr0 / (1 + 0.5 * t),
        ("time_based", (("k", 0.0),)): torch.full((30,), lr0, dtype=torch.float64),
        ("sqrt", ()): lr0 / torch.sqrt(t + 1),
    }
    for (kind, params), lrs in expected.items():
        for curve in (lr_curve, torch_lr_curve):
            got = torch.tensor(curve(kind, lr0, 30, **dict(params)), dtype=torch.float64)
            torch.testing.assert_close(got, lrs, msg=f"{curve.__name__} {kind} {params}")
        warm = torch.tensor(lr_curve(kind, lr0, 30, warmup_steps=4, start_factor=0.2, **dict(params)))
        torch.testing.assert_close(warm[4:].double(), lrs[:26], msg=f"{kind} after warmup")
        torch.testing.assert_close(warm[:4].double(), lr0 * torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64))
    # by hand, lr0 = 1 and k = 1: 1, 1/2, 1/3, 1/4; and 1, 1/sqrt(2), 1/sqrt(3), 1/2
    assert lr_curve("time_based", 1.0, 4, k=1.0) == pytest.approx([1.0, 1 / 2, 1 / 3, 1 / 4])
    assert lr_curve("sqrt", 1.0, 4) == pytest.approx([1.0, 2**-0.5, 3**-0.5, 0.5])


def test_lecture_formulas():
    assert math.isclose(schedule("time_based", 1.0, k=0.1)(10), 0.5)
    assert math.isclose(schedule("exponential", 2.0, k=1.0)(1), 2 / math.e)
    assert cosine(0, 1.0, 10) == 1.0 and math.isclose(cosine(5, 1.0, 10), 0.5)
    warm = schedule("step", 1.0, drop=0.5, every=2, warmup_steps=4, start_factor=0.25)
    assert [warm(t) for t in range(7)] == [0.25, 0.4375, 0.625, 0.8125, 1.0, 1.0, 0.5]


@pytest.mark.parametrize(
    "kind,lr0,kwargs,match",
    [
        ("cosine", -0.1, {"T": 5}, "lr0"),
        ("cosine", 0.0, {"T": 5}, "lr0"),
        ("cosine", 0.1, {"T": 0}, "T"),
        ("cosine", 0.1, {"T": -3}, "T"),
        ("cosine", 0.1, {}, "T"),
        ("cosine", 0.1, {"T": 5, "lr_T": 1.0}, "lr_T"),
        ("exponential", 0.1, {"k": -1.0}, "k"),
        ("step", 0.1, {"drop": 1.5}, "drop"),
        ("step", 0.1, {"every": 0}, "every"),
        ("sqrt", 0.1, {"warmup_steps": 10, "total_steps": 10}, "warmup"),
        ("sqrt", 0.1, {"warmup_steps": 20, "total_steps": 10}, "shorter than training"),
        ("sqrt", 0.1, {"warmup_steps": -1}, "warmup_steps"),
        ("sqrt", 0.1, {"k": 1.0}, "unknown"),
        ("linear", 0.1, {}, "kind must be one of 'constant'"),
        ("one_cycle", 0.1, {}, "total_steps"),
        ("one_cycle", 0.1, {"total_steps": 10, "warmup_steps": 2}, "own warmup"),
        ("constant", float("nan"), {}, "lr0"),
    ],
)
def test_bad_arguments_raise_clear_errors(kind, lr0, kwargs, match):
    with pytest.raises(ValueError, match=match):
        schedule(kind, lr0, **kwargs)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=match):
        torch_scheduler(opt, kind, lr0, **kwargs)


@pytest.fixture(scope="module")
def fmnist():
    X, y = load_fashion_mnist("train", subset=1000)
    Xv, yv = load_fashion_mnist("test", subset=500)
    return (X, y), (Xv, yv)


def _acc(data, **kw):
    (train, val) = data
    norm = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, num_epochs=2)
    return [train_run(train, val, seed=s, **norm, **kw).val_acc[-1] for s in range(3)]


def test_claim_good_lr_beats_too_small_and_too_large_over_3_seeds(fmnist):
    small, good, large = (_acc(fmnist, lr=lr) for lr in (1e-3, 3e-2, 1.0))
    assert all(g > s + 0.1 and g > b + 0.1 for s, g, b in zip(small, good, large))


def test_claim_adaptive_optimizers_win_at_lr_1e3_over_3_seeds(fmnist):
    sgd = _acc(fmnist, optimizer="SGD", lr=1e-3, momentum=0.0)
    adam = _acc(fmnist, optimizer="Adam", lr=1e-3)
    rms = _acc(fmnist, optimizer="RMSprop", lr=1e-3)
    assert all(a > s + 0.1 and r > s + 0.1 for s, a, r in zip(sgd, adam, rms))


def test_claim_warmup_prevents_early_divergence_over_3_seeds(fmnist):
    (train, val), steps = fmnist, math.ceil(1000 / 64)  # 16 batches per epoch, 2 epochs
    common = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, num_epochs=2)
    common |= dict(optimizer="Adam", lr=0.1, schedule_kind="cosine")
    for s in range(3):
        cold = train_run(train, val, seed=s, T=2 * steps, **common)
        warm = train_run(train, val, seed=s, T=steps, warmup_steps=steps, start_factor=0.01, **common)
        assert cold.train_loss[0] > math.log(10) > warm.train_loss[0]
        assert warm.val_acc[-1] > cold.val_acc[-1] + 0.2


def test_claim_lr_is_the_first_ladder_over_3_seeds(fmnist):
    train, val = fmnist
    for s in range(3):
        sweep = ladder_sweep(train, val, seed=s, num_epochs=2, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)
        spread = {name: max(accs) - min(accs) for name, accs in sweep.items()}
        assert spread["lr"] > max(spread["width"], spread["batch_size"], spread["momentum"])
    with pytest.raises(ValueError, match="sweep only"):
        ladder_sweep(train, val, seed=0, grid={"depth": [1, 2]})


def test_claim_warmup_cosine_ties_step_decay_on_a_short_budget_over_3_seeds(fmnist):
    steps = math.ceil(1000 / 64)
    warm = steps // 2
    cos = _acc(fmnist, lr=0.05, schedule_kind="cosine", T=2 * steps - warm, warmup_steps=warm, start_factor=0.01)
    step = _acc(fmnist, lr=0.05, schedule_kind="step", step_scheduler="epoch", drop=0.9, every=1)
    assert abs(sum(cos) / 3 - sum(step) / 3) < 0.03


@pytest.mark.parametrize(
    "formula, kwargs, error, match",
    [
        (cosine, dict(t=0.0, lr0=0.1, T=5), TypeError, "t must be an int"),
        (cosine, dict(t=-1, lr0=0.1, T=5), ValueError, "t must be an int >= 0"),
        (cosine, dict(t=1, lr0=float("nan"), T=5), ValueError, "lr0 must be a finite number > 0"),
        (cosine, dict(t=1, lr0=0.1, T=0), ValueError, "T must be a positive int"),
        (cosine, dict(t=1, lr0=0.1, T=5, lr_T=0.2), ValueError, "lr_T must be a finite number >= 0 and <= 0.1"),
        (step_decay, dict(t=1, lr0=0.1, drop=0.5, every=0), ValueError, "every must be a positive int"),
        (step_decay, dict(t=1, lr0=0.1, drop=0.5, every=2.0), TypeError, "every must be an int"),
        (step_decay, dict(t=1, lr0=0.1, drop=None, every=2), TypeError, "drop must be a number"),
        (time_based, dict(t=1, lr0=0.1, k=-1.0), ValueError, "k must be"),
        (exponential, dict(t=1, lr0="0.1", k=1.0), TypeError, "lr0 must be a number"),
        (sqrt_decay, dict(t=True, lr0=0.1), TypeError, "t must be an int"),
        (linear_warmup, dict(t=1, schedule=0.1, warmup_steps=2), TypeError, "schedule must be callable"),
        (linear_warmup, dict(t=1, schedule=abs, warmup_steps=2, start_factor=0.0), ValueError, "start_factor"),
        (one_cycle, dict(t=1, max_lr=0.1, total_steps=10, pct_start=0.05), ValueError, "pct_start"),
        (one_cycle, dict(t=1, max_lr=0.1, total_steps=1), ValueError, "total_steps must be an int >= 2"),
    ],
)
def test_the_formulas_check_their_arguments(formula, kwargs, error, match):
    with pytest.raises(error, match=match):
        formula(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(smooth=1.0), ValueError, r"smooth must be a finite number >= 0 and < 1, got 1.0"),
        (dict(smooth=float("nan")), ValueError, "smooth must be"),
        (dict(smooth=None), TypeError, "smooth must be a number"),
        (dict(losses=[1.0, float("nan")]), ValueError, r"losses\[1\] must be a finite number"),
        (dict(lrs=[0.1, -0.1]), ValueError, r"lrs\[1\] must be a finite number > 0"),
        (dict(lrs=None), TypeError, "lrs must be a list of numbers, got NoneType"),
        (dict(losses="12"), TypeError, "losses must be a list of numbers"),
        (dict(lrs=[0.1]), ValueError, "matching lrs and losses"),
    ],
)
def test_suggest_lr_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        suggest_lr(**{"lrs": [0.01, 0.1], "losses": [2.0, 1.0], **kwargs})


def test_lr_range_test_finds_a_sensible_lr(fmnist):
    (X, y), _ = fmnist
    for seed in range(3):  # the notebook's claim: the pick lies between the too-small (1e-3) and too-large (1.0) lr
        torch.manual_seed(seed)
        lrs, losses = lr_range_test(
            fast_cnn(), (X, y), num_steps=100, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, seed=seed
        )
        assert len(lrs) == len(losses) <= 100 and lrs == sorted(lrs)
        assert 1e-3 < suggest_lr(lrs, losses) < 1.0
        if seed == 0:  # and training at the pick beats the too-small lr, over 3 seeds
            assert all(p > s for p, s in zip(_acc(fmnist, lr=suggest_lr(lrs, losses)), _acc(fmnist, lr=1e-3)))
    with pytest.raises(ValueError, match="lr_max"):
        lr_range_test(fast_cnn(), (X, y), lr_min=1.0, lr_max=0.1)
