"""One training loop for the whole course: data kept on the device, `train_one_epoch`, `evaluate`, `fit`.

Small datasets (MNIST, Fashion-MNIST, features of a frozen network) fit in memory, so batches are sliced
from tensors that already sit on the device, converted to float and augmented *as a batch* there. That avoids
the per-sample PIL path of a torchvision `Dataset` + `DataLoader`, which costs an order of magnitude more CPU
per epoch (see `python -m cnnlab.bench`).

Settings that change results (shuffling, seed, augmentation) are kept apart from settings that change speed
(device, AMP, channels_last): training always shuffles and evaluation never does, on every device.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from cnnlab.runtime import get_device
from cnnlab.validation import (
    check_bool,
    check_callable,
    check_choice,
    check_device,
    check_float,
    check_int,
    check_module,
    check_tensor,
    module_device,
)

__all__ = [
    "Augment",
    "rotate",
    "pixel_pca",
    "pca_lighting",
    "TensorLoader",
    "History",
    "Callback",
    "EarlyStopping",
    "Snapshots",
    "train_one_epoch",
    "evaluate",
    "predict",
    "accuracy",
    "fit",
    "CHANNELS_LAST_DEVICES",
]

Batch = tuple[torch.Tensor, torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------------------
# Augmentation, in batches, on the device
# ----------------------------------------------------------------------------------------------------------
def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each image by `padding` and cut a random HxW window from it (one gather for the whole batch)."""
    check_tensor("x", x, ndim=4)
    check_int("padding", padding, ge=0)
    N, C, H, W = x.shape
    xp = nn.functional.pad(x, (padding, padding, padding, padding))  # (N, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (N,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (N,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(H, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(W, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    n = torch.arange(N, device=x.device)[:, None, None, None]
    c = torch.arange(C, device=x.device)[None, :, None, None]
    return xp[n, c, rows, cols]  # (N, C, H, W)


def random_hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability `p`."""
    check_tensor("x", x, ndim=4)
    check_float("p", p, ge=0, le=1)
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_vflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Turn each image upside down (mirror top-bottom) with probability `p`."""
    check_tensor("x", x, ndim=4)
    check_float("p", p, ge=0, le=1)
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(2), x)


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate image n by `degrees[n]` counter-clockwise about its centre (bilinear, zeros come in), as one batch.

    The same convention as `torchvision.transforms.functional.rotate`; one `affine_grid` + `grid_sample` call.

    >>> x = torch.zeros(1, 1, 3, 3); x[0, 0, 1, 2] = 1.0  # a dot right of the centre
    >>> rotate(x, torch.tensor([90.0]))[0, 0].round(decimals=4).abs()  # ...goes to the top
    tensor([[0., 1., 0.],
            [0., 0., 0.],
            [0., 0., 0.]])
    """
    check_tensor("x", x, ndim=4, dtype="float")
    check_tensor("degrees", degrees, ndim=1, finite=True)
    if len(degrees) != len(x):
        raise ValueError(f"degrees must hold one angle per image: {len(x)} images, got {len(degrees)} angles")
    N, C, H, W = x.shape
    a = torch.deg2rad(degrees.to(device=x.device, dtype=x.dtype))  # (N,)
    cos, sin = torch.cos(a), torch.sin(a)
    zero = torch.zeros_like(a)
    # output pixel -> input pixel is the inverse rotation; in [-1, 1] coordinates x and y scale by W/2 and H/2
    theta = torch.stack([torch.stack([cos, -sin * H / W, zero], 1), torch.stack([sin * W / H, cos, zero], 1)], 1)
    grid = nn.functional.affine_grid(theta, [N, C, H, W], align_corners=False)  # (N, H, W, 2)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_rotate(x: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Rotate each image by its own angle drawn uniformly from [-degrees, degrees]."""
    check_float("degrees", degrees, ge=0, le=180)
    angles = (torch.rand(x.shape[0], generator=generator) * 2 - 1) * degrees  # (N,)
    return rotate(x, angles)


