"""Regularisation: the train/validation gap, L1/L2 penalties, max-norm, dropout (placement, the paper's test-time
scaling vs inverted dropout, thinned nets averaged), DropConnect, BatchNorm added to a net, mixup, label smoothing,
early stopping with the best weights, and K-fold splits (model selection goes on in cnnlab.model_selection)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from scipy.special import betaincinv
from torch import nn

from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_split
from cnnlab.models import dropout_cnn
from cnnlab.runtime import set_seed
from cnnlab.train import Augment, History, TensorLoader, accuracy, evaluate, fit, predict
from cnnlab.validation import (check_bool, check_choice, check_device, check_float, check_int, check_module,
                               check_tensor, module_device)

__all__ = [
    "OVERFIT",
    "gap",
    "clean_gap",
    "weight_norm",
    "l1_penalty",
    "L1Regularized",
    "max_norm_",
    "unit_norms",
    "add_max_norm",
    "near_zero_fraction",
    "dropout_train",
    "dropout_test",
    "thinned_proba",
    "DropConnect",
    "add_batchnorm",
    "mixup_data",
    "Mixup",
    "smooth_labels",
    "label_smoothing_loss",
    "confidence",
    "evaluate_loss",
    "run_regularized",
    "kfold_indices",
]

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

# The overfitting setup of notebook 11: cnnlab.models.dropout_cnn trained on far too few Fashion-MNIST images for far
# too long, so it memorises them and its validation loss turns up.
OVERFIT = dict(
    width=8,  # dropout_cnn's width: 8 then 16 conv channels, then a 784-256-10 dense head (204,488 weights)
    n_train=250,  # training images (the first 250 of the training set): few enough to memorise
    n_val=500,  # validation images (the first 500 of the test set): evaluating them after every epoch costs more
    #             than the epoch's training, so no more than the gap needs
    lr=0.05,  # SGD learning rate, momentum 0.9
    num_epochs=30,  # epochs: the training loss ends near zero, long after the validation loss's minimum
    batch_size=32,  # images per step: 8 steps per epoch
)


def gap(history: History, last: int = 5) -> float:
    """Generalisation gap: mean validation loss minus mean training loss over the `last` epochs.

    >>> gap(History(train_loss=[1.0, 0.2, 0.1], val_loss=[1.0, 0.6, 0.7]), last=2)
    0.5
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be a cnnlab.train.History (what fit returns), got {type(history).__name__}")
    check_int("last", last, ge=1)
    if not history.val_loss or not history.train_loss:
        raise ValueError("history has no validation losses: train with validation data to measure a gap")
    t, v = history.train_loss[-last:], history.val_loss[-last:]
    return round(sum(v) / len(v) - sum(t) / len(t), 10)


def weight_norm(net: nn.Module) -> float:
    """Euclidean norm of all weight matrices/kernels of `net` together (biases left out, as weight decay's target).

    >>> weight_norm(nn.Linear(3, 4).requires_grad_(False).apply(lambda m: m.weight.fill_(0.5)))
    1.7320508075688772
    """
    check_module("net", net)
    return sum(float((p.detach() ** 2).sum()) for name, p in net.named_parameters() if p.ndim > 1) ** 0.5


def l1_penalty(net: nn.Module) -> torch.Tensor:
    """Sum of |w| over all weight matrices/kernels of `net` (biases left out): the L1 regulariser R(W).

    >>> l1_penalty(nn.Linear(3, 4).requires_grad_(False).apply(lambda m: m.weight.fill_(-0.5)))
    tensor(6.)
    """
    check_module("net", net)
    return sum(p.abs().sum() for p in net.parameters() if p.ndim > 1)


class L1Regularized:
    """Training loss = `loss_fn` + `lam` * sum |w|; in eval mode (validation) just `loss_fn`, so losses compare."""

    def __init__(self, net: nn.Module, lam: float, loss_fn: Loss = nn.functional.cross_entropy) -> None:
        check_module("net", net)
        check_float("lam", lam, ge=0)  # the L1 strength
        self.net, self.lam, self.loss_fn = net, lam, loss_fn

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(logits, y)
        return loss + self.lam * l1_penalty(self.net) if self.net.training else loss


