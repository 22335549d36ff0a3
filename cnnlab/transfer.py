"""Transfer learning: freeze a pretrained body, replace its head, cache its features, compare the strategies.

The two scenarios of the lectures:

* **fixed feature extractor** - freeze every layer but a new last layer, and train only that layer;
* **fine-tuning** - start from the pretrained weights and train everything (body at a smaller learning rate).

A frozen network still has a trap: ``net.train()`` switches its BatchNorm layers back to batch statistics, so
their running means drift even though no weight is trained. `freeze` therefore keeps frozen BatchNorm layers in
eval mode with a forward pre-hook (``fit`` calls ``net.train()`` every epoch), and `unfreeze` removes it.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.ops import roi_align

from cnnlab.data import data_dir, display_path
from cnnlab.runtime import get_device, set_seed
from cnnlab.train import TensorLoader, evaluate, fit, pca_lighting
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
from cnnlab.weights import load_mobilenet_v2

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_MEAN_255",
    "IMAGENET_STD",
    "IMAGENET_STD_255",
    "ImageNetAugment",
    "STRATEGIES",
    "block_inputs",
    "conv_cuts",
    "count_trainable",
    "extract_features",
    "features_vs_scratch",
    "finetune_top",
    "freeze",
    "frozen_bn_in_train_mode",
    "head_name",
    "linear_probe",
    "load_faces",
    "mobilenet_body",
    "param_groups",
    "per_class_subset",
    "photo_patches",
    "pretrained_mobilenet_v2",
    "replace_head",
    "run_strategy",
    "scratch_cnn",
    "split",
    "split_classes",
    "to_imagenet_input",
    "yosinski",
    "FeatureCacheWarning",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per RGB channel, for images scaled to [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_MEAN_255 = (123.68, 116.779, 103.939)  # the same numbers for images in [0, 255] (x 255)
IMAGENET_STD_255 = (58.393, 57.12, 57.375)
STRATEGIES = ("features", "finetune", "scratch")
_HOOK_ATTR = "_cnnlab_frozen_bn_hook"  # where freeze() keeps the hook handle of a frozen BatchNorm layer


# ---------------------------------------------------------------------------------------------- head and counts


def _check_net(net: Any, name: str = "net") -> nn.Module:
    return check_module(name, net)


def _check_xy(X: Any, y: Any, x_name: str = "X", y_name: str = "y", *, ndim: Any = None) -> None:
    """`X` a finite tensor (N, ...) of `ndim` dimensions and `y` int64-like labels (N,) of the same length."""
    check_tensor(x_name, X, ndim=ndim if ndim is not None else range(1, 9), dtype="number", finite=True)
    check_tensor(y_name, y, ndim=1, dtype="int")
    if len(X) != len(y):
        raise ValueError(f"{x_name} and {y_name} must hold the same number of examples, "
                         f"got {x_name} {tuple(X.shape)} and {y_name} {tuple(y.shape)}")


def _check_pair(name: str, pair: Any, *, ndim: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`pair` = (X, y): a tuple or list of a data tensor and its labels (see `_check_xy`)."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        shown = f"{type(pair).__name__} of length {len(pair)}" if isinstance(pair, (tuple, list)) else type(pair).__name__
        raise TypeError(f"{name} must be a pair (X, y) of tensors, got {shown}")
    _check_xy(pair[0], pair[1], f"{name}[0] (X)", f"{name}[1] (y)", ndim=ndim)
    return pair[0], pair[1]


def _device(device: Any) -> torch.device:
    """`device` checked (a str or torch.device), or the best available device if None."""
    device = check_device("device", device)
    return device if device is not None else get_device()


def _check_seed(seed: Any) -> int:
    return check_int("seed", seed, ge=0)


def head_name(net: nn.Module) -> str:
    """The name of `net`'s head: its last ``nn.Linear`` (``'classifier.1'`` in MobileNetV2, ``'fc'`` in ResNet)."""
    _check_net(net)
    names = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError("net has no nn.Linear layer, so it has no head to freeze around or replace")
    return names[-1]


def count_trainable(net: nn.Module) -> int:
    """Number of parameters that require a gradient (what the optimizer will update).

    >>> count_trainable(nn.Linear(512, 10))  # ResNet-18's new head for 10 classes: 512 * 10 + 10
    5130
    """
    _check_net(net)
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def replace_head(net: nn.Module, num_classes: int) -> nn.Module:
    """Swap `net`'s last ``nn.Linear`` for a fresh, trainable one with `num_classes` outputs; returns `net`.

    >>> net = replace_head(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1000)), 2)
    >>> net[2]
    Linear(in_features=8, out_features=2, bias=True)
    """
    _check_net(net)
    check_int("num_classes", num_classes, ge=1)
    name = head_name(net)
    old = net.get_submodule(name)
    parent_name, _, child = name.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)  # (N, D) -> (N, num_classes)
    setattr(parent, child, new.to(old.weight.device))
    return net


# -------------------------------------------------------------------------------------------- freeze / unfreeze