def pixel_pca(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (C,), largest first, and eigenvectors (C, C), one per column, of the C x C covariance of the
    pixels of images X (N, C, H, W): what AlexNet's PCA lighting noise (`pca_lighting`) is built from.

    >>> X = torch.tensor([[[[0.0, 1.0]], [[0.0, 1.0]], [[0.0, 1.0]]]])  # two pixels: black and white
    >>> eigvals, eigvecs = pixel_pca(X)  # all the variance lies along grey (1, 1, 1) / sqrt(3)
    >>> [round(v, 4) for v in eigvals.tolist()], [round(v, 4) for v in eigvecs[:, 0].abs().tolist()]
    ([1.5, 0.0, 0.0], [0.5774, 0.5774, 0.5774])
    """
    check_tensor("X", X, ndim=4, dtype="number", finite=True)
    pixels = X.double().transpose(0, 1).flatten(1)  # (N, C, H, W) -> (C, N * H * W)
    if pixels.shape[1] < 2:
        raise ValueError(f"X must hold at least 2 pixels to have a covariance, got shape {tuple(X.shape)}")
    eigvals, eigvecs = torch.linalg.eigh(torch.cov(pixels))  # ascending, for a symmetric matrix
    return eigvals.flip(0).clamp(min=0).to(torch.get_default_dtype()), eigvecs.flip(1).to(torch.get_default_dtype())


def pca_lighting(x: torch.Tensor, eigvals: torch.Tensor, eigvecs: torch.Tensor, sigma: float,
                 generator: torch.Generator) -> torch.Tensor:
    """AlexNet's colour augmentation: add sum_i alpha_i * eigvals[i] * eigvecs[:, i], with alpha_i ~ N(0, sigma)
    drawn once per image, to every pixel of that image (x: (N, C, H, W); eigvals, eigvecs from `pixel_pca`)."""
    check_tensor("x", x, ndim=4, dtype="float")
    C = x.shape[1]
    check_tensor("eigvals", eigvals, ndim=1, dtype="float", finite=True)
    check_tensor("eigvecs", eigvecs, ndim=2, dtype="float", finite=True)
    if eigvals.shape != (C,) or eigvecs.shape != (C, C):
        raise ValueError(f"eigvals must have shape ({C},) and eigvecs ({C}, {C}) for images of {C} channels, "
                         f"got {tuple(eigvals.shape)} and {tuple(eigvecs.shape)}")
    check_float("sigma", sigma, ge=0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    alpha = torch.randn(x.shape[0], C, generator=generator, dtype=eigvals.dtype) * sigma  # (N, C), on the CPU
    offset = (alpha * eigvals.cpu()) @ eigvecs.cpu().T  # row n: sum_i alpha_ni lambda_i v_i -> (N, C)
    return x + offset.to(device=x.device, dtype=x.dtype)[:, :, None, None]  # one colour shift per image


@dataclass(frozen=True)
class Augment:
    """Batch augmentation for training: random crop after zero-padding by `crop_padding`, random mirror if `hflip`,
    random upside-down if `vflip`, random rotation by up to `rotation` degrees either way.

    Each option draws random numbers only when it is on, so adding an option leaves the others' results unchanged.
    """

    crop_padding: int = 0
    hflip: bool = False
    rotation: float = 0.0
    vflip: bool = False

    def __post_init__(self) -> None:
        check_int("crop_padding", self.crop_padding, ge=0)
        check_bool("hflip", self.hflip)
        check_bool("vflip", self.vflip)
        check_float("rotation", self.rotation, ge=0, le=180)  # the largest angle in degrees, either way

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.crop_padding > 0:
            x = random_crop(x, self.crop_padding, generator)
        if self.hflip:
            x = random_hflip(x, generator)
        if self.rotation > 0:
            x = random_rotate(x, self.rotation, generator)
        if self.vflip:
            x = random_vflip(x, generator)
        return x


# ----------------------------------------------------------------------------------------------------------
# Batches from in-memory tensors
# ----------------------------------------------------------------------------------------------------------
class TensorLoader:
    """Mini-batches `(X, y)` sliced from tensors kept on `device`; uint8 images become floats in [0, 1].

    >>> X, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    >>> [len(yb) for _, yb in TensorLoader(X, y, batch_size=4)]
    [4, 4, 2]
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int = 128,
        shuffle: bool = False,
        *,
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        seed: int = 0,
    ) -> None:
        check_tensor("X", X, ndim=range(2, 6), dtype="number", finite=True)
        check_tensor("y", y, nonempty=False)
        if len(X) != len(y):
            raise ValueError(f"X must be (N, ...) with N = len(y); got X {tuple(X.shape)} and y {tuple(y.shape)}")
        check_int("batch_size", batch_size, ge=1)
        check_bool("shuffle", shuffle)
        check_bool("drop_last", drop_last)
        check_int("seed", seed, ge=0)
        check_callable("augment", augment)
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std to normalise, or neither")
        for name, v in (("mean", mean), ("std", std)):
            for m in ([] if v is None else [v] if not isinstance(v, Sequence) else v):
                check_float(name, m, gt=0 if name == "std" else None)
        device = check_device("device", device)
        self.device = device if device is not None else get_device()
        self.X, self.y = X.to(self.device), y.to(self.device)  # moved once, sliced every batch
        self.batch_size, self.shuffle, self.drop_last, self.augment = batch_size, shuffle, drop_last, augment
        self.mean = None if mean is None else self._per_channel(mean)
        self.std = None if std is None else self._per_channel(std)
        self.generator = torch.Generator().manual_seed(seed)  # the loader's own randomness: order and augmentation

    def _per_channel(self, v: float | Sequence[float]) -> torch.Tensor:
        t = torch.as_tensor(v, dtype=torch.float32, device=self.device)
        return t.reshape(1, -1, *([1] * (self.X.ndim - 2))) if self.X.ndim > 2 else t  # (1, C, 1, 1)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.X)
        order = torch.randperm(n, generator=self.generator).to(self.device) if self.shuffle else None
        for i in range(len(self)):
            idx = slice(i * self.batch_size, (i + 1) * self.batch_size)
            sel = order[idx] if order is not None else idx
            xb, yb = self.X[sel], self.y[sel]
            if xb.dtype == torch.uint8:
                xb = xb.float().div_(255)
            if self.augment is not None:  # before normalising, so crops pad with black as torchvision does
                xb = self.augment(xb, self.generator)
            if self.mean is not None:
                xb = (xb - self.mean) / self.std
            yield xb, yb


