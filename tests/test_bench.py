"""The benchmark's pieces, on tiny sizes: they run, and both data paths deliver the same images."""

import itertools
import types

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import bench
from cnnlab.data import load_fashion_mnist
from cnnlab.models import small_cnn

CPU = torch.device("cpu")


def test_torchvision_baseline_reads_the_same_images_as_cnnlab(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    X, y = load_fashion_mnist("train", subset=64)
    dataset = bench.torchvision_fashion_mnist(X, y, transform=None)  # the real torchvision.datasets.FashionMNIST
    assert len(dataset) == 64
    image, label = dataset[5]  # a PIL image, as torchvision gives it
    assert torch.equal(torch.from_numpy(np.array(image)), X[5, 0])
    assert label == y[5].item()


@pytest.fixture
def one_second_per_timing(monkeypatch):
    """bench's clock advances by exactly 1 s per reading, so every timed section lasts 1 s and a rate is a count."""
    ticks = itertools.count()
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))


def test_data_path_ratio_counts_every_image_of_both_paths(tmp_path, monkeypatch, one_second_per_timing):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    X, y = load_fashion_mnist("train", subset=500)  # 500 = 3 * 128 + 116: the last, smaller batch must count too
    result = bench.data_path_ratio(X, y, CPU, batch_size=128)
    assert result == {"cnnlab_images_per_s": 500.0, "torchvision_images_per_s": 500.0, "data_path_ratio": 1.0}


def test_flop_rates_count_what_torch_flop_counter_counts(one_second_per_timing):
    a = torch.zeros(64, 64)
    with FlopCounterMode(display=False) as counter:  # PyTorch's count of one 64x64 product: 2 * 64^3
        a @ a
    assert bench.matmul_gflops(CPU, n=64, repeats=3) * 1e9 == 3 * counter.get_total_flops()
    # the peak is the best over sizes: with 1 s per timing, the largest product gives the highest rate
    assert bench.peak_matmul_gflops(CPU, sizes=(16, 64, 32), trials=2, repeats=1) == (2 * 64**3 / 1e9, 64)
    X, y = load_fashion_mnist("train", subset=64)
    with FlopCounterMode(display=False) as counter:
        small_cnn()(torch.zeros(32, 1, 28, 28))
    forward = counter.get_total_flops()
    per_step = bench.train_gflops(X, y, CPU, batch_size=32, steps=2) * 1e9 / 2  # 2 timed steps in 1 s
    assert 2.5 * forward < per_step <= 3 * forward  # forward + backward (about 2x forward; no input gradient)


IMAGES, LABELS = torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64)


@pytest.mark.parametrize("call, error, message", [
    (lambda: bench.matmul_gflops(CPU, n=8, repeats=-1), ValueError, r"repeats must be a positive int, got -1"),
    (lambda: bench.matmul_gflops(CPU, n=0), ValueError, r"n must be a positive int, got 0"),
    (lambda: bench.matmul_gflops(CPU, n=8.0), TypeError, r"n must be an int, got float 8.0"),
    (lambda: bench.matmul_gflops("tpu"), ValueError, r"device must name a device"),
    (lambda: bench.matmul_gflops(None), TypeError, r"device must be a str or torch.device, got NoneType"),
    (lambda: bench.train_gflops(IMAGES, LABELS, CPU, batch_size=4, steps=2), ValueError,
     r"X must hold at least batch_size \* steps = 4 \* 2 = 8 images, got 4"),
    (lambda: bench.train_gflops(IMAGES.float(), LABELS, CPU), ValueError, r"X must be \(N, 1, H, W\) uint8 images"),
    (lambda: bench.train_gflops(IMAGES, LABELS[:3], CPU), ValueError, r"X and y must hold as many examples"),
    (lambda: bench.data_path_ratio(IMAGES, LABELS, CPU, batch_size=0), ValueError, r"batch_size must be a positive int"),
    (lambda: bench.data_path_ratio(IMAGES[0], LABELS, CPU), ValueError, r"X must have 4 dimensions"),
    (lambda: bench.peak_matmul_gflops(CPU, sizes=()), TypeError, r"sizes must be a non-empty tuple"),
    (lambda: bench.peak_matmul_gflops(CPU, sizes=(0,)), ValueError, r"sizes\[i\] must be a positive int, got 0"),
    (lambda: bench.peak_matmul_gflops(CPU, sizes=(8,), trials=0), ValueError, r"trials must be a positive int"),
    (lambda: bench.train_gflops(IMAGES, LABELS, CPU, batch_size=2, steps=1, trials=0), ValueError,
     r"trials must be a positive int"),
    (lambda: bench.write_idx(IMAGES.float(), "x"), TypeError,
     r"tensor must be a uint8 tensor, got dtype torch.float32"),
    (lambda: bench.main("--device cpu"), TypeError, r"argv must be a list of strings or None"),
])
def test_bad_arguments_are_refused_before_any_work(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_main_refuses_a_nonpositive_epoch_budget(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cpu", "--max-epochs", "0"])
    assert "--max-epochs must be >= 1, got 0" in capsys.readouterr().err