def _keep_eval(module: nn.Module, inputs: tuple) -> None:
    """Forward pre-hook of a frozen BatchNorm layer: use (and never update) its running statistics."""
    if module.training:
        module.eval()


def _set_frozen(module: nn.Module, frozen: bool) -> None:
    for p in module.parameters(recurse=False):
        p.requires_grad_(not frozen)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        handle = getattr(module, _HOOK_ATTR, None)
        if frozen and handle is None:
            setattr(module, _HOOK_ATTR, module.register_forward_pre_hook(_keep_eval))
            module.eval()
        elif not frozen and handle is not None:
            handle.remove()
            delattr(module, _HOOK_ATTR)


def freeze(net: nn.Module, up_to: int | None = None) -> nn.Module:
    """Freeze `net` but its head (`up_to=None`), or only its first `up_to` top-level children; returns `net`.

    Frozen parameters get ``requires_grad=False``; frozen BatchNorm layers stay in eval mode even after
    ``net.train()`` (they switch back at their next forward), so their running statistics never move.

    >>> net = freeze(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
    >>> count_trainable(net)  # only the head: 8 * 2 + 2
    18
    """
    _check_net(net)
    if up_to is None:
        head = net.get_submodule(head_name(net))
        for m in net.modules():
            _set_frozen(m, True)
        for m in head.modules():
            _set_frozen(m, False)
        return net
    children = list(net.children())
    if isinstance(up_to, bool) or not isinstance(up_to, int):
        raise TypeError(f"up_to must be None (all but the head) or an int, got {type(up_to).__name__} {up_to!r}")
    if not 0 <= up_to <= len(children):
        raise ValueError(f"up_to must be None (all but the head) or an int in 0..{len(children)} "
                         f"(top-level children of net), got {up_to!r}")
    for child in children[:up_to]:
        for m in child.modules():
            _set_frozen(m, True)
    return net


def unfreeze(net: nn.Module) -> nn.Module:
    """Make every parameter of `net` trainable again and let its BatchNorm layers follow ``net.train()``."""
    _check_net(net)
    for m in net.modules():
        _set_frozen(m, False)
    return net


def set_train_mode(net: nn.Module) -> nn.Module:
    """``net.train()``, then eval mode again for every frozen BatchNorm layer (explicit, before any forward)."""
    _check_net(net)
    net.train()
    for m in net.modules():
        if getattr(m, _HOOK_ATTR, None) is not None:
            m.eval()
    return net


def frozen_bn_in_train_mode(net: nn.Module) -> list[str]:
    """Names of BatchNorm layers whose parameters are all frozen but which are in train mode (the classic bug)."""
    _check_net(net)
    return [name for name, m in net.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
            and any(True for _ in m.parameters()) and not any(p.requires_grad for p in m.parameters())]


def param_groups(net: nn.Module, lr_head: float, lr_body: float) -> list[dict[str, Any]]:
    """Optimizer groups with discriminative learning rates: trainable body at `lr_body`, head at `lr_head`.

    Frozen parameters are left out, so the optimizer sees only what it may update.

    >>> groups = param_groups(freeze(nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))), lr_head=0.1, lr_body=0.01)
    >>> [(len(g["params"]), g["lr"]) for g in groups]  # the frozen body has no group
    [(2, 0.1)]
    """
    _check_net(net)
    lr_head, lr_body = check_float("lr_head", lr_head, gt=0), check_float("lr_body", lr_body, gt=0)
    head = net.get_submodule(head_name(net))
    head_ids = {id(p) for p in head.parameters()}
    body = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    top = [p for p in head.parameters() if p.requires_grad]
    groups = [{"params": body, "lr": lr_body}, {"params": top, "lr": lr_head}]
    return [g for g in groups if g["params"]]


# ----------------------------------------------------------------------------------------- features, cached


def checksum(net: nn.Module, X: torch.Tensor) -> str:
    """sha256 of `net`'s class, state (weights and buffers) and `X`'s dtype, shape and values: the cache key."""
    _check_net(net)
    check_tensor("X", X, nonempty=False)
    digest = hashlib.sha256(type(net).__name__.encode())
    for name, t in list(net.state_dict().items()) + [("X", X)]:
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _feature_cache_dir() -> Path:
    """Where extracted features are cached: ``data/cache/features`` (git-ignored)."""
    return data_dir() / "cache" / "features"


class FeatureCacheWarning(UserWarning):
    """A cached features file was unreadable, corrupted or not what its name says; it was recomputed and rewritten."""


def _tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a CPU tensor's dtype, shape and bytes."""
    t = t.contiguous()
    digest = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _read_feature_cache(path: Path, key: str) -> torch.Tensor | None:
    """The features cached in `path` if they pass every check; else None, after a FeatureCacheWarning saying why.

    The file holds ``{"features": tensor, "sha256": its digest, "key": checksum(net, data)}``: a flipped byte in the
    features (or in the digest) fails the sha256 check, a truncated or damaged file fails to load, and a file
    copied or renamed from another cache entry has the wrong key. Any of them is recomputed, never returned.
    """
    try:
        entry = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - a damaged zip/pickle raises RuntimeError, EOFError, UnpicklingError...
        reason = f"cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})"
    else:
        if not (isinstance(entry, dict) and set(entry) == {"features", "sha256", "key"}
                and isinstance(entry["features"], torch.Tensor)):
            reason = "is not a checksummed features cache (written by an older cnnlab, or not by cnnlab)"
        elif entry["key"] != key:
            reason = "was made from another network or data than its name says"
        elif _tensor_sha256(entry["features"]) != entry["sha256"]:
            reason = "is corrupted: the sha256 of its features is not the one stored with them"
        else:
            return entry["features"]
    warnings.warn(f"feature cache {display_path(path)} {reason}; recomputed the features and rewrote it",
                  FeatureCacheWarning, stacklevel=3)
    return None