# ----------------------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------------------
@dataclass
class History:
    """Per-epoch record of a `fit` run: losses, accuracies, learning rate and elapsed seconds."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)  # seconds since the start of fit, at the end of each epoch

    def best_epoch(self, metric: str = "val_loss") -> int:
        """The epoch (1-based) with the lowest loss or highest accuracy in `metric`."""
        check_choice("metric", metric, ("val_loss", "val_acc", "train_loss", "train_acc"))
        values = getattr(self, metric)
        if not values:
            raise ValueError(f"metric {metric!r} has no values recorded (was there validation data?)")
        best = min(values) if metric.endswith("loss") else max(values)
        return self.epoch[values.index(best)]

    def as_dict(self) -> dict[str, list]:
        """The history as a plain dict of lists (for json or pandas)."""
        return asdict(self)

    def add(self, epoch: int, lr: float, seconds: float, train: tuple[float, float],
            val: tuple[float, float] | None) -> None:
        """Record one epoch: its lr, the seconds since the start, (loss, accuracy) on training and validation data."""
        self.epoch.append(epoch)
        self.lr.append(lr)
        self.time.append(seconds)
        self.train_loss.append(train[0])
        self.train_acc.append(train[1])
        if val is not None:
            self.val_loss.append(val[0])
            self.val_acc.append(val[1])


def accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose highest score (logit or probability) is the label y: (N, K) scores, (N,) labels.

    >>> accuracy(torch.tensor([[0.6, 0.4], [0.2, 0.8]]), torch.tensor([0, 0]))
    0.5
    """
    check_tensor("scores", scores, ndim=2, dtype="float", finite=True)
    check_tensor("y", y, ndim=1, dtype="int")
    if len(y) != len(scores):
        raise ValueError(f"scores and y must have one row per example, got {len(scores)} and {len(y)}")
    return (scores.argmax(dim=1) == y).float().mean().item()


