"""Model selection: train/validation/test roles, nested cross-validation, grid vs random search.

Notebook 12's nested CV trains a tiny CNN (`cnnlab.ensembles.train_member`) on a few hundred MNIST digits
(`mnist_subset`): 48 runs per seed. Grid vs random search is a statement about many repeats (216 runs), so its
objective is cheaper still: a small MLP on scikit-learn's 8x8 digits (`digits_subset`, `train_digits`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from cnnlab.data import load_digits, load_split
from cnnlab.models import mlp
from cnnlab.regularization import kfold_indices
from cnnlab.runtime import set_seed
from cnnlab.train import evaluate, fit
from cnnlab.validation import check_callable, check_float, check_int, check_tensor

__all__ = [
    "split_indices",
    "mnist_subset",
    "digits_subset",
    "nested_cv",
    "grid_effects",
    "compare_searches",
]

Data = tuple[torch.Tensor, torch.Tensor]


# ----------------------------------------------------------------------------------------------------------
# Three roles for three disjoint sets
# ----------------------------------------------------------------------------------------------------------
def split_indices(N: int, n_val: int, n_test: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle 0..N-1 once and cut it into (train, val, test) index tensors of sizes N - n_val - n_test, n_val, n_test.

    >>> tr, va, te = split_indices(10, 2, 3)
    >>> len(tr), len(va), len(te), sorted(torch.cat([tr, va, te]).tolist()) == list(range(10))
    (5, 2, 3, True)
    """
    for name, v in (("N", N), ("n_val", n_val), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    check_int("seed", seed, ge=0)
    if N - n_val - n_test < 1:
        raise ValueError(f"nothing left to train on: N={N} but n_val + n_test = {n_val + n_test}")
    order = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    n_train = N - n_val - n_test
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


# ----------------------------------------------------------------------------------------------------------
# The cheap real objective: a tiny CNN on a few hundred MNIST digits
# ----------------------------------------------------------------------------------------------------------
POOL = 5000  # mnist_subset draws from MNIST's first 5,000 training images


@lru_cache(maxsize=1)
def _mnist_pool() -> Data:
    split = load_split("mnist", POOL, 0, 0)
    return split.normalized(split.X_train), split.y_train  # (POOL, 1, 28, 28) float, mean 0 and std 1; (POOL,)


def mnist_subset(N: int, seed: int = 0) -> Data:
    """N MNIST digits drawn at random (without replacement, by `seed`) from the first 5,000 training images,
    normalised (mean 0, std 1, so no `mean`/`std` is needed to train on them): X (N, 1, 28, 28) float, y (N,)."""
    check_int("N", N, ge=1, le=POOL)
    check_int("seed", seed, ge=0)
    X, y = _mnist_pool()
    idx = torch.randperm(POOL, generator=torch.Generator().manual_seed(seed))[:N]
    return X[idx], y[idx]


def _error_rate(net: nn.Module, data: Data) -> float:
    """Fraction of misclassified examples of `data = (X, y)`: one minus `cnnlab.train.evaluate`'s accuracy.

    >>> net = nn.Sequential(nn.Flatten(), nn.Identity())
    >>> _error_rate(net, (torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]]), torch.tensor([1, 1])))
    0.5
    """
    device = next(iter(net.parameters()), torch.empty(0)).device  # a net with no parameters runs where its data is
    return 1.0 - evaluate(net, [data], device=device)[1]


# ----------------------------------------------------------------------------------------------------------
# The cheapest real objective, for the search demo: a small MLP on the 8x8 digits
# ----------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _digits() -> Data:
    return load_digits()


def digits_subset(N: int, seed: int = 0) -> Data:
    """N digits drawn at random (without replacement, by `seed`) from scikit-learn's 1,797: X (N, 1, 8, 8), y (N,)."""
    X, y = _digits()
    check_int("N", N, ge=1, le=len(X))
    check_int("seed", seed, ge=0)
    idx = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))[:N]
    return X[idx], y[idx]


