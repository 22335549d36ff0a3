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
    X, y = load_fashion_mnist("train", subset=64)
    with FlopCounterMode(display=False) as counter:
        small_cnn()(torch.zeros(32, 1, 28, 28))
    forward = counter.get_total_flops()
    per_step = bench.train_gflops(X, y, CPU, batch_size=32, steps=2) * 1e9 / 2  # 2 timed steps in 1 s
    assert 2.5 * forward < per_step <= 3 * forward  # forward + backward (about 2x forward; no input gradient)