def _write_feature_cache(path: Path, key: str, features: torch.Tensor) -> None:
    """Save `features` with their sha256 and key, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # per process: parallel writers never mix
    torch.save({"features": features, "sha256": _tensor_sha256(features), "key": key}, partial)
    partial.replace(path)


@torch.no_grad()
def extract_features(net: nn.Module, data: torch.Tensor, batch_size: int = 128, *,
                     cache_dir: Path | None = None, use_cache: bool = True) -> torch.Tensor:
    """``net(data)`` in eval mode, batch by batch, as a float32 CPU tensor; cached on disk by model + data checksum.

    A changed weight, buffer or input value gives a new checksum, hence a fresh computation. The cached features
    are stored with their sha256: a corrupted, truncated or misnamed cache file is recomputed and rewritten, with a
    `FeatureCacheWarning` naming it, never returned.
    """
    _check_net(net)
    check_tensor("data", data)
    if data.ndim < 2:
        raise ValueError(f"data must be a tensor (N, ...) with at least 2 dimensions, got shape {tuple(data.shape)}")
    check_int("batch_size", batch_size, ge=1)
    check_bool("use_cache", use_cache)
    if cache_dir is not None and (not isinstance(cache_dir, (str, os.PathLike)) or not str(cache_dir)):
        raise TypeError(f"cache_dir must be a non-empty str or pathlib.Path or None, "
                        f"got {type(cache_dir).__name__} {cache_dir!r}")
    path = key = None
    if use_cache:
        folder = Path(cache_dir) if cache_dir is not None else _feature_cache_dir()
        key = checksum(net, data)
        path = folder / f"{type(net).__name__}-{key[:32]}.pt"
        if path.is_file():
            cached = _read_feature_cache(path, key)
            if cached is not None:
                return cached
    was_training = net.training
    net.eval()
    device = module_device(net)
    out = [net(data[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(data), batch_size)]
    net.train(was_training)
    features = torch.cat(out).flatten(1)  # (N, ...) -> (N, D)
    if path is not None:
        _write_feature_cache(path, key, features)
    return features


# -------------------------------------------------------------------------------------- inputs and the model


def to_imagenet_input(X: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, 1 or 3, H, W), uint8 or float in [0, 1], as ImageNet input: RGB, `size` px, normalised."""
    check_tensor("X", X, ndim=4, dtype="number", finite=True)
    if X.shape[1] not in (1, 3):
        raise ValueError(f"X must be a tensor (N, 1 or 3, H, W), got shape {tuple(X.shape)}")
    check_int("size", size, ge=1)
    x = X.float() / 255 if X.dtype == torch.uint8 else X.float()
    x = x.expand(-1, 3, -1, -1)  # (N, 1, H, W) -> (N, 3, H, W): grey repeated
    x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1)
    return (x - mean) / std  # (N, 3, size, size)


def mobilenet_body(net: nn.Module) -> nn.Sequential:
    """MobileNetV2 without its classifier: (N, 3, H, W) -> (N, 1280) pooled features (shares `net`'s weights)."""
    _check_net(net)
    if not isinstance(getattr(net, "features", None), nn.Module):
        raise TypeError(f"net must be a MobileNetV2 (a module with a .features body), got {type(net).__name__}")
    return nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def pretrained_mobilenet_v2() -> nn.Module:
    """torchvision's MobileNetV2 with its ImageNet weights, offline and sha256-checked (`cnnlab.weights`).

    The same net as ``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")``, but a corrupted file in torch's
    hub cache is an error naming it and the fix, not weights that are silently a little off.
    """
    return load_mobilenet_v2()


def _check_range_pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {type(value).__name__} {value!r}")
    return check_float(f"{name}[0]", value[0]), check_float(f"{name}[1]", value[1])


