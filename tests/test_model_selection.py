"""Tests for notebook 12: ensembles, distillation, nested CV and grid vs random search.

Every claim the notebook prints on seeds 0-2 is re-checked here on fresh seeds (3-5, other seed sets and repeats),
with the notebook's functions and sizes.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from cnnlab.data import load_split
from cnnlab.distillation import Distill, distillation_experiment, distillation_loss
from cnnlab.ensembles import (
    LRS,
    Ensemble,
    ensemble_proba,
    seed_ensemble,
    snapshot_fit,
    snapshot_vs_plain,
    top_k,
    top_k_experiment,
    train_member,
)
from cnnlab.model_selection import (
    SEARCH_BOUNDS,
    compare_searches,
    digits_subset,
    grid_effects,
    grid_points,
    mnist_subset,
    nested_cv,
    random_points,
    search,
    split_indices,
    train_digits,
)
from cnnlab.models import fast_cnn
from cnnlab.train import fit, predict

SEEDS = [0, 1, 2]  # for mechanics
FRESH = [3, 4, 5]  # for the notebook's claims, which it measures on seeds 0-2


@pytest.fixture(scope="module")
def small_fashion():
    return load_split("fashion-mnist", 1000, 1000, 2000)  # the notebook's quick sizes (the loading is cached, training is short)


@pytest.fixture(scope="module")
def fresh_ensembles(small_fashion):
    """The notebook's seed ensembles (5 fast_cnn(8), 6 epochs) for seed sets 3-5 (seeds 15-29; the notebook: 0-14)."""
    return {s: seed_ensemble(list(range(5 * s, 5 * s + 5)), small_fashion, width=8, num_epochs=6, device="cpu")
            for s in FRESH}


# ----------------------------------------------------------------------------------------------------------
# Splits and bad input
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_split_indices_disjoint_and_complete(seed):
    tr, va, te = split_indices(100, 20, 30, seed)
    assert (len(tr), len(va), len(te)) == (50, 20, 30)
    assert sorted(torch.cat([tr, va, te]).tolist()) == list(range(100))


@pytest.mark.parametrize("args", [(10, 5, 5), (10, -1, 2), (10, 2.5, 1), (True, 1, 1)])
def test_split_indices_bad_input(args):
    with pytest.raises(ValueError):
        split_indices(*args)


@pytest.mark.parametrize("budget", [0, -3, 8, 2.0])
def test_grid_points_bad_budget(budget):
    with pytest.raises(ValueError, match="budget"):
        grid_points(SEARCH_BOUNDS, budget)


@pytest.mark.parametrize("budget", [0, -1])
def test_random_points_bad_budget(budget):
    with pytest.raises(ValueError, match="budget"):
        random_points(SEARCH_BOUNDS, budget)


def test_search_bad_bounds():
    with pytest.raises(ValueError, match="bounds"):
        random_points([(1.0, 0.0)], 4)


@pytest.mark.parametrize("k", [0, 5, 1.5])
def test_top_k_bad_k(k):
    with pytest.raises(ValueError, match="k must be"):
        top_k([0.1, 0.2, 0.3, 0.4], k)


