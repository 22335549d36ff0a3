"""The benchmark's pieces, on tiny sizes: they run, and both data paths deliver the same images."""

import numpy as np
import torch

from cnnlab import bench
from cnnlab.data import load_fashion_mnist

CPU = torch.device("cpu")


def test_torchvision_baseline_reads_the_same_images_as_cnnlab(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    X, y = load_fashion_mnist("train", subset=64)
    dataset = bench.torchvision_fashion_mnist(X, y, transform=None)  # the real torchvision.datasets.FashionMNIST
    assert len(dataset) == 64
    image, label = dataset[5]  # a PIL image, as torchvision gives it
    assert torch.equal(torch.from_numpy(np.array(image)), X[5, 0])
    assert label == y[5].item()


def test_data_path_ratio_measures_both_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "CACHE", tmp_path)
    X, y = load_fashion_mnist("train", subset=512)
    result = bench.data_path_ratio(X, y, CPU, batch_size=128)
    assert result["cnnlab_images_per_s"] > 0 and result["torchvision_images_per_s"] > 0
    assert result["data_path_ratio"] == result["cnnlab_images_per_s"] / result["torchvision_images_per_s"]


def test_flop_rates_are_positive():
    X, y = load_fashion_mnist("train", subset=64)
    assert bench.matmul_gflops(CPU, n=128, repeats=2) > 0
    assert bench.train_gflops(X, y, CPU, batch_size=32, steps=2) > 0