@dataclass(frozen=True)
class ImageNetAugment:
    """The lectures' training pipeline for a whole batch on its device: RandomResizedCrop, flip, colour jitter,
    and AlexNet's PCA lighting noise if `lighting` > 0.

    Each image gets its own crop (area `scale`, aspect `ratio`), mirror and jitter; one ``roi_align`` call crops
    and resizes the batch. Use as ``fit(..., augment=ImageNetAugment(), mean=IMAGENET_MEAN, std=IMAGENET_STD)``.
    Lighting needs `pca` = (eigenvalues, eigenvectors) of the training pixels' RGB covariance
    (``cnnlab.train.pixel_pca``); it is added last, after the clamp to [0, 1], so every pixel of an image gets the
    same shift (`cnnlab.train.pca_lighting`). Each option draws random numbers only when it is on.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: bool = True
    jitter: float = 0.4  # brightness, contrast and saturation factors drawn from [1 - jitter, 1 + jitter]
    lighting: float = 0.0  # sigma of AlexNet's alpha_i ~ N(0, sigma); the lectures use 0.1. 0: off
    pca: Any = None  # (eigvals (3,), eigvecs (3, 3)) from pixel_pca, kept as tuples; needed when lighting > 0

    def __post_init__(self) -> None:
        for name, (lo, hi), top in (("scale", _check_range_pair("scale", self.scale), 1.0),
                                    ("ratio", _check_range_pair("ratio", self.ratio), None)):
            if not 0 < lo <= hi or (top is not None and hi > top):
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high{' <= 1' if top else ''}, "
                                 f"got {getattr(self, name)!r}")
        check_bool("hflip", self.hflip)
        check_float("jitter", self.jitter, ge=0, lt=1)
        check_float("lighting", self.lighting, ge=0)
        if self.pca is None:
            if self.lighting > 0:
                raise ValueError(f"lighting={self.lighting} needs pca=(eigvals, eigvecs) of the training pixels' RGB "
                                 f"covariance, e.g. pca=cnnlab.train.pixel_pca(X_train); got pca=None")
            return
        if not isinstance(self.pca, (tuple, list)) or len(self.pca) != 2:
            raise TypeError(f"pca must be a pair (eigvals, eigvecs), got {type(self.pca).__name__}")
        eigvals = torch.as_tensor(self.pca[0], dtype=torch.float64)
        eigvecs = torch.as_tensor(self.pca[1], dtype=torch.float64)
        if eigvals.shape != (3,) or eigvecs.shape != (3, 3):
            raise ValueError(f"pca must be (eigvals of shape (3,), eigvecs of shape (3, 3)), "
                             f"got shapes {tuple(eigvals.shape)} and {tuple(eigvecs.shape)}")
        check_tensor("pca[0] (eigvals)", eigvals, finite=True)
        check_tensor("pca[1] (eigvecs)", eigvecs, finite=True)
        if bool((eigvals < 0).any()):
            raise ValueError(f"pca[0] (eigvals) must be >= 0 (a covariance's eigenvalues), got {eigvals.tolist()}")
        object.__setattr__(self, "pca", (tuple(eigvals.tolist()), tuple(map(tuple, eigvecs.tolist()))))

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_tensor("x", x, ndim=4, dtype="float")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        N, _, H, W = x.shape
        u = torch.rand(N, 6, generator=generator)
        area = (self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]) * H * W
        log_r = math.log(self.ratio[0]) + (math.log(self.ratio[1]) - math.log(self.ratio[0])) * u[:, 1]
        w = (area * log_r.exp()).sqrt().clamp(max=W)
        h = (area / log_r.exp()).sqrt().clamp(max=H)
        x0, y0 = (W - w) * u[:, 2], (H - h) * u[:, 3]
        boxes = torch.stack([torch.arange(N).float(), x0, y0, x0 + w, y0 + h], 1).to(x.device)  # (N, 5)
        out = roi_align(x, boxes, output_size=(H, W), aligned=True)  # (N, C, H, W): each image its own crop
        if self.hflip:
            out = torch.where((u[:, 4] < 0.5).to(x.device)[:, None, None, None], out.flip(3), out)
        if self.jitter > 0:
            f = (1 - self.jitter + 2 * self.jitter * torch.rand(N, 3, generator=generator)).to(x.device)
            out = out * f[:, 0, None, None, None]  # brightness
            mean = out.mean((1, 2, 3), keepdim=True)
            out = (out - mean) * f[:, 1, None, None, None] + mean  # contrast
            grey = out.mean(1, keepdim=True)  # (N, 1, H, W)
            out = (out - grey) * f[:, 2, None, None, None] + grey  # saturation
        out = out.clamp(0, 1)
        if self.lighting > 0:
            if x.shape[1] != 3:
                raise ValueError(f"lighting works on RGB images: x must be (N, 3, H, W), got {tuple(x.shape)}")
            eigvals, eigvecs = (torch.tensor(v) for v in self.pca)  # float32 on the CPU; the shift moves to x
            out = pca_lighting(out, eigvals, eigvecs, self.lighting, generator)
        return out


# ------------------------------------------------------------------------------------------- the experiment


def _accuracy_on(net: nn.Module, test: tuple[torch.Tensor, torch.Tensor], *, batch_size: int = 250,
                mean: Any = None, std: Any = None, device: torch.device | str | None = None) -> float:
    """Accuracy of `net` on `test` = (X, y), once, after training (cheaper than `fit` evaluating every epoch).

    `device` may be a str ("cpu", "cuda") or a torch.device; None picks the best available.
    """
    _check_net(net)
    _check_pair("test", test)
    check_int("batch_size", batch_size, ge=1)
    device = _device(device)
    return evaluate(net, TensorLoader(*test, batch_size, mean=mean, std=std, device=device), device=device)[1]



def run_strategy(strategy: str, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                 *, num_epochs: int, lr: float = 0.01, seed: int = 0, batch_size: int = 32,
                 device: torch.device | None = None) -> dict[str, Any]:
    """Train MobileNetV2 on ImageNet-ready `train` by `strategy`; returns test accuracy, seconds, trainable count.

    * ``features``: frozen pretrained body, features extracted once (cached), a new linear head trained at `lr`;
    * ``finetune``: pretrained weights, everything trained: head at `lr`, body at `lr` / 10, StepLR(7, 0.1);
    * ``scratch``: random weights, everything trained at `lr`, StepLR(7, 0.1).
    """
    check_choice("strategy", strategy, STRATEGIES)
    _check_pair("train", train, ndim=4)
    _check_pair("test", test, ndim=4)
    check_int("num_epochs", num_epochs, ge=1)
    check_float("lr", lr, gt=0)
    _check_seed(seed)
    check_int("batch_size", batch_size, ge=1)
    device = _device(device)
    num_classes = int(torch.cat([train[1], test[1]]).max()) + 1
    set_seed(seed)
    start = time.perf_counter()
    if strategy == "features":
        body = mobilenet_body(pretrained_mobilenet_v2()).to(device)
        F_train, F_test = (extract_features(body, X, batch_size=128) for X in (train[0], test[0]))
        set_seed(seed)
        net = nn.Linear(F_train.shape[1], num_classes)  # (N, 1280) -> (N, num_classes)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        history = fit(net, (F_train, train[1]), (F_test, test[1]), num_epochs=num_epochs, optimizer=opt,
            batch_size=batch_size, device=device, seed=seed, progress=False)
        trainable = count_trainable(net)
    else:
        net = pretrained_mobilenet_v2() if strategy == "finetune" else mobilenet_v2()
        replace_head(net, num_classes)
        lr_body = lr / 10 if strategy == "finetune" else lr
        opt = torch.optim.SGD(param_groups(net, lr_head=lr, lr_body=lr_body), momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.1)
        history = fit(net, train, test, num_epochs=num_epochs, optimizer=opt, scheduler=sched,
            batch_size=batch_size, device=device, seed=seed, progress=False)
        trainable = count_trainable(net)
    return {"strategy": strategy, "seed": seed, "acc": history.val_acc[-1],
            "seconds": time.perf_counter() - start, "trainable": trainable}


# --------------------------------------------------------------------------------------------- target tasks


def load_faces() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-image's bundled ``lfw_subset``: 200 grey 25x25 images, 100 faces (y=1) then 100 non-faces (y=0).

    >>> X, y = load_faces(); tuple(X.shape), int(y.sum())
    ((200, 1, 25, 25), 100)
    """
    from skimage.data import lfw_subset

    X = torch.from_numpy(lfw_subset()).float().unsqueeze(1)  # (200, 25, 25) in [0, 1] -> (200, 1, 25, 25)
    y = torch.cat([torch.ones(100, dtype=torch.int64), torch.zeros(100, dtype=torch.int64)])
    return X, y