@pytest.mark.parametrize("call, error, match", [
    (lambda: top_k([float("nan"), 0.1], 1), ValueError, r"scores\[0\] must be a finite number"),
    (lambda: top_k([], 1), ValueError, "scores must not be empty"),
    (lambda: top_k("00", 1), TypeError, "scores must be a list of numbers"),
    (lambda: top_k(None, 1), TypeError, "scores must be a list of numbers"),
    (lambda: split_indices(10, 2, 2, seed=-1), ValueError, "seed must be an int >= 0, got -1"),
    (lambda: split_indices(10, 2, 2, seed=None), TypeError, "seed must be an int"),
    (lambda: random_points(SEARCH_BOUNDS, 4, seed=1.5), TypeError, "seed must be an int"),
    (lambda: grid_effects([0.1] * 9, p="3"), TypeError, "p must be an int"),
    (lambda: search([[0.0, 1.0]], abs), TypeError, "points must be a torch.Tensor"),
    (lambda: search(torch.zeros(2, 2), None), TypeError, "objective must be callable"),
    (lambda: ensemble_proba(torch.zeros(2, 3, 4)), TypeError, "probas must be a list of"),
    (lambda: ensemble_proba([torch.zeros(3)]), ValueError, r"probas\[0\] must have 2 dimensions"),
    (lambda: seed_ensemble([], None), TypeError, "seeds must be a non-empty list"),
    (lambda: seed_ensemble([0], (torch.zeros(2), torch.zeros(2))), TypeError, "data must be a cnnlab.data.Split"),
    (lambda: top_k_experiment(-1, load_split("fashion-mnist", 10, 0, 10)), ValueError, "seed must be an int >= 0"),
    (lambda: train_digits(digits_subset(10), lr=float("nan")), ValueError, "lr must be a finite number > 0"),
    (lambda: train_member(mnist_subset(10), lr=float("nan")), ValueError, "lr must be a finite number > 0"),
    (lambda: train_member(mnist_subset(10), seed=-2), ValueError, "seed must be an int >= 0"),
    (lambda: mnist_subset(0), ValueError, "N must be an int >= 1"),
    (lambda: mnist_subset(10, seed=1.5), TypeError, "seed must be an int"),
    (lambda: Ensemble([]), TypeError, "members must be a non-empty list of nets"),
    (lambda: Ensemble(fast_cnn(2)), TypeError, "members must be a non-empty list of nets"),
    (lambda: Ensemble([fast_cnn(2), "net"]), TypeError, r"members\[1\] must be a torch.nn.Module"),
    (lambda: distillation_experiment(0, load_split("fashion-mnist", 10, 0, 10), "teacher"), TypeError,
     "teacher must be a torch.nn.Module"),
    (lambda: distillation_experiment(0, load_split("fashion-mnist", 10, 0, 10), fast_cnn(2), lr=0.0), ValueError,
     "lr must be a finite number > 0"),
])
def test_bad_arguments_are_refused_at_the_door(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_ensemble_proba_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        ensemble_proba([])
    with pytest.raises(ValueError, match="same"):
        ensemble_proba([torch.zeros(2, 3), torch.zeros(3, 3)])


def test_nested_cv_bad_k():
    data = digits_subset(40)
    with pytest.raises(ValueError, match="k"):
        nested_cv(data, [0.0], lambda v, d, s: None, k_outer=1)
    with pytest.raises(ValueError, match="at least one"):
        nested_cv(data, [], lambda v, d, s: None)


def test_digits_subset_bad_N():
    with pytest.raises(ValueError, match="N must be"):
        digits_subset(0)


@pytest.mark.parametrize("kw", [dict(T=0.0), dict(T=-1.0), dict(alpha=1.5), dict(alpha=-0.1)])
def test_distillation_bad_parameters(kw):
    s = torch.zeros(2, 3)
    name = next(iter(kw))
    with pytest.raises(ValueError, match=f"{name} must be"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), **kw)
    with pytest.raises(ValueError, match=f"{name} must be"):
        Distill(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3), **kw)


def test_distillation_bad_shapes():
    with pytest.raises(ValueError, match="logits"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match="teacher must be a torch.nn.Module"):
        Distill(torch.nn.Linear(3, 3), "teacher")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_distillation_loss_refuses_non_finite_logits(bad):
    """A learner calls the loss directly: NaN logits (a diverged student) are refused, not turned into a NaN loss."""
    s, y = torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    diverged = s.clone()
    diverged[0, 0] = bad
    with pytest.raises(ValueError, match="student_logits must be finite, got 1 NaN or inf values"):
        distillation_loss(diverged, s, y)
    with pytest.raises(ValueError, match="teacher_logits must be finite"):
        distillation_loss(s, torch.full((2, 3), bad), y)
    with pytest.raises(ValueError, match=r"y \(N,\)"):
        distillation_loss(s, s, torch.zeros(3, dtype=torch.long))


def test_distillation_experiment_checks_before_training():
    with pytest.raises(TypeError, match="data must be a cnnlab.data.Split"):
        distillation_experiment(0, (torch.zeros(2), torch.zeros(2)), fast_cnn(2))


def test_grid_effects_bad_input():
    with pytest.raises(ValueError, match="full grid"):
        grid_effects([0.1] * 8, p=3)


def test_snapshot_fit_bad_cycles():
    X, y = mnist_subset(20)
    with pytest.raises(ValueError, match="num_cycles"):
        snapshot_fit(fast_cnn(2), (X, y), lr=0.1, num_cycles=0, epochs_per_cycle=1)


# ----------------------------------------------------------------------------------------------------------
# Distillation loss: PyTorch is the oracle
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_distillation_loss_matches_kl_div(T, alpha, seed):
    g = torch.Generator().manual_seed(seed)
    s, t = torch.randn(16, 10, generator=g), 3 * torch.randn(16, 10, generator=g)
    y = torch.randint(0, 10, (16,), generator=g)
    kl = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    expected = alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(s, y)
    torch.testing.assert_close(distillation_loss(s, t, y, T, alpha), expected)


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_distillation_gradient_formula(T):
    """Soft term only: d loss / d z_s = T (softmax(z_s/T) - softmax(z_t/T)) / N — the reason for the T^2 factor."""
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(5, 7, generator=g, requires_grad=True), torch.randn(5, 7, generator=g)
    distillation_loss(s, t, torch.zeros(5, dtype=torch.long), T, alpha=1.0).backward()
    expected = T * ((s.detach() / T).softmax(1) - (t / T).softmax(1)) / 5
    torch.testing.assert_close(s.grad, expected)