@torch.no_grad()
def max_norm_(net: nn.Module, c: float) -> nn.Module:
    """Max-norm constraint, in place: scale each unit's incoming weight vector (a row of a Linear weight, one output
    channel's kernel of a Conv2d) down to norm `c` if it is longer. Returns `net`.

    >>> net = nn.Linear(2, 2).requires_grad_(False)
    >>> _ = net.weight.copy_(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))  # unit norms 5 and 0.5
    >>> unit_norms(max_norm_(net, 1.0))  # the first row scaled to (0.6, 0.8), the second left alone
    tensor([1.0000, 0.5000])
    """
    check_module("net", net)
    check_float("c", c, gt=0, finite=False)  # the largest norm allowed (inf: no constraint)
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            norms = m.weight.flatten(1).norm(dim=1)  # (out, in * kH * kW) -> (out,): one norm per unit
            scale = torch.clamp(c / norms.clamp_min(1e-12), max=1.0)
            # (out,) -> (out, 1) or (out, 1, 1, 1); works for any memory format (fit makes conv weights channels_last)
            m.weight.mul_(scale.view(-1, *[1] * (m.weight.ndim - 1)))
    return net


def unit_norms(net: nn.Module) -> torch.Tensor:
    """The norms of every unit's incoming weight vector, over all Linear and Conv2d layers of `net`."""
    if not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in check_module("net", net).modules()):
        raise ValueError(f"net has no Linear or Conv2d layer ({type(net).__name__})")
    return torch.cat([m.weight.detach().flatten(1).norm(dim=1) for m in net.modules()
                      if isinstance(m, (nn.Linear, nn.Conv2d))])


def add_max_norm(optimizer: torch.optim.Optimizer, net: nn.Module, c: float):
    """Apply `max_norm_(net, c)` after every `optimizer.step()` (a step post-hook); returns the hook's handle."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_module("net", net)
    check_float("c", c, gt=0, finite=False)
    return optimizer.register_step_post_hook(lambda opt, args, kwargs: max_norm_(net, c))


def near_zero_fraction(net: nn.Module, tol: float = 1e-3) -> float:
    """Fraction of all weights (matrices/kernels, not biases) with |w| < `tol`.

    >>> net = nn.Linear(4, 1).requires_grad_(False)
    >>> _ = net.weight.copy_(torch.tensor([[0.0, 1e-4, 0.5, -2.0]]))
    >>> near_zero_fraction(net)
    0.5
    """
    check_module("net", net, has_parameters=True)
    check_float("tol", tol, gt=0)
    w = torch.cat([p.detach().flatten() for p in net.parameters() if p.ndim > 1])
    return float((w.abs() < tol).float().mean())


def dropout_train(x: torch.Tensor, keep: torch.Tensor, p: float, inverted: bool = True) -> torch.Tensor:
    """Dropout's training-time output for a given keep-mask (1 where a unit survives), `p` the probability of
    dropping (PyTorch's convention; the dropout paper's p is the keep probability 1 - p). Inverted dropout (what
    `nn.Dropout` does) scales the survivors by 1 / (1 - p) now; the paper's original leaves them alone.

    >>> x, keep = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 0.0, 1.0, 1.0])
    >>> dropout_train(x, keep, 0.25), dropout_train(x, keep, 0.25, inverted=False)
    (tensor([1.3333, 0.0000, 4.0000, 5.3333]), tensor([1., 0., 3., 4.]))
    """
    check_tensor("x", x, dtype="float")
    check_tensor("keep", keep)
    if keep.shape != x.shape:
        raise ValueError(f"keep must be a mask of 0s and 1s of x's shape {tuple(x.shape)}, got shape "
                         f"{tuple(keep.shape)}")
    if not bool(((keep == 0) | (keep == 1)).all()):
        raise ValueError(f"keep must be a mask of 0s and 1s, got other values such as "
                         f"{keep[(keep != 0) & (keep != 1)].flatten()[0].item():g}")
    check_float("p", p, ge=0, lt=1)
    check_bool("inverted", inverted)
    kept = x * keep.to(x.dtype)
    return kept / (1 - p) if inverted else kept


def dropout_test(x: torch.Tensor, p: float, inverted: bool = True) -> torch.Tensor:
    """Dropout at test time, no units dropped: inverted dropout passes `x` through (it scaled in training); the
    paper's original scales by the keep probability 1 - p (equivalently, the outgoing weights by 1 - p).

    >>> dropout_test(torch.tensor([2.0, 4.0]), 0.25, inverted=False)
    tensor([1.5000, 3.0000])
    """
    check_tensor("x", x, dtype="float")
    check_float("p", p, ge=0, lt=1)
    check_bool("inverted", inverted)
    return x if inverted else x * (1 - p)


@torch.no_grad()
def thinned_proba(
    net: nn.Module,
    X: torch.Tensor,
    num_masks: int,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    mean: float | None = FASHION_MNIST_MEAN,
    std: float | None = FASHION_MNIST_STD,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Softmax probabilities of `num_masks` thinned nets on images `X`: `net` with its dropout layers drawing masks
    (training mode) and every other layer in eval mode; one mask per image and net. (num_masks, N, K), on the CPU.

    Averaging them over the masks is Monte-Carlo dropout; `predict(net, X)` (eval mode) is the single weight-scaled
    net that dropout uses instead. `seed` seeds the masks (the global generators are restored afterwards)."""
    check_module("net", net)
    check_tensor("X", X, ndim=4)  # (N, C, H, W) images, as `predict` takes them
    check_int("num_masks", num_masks, ge=1)
    check_int("seed", seed, ge=0)
    drops = [m for m in net.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if not drops:
        raise ValueError(f"net has no dropout layer ({type(net).__name__}): every thinned net would be net itself")
    device = check_device("device", device) or module_device(net)
    loader = TensorLoader(X, torch.zeros(len(X), dtype=torch.long), batch_size, mean=mean, std=std, device=device)
    was_training = net.training
    net.eval()
    for m in drops:
        m.train()  # draw masks; BatchNorm and the rest stay in eval mode
    out = []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type):
            torch.manual_seed(seed)
            for _ in range(num_masks):
                out.append(torch.cat([net(xb).float().softmax(1).cpu() for xb, _ in loader]))  # (N, K)
    finally:
        net.train(was_training)
    return torch.stack(out)  # (num_masks, N, K)