def split(X: torch.Tensor, y: torch.Tensor, num_train: int, seed: int = 0
          ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A random (train, test) split with `num_train` training examples, the rest for testing.

    >>> (Xtr, ytr), (Xte, yte) = split(torch.zeros(10, 2), torch.arange(10), 7); len(ytr), len(yte)
    (7, 3)
    """
    _check_xy(X, y)
    check_int("num_train", num_train)
    if not 0 < num_train < len(y):
        raise ValueError(f"num_train must be in 1..{len(y) - 1}, got {num_train!r}")
    _check_seed(seed)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    tr, te = order[:num_train], order[num_train:]
    return (X[tr], y[tr]), (X[te], y[te])


def features_vs_scratch(features: tuple[torch.Tensor, torch.Tensor], images: tuple[torch.Tensor, torch.Tensor],
                        test_features: torch.Tensor, test_images: torch.Tensor, y_test: torch.Tensor, *,
                        num_epochs: int, seed: int = 0, batch_size: int = 50, width: int = 16,
                        device: torch.device | None = None) -> tuple[float, float]:
    """Test accuracy of (a linear head on frozen features, a `small_cnn` trained from scratch on the raw images).

    `features` = (F, y) and `images` = (X uint8 (N, 1, 28, 28), y) hold the same N examples; lr 0.01 and 0.05.
    """
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
    from cnnlab.models import small_cnn

    (F, y), (X, y_img) = _check_pair("features", features, ndim=2), _check_pair("images", images, ndim=4)
    _check_xy(test_features, y_test, "test_features", "y_test", ndim=2)
    _check_xy(test_images, y_test, "test_images", "y_test", ndim=4)
    check_int("num_epochs", num_epochs, ge=1)
    _check_seed(seed)
    check_int("batch_size", batch_size, ge=1)
    check_int("width", width, ge=1)
    device = _device(device)
    if not torch.equal(y, y_img) or len(F) != len(X):
        raise ValueError("features and images must hold the same examples with the same labels")
    num_classes = int(torch.cat([y, y_test]).max()) + 1
    kw = dict(num_epochs=num_epochs, batch_size=batch_size, device=device, seed=seed, progress=False)
    set_seed(seed)
    head = nn.Linear(F.shape[1], num_classes)  # (N, D) -> (N, num_classes)
    fit(head, (F, y), lr=0.01, **kw)
    acc_features = _accuracy_on(head, (test_features, y_test), device=device)
    set_seed(seed)
    cnn = small_cnn(in_channels=X.shape[1], num_classes=num_classes, width=width)
    fit(cnn, (X, y), lr=0.05, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD, **kw)
    acc_scratch = _accuracy_on(cnn, (test_images, y_test), mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD,
                                device=device)
    return acc_features, acc_scratch


# ------------------------------------------------------------------------ Yosinski et al. (2014), small scale


def split_classes(X: torch.Tensor, y: torch.Tensor, classes: tuple[int, ...]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The examples of `classes` only, relabelled 0..len(classes)-1 in the order given.

    >>> X, y = split_classes(torch.arange(6.0)[:, None], torch.tensor([0, 5, 1, 6, 5, 0]), (5, 6))
    >>> X.flatten().tolist(), y.tolist()
    ([1.0, 3.0, 4.0], [0, 1, 0])
    """
    _check_xy(X, y)
    if not isinstance(classes, (tuple, list)) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                         for c in classes):
        raise TypeError(f"classes must be a tuple of int class labels, got {type(classes).__name__} {classes!r}")
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct class labels, got {classes!r}")
    keep = torch.isin(y, torch.tensor(classes))
    relabel = {c: i for i, c in enumerate(classes)}
    return X[keep], torch.tensor([relabel[int(c)] for c in y[keep]], dtype=torch.int64)