def train_digits(
    train_data: Data, *, lr: float = 0.1, weight_decay: float = 0.0, hidden: int = 32, num_epochs: int = 8,
    batch_size: int = 32, seed: int = 0, device: torch.device | str | None = "cpu",
) -> nn.Module:
    """Train a 64-hidden-10 `mlp` with SGD (momentum 0.9) through `cnnlab.train.fit`; returns the trained net."""
    check_float("lr", lr, gt=0)
    check_float("weight_decay", weight_decay, ge=0)
    set_seed(seed)
    net = mlp((hidden,), in_features=64)  # (N, 1, 8, 8) -> (N, 10)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    fit(net, train_data, None, num_epochs=num_epochs, optimizer=optimizer, batch_size=batch_size, device=device,
        seed=seed, progress=False)
    return net


def _digits_error(lr: float, weight_decay: float, train_data: Data, val_data: Data, seed: int = 0, **kw) -> float:
    """Validation error of the digits MLP trained with `lr` and `weight_decay`: the objective of the search demo."""
    return _error_rate(train_digits(train_data, lr=lr, weight_decay=weight_decay, seed=seed, **kw), val_data)


# ----------------------------------------------------------------------------------------------------------
# Nested cross-validation
# ----------------------------------------------------------------------------------------------------------
@dataclass
class NestedCV:
    """Per outer fold: the value chosen by the inner CV, its (best) inner-CV error, and its error on the outer fold."""

    chosen: list
    inner_error: list[float]
    outer_error: list[float]

    @property
    def optimism(self) -> float:
        """Mean outer error minus mean best inner error: how much the selection flattered itself."""
        return sum(self.outer_error) / len(self.outer_error) - sum(self.inner_error) / len(self.inner_error)


def nested_cv(
    data: Data,
    values: Sequence,
    train: Callable[[object, Data, int], nn.Module],
    k_outer: int = 5,
    k_inner: int = 3,
    seed: int = 0,
) -> NestedCV:
    """Nested K-fold CV. For each outer fold, an inner `k_inner`-fold CV on the rest picks the value with the lowest
    mean validation error; the outer fold (never seen by the selection) then scores the inner nets of that value.

    `train(value, train_data, seed)` returns a trained net. Scoring the same inner nets (rather than a net refitted on
    all the outer training data) compares like with like: both numbers come from nets trained on the same amount of
    data, so their difference is the optimism of choosing by the inner score alone.
    """
    if len(values) < 1:
        raise ValueError("need at least one hyperparameter value to choose from")
    check_callable("train", train, optional=False)
    check_int("seed", seed, ge=0)
    X, y = data
    result = NestedCV([], [], [])
    for o, (outer_train, outer_test) in enumerate(kfold_indices(len(X), k_outer, seed)):
        X_learn, y_learn = X[outer_train], y[outer_train]
        inner = kfold_indices(len(X_learn), k_inner, seed + 1 + o)
        scores, nets = [], []
        for h, value in enumerate(values):  # every run its own seed, as in real life
            fold_nets = [train(value, (X_learn[tr], y_learn[tr]), 1000 * seed + 100 * o + 10 * h + i)
                         for i, (tr, _) in enumerate(inner)]
            errors = [_error_rate(net, (X_learn[va], y_learn[va])) for net, (_, va) in zip(fold_nets, inner)]
            scores.append(sum(errors) / k_inner)
            nets.append(fold_nets)
        best = min(range(len(values)), key=scores.__getitem__)
        test = (X[outer_test], y[outer_test])
        result.chosen.append(values[best])
        result.inner_error.append(scores[best])
        result.outer_error.append(sum(_error_rate(net, test) for net in nets[best]) / k_inner)
    return result


