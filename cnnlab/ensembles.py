"""Ensembles: average the predicted probabilities of several nets — different seeds, the top-k of a search, or
snapshots of one run along a cyclic cosine schedule (Huang et al., "Snapshot ensembles", ICLR 2017).

The members are small CNNs (`models.fast_cnn`) on Fashion-MNIST subsets: a run takes a fraction of a second on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cnnlab.data import Split
from cnnlab.models import fast_cnn
from cnnlab.runtime import set_seed
from cnnlab.train import History, Snapshots, accuracy, fit, predict
from cnnlab.validation import check_float, check_int, check_module, check_tensor

__all__ = [
    "ensemble_proba",
    "top_k",
    "train_member",
    "Ensemble",
    "seed_ensemble",
    "snapshot_ensemble",
    "snapshot_vs_plain",
    "top_k_experiment",
]

Data = tuple[torch.Tensor, torch.Tensor]


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
# The members: a small CNN (models.fast_cnn), trained through fit
# ----------------------------------------------------------------------------------------------------------
def train_member(
    train_data: Data, seed: int = 0, *, width: int = 8, lr: float = 0.05, weight_decay: float = 0.0,
    num_epochs: int = 8, batch_size: int = 64, mean: float | None = None, std: float | None = None,
    device: torch.device | str | None = None,
) -> nn.Module:
    """One member: `models.fast_cnn(width)` trained from seed `seed` with SGD (momentum 0.9, `weight_decay`) via
    `fit`; `mean`/`std` normalise uint8 images as `fit` does (pass `**split.norm`). Returns the trained net."""
    check_int("seed", seed, ge=0)
    check_float("lr", lr, gt=0)
    check_float("weight_decay", weight_decay, ge=0)
    set_seed(seed)
    net = fast_cnn(width)  # (N, 1, 28, 28) -> (N, 10)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    fit(net, train_data, None, num_epochs=num_epochs, optimizer=optimizer, batch_size=batch_size, mean=mean, std=std,
        device=device, seed=seed, progress=False)
    return net


class Ensemble(nn.Module):
    """Several trained nets as one: its logits are log of the members' mean probability, log((1/M) sum_m
    softmax(z_m)), so `softmax` of them is `ensemble_proba` of the members. Used as a distillation teacher.

    >>> a, b = nn.Linear(2, 3), nn.Linear(2, 3)
    >>> x = torch.randn(4, 2)
    >>> torch.allclose(Ensemble([a, b])(x).softmax(1), ensemble_proba([a(x).softmax(1), b(x).softmax(1)]))
    True
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if isinstance(members, nn.Module) or not isinstance(members, Sequence) or len(members) == 0:
            raise TypeError(f"members must be a non-empty list of nets, got {type(members).__name__}")
        for i, net in enumerate(members):
            check_module(f"members[{i}]", net)
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_p = torch.stack([net(x).float().log_softmax(dim=1) for net in self.members])  # (M, N, K)
        return log_p.logsumexp(dim=0) - math.log(len(self.members))  # (N, K): log of the mean probability, finite


def seed_ensemble(seeds: Sequence[int], data: Split, **member_kw) -> tuple[list[nn.Module], list[float], list[float]]:
    """Train one member per seed on `data`'s training images; returns (the members, accuracy of each member, accuracy
    of the first-m ensemble for m = 1..M), accuracies on the test images of `data` (a `cnnlab.data.Split`)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty list of ints, one per member, got {seeds!r:.40}")
    for s in seeds:
        _check_split(data, s)  # every seed an int >= 0
    nets = [train_member(data.train, s, **data.norm, **member_kw) for s in seeds]
    probas = [predict(net, data.X_test, **data.norm).softmax(1) for net in nets]  # M x (N, K)
    curve = [accuracy(ensemble_proba(probas[:m]), data.y_test) for m in range(1, len(probas) + 1)]
    return nets, [accuracy(p, data.y_test) for p in probas], curve


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


def snapshot_ensemble(seed: int, data: Split, *, width: int = 8, lr: float = 0.1, num_cycles: int = 3,
                      epochs_per_cycle: int = 4,
                      device: torch.device | str | None = None) -> tuple[list[float], History]:
    """One snapshot-ensemble run of a `fast_cnn(width)`; returns (accuracy on the test images of each snapshot alone
    ... and, last, of the average of all snapshots, History)."""
    _check_split(data, seed)
    set_seed(seed)
    net = fast_cnn(width)
    snapshots, history = snapshot_fit(net, data.train, data.val, lr=lr, num_cycles=num_cycles,
                                      epochs_per_cycle=epochs_per_cycle, seed=seed, device=device, **data.norm)
    probas = []
    for state in snapshots:
        net.load_state_dict(state)
        probas.append(predict(net, data.X_test, **data.norm).softmax(1))
    return [accuracy(p, data.y_test) for p in probas] + [accuracy(ensemble_proba(probas), data.y_test)], history


def snapshot_vs_plain(seed: int, data: Split, *, width: int = 8, lr: float = 0.1, num_cycles: int = 3,
                      epochs_per_cycle: int = 4, plain_lr: float = 0.05,
                      device: torch.device | str | None = None) -> dict[str, float]:
    """Test accuracy of a snapshot ensemble, of its snapshots (mean), of its last snapshot alone, and of an ordinary
    run (constant `plain_lr`) with the same number of epochs: ways to spend one training budget."""
    _check_split(data, seed)
    accs, _ = snapshot_ensemble(seed, data, width=width, lr=lr, num_cycles=num_cycles,
                                epochs_per_cycle=epochs_per_cycle, device=device)
    plain = train_member(data.train, seed, width=width, lr=plain_lr, num_epochs=num_cycles * epochs_per_cycle,
                         device=device, **data.norm)
    return {"snapshot ensemble": accs[-1], "snapshots, mean": sum(accs[:-1]) / num_cycles, "last snapshot": accs[-2],
            "plain run": accuracy(predict(plain, data.X_test, **data.norm), data.y_test)}


LRS = (0.001, 0.003, 0.01, 0.03, 0.1)  # notebook 12's search: from too small (0.001) to the largest that trains well


def top_k_experiment(seed: int, data: Split, lrs: Sequence[float] = LRS, k: int = 3,
                     device: torch.device | str | None = None, **member_kw) -> dict[str, float]:
    """Train one member per learning rate (a small search), rank them on validation; test accuracy of the best member,
    of the top-k members (mean), of their ensemble and of the ensemble of all members. Notebook 12 writes seed 0 of
    it out in full; this is the same experiment for the other seeds and the tests."""
    _check_split(data, seed)
    lrs = [check_float(f"lrs[{i}]", lr, gt=0) for i, lr in enumerate(lrs)]
    check_int("k", k, ge=1, le=len(lrs))
    nets = [train_member(data.train, seed, lr=lr, device=device, **data.norm, **member_kw) for lr in lrs]
    val_acc = [accuracy(predict(net, data.X_val, **data.norm), data.y_val) for net in nets]
    test_p = [predict(net, data.X_test, **data.norm).softmax(1) for net in nets]  # M x (N, K)
    best = top_k(val_acc, k)
    return {"best member": accuracy(test_p[best[0]], data.y_test),
            f"top-{k} members, mean": sum(accuracy(test_p[i], data.y_test) for i in best) / k,
            f"top-{k} ensemble": accuracy(ensemble_proba([test_p[i] for i in best]), data.y_test),
            "all members": accuracy(ensemble_proba(test_p), data.y_test)}
