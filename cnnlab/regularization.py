"""Regularisation and model selection: the train/validation gap, early stopping with the best weights, K-fold."""

from __future__ import annotations

import copy

import torch
from torch import nn

from cnnlab.curves import fashion_subsets, mlp
from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
from cnnlab.runtime import set_seed
from cnnlab.train import Augment, History, evaluate, fit

# The overfitting setup of notebook 10 (cnnlab.curves.CASES["overfit"]): a 784-512-512-10 MLP on 250 images.
OVERFIT = dict(hidden=(512, 512), n_train=250, n_val=1000, lr=0.05, num_epochs=30, batch_size=32)


def gap(history: History, last: int = 5) -> float:
    """Generalisation gap: mean validation loss minus mean training loss over the `last` epochs.

    >>> gap(History(train_loss=[1.0, 0.2, 0.1], val_loss=[1.0, 0.6, 0.7]), last=2)
    0.5
    """
    if not history.val_loss or last < 1:
        raise ValueError("need a history with validation losses and last >= 1")
    t, v = history.train_loss[-last:], history.val_loss[-last:]
    return round(sum(v) / len(v) - sum(t) / len(t), 10)


def weight_norm(net: nn.Module) -> float:
    """Euclidean norm of all weight matrices/kernels of `net` together (biases left out, as weight decay's target).

    >>> weight_norm(nn.Linear(3, 4).requires_grad_(False).apply(lambda m: m.weight.fill_(0.5)))
    1.7320508075688772
    """
    return sum(float((p.detach() ** 2).sum()) for name, p in net.named_parameters() if p.ndim > 1) ** 0.5


def run_regularized(
    seed: int = 0,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    augment: Augment | None = None,
    num_epochs: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[nn.Module, History]:
    """Train the OVERFIT setup with one regulariser switched on; returns the net and its History."""
    c = OVERFIT
    X_train, y_train, X_val, y_val = fashion_subsets()
    set_seed(seed)
    net = mlp(c["hidden"], dropout)
    optimizer = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=weight_decay)
    n, m = c["n_train"], c["n_val"]
    history = fit(net, (X_train[:n], y_train[:n]), (X_val[:m], y_val[:m]), num_epochs=num_epochs or c["num_epochs"],
                  optimizer=optimizer, batch_size=c["batch_size"], mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD,
                  augment=augment, device=device, seed=seed, progress=False)
    return net, history


def fit_early_stopping(
    net: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    *,
    optimizer: torch.optim.Optimizer,
    max_epochs: int,
    patience: int = 5,
    seed: int = 0,
    **fit_kwargs,
) -> tuple[History, int]:
    """`cnnlab.train.fit` one epoch at a time; stop after `patience` epochs without a lower validation loss and
    restore the best weights. Returns the History and the best epoch (1-based)."""
    if patience < 1 or max_epochs < 1:
        raise ValueError(f"need patience >= 1 and max_epochs >= 1, got {patience} and {max_epochs}")
    history, best_loss, best_epoch, best_state = History(), float("inf"), 0, None
    for epoch in range(1, max_epochs + 1):
        h = fit(net, train_data, val_data, num_epochs=1, optimizer=optimizer, seed=seed + epoch, progress=False,
                **fit_kwargs)
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            getattr(history, key).extend(getattr(h, key))
        history.epoch.append(epoch)
        if h.val_loss[0] < best_loss:
            best_loss, best_epoch, best_state = h.val_loss[0], epoch, copy.deepcopy(net.state_dict())
        elif epoch - best_epoch >= patience:
            break
    net.load_state_dict(best_state)
    return history, best_epoch


def kfold_indices(N: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """K-fold cross-validation: shuffle 0..N-1 once, cut into k folds; fold i validates, the rest trains.

    >>> folds = kfold_indices(10, 3)
    >>> [(len(tr), len(va)) for tr, va in folds]
    [(6, 4), (7, 3), (7, 3)]
    >>> sorted(torch.cat([va for _, va in folds]).tolist()) == list(range(10))
    True
    """
    if not (isinstance(k, int) and isinstance(N, int)) or k < 2 or N < k:
        raise ValueError(f"need integers with 2 <= k <= N, got N={N!r}, k={k!r}")
    order = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(order, k)
    return [(torch.cat([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def evaluate_loss(net: nn.Module, data: tuple[torch.Tensor, torch.Tensor], device=None) -> float:
    """Mean cross-entropy of `net` on `data` (normalised like the runs above), in eval mode."""
    from cnnlab.train import TensorLoader

    device = torch.device(device) if device is not None else next(net.parameters()).device
    loader = TensorLoader(*data, 256, shuffle=False, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device)
    return evaluate(net, loader, None, device)[0]
