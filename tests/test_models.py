"""Every network builder in cnnlab.models: shapes, layer order, what each option changes, and bad arguments.

torchinfo (the library twin of "count the parameters and the output shapes") is the oracle for parameter counts.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchinfo import summary

from cnnlab.models import SubPixelSR, TinyFCN, conv_bn_relu, dropout_cnn, fast_cnn, mlp, norm_cnn, plain_cnn, small_cnn

BUILDERS = {
    "small_cnn": small_cnn,
    "fast_cnn": fast_cnn,
    "mlp": lambda: mlp((32, 16)),
    "mlp, batch norm": lambda: mlp([16] * 2, norm="batch"),
    "mlp, group norm": lambda: mlp([16] * 2, norm="group", num_groups=4),
    "norm_cnn, before": lambda: norm_cnn(placement="before"),
    "norm_cnn, after": lambda: norm_cnn(placement="after"),
    "dropout_cnn": lambda: dropout_cnn(0.5, 0.1),
    "plain_cnn": lambda: plain_cnn(depth=3, channels=4, stem_stride=2),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_classifiers_map_28x28_images_to_10_logits_and_torchinfo_counts_the_same_parameters(name):
    net = BUILDERS[name]()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    stats = summary(net, input_size=(2, 1, 28, 28), verbose=0)
    assert stats.total_params == sum(p.numel() for p in net.parameters())


def test_small_cnn_has_the_documented_parameter_count():
    assert summary(small_cnn(), input_size=(1, 1, 28, 28), verbose=0).total_params == 94186


def test_mlp_layer_order_and_options():
    net = mlp((8, 4), in_features=16, dropout=0.5)
    assert [type(m) for m in net] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout,
                                      nn.Linear]
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [8, 4, 10]
    normed = mlp([16] * 2, norm="batch", activation=nn.Tanh)
    hidden = [m for m in normed if isinstance(m, nn.Linear) and m.out_features == 16]
    assert len(hidden) == 2 and all(m.bias is None for m in hidden)  # beta does the bias's job
    assert [type(m) for m in normed][1:4] == [nn.Linear, nn.BatchNorm1d, nn.Tanh]
    stack = mlp([5] * 3, in_features=5, num_classes=None)  # the signal-propagation stack: no classifier
    assert stack(torch.zeros(2, 5)).shape == (2, 5) and sum(isinstance(m, nn.Linear) for m in stack) == 3


def test_mlp_builds_the_same_weights_from_the_same_seed_as_the_layers_written_out():
    """Same layers in the same order draw the same initial weights: a notebook's results do not depend on which
    builder wrote the stack."""
    torch.manual_seed(0)
    ours = mlp((8,), in_features=6, num_classes=3)
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    for a, b in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)


def test_norm_cnn_placements():
    before, after = norm_cnn(placement="before"), norm_cnn(placement="after")
    assert [type(m) for m in before][:3] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] and before[0].bias is None
    assert [type(m) for m in after][:3] == [nn.Conv2d, nn.ReLU, nn.BatchNorm2d] and after[0].bias is not None


def test_plain_cnn_depth_and_stem():
    net = plain_cnn(depth=5, channels=4, stem_stride=2)
    assert sum(isinstance(m, nn.Conv2d) for m in net) == 5
    assert plain_cnn(depth=2, channels=4, num_classes=None)(torch.zeros(1, 1, 8, 8)).shape == (1, 4, 8, 8)


def test_conv_bn_relu_keeps_the_size_when_dilated():
    block = conv_bn_relu(2, 3, dilation=2)
    assert block(torch.zeros(1, 2, 9, 9)).shape == (1, 3, 9, 9) and block[0].dilation == (2, 2)


def test_tiny_fcn_and_sub_pixel_shapes():
    assert TinyFCN(num_classes=11, width=4)(torch.zeros(2, 1, 32, 32)).shape == (2, 11, 32, 32)
    with pytest.raises(ValueError, match="multiples of 8"):
        TinyFCN()(torch.zeros(1, 1, 30, 30))
    lr = torch.rand(2, 1, 8, 8)
    # the last conv starts at zero, so an untrained SubPixelSR is bicubic upsampling (torch's own interpolate)
    torch.testing.assert_close(SubPixelSR(scale=3)(lr), F.interpolate(lr, scale_factor=3, mode="bicubic"))


@pytest.mark.parametrize("call, err, match", [
    (lambda: mlp(64), TypeError, "hidden must be a sequence"),
    (lambda: mlp((0,)), ValueError, r"hidden\[0\] must be a positive int"),
    (lambda: mlp((8,), norm="layer"), ValueError, "norm must be one of"),
    (lambda: mlp((8,), dropout=1.0), ValueError, "dropout must be"),
    (lambda: mlp((), num_classes=None), ValueError, "needs hidden layers or a classifier"),
    (lambda: mlp((10,), norm="group", num_groups=4), ValueError, "num_groups must divide"),
    (lambda: norm_cnn(placement="inside"), ValueError, "placement must be one of 'before', 'after'"),
    (lambda: small_cnn(width=0), ValueError, "width must be a positive int"),
    (lambda: fast_cnn(width=2.5), TypeError, "width must be an int"),
    (lambda: plain_cnn(depth=0, channels=4), ValueError, "depth"),
    (lambda: TinyFCN(skips="no"), TypeError, "skips must be True or False"),
    (lambda: SubPixelSR(scale=1), ValueError, "scale must be an int >= 2"),
    (lambda: dropout_cnn(float("nan")), ValueError, "dropout_fc must be a finite number"),
])
def test_bad_arguments_are_named(call, err, match):
    with pytest.raises(err, match=match):
        call()


# ----------------------------------------------------------------------------------------------------------
# forward_hooks: the one hook mechanism (shape traces, layer statistics, BatchNorm activations)
# ----------------------------------------------------------------------------------------------------------
def test_forward_hooks_sees_every_leaf_in_order_and_leaves_nothing_behind():
    from cnnlab.models import forward_hooks

    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.ReLU(), nn.Flatten()))
    net.train()
    seen = []
    with forward_hooks(net, lambda name, layer, inputs, out: seen.append((name, layer.training, tuple(out.shape)))):
        net(torch.zeros(1, 1, 5, 5))
    assert seen == [("0", False, (1, 2, 3, 3)), ("1", False, (1, 2, 3, 3)), ("2.0", False, (1, 2, 3, 3)),
                    ("2.1", False, (1, 18))]  # eval mode inside
    assert all(m.training for m in net.modules())  # the modes are restored
    assert not any(m._forward_hooks for m in net.modules())


def test_forward_hooks_kinds_train_mode_and_cleanup_after_an_error():
    from cnnlab.models import forward_hooks

    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU())
    net.eval()
    outputs = []
    with forward_hooks(net, lambda name, layer, inputs, out: outputs.append((name, layer.training)), kinds=(nn.ReLU,),
                       train=True):
        net(torch.randn(5, 3))
    assert outputs == [("2", True), ("4", True)]
    with pytest.raises(RuntimeError), forward_hooks(net, lambda *args: None):
        net(torch.zeros(5, 7))  # wrong width: the net's own error
    assert not any(m._forward_hooks for m in net.modules()) and not any(m.training for m in net.modules())
    with pytest.raises(TypeError, match="kinds must be a tuple"):
        with forward_hooks(net, lambda *args: None, kinds=nn.ReLU):
            pass


def test_small_cnn_patch_stem_halves_the_image_in_one_2x2_stride_2_conv():
    """The speedrun's stem: one 2x2 convolution at stride 2 gives the (N, w, 14, 14) the 3x3 conv + pool gives."""
    pool, patch = small_cnn(width=4), small_cnn(width=4, stem="patch")
    x = torch.randn(3, 1, 28, 28)
    assert pool[:2](x).shape == patch[0](x).shape == (3, 4, 14, 14)
    conv = patch[0][0]
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight, stride=2), atol=1e-6)  # torch's own conv as the oracle
    assert patch(x).shape == (3, 10)
    with pytest.raises(ValueError, match="stem must be one of"):
        small_cnn(stem="strided")