def _check_sequential(name: str, net: Any) -> nn.Sequential:
    _check_net(net, name)
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"{name} must be an nn.Sequential (its layers are cut by position), got {type(net).__name__}")
    return net


def conv_cuts(net: nn.Sequential) -> list[int]:
    """How many top-level children of `net` make its first n = 0, 1, ... layers with weights (head excluded).

    >>> from cnnlab.models import small_cnn
    >>> conv_cuts(small_cnn())  # conv blocks are children 0, 2 and 4
    [0, 1, 3, 5]
    """
    _check_sequential("net", net)
    head = head_name(net)
    return [0] + [i + 1 for i, (name, m) in enumerate(net.named_children())
                  if name != head and any(True for _ in m.parameters())]


def copy_first_layers(source: nn.Sequential, target: nn.Sequential, n: int) -> nn.Sequential:
    """Copy the weights and BatchNorm statistics of `source`'s first `n` layers into `target`; returns `target`."""
    _check_sequential("source", source)
    cuts = conv_cuts(_check_sequential("target", target))
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int (layers with weights to copy), got {type(n).__name__} {n!r}")
    if not 0 <= n < len(cuts):
        raise ValueError(f"n must be an int in 0..{len(cuts) - 1} (layers with weights below the head), got {n!r}")
    for i in range(cuts[n]):
        target[i].load_state_dict(source[i].state_dict())
    return target


