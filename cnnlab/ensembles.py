"""Ensembles: average the predicted probabilities of several nets — different seeds, the top-k of a search, or
snapshots of one run along a cyclic cosine schedule (Huang et al., "Snapshot ensembles", ICLR 2017)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import torch
from torch import nn

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, Split
from cnnlab.models import mlp
from cnnlab.runtime import set_seed
from cnnlab.train import History, Snapshots, accuracy, fit, predict
from cnnlab.validation import check_float, check_int, check_tensor

__all__ = [
    "ensemble_proba",
    "train_member",
    "seed_ensemble",
    "snapshot_ensemble",
    "snapshot_vs_plain",
    "top_k_experiment",
]

Data = tuple[torch.Tensor, torch.Tensor]
_NORM = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)


def _check_split(data: Split, seed: int) -> None:
    """The experiments' shared arguments: a `cnnlab.data.Split` and a seed (an int >= 0)."""
    if not isinstance(data, Split):
        raise TypeError(f"data must be a cnnlab.data.Split (from load_split), got {type(data).__name__}")
    check_int("seed", seed, ge=0)


@torch.no_grad()
def ensemble_proba(probas: Sequence[torch.Tensor]) -> torch.Tensor:
    """The ensemble's prediction: the mean of the members' (N, K) probabilities.

    >>> ensemble_proba([torch.tensor([[0.9, 0.1]]), torch.tensor([[0.3, 0.7]])])
    tensor([[0.6000, 0.4000]])
    """
    if isinstance(probas, torch.Tensor) or not isinstance(probas, Sequence):
        raise TypeError(f"probas must be a list of (N, K) tensors, one per member, got {type(probas).__name__}")
    if len(probas) < 1:
        raise ValueError("an ensemble needs at least one member")
    for i, p in enumerate(probas):
        check_tensor(f"probas[{i}]", p, ndim=2, dtype="float")
    if len({tuple(p.shape) for p in probas}) != 1:
        raise ValueError(f"all members must predict the same (N, K) shape, got {[tuple(p.shape) for p in probas]}")
    return torch.stack(list(probas)).mean(dim=0)  # (M, N, K) -> (N, K)


def ensemble_curve(probas: Sequence[torch.Tensor], y: torch.Tensor) -> list[float]:
    """Accuracy of the ensemble of the first m members, for m = 1..M."""
    return [accuracy(ensemble_proba(probas[:m]), y) for m in range(1, len(probas) + 1)]


def top_k(scores: Sequence[float], k: int) -> list[int]:
    """Indices of the `k` highest scores (e.g. validation accuracies), best first.

    >>> top_k([0.80, 0.95, 0.70, 0.90], 2)
    [1, 3]
    """
    if isinstance(scores, (str, bytes)) or not isinstance(scores, Sequence):
        raise TypeError(f"scores must be a list of numbers, got {type(scores).__name__} {scores!r:.40}")
    if len(scores) == 0:
        raise ValueError("scores must not be empty: there are no candidates to choose from")
    scores = [check_float(f"scores[{i}]", v) for i, v in enumerate(scores)]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(scores):
        raise ValueError(f"k must be an int in 1..{len(scores)} (the number of candidates), got {k!r}")
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]


# ----------------------------------------------------------------------------------------------------------
# The experiments: Fashion-MNIST subsets, an MLP
# ----------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def train_member(
    train_data: Data, seed: int = 0, *, hidden: Sequence[int] = (256,), lr: float = 0.05, weight_decay: float = 0.0,
    num_epochs: int = 10, batch_size: int = 64, device: torch.device | str | None = None,
    make_net: Callable[[], nn.Module] | None = None,
) -> nn.Module:
    """One ensemble member: `models.mlp(hidden)` (or `make_net()`) trained with SGD (momentum 0.9) from seed `seed`
    via `fit`."""
    set_seed(seed)
    net = make_net() if make_net is not None else mlp(hidden)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    fit(net, train_data, None, num_epochs=num_epochs, optimizer=optimizer, batch_size=batch_size, device=device,
        seed=seed, progress=False, **_NORM)
    return net