class DropConnect(nn.Module):
    """DropConnect (Wan et al. 2013) around a `nn.Linear` or `nn.Conv2d`: in training every *weight* is dropped with
    probability `p` (one mask per batch, biases kept) and the survivors scaled by 1 / (1 - p), as inverted dropout
    does for activations; in eval mode it is the dense layer. The last mask is kept in `self.mask`."""

    def __init__(self, layer: nn.Module, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(layer, (nn.Linear, nn.Conv2d)):
            raise TypeError(f"layer must be an nn.Linear or nn.Conv2d, got {type(layer).__name__}")
        check_float("p", p, ge=0, lt=1)  # the probability of dropping a weight
        self.layer, self.p = layer, p
        self.mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.layer(x)
        w = self.layer.weight
        self.mask = torch.bernoulli(torch.full_like(w, 1 - self.p))  # 1: the weight survives this batch
        thinned = w * self.mask / (1 - self.p)
        if isinstance(self.layer, nn.Linear):
            return nn.functional.linear(x, thinned, self.layer.bias)
        return self.layer._conv_forward(x, thinned, self.layer.bias)  # the layer's own stride, padding, groups

    def extra_repr(self) -> str:
        return f"p={self.p}"


def add_batchnorm(net: nn.Sequential) -> nn.Sequential:
    """A new Sequential with the same (shared) layers as `net` plus BatchNorm after every Conv2d (BatchNorm2d) and
    every Linear but the last (BatchNorm1d), before the activation: conv -> BN -> ReLU, as the lectures order it.

    >>> plain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 8), nn.Linear(8, 2))
    >>> [type(m).__name__ for m in add_batchnorm(plain)]
    ['Conv2d', 'BatchNorm2d', 'ReLU', 'Flatten', 'Linear', 'BatchNorm1d', 'Linear']
    """
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"net must be an nn.Sequential, got {type(net).__name__}")
    linears = [i for i, m in enumerate(net) if isinstance(m, nn.Linear)]
    layers: list[nn.Module] = []
    for i, m in enumerate(net):
        layers.append(m)
        if isinstance(m, nn.Conv2d):
            layers.append(nn.BatchNorm2d(m.out_channels))
        elif isinstance(m, nn.Linear) and i != linears[-1]:
            layers.append(nn.BatchNorm1d(m.out_features))
    if len(layers) == len(net):
        raise ValueError("net has no Conv2d and no hidden Linear layer to put BatchNorm after")
    device = module_device(net)
    return nn.Sequential(*layers).to(device)