def _count_correct(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(number of correct arg-max labels, number of labels): per example for (N, K) logits and (N,) labels, per pixel
    for (N, K, H, W) logits and (N, H, W) labels (segmentation); (nan, 0) for targets that are not class labels.

    >>> _count_correct(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    (tensor(1), 2)
    """
    if y.is_floating_point() or logits.ndim != y.ndim + 1:
        return torch.tensor(float("nan")), 0  # regression targets: accuracy means nothing
    return (logits.argmax(1) == y).sum(), y.numel()


class _Totals:
    """Sums over the batches of one pass, kept on the device (no sync per batch): loss x examples, correct labels."""

    def __init__(self) -> None:
        self.loss, self.correct, self.n, self.labels = 0.0, 0, 0, 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        correct, labels = _count_correct(logits.detach(), y)
        self.loss += loss.detach() * len(y)
        self.correct, self.labels, self.n = self.correct + correct, self.labels + labels, self.n + len(y)

    def mean(self, empty: str) -> tuple[float, float]:
        """(mean loss, accuracy); a ValueError saying `empty` if there were no batches."""
        if self.n == 0:
            raise ValueError(empty)
        return float(self.loss) / self.n, float(self.correct) / max(self.labels, 1)


def _amp_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision only on CUDA: bfloat16 where supported, else float16 (which needs a GradScaler)."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


# Devices whose convolutions run faster on channels_last (N, H, W, C in memory) images and weights: CUDA, and the
# CPU (oneDNN; small_cnn trains about 25% faster). Apple MPS is left as it is.
CHANNELS_LAST_DEVICES = ("cuda", "cpu")


def _to_device(X: torch.Tensor, y: torch.Tensor, device: torch.device) -> Batch:
    """Move a batch to `device`; images go channels_last there if it is faster (same values, other memory order)."""
    X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if device.type in CHANNELS_LAST_DEVICES and X.ndim == 4:
        X = X.contiguous(memory_format=torch.channels_last)
    return X, y


def _loop_args(net: nn.Module, loss_fn: Loss | None, device: torch.device | str | None) -> tuple[Loss, torch.device]:
    """The checks and defaults `train_one_epoch`, `evaluate` and `predict` share: cross-entropy, the net's device."""
    check_module("net", net)
    check_callable("loss_fn", loss_fn)
    device = check_device("device", device)
    return (loss_fn if loss_fn is not None else nn.functional.cross_entropy), device or module_device(net)


def train_one_epoch(
    net: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    loss_fn: Loss | None = None,
    device: torch.device | str | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> tuple[float, float]:
    """One pass over `batches`: forward, loss, backward, update; returns (mean loss, accuracy).

    Accuracy is per example for class labels, per pixel for segmentation masks, and nan for regression targets.

    `scheduler`, if given, is stepped after every batch (per-epoch schedules are stepped by `fit`).
    """
    loss_fn, device = _loop_args(net, loss_fn, device)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    amp = _amp_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    net.train()
    totals = _Totals()
    for X, y in batches:
        X, y = _to_device(X, y, device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = net(X)
            loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        totals.add(loss, logits, y)
    return totals.mean(empty="no batches to train on: the training data is empty")


@torch.no_grad()
def evaluate(
    net: nn.Module,
    batches: Iterable[Batch],
    loss_fn: Loss | None = None,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of `net` over `batches`, in eval mode and without gradients.

    >>> net = nn.Linear(2, 2); _ = net.weight.data.copy_(torch.eye(2)); _ = net.bias.data.zero_()
    >>> X, y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1, 1])
    >>> round(evaluate(net, TensorLoader(X, y, device="cpu"))[1], 4)  # two of three right
    0.6667
    """
    loss_fn, device = _loop_args(net, loss_fn, device)
    amp = _amp_dtype(device)
    net.eval()
    totals = _Totals()
    for X, y in batches:
        X, y = _to_device(X, y, device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = net(X)
        totals.add(loss_fn(logits.float(), y), logits, y)
    return totals.mean(empty="no batches to evaluate: the data is empty")


@torch.no_grad()
def predict(
    net: nn.Module,
    X: torch.Tensor,
    *,
    batch_size: int = 1000,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The logits of `net` on images `X`, in eval mode, batch by batch, on the CPU: (N, K) or (N, K, H, W).

    Probabilities are `predict(...).softmax(1)`, predicted classes `predict(...).argmax(1)`. `mean`/`std` normalise
    as `fit` does, so a net trained with them sees the same inputs here.

    >>> net = nn.Linear(2, 3)
    >>> predict(net, torch.randn(5, 2), device="cpu").shape
    torch.Size([5, 3])
    """
    check_module("net", net)
    device = check_device("device", device) or module_device(net)
    loader = TensorLoader(X, torch.zeros(len(X), dtype=torch.long) if isinstance(X, torch.Tensor) else X,
                          batch_size, mean=mean, std=std, device=device)
    amp = _amp_dtype(device)
    net.eval()
    out = []
    for xb, yb in loader:
        xb, _ = _to_device(xb, yb, device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out.append(net(xb).float().cpu())
    return torch.cat(out)


class Callback:
    """Something `fit` calls after every epoch and once at the end; override what you need.

    `on_epoch_end` sees the net and the History so far and returns True to stop training early.
    """

    def on_epoch_end(self, net: nn.Module, history: History) -> bool | None:
        """After each epoch's record is added to `history`; return True to stop."""
        return None

    def on_fit_end(self, net: nn.Module, history: History) -> None:
        """Once, when training stops (after the last epoch or an early stop)."""


class EarlyStopping(Callback):
    """Stop after `patience` epochs without a better `metric` (lowest loss, highest accuracy); at the end restore
    the weights of the best epoch (`restore_best`). After `fit`, `best_epoch` is that epoch (1-based)."""

    def __init__(self, patience: int = 5, metric: str = "val_loss", restore_best: bool = True) -> None:
        self.patience = check_int("patience", patience, ge=1)
        self.metric = check_choice("metric", metric, ("val_loss", "val_acc", "train_loss", "train_acc"))
        self.restore_best = check_bool("restore_best", restore_best)
        self.best_epoch, self.best_value, self._best_state = 0, None, None

    def on_epoch_end(self, net: nn.Module, history: History) -> bool:
        values = getattr(history, self.metric)
        if not values:
            raise ValueError(f"EarlyStopping watches {self.metric!r}, but fit recorded none (give val_data)")
        value, epoch = values[-1], history.epoch[-1]
        better = self.best_value is None or (value < self.best_value if self.metric.endswith("loss")
                                             else value > self.best_value)
        if better:
            self.best_value, self.best_epoch = value, epoch
            if self.restore_best:
                self._best_state = copy.deepcopy(net.state_dict())
        return epoch - self.best_epoch >= self.patience

    def on_fit_end(self, net: nn.Module, history: History) -> None:
        if self.restore_best and self._best_state is not None:
            net.load_state_dict(self._best_state)


class Snapshots(Callback):
    """Keep a copy of the weights (`states`, a list of state dicts) every `every` epochs, as snapshot ensembles do."""

    def __init__(self, every: int = 1) -> None:
        self.every = check_int("every", every, ge=1)
        self.states: list[dict[str, torch.Tensor]] = []

    def on_epoch_end(self, net: nn.Module, history: History) -> None:
        if history.epoch[-1] % self.every == 0:
            self.states.append(copy.deepcopy(net.state_dict()))


def _check_data(name: str, data: object) -> tuple[torch.Tensor, torch.Tensor]:
    """`data` as an (X, y) pair of tensors of equal length."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of tensors, got {type(data).__name__}")
    return data[0], data[1]


def _check_fit_args(net: nn.Module, num_epochs: int, lr: float | None, optimizer: torch.optim.Optimizer | None,
                    step_scheduler: str, progress: bool, callbacks: Sequence[Callback]) -> None:
    """fit's door: a clear error for each argument that makes no sense."""
    check_module("net", net, has_parameters=optimizer is None)
    check_int("num_epochs", num_epochs, ge=0)
    if (optimizer is None) == (lr is None):
        raise ValueError("give exactly one of `optimizer` or `lr` (lr alone means SGD with momentum 0.9)")
    if lr is not None:
        check_float("lr", lr, gt=0)
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_choice("step_scheduler", step_scheduler, ("epoch", "batch"))
    check_bool("progress", progress)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks[{i}] must be a cnnlab.train.Callback, got {type(cb).__name__}")


def fit(
    net: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    num_epochs: int,
    lr: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    step_scheduler: str = "epoch",
    loss_fn: Loss | None = None,
    batch_size: int = 128,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    drop_last: bool = False,
    callbacks: Sequence[Callback] = (),
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train `net` on `train_data = (X, y)` for `num_epochs`, evaluating on `val_data` after each epoch.

    Give either `optimizer` or `lr` (then plain SGD with momentum 0.9 is used). Training batches are shuffled
    (and augmented, if `augment`), validation batches are not. `drop_last` skips the last, smaller training batch,
    whose few examples make poor BatchNorm statistics. `scheduler` steps per "epoch" or per "batch".
    `loss_fn(logits, y)` defaults to cross-entropy. `callbacks` (e.g. `EarlyStopping`, `Snapshots`,
    `cnnlab.plots.LiveLearningCurves`) are called after every epoch and may stop training.
    On CUDA it uses mixed precision; on CUDA and the CPU, channels_last. The code path is otherwise the same.
    """
    if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of callbacks, e.g. [EarlyStopping()], got {type(callbacks).__name__}")
    _check_fit_args(net, num_epochs, lr, optimizer, step_scheduler, progress, callbacks)
    train_data = _check_data("train_data", train_data)
    val_data = _check_data("val_data", val_data) if val_data is not None else None
    device = check_device("device", device) or get_device()
    norm = dict(mean=mean, std=std, device=device)
    train_loader = TensorLoader(*train_data, batch_size, shuffle=True, augment=augment, drop_last=drop_last, seed=seed,
                                **norm)
    val_loader = TensorLoader(*val_data, batch_size, shuffle=False, **norm) if val_data is not None else None
    net.to(device)
    if device.type in CHANNELS_LAST_DEVICES:
        net.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)

    history, start = History(), time.perf_counter()
    per_batch = scheduler if step_scheduler == "batch" else None
    for epoch in tqdm(range(1, num_epochs + 1), desc="epochs", disable=not progress):
        lr_now = optimizer.param_groups[0]["lr"]
        train = train_one_epoch(net, train_loader, optimizer, loss_fn, device, per_batch)
        if scheduler is not None and step_scheduler == "epoch":
            scheduler.step()
        val = evaluate(net, val_loader, loss_fn, device) if val_loader is not None else None
        history.add(epoch, lr_now, time.perf_counter() - start, train, val)
        stop = [cb.on_epoch_end(net, history) for cb in callbacks]  # every callback sees every epoch
        if any(stop):
            break
    for cb in callbacks:
        cb.on_fit_end(net, history)
    return history
