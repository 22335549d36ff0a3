"""cnnlab.architectures against torchvision: the same architecture means torchvision's weights load into ours with
strict=True and both give the same outputs; parameter counts equal torchvision's and torchinfo's exactly; MACs equal
what PyTorch's own FLOP counter counts (FLOPs / 2) and torchvision's published `_ops`; the degradation claims hold on
seeds the notebook does not use."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchinfo import summary

from cnnlab.architectures import (
    BasicBlock, Bottleneck, InceptionBlock, InvertedResidual, alexnet, degradation_claims, layer_costs, lenet5,
    main_path, resnet18, stacked_cnn, total_macs, vgg16, vgg_block, zoo_table,
)
from cnnlab.conv_arith import conv_params, param_count, receptive_field_steps
from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.runtime import set_seed
from cnnlab.train import fit


def same_function(mine: nn.Module, theirs: nn.Module, shape: tuple[int, ...], by_order: bool = False) -> bool:
    """Load torchvision's random weights into ours (strict: every name and shape must match; `by_order` copies
    tensors in order where only the names differ) and compare outputs in eval mode."""
    if by_order:
        mine_sd, theirs_sd = mine.state_dict(), theirs.state_dict()
        assert [v.shape for v in mine_sd.values()] == [v.shape for v in theirs_sd.values()]
        mine.load_state_dict(dict(zip(mine_sd, theirs_sd.values())), strict=True)
    else:
        mine.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return torch.allclose(mine.eval()(x), theirs.eval()(x), atol=1e-5, rtol=1e-4)


def flop_counter_macs(net: nn.Module, shape: tuple[int, ...]) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2  # PyTorch counts a multiply-accumulate as 2 FLOPs


@pytest.mark.parametrize("build, reference, shape", [
    (resnet18, tvm.resnet18, (3, 64, 64)),
    (alexnet, tvm.alexnet, (3, 96, 96)),
    (vgg16, tvm.vgg16, (3, 32, 32)),
], ids=["resnet18", "alexnet", "vgg16"])
def test_whole_nets_are_torchvisions_architecture(build, reference, shape):
    torch.manual_seed(0)
    mine, theirs = build(), reference()
    assert param_count(mine) == param_count(theirs) == summary(theirs, input_size=(1, 3, 224, 224),
                                                               verbose=0).total_params
    assert same_function(mine, theirs, shape)
    assert total_macs(mine, (3, 224, 224)) == flop_counter_macs(theirs, (3, 224, 224))


def test_macs_match_torchvisions_published_ops():
    for name, build in (("resnet18", resnet18), ("alexnet", alexnet), ("vgg16", vgg16)):
        published = zoo_table([name])[0].gmacs  # GMACs, rounded to 3 decimals by torchvision
        assert abs(total_macs(build(), (3, 224, 224)) / 1e9 - published) < 1e-3 + 1e-9, name


def test_blocks_are_torchvisions_blocks():
    torch.manual_seed(0)
    assert same_function(BasicBlock(64, 128, stride=2), tvm.resnet18().layer2[0], (64, 16, 16))
    assert same_function(BasicBlock(64, 64), tvm.resnet18().layer1[0], (64, 8, 8))
    assert same_function(Bottleneck(64, 64), tvm.resnet50().layer1[0], (64, 8, 8))  # 1x1 projection 64 -> 256
    assert same_function(Bottleneck(512, 256, stride=2), tvm.resnet50().layer3[0], (512, 8, 8))
    assert same_function(InvertedResidual(16, 24, stride=2), tvm.mobilenet_v2().features[2], (16, 16, 16))
    assert same_function(InvertedResidual(24, 24), tvm.mobilenet_v2().features[3], (24, 8, 8))
    assert same_function(InvertedResidual(32, 16, expand_ratio=1), tvm.mobilenet_v2().features[1], (32, 8, 8))
    inception3a = tvm.googlenet(init_weights=False, aux_logits=False).inception3a
    mine = InceptionBlock(192, 64, 96, 128, 16, 32, 32, k_large=3)  # torchvision's 3x3 in the "5x5" branch
    assert param_count(mine) == param_count(inception3a) == 155_872
    assert same_function(mine, inception3a, (192, 12, 12), by_order=True)


def test_shortcut_is_identity_or_1x1_projection():
    assert BasicBlock(64, 64).downsample is None
    proj = BasicBlock(64, 128, stride=2).downsample
    assert isinstance(proj[0], nn.Conv2d) and proj[0].kernel_size == (1, 1) and proj[0].stride == (2, 2)
    assert param_count(BasicBlock(8, 8, residual=False)) == param_count(BasicBlock(8, 8))
    assert InvertedResidual(24, 24).use_res_connect and not InvertedResidual(24, 32).use_res_connect


def test_paper_inception_branch_and_lenet_counts_from_the_formula():
    big = InceptionBlock(192, 64, 96, 128, 16, 32, 32)  # the paper's 5x5: 16 * 32 * (25 - 9) more weights
    assert param_count(big) - param_count(InceptionBlock(192, 64, 96, 128, 16, 32, 32, k_large=3)) == 16 * 32 * 16
    expected = conv_params(1, 6, 5) + conv_params(6, 16, 5) + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10
    assert param_count(lenet5()) == expected == 61_706
    rows = layer_costs(lenet5(), (1, 32, 32))
    assert [r.output_shape for r in rows] == [(6, 28, 28), (16, 10, 10), (120,), (84,), (10,)]
    assert total_macs(lenet5(), (1, 32, 32)) == flop_counter_macs(lenet5(), (1, 32, 32))


def test_vgg_block_halves_the_size_and_depthwise_costs_less():
    assert vgg_block(3, 8, 3)(torch.zeros(1, 3, 20, 20)).shape == (1, 8, 10, 10)
    ir = InvertedResidual(32, 32)
    assert total_macs(ir, (32, 14, 14)) == flop_counter_macs(ir, (32, 14, 14))


def test_conv_layers_hold_the_compute_fc_layers_the_parameters():
    for build in (vgg16, alexnet):
        rows = layer_costs(build(), (3, 224, 224))
        conv = [r for r in rows if r.kind == "conv"]
        fc = [r for r in rows if r.kind == "fc"]
        assert sum(r.macs for r in conv) > 0.9 * sum(r.macs for r in rows)
        assert sum(r.params for r in fc) > 0.5 * sum(r.params for r in rows)


def test_receptive_field_along_the_main_path():
    steps = [(k, s, d) for _, k, s, d in main_path(resnet18(), (3, 224, 224))]
    assert len(steps) == 1 + 1 + 16  # stem conv, max pool, two 3x3 convs in each of 8 blocks; no 1x1 shortcuts
    assert receptive_field_steps(steps)[-1] == 435  # ResNet-18's theoretical receptive field as usually quoted
    fields = receptive_field_steps(vgg16().features)
    assert fields[:3] == [3, 5, 6] and fields[-1] == 212  # VGG-16: 212, as Araujo et al. (Distill, 2019) list it


def test_zoo_table_reads_torchvisions_metadata():
    rows = {r.name: r for r in zoo_table()}
    assert rows["resnet18"].params == param_count(tvm.resnet18())
    assert rows["mobilenet_v2"].params == param_count(tvm.mobilenet_v2())
    assert rows["inception_v3"].input_size == 299
    assert all(0 < r.top1 < 100 and r.gmacs > 0 for r in rows.values())


def test_arguments_are_checked_at_the_door():
    with pytest.raises(ValueError, match="stride"):
        InvertedResidual(8, 8, stride=3)
    with pytest.raises(ValueError, match="k_large"):
        InceptionBlock(8, 1, 1, 1, 1, 1, 1, k_large=4)
    with pytest.raises(TypeError, match="residual"):
        stacked_cnn(2, 8, residual="yes")
    with pytest.raises(TypeError, match="input_shape"):
        layer_costs(lenet5(), (1, 1, 32, 32))
    with pytest.raises(ValueError, match="names"):
        zoo_table(["resnet1000"])
    with pytest.raises(ValueError, match="one loss per seed"):
        degradation_claims([1.0], [1.0, 2.0], [1.0])
    assert degradation_claims([1.0, 1.0], [1.2, 0.9], [0.5, 0.5]) == {"deep_plain_worse": False,
                                                                      "residual_better": True}


def test_degradation_on_seeds_and_a_size_the_notebook_does_not_use():
    """He et al. 2016 at classroom scale: a 22-layer plain CNN (10 blocks, BatchNorm, He init) fits its training data
    worse than a 6-layer one, and the 22-layer residual net better than both, in each of 3 unseen seeds (the notebook
    uses 26 layers of width 16 and seeds 0-2; here 12 channels and seeds 10-12)."""
    X, y = load_fashion_mnist("train", subset=2000)
    X = nn.functional.avg_pool2d(X.float(), 2).round().to(torch.uint8)  # (N, 1, 14, 14)
    final = {"shallow": [], "plain": [], "residual": []}
    for seed in (10, 11, 12):
        for name, blocks, residual in (("shallow", 2, False), ("plain", 10, False), ("residual", 10, True)):
            set_seed(seed)
            history = fit(stacked_cnn(blocks, 12, residual), (X, y), num_epochs=3, lr=0.05, batch_size=64, seed=seed,
                          progress=False, device="cpu", mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)
            final[name].append(history.train_loss[-1])
    assert all(math.isfinite(v) for v in sum(final.values(), []))
    claims = degradation_claims(final["shallow"], final["plain"], final["residual"])
    assert claims == {"deep_plain_worse": True, "residual_better": True}, final


def test_the_figures_draw_one_point_or_bar_per_item_and_check_their_arguments():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.arch_plots import plot_layer_costs, plot_receptive_fields, plot_zoo

    rows = zoo_table(["resnet18", "vgg16"])
    fig = plot_zoo(rows)
    assert all(len(ax.collections) == len(rows) for ax in fig.axes)
    costs = layer_costs(lenet5(), (1, 32, 32))
    fig2 = plot_layer_costs({"LeNet-5": costs})
    assert all(len(ax.patches) == len(costs) for ax in fig2.axes)
    fig3 = plot_receptive_fields({"VGG-16": receptive_field_steps(vgg16().features)})
    assert len(fig3.axes[0].lines) == 2  # the curve and the input-size line
    with pytest.raises(TypeError, match="rows"):
        plot_zoo([])
    with pytest.raises(TypeError, match="LayerCost"):
        plot_layer_costs({"net": [1, 2]})
    with pytest.raises(TypeError, match="fields"):
        plot_receptive_fields({"net": 3})
    plt.close("all")