def test_distill_uses_the_teachers_logits_of_each_batch_and_trains_the_student_only():
    """The teacher runs on the batch the student sees: the loss equals distillation_loss on teacher(x), the optimiser
    built by fit moves the student and never the teacher, and eval mode is plain cross-entropy."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(6, 5, generator=g), torch.randint(0, 4, (6,), generator=g)
    student, teacher = torch.nn.Linear(5, 4), torch.nn.Linear(5, 4)
    d = Distill(student, teacher, T=3.0, alpha=0.6).train()
    logits = d(x)
    torch.testing.assert_close(d.loss(logits, y), distillation_loss(student(x), teacher(x).detach(), y, 3.0, 0.6))
    d.eval()
    torch.testing.assert_close(d.loss(d(x), y), F.cross_entropy(student(x), y))
    X, Y = mnist_subset(64)
    student, teacher = fast_cnn(2), Ensemble([fast_cnn(4), fast_cnn(4)])
    teacher_before = [p.detach().clone() for p in teacher.parameters()]
    student_before = [p.detach().clone() for p in student.parameters()]
    d = Distill(student, teacher)
    h = fit(d, (X, Y), (X, Y), num_epochs=2, lr=0.05, loss_fn=d.loss, device="cpu", progress=False)
    assert len(h.val_loss) == 2
    assert all(torch.equal(a, b) for a, b in zip(teacher_before, teacher.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(student_before, student.parameters()))


# ----------------------------------------------------------------------------------------------------------
# Ensembles: mechanics
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_ensemble_is_the_mean_probability_of_its_members(seed):
    """Ensemble's softmax is torch's mean of the members' softmax, and ensemble_proba agrees; its logits stay finite
    where the naive log(mean probability) underflows to -inf (very confident members)."""
    torch.manual_seed(seed)
    nets = [fast_cnn(2) for _ in range(3)]
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        expected = torch.stack([net(x).softmax(1) for net in nets]).mean(0)  # (N, K)
        torch.testing.assert_close(Ensemble(nets)(x).softmax(1), expected)
        torch.testing.assert_close(ensemble_proba([net(x).softmax(1) for net in nets]), expected)
        for net in nets:
            net[-1].weight.mul_(1e4)  # logits in the tens of thousands: softmax underflows to exact zeros
        logits = Ensemble(nets)(x)
        assert torch.isfinite(logits).all() and torch.stack([n(x).softmax(1) for n in nets]).mean(0).min() == 0
        torch.testing.assert_close(logits.softmax(1), torch.stack([n(x).softmax(1) for n in nets]).mean(0))


def test_train_member_is_reproducible_and_seeded():
    X, y = mnist_subset(64)
    a, b, c = (train_member((X, y), s, width=2, num_epochs=2, device="cpu") for s in (7, 7, 8))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_mnist_subset_is_normalised_and_drawn_by_seed():
    X, y = mnist_subset(2000, seed=0)
    assert X.shape == (2000, 1, 28, 28) and X.dtype == torch.float32 and set(y.tolist()) == set(range(10))
    assert abs(X.mean().item()) < 0.05 and abs(X.std().item() - 1) < 0.05  # mean 0, std 1 (pool statistics)
    assert not torch.equal(mnist_subset(50, seed=1)[1], mnist_subset(50, seed=2)[1])
    assert torch.equal(mnist_subset(50, seed=1)[0], mnist_subset(50, seed=1)[0])


def test_predicted_probabilities_rows_sum_to_one(small_fashion):
    net = fast_cnn(2)
    p = predict(net, small_fashion.X_test[:50], **small_fashion.norm).softmax(1)
    assert p.shape == (50, 10)
    torch.testing.assert_close(p.sum(1), torch.ones(50))


def test_snapshot_fit_restarts_every_cycle():
    X, y = mnist_subset(128)
    snaps, h = snapshot_fit(fast_cnn(2), (X, y), lr=0.05, num_cycles=3, epochs_per_cycle=2, batch_size=32,
                            device="cpu")
    assert len(snaps) == 3 and h.epoch == [1, 2, 3, 4, 5, 6]
    assert h.lr[0::2] == [pytest.approx(0.05)] * 3 and all(lr < 0.05 for lr in h.lr[1::2])
    assert not torch.equal(snaps[0]["0.weight"], snaps[2]["0.weight"])


# ----------------------------------------------------------------------------------------------------------
# The notebook's claims, on 3 fresh seeds (the notebook's settings)
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("s", FRESH)
def test_claim_seed_ensemble_beats_average_member(fresh_ensembles, s):
    _, members, curve = fresh_ensembles[s]
    assert curve[-1] > sum(members) / len(members) + 0.005


@pytest.mark.parametrize("s", FRESH)
def test_claim_top_k_ensemble_beats_its_members_mean(small_fashion, s):
    r = top_k_experiment(s, small_fashion, LRS, k=3, width=8, num_epochs=6, device="cpu")
    assert r["top-3 ensemble"] > r["top-3 members, mean"]


@pytest.mark.parametrize("s", FRESH)
def test_claim_snapshot_ensemble_beats_its_snapshots(small_fashion, s):
    r = snapshot_vs_plain(s, small_fashion, lr=0.05, plain_lr=0.05, device="cpu")
    assert r["snapshot ensemble"] > r["snapshots, mean"]


@pytest.mark.parametrize("s", FRESH)
def test_claim_distilled_student_imitates_its_ensemble_teacher(small_fashion, fresh_ensembles, s):
    """The teacher is the seed ensemble of seeds 5s..5s+4, the student fast_cnn(2), as in the notebook."""
    r = distillation_experiment(s, small_fashion, Ensemble(fresh_ensembles[s][0]), num_epochs=12, lr=0.02, T=4.0,
                                alpha=0.9, device="cpu")
    assert r["distilled, agrees with teacher"] > r["labels only, agrees with teacher"]
    assert r["distilled"] > 0.6  # a working student (chance is 0.1); its gain over labels only is noise at this scale


def test_claim_nested_cv_inner_score_is_optimistic_on_average():
    def train_wd(weight_decay, train_data, seed):
        return train_member(train_data, seed, width=4, weight_decay=weight_decay, num_epochs=6, batch_size=32,
                            device="cpu")

    runs = [nested_cv(mnist_subset(400, seed=s), [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3], train_wd, k_outer=4, k_inner=2,
                      seed=s) for s in FRESH]
    assert all(len(r.chosen) == 4 for r in runs)
    assert sum(r.optimism for r in runs) / len(runs) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_grid_tries_3_values_random_9(seed):
    offset = torch.rand(1, generator=torch.Generator().manual_seed(seed)).item()
    grid, rand = grid_points(SEARCH_BOUNDS, 9, offset=offset), random_points(SEARCH_BOUNDS, 9, seed=seed)
    assert grid[:, 0].unique().numel() == 3 and rand[:, 0].unique().numel() == 9
    assert all(lo <= v <= hi for (lo, hi), col in zip(SEARCH_BOUNDS, rand.T) for v in col.tolist())


def test_random_beats_grid_on_average_when_one_hyperparameter_matters():
    """Bergstra & Bengio's argument on an objective that ignores its second input: over 300 repeats."""
    def objective(x, z):
        return (x - 0.3) ** 2

    bounds = [(0.0, 1.0), (0.0, 1.0)]
    grid_best, rand_best = [], []
    for r in range(300):
        offset = torch.rand(1, generator=torch.Generator().manual_seed(10_000 + r)).item()
        grid_best.append(min(search(grid_points(bounds, 9, offset), objective)))
        rand_best.append(min(search(random_points(bounds, 9, seed=r), objective)))
    assert sum(rand_best) < 0.75 * sum(grid_best)  # measured: 0.62


def test_claim_search_on_digits_lr_matters_weight_decay_does_not():
    """The notebook's real objective on 3 fresh repeats (12-14; the notebook's are 0-11): 3 vs 9 distinct lrs, and
    averaged over the repeats, as the notebook averages, lr moves the error on the grid more than 10x as much as weight
    decay. (Random beating the grid is a statement about many repeats: checked above on a cheap objective, and by
    nbval on the notebook's 12 real repeats.)"""
    X, y = digits_subset(1797, seed=0)
    runs = [compare_searches(r, (X[:500], y[:500]), (X[500:], y[500:]), num_epochs=3, device="cpu")
            for r in (12, 13, 14)]
    for r in runs:
        assert r[2][:, 0].unique().numel() == 3 and r[3][:, 0].unique().numel() == 9
    effects = [grid_effects(r[4]) for r in runs]
    assert sum(e[0] for e in effects) > 10 * sum(e[1] for e in effects)