def mixup_data(
    x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """The lectures' mixup: blend the batch with a shuffled copy of itself, x~ = lam x_i + (1 - lam) x_j with
    lam ~ Beta(alpha, alpha). Returns (mixed x, y_a = y, y_b = y shuffled, lam)."""
    check_tensor("x", x, ndim=(2, 3, 4))  # (N, features), (N, C, L) or (N, C, H, W)
    check_tensor("y", y, ndim=1)
    if len(y) != len(x):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
    check_float("alpha", alpha, ge=0)  # the Beta distribution's parameter
    if alpha > 0:  # Beta(a, a) by inverting its CDF at a uniform draw from our own generator
        # (torch.distributions.Beta always draws from the global generator)
        u = torch.rand((), generator=generator, dtype=torch.float64).item()
        lam = float(betaincinv(alpha, alpha, u))
    else:
        lam = 1.0
    index = torch.randperm(x.shape[0], generator=generator).to(x.device)  # partner j of each i
    mixed_x = lam * x + (1 - lam) * x[index]
    return mixed_x, y, y[index], lam


def mixup_criterion(y_a: torch.Tensor, y_b: torch.Tensor, lam: float) -> Callable[[Loss, torch.Tensor], torch.Tensor]:
    """The mixed loss lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b), as the lectures write it."""
    return lambda criterion, pred: lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b)


