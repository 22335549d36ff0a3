"""Tests for cnnlab.regularization: the gap, early stopping, K-fold, and the notebook's claims over 3 seeds."""

import pytest
import torch
from torch import nn

from cnnlab.curves import fashion_subsets
from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
from cnnlab.regularization import evaluate_loss, fit_early_stopping, gap, kfold_indices, run_regularized, weight_norm
from cnnlab.train import Augment, History


def test_gap_and_bad_input():
    assert gap(History(train_loss=[2.0, 1.0, 0.5], val_loss=[2.0, 1.5, 1.5]), last=1) == 1.0
    with pytest.raises(ValueError, match="validation"):
        gap(History(train_loss=[1.0]))


@pytest.mark.parametrize("N, k", [(10, 2), (10, 3), (250, 5), (7, 7)])
def test_kfold_partitions(N, k):
    folds = kfold_indices(N, k, seed=1)
    assert len(folds) == k
    assert sorted(torch.cat([va for _, va in folds]).tolist()) == list(range(N))
    for tr, va in folds:
        assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == N


@pytest.mark.parametrize("N, k", [(5, 1), (3, 4), (10, 2.0)])
def test_kfold_bad_input(N, k):
    with pytest.raises(ValueError, match="2 <= k <= N"):
        kfold_indices(N, k)


def test_dropout_scales_in_training_only():
    torch.manual_seed(0)
    drop, x = nn.Dropout(0.5), torch.ones(10_000)
    y = drop(x)
    assert set(y.unique().tolist()) == {0.0, 2.0}  # kept units are scaled by 1 / (1 - p)
    assert torch.equal(drop.eval()(x), x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_l2_and_augmentation_shrink_the_gap(seed):
    """The notebook's claim: on the overfitting setup, weight decay and random crops both shrink the gap."""
    net0, h0 = run_regularized(seed, device="cpu")
    net2, h2 = run_regularized(seed, weight_decay=5e-3, device="cpu")
    none = gap(h0)
    assert gap(h2) < 0.85 * none
    assert weight_norm(net2) < 0.8 * weight_norm(net0)
    assert gap(run_regularized(seed, augment=Augment(crop_padding=2), device="cpu")[1]) < 0.6 * none


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_early_stopping_restores_the_best_weights(seed):
    X_train, y_train, X_val, y_val = fashion_subsets()
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    h, best = fit_early_stopping(net, (X_train[:250], y_train[:250]), (X_val[:1000], y_val[:1000]), optimizer=opt,
                                 max_epochs=30, patience=5, seed=seed, batch_size=32, device="cpu",
                                 mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)
    assert len(h.epoch) == best + 5 < 30  # stopped 5 epochs after the best one
    assert evaluate_loss(net, (X_val[:1000], y_val[:1000])) == pytest.approx(min(h.val_loss), rel=1e-5)
    with pytest.raises(ValueError, match="patience"):
        fit_early_stopping(net, (X_train[:8], y_train[:8]), (X_val[:8], y_val[:8]), optimizer=opt, max_epochs=3,
                           patience=0)