# ----------------------------------------------------------------------------------------------------------
# Grid vs random search (Bergstra & Bengio, 2012)
# ----------------------------------------------------------------------------------------------------------
def _check_search(bounds: Sequence[tuple[float, float]], budget: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive int (number of trials), got {budget!r}")
    if len(bounds) < 1 or any(len(b) != 2 or not b[0] < b[1] for b in bounds):
        raise ValueError(f"bounds must be a list of (low, high) pairs with low < high, got {bounds!r}")


def grid_points(bounds: Sequence[tuple[float, float]], budget: int, offset: float = 0.5) -> torch.Tensor:
    """A full grid of `budget` trials, budget = p^q for q = len(bounds): p evenly spaced values per axis, each at
    position (i + offset) / p of its range (offset 0.5: the cell centres). Returns (budget, q).

    >>> grid_points([(0.0, 3.0), (10.0, 13.0)], 9)[:, 0].unique().tolist()
    [0.5, 1.5, 2.5]
    """
    _check_search(bounds, budget)
    q = len(bounds)
    p = round(budget ** (1 / q))
    if p**q != budget:
        raise ValueError(f"a grid over {q} hyperparameters needs budget = p^{q} (e.g. {2**q}, {3**q}), got {budget}")
    if not 0.0 <= offset < 1.0:
        raise ValueError(f"offset must be in [0, 1), got {offset!r}")
    axes = [lo + (hi - lo) * (torch.arange(p, dtype=torch.float64) + offset) / p for lo, hi in bounds]
    return torch.cartesian_prod(*axes).reshape(budget, q)


def random_points(bounds: Sequence[tuple[float, float]], budget: int, seed: int = 0) -> torch.Tensor:
    """`budget` trials drawn uniformly and independently in the box `bounds`. Returns (budget, q).

    >>> random_points([(0.0, 1.0), (5.0, 6.0)], 9, seed=0)[:, 0].unique().numel()
    9
    """
    _check_search(bounds, budget)
    check_int("seed", seed, ge=0)
    u = torch.rand(budget, len(bounds), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lo = torch.tensor([b[0] for b in bounds], dtype=torch.float64)
    hi = torch.tensor([b[1] for b in bounds], dtype=torch.float64)
    return lo + (hi - lo) * u


def search(points: torch.Tensor, objective: Callable[..., float]) -> list[float]:
    """Evaluate `objective(*point)` at every row of `points`; returns the list of scores (lower is better)."""
    check_tensor("points", points, ndim=2, dtype="float")
    check_callable("objective", objective, optional=False)
    return [float(objective(*row.tolist())) for row in points]


def grid_effects(errors: Sequence[float], p: int = 3) -> tuple[float, float]:
    """How much each of two hyperparameters moves the score on a p x p grid (rows: first value fixed, as
    `grid_points` orders them): (range of the row means, mean range within a row).

    >>> grid_effects([0.9, 0.9, 0.9, 0.1, 0.1, 0.2, 0.5, 0.5, 0.5])
    (0.7666666667, 0.0333333333)
    """
    check_int("p", p, ge=1)
    if len(errors) != p * p:
        raise ValueError(f"need p * p = {p * p} errors from a full grid, got {len(errors)}")
    rows = [list(errors[i * p : (i + 1) * p]) for i in range(p)]
    means = [sum(r) / p for r in rows]
    return round(max(means) - min(means), 10), round(sum(max(r) - min(r) for r in rows) / p, 10)


# The search demo: log10(lr) matters, log10(weight decay) in this range barely does.
SEARCH_BOUNDS = [(-3.0, 0.5), (-7.0, -3.0)]  # log10 lr (important), log10 weight decay (unimportant here)


def compare_searches(
    repeat: int, train_data: Data, val_data: Data, budget: int = 9, **train_kw
) -> tuple[float, float, torch.Tensor, torch.Tensor, list[float], list[float]]:
    """One repeat of grid vs random search with the same budget on the digits objective (seed `repeat` for the random
    points, the grid's offset and the training runs). Returns (best grid error, best random error, grid points,
    random points, grid errors, random errors); points are log10 (lr, weight decay)."""
    check_int("repeat", repeat, ge=0)
    def objective(log_lr: float, log_wd: float) -> float:
        return _digits_error(10**log_lr, 10**log_wd, train_data, val_data, seed=repeat, **train_kw)

    offset = torch.rand(1, generator=torch.Generator().manual_seed(10_000 + repeat)).item()  # a grid placed by chance
    grid = grid_points(SEARCH_BOUNDS, budget, offset=offset)
    rand = random_points(SEARCH_BOUNDS, budget, seed=repeat)
    grid_err, rand_err = search(grid, objective), search(rand, objective)
    return min(grid_err), min(rand_err), grid, rand, grid_err, rand_err