def seed_ensemble(seeds: Sequence[int], data: Split, **member_kw) -> tuple[list[float], list[float]]:
    """Train one member per seed; returns (accuracy of each member, accuracy of the first-m ensemble, m = 1..M) on the
    test images of `data` (a `cnnlab.data.Split`)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty list of ints, one per member, got {seeds!r:.40}")
    for s in seeds:
        _check_split(data, s)  # every seed an int >= 0
    X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
    probas = [predict(train_member((X_train, y_train), s, **member_kw), X_test, **data.norm).softmax(1) for s in seeds]
    return [accuracy(p, y_test) for p in probas], ensemble_curve(probas, y_test)


def snapshot_fit(
    net: nn.Module, train_data: Data, val_data: Data | None = None, *, lr: float, num_cycles: int,
    epochs_per_cycle: int, batch_size: int = 64, seed: int = 0, **fit_kwargs,
) -> tuple[list[dict], History]:
    """Train with a cyclic cosine learning rate (restart to `lr` every cycle, decay to 0 within it, stepped per batch)
    and keep a snapshot of the weights at the end of each cycle. Returns (snapshots, History of all epochs)."""
    if num_cycles < 1 or epochs_per_cycle < 1:
        raise ValueError(f"need num_cycles >= 1 and epochs_per_cycle >= 1, got {num_cycles} and {epochs_per_cycle}")
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    steps_per_cycle = epochs_per_cycle * -(-len(train_data[0]) // batch_size)  # ceil(N / batch_size) batches an epoch
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=steps_per_cycle)
    snapshots = Snapshots(every=epochs_per_cycle)  # the weights at the end of each cycle, where the lr is lowest
    history = fit(net, train_data, val_data, num_epochs=num_cycles * epochs_per_cycle, optimizer=optimizer,
                  scheduler=scheduler, step_scheduler="batch", batch_size=batch_size, callbacks=[snapshots], seed=seed,
                  progress=False, **fit_kwargs)
    return snapshots.states, history


def snapshot_ensemble(seed: int, data: Split, *, hidden: Sequence[int] = (256,), lr: float = 0.05,
                      num_cycles: int = 4, epochs_per_cycle: int = 3,
                      device: torch.device | str | None = None) -> tuple[list[float], History]:
    """One snapshot-ensemble run; returns (accuracy on the test images of each snapshot alone ... and, last, of the
    average of all snapshots, History)."""
    _check_split(data, seed)
    X_train, y_train, X_val, y_val, X_test, y_test = (data.X_train, data.y_train, data.X_val, data.y_val,
                                                      data.X_test, data.y_test)
    set_seed(seed)
    net = mlp(hidden)
    snapshots, history = snapshot_fit(net, (X_train, y_train), (X_val, y_val), lr=lr, num_cycles=num_cycles,
                                      epochs_per_cycle=epochs_per_cycle, seed=seed, device=device, **data.norm)
    probas = []
    for state in snapshots:
        net.load_state_dict(state)
        probas.append(predict(net, X_test, **data.norm).softmax(1))
    return [accuracy(p, y_test) for p in probas] + [accuracy(ensemble_proba(probas), y_test)], history


def snapshot_vs_plain(seed: int, data: Split, *, lr: float = 0.1, num_cycles: int = 3,
                      epochs_per_cycle: int = 4, plain_lr: float = 0.05,
                      device: torch.device | str | None = None) -> dict[str, float]:
    """Test accuracy of a snapshot ensemble, of its snapshots (mean), of its last snapshot alone, and of an ordinary
    run (constant `plain_lr`) with the same number of epochs: ways to spend one training budget."""
    _check_split(data, seed)
    accs, _ = snapshot_ensemble(seed, data, lr=lr, num_cycles=num_cycles, epochs_per_cycle=epochs_per_cycle,
                                device=device)
    plain = train_member(data.train, seed, lr=plain_lr, num_epochs=num_cycles * epochs_per_cycle, device=device)
    return {"snapshot ensemble": accs[-1], "snapshots, mean": sum(accs[:-1]) / num_cycles, "last snapshot": accs[-2],
            "plain run": accuracy(predict(plain, data.X_test, **data.norm).softmax(1), data.y_test)}


def top_k_experiment(seed: int, data: Split, lrs: Sequence[float] = (0.001, 0.003, 0.01, 0.03, 0.1,
                     0.3), k: int = 3, device: torch.device | str | None = None, **member_kw) -> dict[str, float]:
    """Train one member per learning rate (a small search), rank them on validation; test accuracy of the best member,
    of the top-k members (mean), of their ensemble and of the ensemble of all members."""
    _check_split(data, seed)
    lrs = [check_float(f"lrs[{i}]", lr, gt=0) for i, lr in enumerate(lrs)]
    check_int("k", k, ge=1, le=len(lrs))
    X_train, y_train, X_val, y_val, X_test, y_test = (data.X_train, data.y_train, data.X_val, data.y_val,
                                                      data.X_test, data.y_test)
    nets = [train_member((X_train, y_train), seed, lr=lr, device=device, **member_kw) for lr in lrs]
    val_acc = [accuracy(predict(net, X_val, **data.norm).softmax(1), y_val) for net in nets]
    test_p = [predict(net, X_test, **data.norm).softmax(1) for net in nets]
    best = top_k(val_acc, k)
    return {"best member": accuracy(test_p[best[0]], y_test),
            f"top-{k} members, mean": sum(accuracy(test_p[i], y_test) for i in best) / k,
            f"top-{k} ensemble": accuracy(ensemble_proba([test_p[i] for i in best]), y_test),
            "all members": accuracy(ensemble_proba(test_p), y_test)}
