"""Tests for cnnlab.conv_plots: each figure helper draws what it is given and rejects what it cannot draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnnlab.conv_plots import show_feature_maps, show_filters, show_grids, show_images  # noqa: E402


def test_show_grids_labels_every_cell():
    image, kernel = torch.arange(36.0).reshape(6, 6), torch.tensor([[1.0, 0.5], [-1.0, 0.0]])
    fig = show_grids([image, kernel], ["image", "kernel"], ["input", "kernel"])
    labels = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert labels[0] == [str(v) for v in range(36)]  # integers print without a decimal point
    assert labels[1] == ["1", "0.5", "-1", "0"]
    assert [ax.get_title() for ax in fig.axes] == ["image", "kernel"]
    plt.close(fig)


def test_show_grids_rejects_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        show_grids([torch.zeros(2, 2, 2)], ["x"], ["input"])
    with pytest.raises(ValueError, match="role"):
        show_grids([torch.zeros(2, 2)], ["x"], ["weights"])
    with pytest.raises(ValueError, match="as many"):
        show_grids([torch.zeros(2, 2)], ["x", "y"], ["input"])


def test_show_images_grid_and_signed_scale():
    images = [torch.rand(8, 8), torch.randn(8, 8), torch.rand(8, 8)]
    fig = show_images(images, ["a", "b", "c"], ncols=2, symmetric=[False, True, False])
    assert len(fig.axes) == 4  # 2x2 grid, the last one blank
    signed = fig.axes[1].images[0]
    low, high = signed.get_clim()
    assert low == -high == -float(np.percentile(images[1].abs().numpy(), 99.5))
    plt.close(fig)
    with pytest.raises(ValueError, match="one title per image"):
        show_images(images, ["a"])


def test_show_filters_one_panel_per_kernel():
    fig = show_filters(torch.randn(6, 2, 5, 5), title="conv1")
    assert len(fig.axes) == 12 and fig.axes[0].get_title() == "filter 0"
    plt.close(fig)
    with pytest.raises(ValueError, match="4-D"):
        show_filters(torch.randn(6, 5, 5))


def test_show_feature_maps_one_panel_per_channel():
    fig = show_feature_maps(torch.rand(8, 14, 14), ncols=4)
    assert sum(1 for ax in fig.axes if ax.images) == 8
    plt.close(fig)
    with pytest.raises(ValueError, match="3-D"):
        show_feature_maps(torch.rand(1, 8, 14, 14))