def yosinski(A: tuple[torch.Tensor, torch.Tensor], B: tuple[torch.Tensor, torch.Tensor],
             B_test: tuple[torch.Tensor, torch.Tensor], *, num_epochs: int, seed: int = 0, width: int = 16,
             lr: float = 0.05, batch_size: int = 64, mean: float = 0.0, std: float = 1.0,
             device: torch.device | None = None) -> dict[str, list[float]]:
    """Yosinski et al. (2014) with `small_cnn`: accuracy on task B after copying the first n layers, n = 0..L.

    Returns lists indexed by n: ``AnB`` (first n layers from a net trained on A, frozen), ``AnB+`` (the same,
    fine-tuned), ``BnB`` ("selffer": first n layers from a net trained on B itself, frozen); n = 0 is the
    baseline, a net trained on B from scratch, in all three.
    """
    from cnnlab.models import small_cnn

    for name, pair in (("A", A), ("B", B), ("B_test", B_test)):
        _check_pair(name, pair, ndim=4)
    check_int("num_epochs", num_epochs, ge=1)
    _check_seed(seed)
    check_int("width", width, ge=1)
    check_float("lr", lr, gt=0)
    check_int("batch_size", batch_size, ge=1)
    check_float("mean", mean)
    check_float("std", std, gt=0)
    device = _device(device)
    num_classes = int(torch.cat([A[1], B[1]]).max()) + 1
    kw = dict(num_epochs=num_epochs, lr=lr, batch_size=batch_size, mean=mean, std=std, device=device, seed=seed,
              progress=False)

    def new_net() -> nn.Sequential:
        return small_cnn(in_channels=A[0].shape[1], num_classes=num_classes, width=width).to(device)

    def train(net: nn.Sequential, data: tuple[torch.Tensor, torch.Tensor], val: tuple | None) -> float:
        opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=lr, momentum=0.9)
        steps = num_epochs * math.ceil(len(data[1]) / batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # to 0: a stable final accuracy
        fit(net, data, optimizer=opt, scheduler=sched, step_scheduler="batch", **{k: v for k, v in kw.items() if k != "lr"})
        return _accuracy_on(net, val, mean=mean, std=std, device=device) if val is not None else float("nan")

    set_seed(seed)
    net_A = new_net()
    train(net_A, A, None)
    set_seed(seed + 1000)
    net_B = new_net()
    baseline = train(net_B, B, B_test)
    out = {"AnB": [baseline], "AnB+": [baseline], "BnB": [baseline]}
    for n in range(1, len(conv_cuts(net_A))):
        for key, source, frozen in (("AnB", net_A, True), ("AnB+", net_A, False), ("BnB", net_B, True)):
            set_seed(seed + 1000 * n)  # a fresh top, the same for the three variants at this n
            net = copy_first_layers(source, new_net(), n)
            if frozen:
                freeze(net, up_to=conv_cuts(net)[n])
            out[key].append(train(net, B, B_test))
    return out


# ------------------------------------------------------------------ the size-similarity matrix, measured


def per_class_subset(y: torch.Tensor, n_per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of `n_per_class` random examples of every class in `y` (a balanced labelled set).

    >>> per_class_subset(torch.tensor([0, 1, 0, 1, 0, 1]), 2).shape
    torch.Size([4])
    """
    check_tensor("y", y, ndim=1, dtype="int")
    check_int("n_per_class", n_per_class, ge=1)
    _check_seed(seed)
    g = torch.Generator().manual_seed(seed)
    idx = []
    for c in torch.unique(y).tolist():
        mine = (y == c).nonzero().flatten()
        if len(mine) < n_per_class:
            raise ValueError(f"class {c} has {len(mine)} examples, fewer than n_per_class={n_per_class}")
        idx.append(mine[torch.randperm(len(mine), generator=g)[:n_per_class]])
    return torch.cat(idx)


def photo_patches(names: tuple[str, ...], num_per_photo: int, region: str, *, patch: int = 64, size: int = 32,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random `patch`-px squares cut from each bundled photo, resized to `size`: label = which photo.

    ``region="train"`` cuts them from the left half of each photo, ``"test"`` from the right half, so no
    test pixel was ever seen in training. Returns X uint8 (N, 3, size, size), y int64.
    """
    from cnnlab.data import load_photo

    if not isinstance(names, (tuple, list)) or not names or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a non-empty tuple of photo names (str), got {type(names).__name__} {names!r}")
    check_int("num_per_photo", num_per_photo, ge=1)
    check_choice("region", region, ("train", "test"))
    check_int("patch", patch, ge=1)
    check_int("size", size, ge=1)
    _check_seed(seed)
    g = torch.Generator().manual_seed(seed)
    Xs, ys = [], []
    for label, name in enumerate(names):
        photo = load_photo(name).permute(2, 0, 1).float()  # (H, W, 3) -> (3, H, W)
        H, W = photo.shape[1:]
        if patch > min(H, W // 2):
            raise ValueError(f"patch must fit in half of every photo: at most {min(H, W // 2)} px for {name!r} "
                             f"({H} x {W}), got {patch}")
        x_lo = 0 if region == "train" else W // 2
        x_hi = W // 2 - patch if region == "train" else W - patch
        ys0 = torch.randint(0, H - patch + 1, (num_per_photo,), generator=g).tolist()
        xs0 = torch.randint(x_lo, x_hi + 1, (num_per_photo,), generator=g).tolist()
        crops = torch.stack([photo[:, i:i + patch, j:j + patch] for i, j in zip(ys0, xs0)])  # (n, 3, patch, patch)
        Xs.append(nn.functional.interpolate(crops, size=(size, size), mode="bilinear", antialias=True))
        ys.append(torch.full((num_per_photo,), label, dtype=torch.int64))
    return torch.cat(Xs).round().clamp(0, 255).to(torch.uint8), torch.cat(ys)


def linear_probe(F: torch.Tensor, y: torch.Tensor, F_test: torch.Tensor, y_test: torch.Tensor, *, num_epochs: int,
                 lr: float = 0.01, seed: int = 0, batch_size: int = 50, device: torch.device | None = None) -> float:
    """Feature extractor: test accuracy of a linear layer trained on frozen (cached) features."""
    _check_xy(F, y, "F", "y", ndim=2)
    _check_xy(F_test, y_test, "F_test", "y_test", ndim=2)
    check_int("num_epochs", num_epochs, ge=1)
    check_float("lr", lr, gt=0)
    check_int("batch_size", batch_size, ge=1)
    device = _device(device)
    set_seed(_check_seed(seed))
    head = nn.Linear(F.shape[1], int(torch.cat([y, y_test]).max()) + 1)  # (N, D) -> (N, num_classes)
    fit(head, (F, y), num_epochs=num_epochs, lr=lr, batch_size=batch_size, device=device, seed=seed, progress=False)
    return _accuracy_on(head, (F_test, y_test), device=device)


def scratch_cnn(train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor], *,
                num_epochs: int, mean: tuple[float, ...], std: tuple[float, ...], lr: float = 0.05, width: int = 16,
                seed: int = 0, batch_size: int = 50, augment: Any = None, device: torch.device | None = None) -> float:
    """From scratch: test accuracy of a `small_cnn` trained on the raw images at their native size.

    `augment` (e.g. `ImageNetAugment`) transforms each training batch on the device inside `fit`'s loop.
    """
    from cnnlab.models import small_cnn

    _check_pair("train", train, ndim=4)
    _check_pair("test", test, ndim=4)
    check_int("num_epochs", num_epochs, ge=1)
    check_float("lr", lr, gt=0)
    check_int("width", width, ge=1)
    check_int("batch_size", batch_size, ge=1)
    check_callable("augment", augment)
    device = _device(device)
    set_seed(_check_seed(seed))
    net = small_cnn(in_channels=train[0].shape[1], num_classes=int(torch.cat([train[1], test[1]]).max()) + 1,
                    width=width)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    steps = num_epochs * math.ceil(len(train[1]) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)  # to 0: a stable final accuracy
    fit(net, train, num_epochs=num_epochs, optimizer=opt, scheduler=sched, step_scheduler="batch", mean=mean, std=std,
        augment=augment, batch_size=batch_size, device=device, seed=seed, progress=False)
    return _accuracy_on(net, test, mean=mean, std=std, device=device)


def finetune_top(M: torch.Tensor, y: torch.Tensor, M_test: torch.Tensor, y_test: torch.Tensor, *, first: int,
                 num_epochs: int, lr: float = 0.01, body_lr_factor: float = 0.1, step_size: int = 7, seed: int = 0,
                 batch_size: int = 50, device: torch.device | None = None) -> float:
    """Fine-tuning: pretrained MobileNetV2 blocks ``features[first:]`` + a new head trained on their inputs `M`.

    `M` holds the (cached) outputs of the frozen ``features[:first]`` (or the images themselves when
    ``first=0``: the whole network is fine-tuned). The body runs at ``lr * body_lr_factor`` (the lectures' 1/10),
    the head at `lr`, both times 0.1 every `step_size` epochs (StepLR).
    """
    _check_first(first)
    _check_xy(M, y, "M", "y", ndim=4)
    _check_xy(M_test, y_test, "M_test", "y_test", ndim=4)
    check_int("num_epochs", num_epochs, ge=1)
    check_float("lr", lr, gt=0)
    check_float("body_lr_factor", body_lr_factor, gt=0)
    check_int("step_size", step_size, ge=1)
    check_int("batch_size", batch_size, ge=1)
    device = _device(device)
    set_seed(_check_seed(seed))
    pretrained = pretrained_mobilenet_v2()
    num_classes = int(torch.cat([y, y_test]).max()) + 1
    net = nn.Sequential(*pretrained.features[first:], nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(1280, num_classes))  # (N, C, h, w) -> (N, 1280) -> (N, num_classes)
    opt = torch.optim.SGD(param_groups(net, lr_head=lr, lr_body=lr * body_lr_factor), momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=0.1)
    fit(net, (M, y), num_epochs=num_epochs, optimizer=opt, scheduler=sched, batch_size=batch_size,
        drop_last=len(y) % batch_size == 1, device=device, seed=seed, progress=False)
    return _accuracy_on(net, (M_test, y_test), device=device)


def _check_first(first: Any) -> int:
    if isinstance(first, bool) or not isinstance(first, int):
        raise TypeError(f"first must be an int in 0..18 (a MobileNetV2 feature block), got {type(first).__name__} "
                        f"{first!r}")
    if not 0 <= first <= 18:
        raise ValueError(f"first must be an int in 0..18 (MobileNetV2 has 19 feature blocks), got {first!r}")
    return first


def block_inputs(X: torch.Tensor, first: int, batch_size: int = 128) -> torch.Tensor:
    """What block `first` of pretrained MobileNetV2 sees for ImageNet-ready `X` (cached); `X` itself if first=0."""
    check_tensor("X", X, ndim=4, dtype="float", finite=True)
    _check_first(first)
    check_int("batch_size", batch_size, ge=1)
    if first == 0:
        return X
    blocks = nn.Sequential(*pretrained_mobilenet_v2().features[:first]).eval()
    with torch.no_grad():
        shape = blocks(X[:1]).shape[1:]  # (C, h, w) of the cut
    return extract_features(blocks, X, batch_size).reshape(len(X), *shape)  # (N, C * h * w) -> (N, C, h, w)


def best_of(accs: dict[str, list[float]]) -> str:
    """The strategy with the highest mean accuracy over seeds.

    >>> best_of({"features": [0.8, 0.9], "scratch": [0.7, 0.7]})
    'features'
    """
    if not isinstance(accs, dict):
        raise TypeError(f"accs must be a dict of strategy -> list of accuracies, got {type(accs).__name__}")
    if not accs:
        raise ValueError("accs must not be empty: no strategy to choose from")
    for name, values in accs.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"accs[{name!r}] must be a non-empty list of accuracies, got {values!r}")
        for v in values:
            check_float(f"accs[{name!r}] values", v)
    return max(accs, key=lambda k: sum(accs[k]) / len(accs[k]))
