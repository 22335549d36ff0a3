"""One training loop for the whole course: data kept on the device, `train_one_epoch`, `evaluate`, `fit`.

Small datasets (MNIST, Fashion-MNIST, features of a frozen network) fit in memory, so batches are sliced
from tensors that already sit on the device, converted to float and augmented *as a batch* there. That avoids
the per-sample PIL path of a torchvision `Dataset` + `DataLoader`, which costs an order of magnitude more CPU
per epoch (see `python -m cnnlab.bench`).

Settings that change results (shuffling, seed, augmentation) are kept apart from settings that change speed
(device, AMP, channels_last): training always shuffles and evaluation never does, on every device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from cnnlab.runtime import get_device

Batch = tuple[torch.Tensor, torch.Tensor]


# ----------------------------------------------------------------------------------------------------------
# Augmentation, in batches, on the device
# ----------------------------------------------------------------------------------------------------------
def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each image by `padding` and cut a random HxW window from it (one gather for the whole batch)."""
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
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_vflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Turn each image upside down (mirror top-bottom) with probability `p`."""
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
    angles = (torch.rand(x.shape[0], generator=generator) * 2 - 1) * degrees  # (N,)
    return rotate(x, angles)


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
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"rotation is the largest angle in degrees, 0 <= rotation <= 180; got {self.rotation!r}")

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
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}")
        if X.ndim < 2 or len(X) != len(y):
            raise ValueError(f"X must be (N, ...) with N = len(y); got X {tuple(X.shape)} and y {tuple(y.shape)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std to normalise, or neither")
        self.device = torch.device(device) if device is not None else get_device()
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
        values = getattr(self, metric, None)
        if not isinstance(values, list) or not values or metric in ("epoch", "time", "lr"):
            raise ValueError(f"metric must be a recorded loss or accuracy list, got {metric!r}")
        best = min(values) if metric.endswith("loss") else max(values)
        return self.epoch[values.index(best)]

    def as_dict(self) -> dict[str, list]:
        """The history as a plain dict of lists (for json or pandas)."""
        return asdict(self)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label.

    >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    0.5
    """
    return (logits.argmax(dim=1) == y).float().mean().item()


def count_correct(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(number of correct arg-max labels, number of labels): per example for (N, K) logits and (N,) labels, per pixel
    for (N, K, H, W) logits and (N, H, W) labels (segmentation); (nan, 0) for targets that are not class labels.

    >>> count_correct(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    (tensor(1), 2)
    """
    if y.is_floating_point() or logits.ndim != y.ndim + 1:
        return torch.tensor(float("nan")), 0  # regression targets: accuracy means nothing
    return (logits.argmax(1) == y).sum(), y.numel()


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


def train_one_epoch(
    net: nn.Module,
    batches: Iterable[Batch],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> tuple[float, float]:
    """One pass over `batches`: forward, loss, backward, update; returns (mean loss, accuracy).

    Accuracy is per example for class labels, per pixel for segmentation masks, and nan for regression targets.

    `scheduler`, if given, is stepped after every batch (per-epoch schedules are stepped by `fit`).
    """
    loss_fn = loss_fn if loss_fn is not None else nn.functional.cross_entropy
    device = device if device is not None else next(net.parameters()).device
    amp = _amp_dtype(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    net.train()
    total_loss, total_correct, total_n, total_labels = 0.0, 0, 0, 0
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
        total_loss += loss.detach() * len(y)  # stays on the device: no sync per batch
        correct, labels = count_correct(logits.detach(), y)
        total_correct, total_labels, total_n = total_correct + correct, total_labels + labels, total_n + len(y)
    if total_n == 0:
        raise ValueError("no batches to train on: the training data is empty")
    return float(total_loss) / total_n, float(total_correct) / max(total_labels, 1)


@torch.no_grad()
def evaluate(
    net: nn.Module,
    batches: Iterable[Batch],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of `net` over `batches`, in eval mode and without gradients."""
    loss_fn = loss_fn if loss_fn is not None else nn.functional.cross_entropy
    device = device if device is not None else next(net.parameters()).device
    amp = _amp_dtype(device)
    net.eval()
    total_loss, total_correct, total_n, total_labels = 0.0, 0, 0, 0
    for X, y in batches:
        X, y = _to_device(X, y, device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            logits = net(X)
        total_loss += loss_fn(logits.float(), y) * len(y)
        correct, labels = count_correct(logits, y)
        total_correct, total_labels, total_n = total_correct + correct, total_labels + labels, total_n + len(y)
    if total_n == 0:
        raise ValueError("no batches to evaluate: the data is empty")
    return float(total_loss) / total_n, float(total_correct) / max(total_labels, 1)


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
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 128,
    mean: float | Sequence[float] | None = None,
    std: float | Sequence[float] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    drop_last: bool = False,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    plot: bool = False,
) -> History:
    """Train `net` on `train_data = (X, y)` for `num_epochs`, evaluating on `val_data` after each epoch.

    Give either `optimizer` or `lr` (then plain SGD with momentum 0.9 is used). Training batches are shuffled
    (and augmented, if `augment`), validation batches are not. `drop_last` skips the last, smaller training batch,
    whose few examples make poor BatchNorm statistics. `scheduler` steps per "epoch" or per "batch".
    On CUDA it uses mixed precision; on CUDA and the CPU, channels_last. The code path is otherwise the same.
    """
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 0:
        raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")
    if (optimizer is None) == (lr is None):
        raise ValueError("give exactly one of `optimizer` or `lr` (lr alone means SGD with momentum 0.9)")
    if lr is not None and not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if step_scheduler not in ("epoch", "batch"):
        raise ValueError(f"step_scheduler must be 'epoch' or 'batch', got {step_scheduler!r}")
    device = torch.device(device) if device is not None else get_device()
    net.to(device)
    if device.type in CHANNELS_LAST_DEVICES:
        net.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    norm = dict(mean=mean, std=std, device=device)
    train_loader = TensorLoader(*train_data, batch_size, shuffle=True, augment=augment, drop_last=drop_last, seed=seed,
                                **norm)
    val_loader = TensorLoader(*val_data, batch_size, shuffle=False, **norm) if val_data is not None else None

    history, start = History(), time.perf_counter()
    live = None
    if plot:
        from cnnlab.plots import LiveLearningCurves  # matplotlib only when asked for

        live = LiveLearningCurves(num_epochs)
    per_batch = scheduler if step_scheduler == "batch" else None
    for epoch in tqdm(range(1, num_epochs + 1), desc="epochs", disable=not progress):
        lr_now = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(net, train_loader, optimizer, loss_fn, device, per_batch)
        if scheduler is not None and step_scheduler == "epoch":
            scheduler.step()
        history.epoch.append(epoch)
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        history.lr.append(lr_now)
        if val_loader is not None:
            val_loss, val_acc = evaluate(net, val_loader, loss_fn, device)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
        history.time.append(time.perf_counter() - start)
        if live is not None:
            live.update(history)
    if live is not None:
        live.close()
    return history