class Mixup(nn.Module):
    """Wrap `net` for mixup training with `cnnlab.train.fit`: in training mode each batch is mixed before `net` and
    `self.loss` uses the mixed targets; in eval mode the images and the loss are the plain ones."""

    def __init__(self, net: nn.Module, alpha: float = 1.0, seed: int = 0) -> None:
        super().__init__()
        check_module("net", net)
        check_float("alpha", alpha, ge=0)
        check_int("seed", seed, ge=0)
        self.net, self.alpha = net, alpha
        self.generator = torch.Generator().manual_seed(seed)
        self._mixed: tuple[torch.Tensor, float] | None = None  # (partner index, lam) of the last training batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.net(x)
        index = torch.arange(x.shape[0], device=x.device)
        x, _, partner, lam = mixup_data(x, index, self.alpha, self.generator)
        self._mixed = (partner, lam)
        return self.net(x)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against the mixed targets in training, the plain one in evaluation."""
        if not self.training or self._mixed is None:
            return nn.functional.cross_entropy(logits, y)
        partner, lam = self._mixed
        return mixup_criterion(y, y[partner], lam)(nn.functional.cross_entropy, logits)


def smooth_labels(y: torch.Tensor, num_classes: int, eps: float) -> torch.Tensor:
    """Label smoothing's targets: (1 - eps) on the true class plus eps / K spread over all K classes.

    >>> smooth_labels(torch.tensor([0]), 4, 0.1)
    tensor([[0.9250, 0.0250, 0.0250, 0.0250]])
    """
    check_tensor("y", y, ndim=1, dtype="int")
    check_int("num_classes", num_classes, ge=2)
    check_float("eps", eps, ge=0, lt=1)  # the smoothing
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"y must hold class indices 0..{num_classes - 1}, got values {int(y.min())}..{int(y.max())}")
    return nn.functional.one_hot(y, num_classes).float() * (1 - eps) + eps / num_classes  # (N,) -> (N, K)


def label_smoothing_loss(logits: torch.Tensor, y: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """Cross-entropy against smoothed targets, from scratch: mean over n of -sum_k q_nk log softmax(z_n)_k."""
    check_tensor("logits", logits, ndim=2, dtype="float")
    q = smooth_labels(y, logits.shape[1], eps)  # (N, K)
    if q.shape != logits.shape:
        raise ValueError(f"logits (N, K) and y (N,) must hold the same N, got {len(logits)} and {len(y)}")
    return -(q * nn.functional.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def confidence(net: nn.Module, data: tuple[torch.Tensor, torch.Tensor], device=None) -> tuple[float, float]:
    """(mean top softmax probability, accuracy) of `net` on `data`, in eval mode: how sure vs how right."""
    X, y = data
    p = predict(net, X, batch_size=256, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device).softmax(1)
    return float(p.max(dim=1).values.mean()), accuracy(p, y.cpu())


def clean_gap(net: nn.Module, train_data, val_data) -> float:
    """Validation minus training cross-entropy, both measured after training in eval mode on the plain images.

    Unlike `gap`, this does not depend on what the training loss contained (penalties, mixing, smoothing, dropout)."""
    return evaluate_loss(net, val_data) - evaluate_loss(net, train_data)


def run_regularized(
    seed: int = 0,
    weight_decay: float = 0.0,
    dropout_fc: float = 0.0,
    augment: Augment | None = None,
    num_epochs: int | None = None,
    device: torch.device | str | None = None,
    *,
    dropout_conv: float = 0.0,
    l1: float = 0.0,
    max_norm: float | None = None,
    mixup_alpha: float = 0.0,
    label_smoothing: float = 0.0,
    batchnorm: bool = False,
    dataset: str = "fashion",
    **setup,
) -> tuple[nn.Module, History]:
    """Train the OVERFIT setup (any of its keys overridden by `setup`) with the given regularisers switched on; returns
    the net and its History. The net is `cnnlab.models.dropout_cnn(dropout_fc, dropout_conv, width)` (with
    `add_batchnorm` if `batchnorm`: the same initial conv and dense weights), trained by SGD with momentum 0.9;
    `dataset` "fashion" (Fashion-MNIST) or "mnist" (real digits).
    Notebook 11 writes each of these runs out in full; the tests repeat them over other seeds with this function.
    `n_val=0` skips the validation after every epoch (half the time; the History then has no validation losses).
    The returned net is the plain CNN (a mixup wrapper is taken off again)."""
    if not set(setup) <= set(OVERFIT):
        raise ValueError(f"unknown setup keys {sorted(set(setup) - set(OVERFIT))}; allowed: {sorted(OVERFIT)}")
    c = {**OVERFIT, **setup}
    check_int("seed", seed, ge=0)
    check_float("weight_decay", weight_decay, ge=0)
    check_float("l1", l1, ge=0)
    check_float("mixup_alpha", mixup_alpha, ge=0)
    check_float("label_smoothing", label_smoothing, ge=0, lt=1)
    check_bool("batchnorm", batchnorm)
    check_choice("dataset", dataset, ("fashion", "mnist"))
    d = load_split("fashion-mnist" if dataset == "fashion" else "mnist", 4000, 1000, 0, val_from="test")
    set_seed(seed)
    net = dropout_cnn(dropout_fc, dropout_conv, c["width"])  # checks the dropout rates and the width
    if batchnorm:
        net = add_batchnorm(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=c["lr"], momentum=0.9, weight_decay=weight_decay)
    loss_fn: Loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if l1:
        loss_fn = L1Regularized(net, l1, loss_fn)
    if max_norm is not None:
        add_max_norm(optimizer, net, max_norm)
    model: nn.Module = net
    if mixup_alpha:
        model = Mixup(net, mixup_alpha, seed)
        loss_fn = model.loss
    n, m = check_int("n_train", c["n_train"], ge=1), check_int("n_val", c["n_val"], ge=0)
    history = fit(model, (d.X_train[:n], d.y_train[:n]), (d.X_val[:m], d.y_val[:m]) if m else None,
                  num_epochs=num_epochs or c["num_epochs"], optimizer=optimizer, loss_fn=loss_fn,
                  batch_size=c["batch_size"], mean=d.mean, std=d.std, augment=augment, device=device, seed=seed,
                  progress=False)
    return net, history


def kfold_indices(N: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """K-fold cross-validation: shuffle 0..N-1 once, cut into k folds; fold i validates, the rest trains.

    >>> folds = kfold_indices(10, 3)
    >>> [(len(tr), len(va)) for tr, va in folds]
    [(6, 4), (7, 3), (7, 3)]
    >>> sorted(torch.cat([va for _, va in folds]).tolist()) == list(range(10))
    True
    """
    check_int("N", N, ge=1)
    check_int("k", k, ge=2)
    check_int("seed", seed, ge=0)
    if N < k:
        raise ValueError(f"need 2 <= k <= N (every fold at least one example), got N={N}, k={k}")
    order = torch.randperm(N, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(order, k)
    return [(torch.cat([f for j, f in enumerate(folds) if j != i]), folds[i]) for i in range(k)]


def evaluate_loss(net: nn.Module, data: tuple[torch.Tensor, torch.Tensor], device=None) -> float:
    """Mean cross-entropy of `net` on `data` (normalised like the runs above), in eval mode."""
    device = torch.device(device) if device is not None else next(net.parameters()).device
    loader = TensorLoader(*data, 256, shuffle=False, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, device=device)
    return evaluate(net, loader, None, device)[0]
