"""CNN architectures from LeNet-5 to ResNet and MobileNet, each built from scratch, and what each one costs.

Notebook 13. The builders name their layers as torchvision does (`features`, `classifier`, `conv1`, `bn1`,
`layer1`, `downsample`, ...), so a torchvision state dict loads into them with `strict=True`: the tests use that to
check that each build *is* torchvision's architecture, output for output, not only in its parameter count.

- builders: `lenet5`, `alexnet`, `vgg_block`, `vgg16`, `BasicBlock`, `Bottleneck`, `resnet18`, `InceptionBlock`,
  `InvertedResidual`, and `stacked_cnn` (a plain or residual stack for the degradation experiment);
- counting: `layer_costs` (parameters and multiply-accumulates of every conv/linear layer, from one forward pass
  through `cnnlab.models.forward_hooks`), `total_macs`, `main_path` (the conv/pool geometry along the main path, for
  `conv_arith.receptive_field_steps`);
- the zoo: `zoo_table`, read offline from torchvision's weights metadata (no download);
- the degradation claims: `degradation_claims`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.conv_arith import param_count
from cnnlab.models import forward_hooks
from cnnlab.validation import check_bool, check_float, check_int, check_module

__all__ = [
    "lenet5",
    "alexnet",
    "vgg_block",
    "vgg16",
    "BasicBlock",
    "Bottleneck",
    "resnet18",
    "InceptionBlock",
    "InvertedResidual",
    "stacked_cnn",
    "LayerCost",
    "layer_costs",
    "total_macs",
    "main_path",
    "ZOO",
    "ZooEntry",
    "zoo_table",
    "degradation_claims",
]


# ----------------------------------------------------------------------------------------------------------------------
# The classics: LeNet-5, AlexNet, VGG


def lenet5(num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 (LeCun et al. 1998) on 32x32 grey images: [CONV-POOL-CONV-POOL-FC-FC-FC], 5x5 convs, 2x2 pools, tanh.

    The original's C3 connected each of its 16 maps to a subset of the 6 below; this (the usual modern reading) connects
    all of them, and averages where the original's pooling also had a trainable weight and bias.

    >>> lenet5()(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 10])
    >>> param_count(lenet5())
    61706
    """
    check_int("num_classes", num_classes, ge=1)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(),  # (N, 1, 32, 32) -> (N, 6, 28, 28)
        nn.AvgPool2d(2),  # -> (N, 6, 14, 14)
        nn.Conv2d(6, 16, 5), nn.Tanh(),  # -> (N, 16, 10, 10)
        nn.AvgPool2d(2),  # -> (N, 16, 5, 5)
        nn.Flatten(),  # -> (N, 400)
        nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, num_classes),
    )


class _Named(nn.Module):
    """features -> avgpool -> flatten -> classifier: the layout of torchvision's AlexNet and VGG."""

    def __init__(self, features: nn.Sequential, avgpool: nn.Module, classifier: nn.Sequential) -> None:
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> nn.Module:
    """AlexNet as torchvision defines it (the one-GPU variant of Krizhevsky et al. 2012: 64/192/384/256/256 filters,
    no local response normalisation), for 224x224 RGB images.

    The lecture's version has 96/256/384/384/256 filters and 227x227 inputs; its shapes are the same from CONV2 on.

    >>> alexnet()(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
    """
    check_int("num_classes", num_classes, ge=1)
    check_float("dropout", dropout, ge=0, le=1)
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True),  # (N, 3, 224, 224) -> (N, 64, 55, 55)
        nn.MaxPool2d(3, stride=2),  # -> (N, 64, 27, 27): overlapping 3x3 pools at stride 2
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True),  # -> (N, 192, 27, 27)
        nn.MaxPool2d(3, stride=2),  # -> (N, 192, 13, 13)
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),  # -> (N, 384, 13, 13)
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),  # -> (N, 256, 13, 13)
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),  # -> (N, 256, 13, 13)
        nn.MaxPool2d(3, stride=2),  # -> (N, 256, 6, 6)
    )
    classifier = nn.Sequential(
        nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),  # (N, 9216) -> (N, 4096)
        nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )
    return _Named(features, nn.AdaptiveAvgPool2d(6), classifier)


def vgg_block(c_in: int, c_out: int, num_convs: int) -> nn.Sequential:
    """A VGG block (Simonyan & Zisserman 2015): `num_convs` 3x3 convs (padding 1) with ReLU, then a 2x2 max pool.

    Stacked 3x3 convs see as far as one larger kernel with fewer weights: two see 5x5, three see 7x7.

    >>> vgg_block(3, 64, 2)(torch.zeros(1, 3, 32, 32)).shape  # (N, 3, H, W) -> (N, 64, H/2, W/2)
    torch.Size([1, 64, 16, 16])
    """
    check_int("c_in", c_in, ge=1)
    check_int("c_out", c_out, ge=1)
    check_int("num_convs", num_convs, ge=1)
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(2, stride=2))


VGG16_CONFIG = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convs) of VGG-16's five blocks


def vgg16(num_classes: int = 1000, dropout: float = 0.5) -> nn.Module:
    """VGG-16 (configuration D): five `vgg_block`s (13 convs) and three fully connected layers, for 224x224 RGB images.

    The blocks' layers sit in one flat `features` Sequential, as in torchvision (so its state dict loads).

    >>> param_count(vgg16())
    138357544
    """
    check_int("num_classes", num_classes, ge=1)
    check_float("dropout", dropout, ge=0, le=1)
    layers, c_in = [], 3
    for c_out, num_convs in VGG16_CONFIG:  # each block halves H and W: 224 -> 112 -> 56 -> 28 -> 14 -> 7
        layers += list(vgg_block(c_in, c_out, num_convs))
        c_in = c_out
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),  # (N, 25088) -> (N, 4096)
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )
    return _Named(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(7), classifier)


# ----------------------------------------------------------------------------------------------------------------------
# Residual blocks and ResNet-18


def _projection(c_in: int, c_out: int, stride: int) -> nn.Sequential | None:
    """The 1x1 projection shortcut (conv with the block's stride, then BatchNorm) when the block changes the shape;
    None (the identity) when it does not."""
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """ResNet's basic block (He et al. 2016): conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU.

    The shortcut is the identity when the shape stays, else a 1x1 projection (`downsample`) with the block's stride.
    With `residual=False` the same layers run without the shortcut: a plain block, for the degradation experiment.

    >>> BasicBlock(64, 128, stride=2)(torch.zeros(1, 64, 8, 8)).shape  # (N, 64, H, W) -> (N, 128, H/2, W/2)
    torch.Size([1, 128, 4, 4])
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        check_int("c_in", c_in, ge=1)
        check_int("c_out", c_out, ge=1)
        check_int("stride", stride, ge=1)
        self.residual = check_bool("residual", residual)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)  # BN's beta plays the bias
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = _projection(c_in, c_out, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))  # (N, c_in, H, W) -> (N, c_out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))  # F(x) + x: the layers learn a change
        return self.relu(out)


class Bottleneck(nn.Module):
    """ResNet-50's bottleneck block: 1x1 conv down to `width`, 3x3 conv (with the stride), 1x1 conv up to 4 x width,
    each followed by BatchNorm, ReLU after the first two and after the sum with the shortcut (the lecture's order).

    >>> Bottleneck(256, 64)(torch.zeros(1, 256, 8, 8)).shape  # 256 -> 64 -> 64 -> 256 channels
    torch.Size([1, 256, 8, 8])
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        check_int("c_in", c_in, ge=1)
        check_int("width", width, ge=1)
        check_int("stride", stride, ge=1)
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)  # (N, c_in, H, W) -> (N, width, H, W): squeeze
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)  # -> (N, width, H/s, W/s)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)  # -> (N, 4 width, H/s, W/s): expand
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _ResNet18(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)  # (N, 3, 224, 224) -> (N, 64, 112, 112)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)  # -> (N, 64, 56, 56)
        stages, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):  # -> 56, 28, 14, 7 pixels a side
            stages.append(nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out)))
            c_in = c_out
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # -> (N, 512, 1, 1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 1000) -> nn.Module:
    """ResNet-18: a 7x7 stem and max pool, four stages of two `BasicBlock`s (64, 128, 256, 512 channels; each stage
    after the first halves the size, with a 1x1 projection shortcut), global average pool, one linear layer.

    >>> param_count(resnet18())
    11689512
    """
    return _ResNet18(check_int("num_classes", num_classes, ge=1))


# ----------------------------------------------------------------------------------------------------------------------
# Inception and MobileNet v2 blocks


def _conv_bn_relu(c_in: int, c_out: int, k: int, eps: float = 1e-3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out, eps=eps),
                         nn.ReLU(inplace=True))


class InceptionBlock(nn.Module):
    """GoogLeNet's Inception module (Szegedy et al. 2015): four branches side by side, concatenated along channels:
    1x1; 1x1 reduce then 3x3; 1x1 reduce then `k_large` x `k_large`; 3x3 max pool then 1x1 projection.

    The 1x1 reductions are what make it affordable. The paper's third branch is 5x5; torchvision's GoogLeNet uses a
    3x3 there (pass `k_large=3` to match it). Convs are conv-BN-ReLU, as in torchvision.

    >>> InceptionBlock(192, 64, 96, 128, 16, 32, 32)(torch.zeros(1, 192, 28, 28)).shape  # 64+128+32+32 = 256
    torch.Size([1, 256, 28, 28])
    """

    def __init__(self, c_in: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int,
                 k_large: int = 5) -> None:
        super().__init__()
        for name, value in (("c_in", c_in), ("c1", c1), ("c3_reduce", c3_reduce), ("c3", c3),
                            ("c5_reduce", c5_reduce), ("c5", c5), ("pool_proj", pool_proj)):
            check_int(name, value, ge=1)
        check_int("k_large", k_large, ge=1)
        if k_large % 2 == 0:
            raise ValueError(f"k_large must be odd (so 'same' padding keeps the size), got {k_large}")
        self.branch1 = _conv_bn_relu(c_in, c1, 1)
        self.branch2 = nn.Sequential(_conv_bn_relu(c_in, c3_reduce, 1), _conv_bn_relu(c3_reduce, c3, 3))
        self.branch3 = nn.Sequential(_conv_bn_relu(c_in, c5_reduce, 1), _conv_bn_relu(c5_reduce, c5, k_large))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     _conv_bn_relu(c_in, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, c_in, H, W) -> (N, c1 + c3 + c5 + pool_proj, H, W)
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InvertedResidual(nn.Module):
    """MobileNet v2's inverted residual (Sandler et al. 2018): 1x1 expand (x `expand_ratio`) - ReLU6, 3x3 depthwise
    (one filter per channel, `groups=channels`) - ReLU6, 1x1 project back down with no activation (a linear
    bottleneck); the shortcut is used only when stride is 1 and the channels stay. Each conv is followed by BatchNorm.

    The depthwise 3x3 plus the 1x1 is a depthwise-separable convolution: about k^2 times fewer weights and MACs than
    a full 3x3 conv between the same channels.

    >>> InvertedResidual(24, 24, stride=1, expand_ratio=6)(torch.zeros(1, 24, 8, 8)).shape
    torch.Size([1, 24, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, expand_ratio: int = 6) -> None:
        super().__init__()
        check_int("c_in", c_in, ge=1)
        check_int("c_out", c_out, ge=1)
        check_int("stride", stride, ge=1, le=2)
        check_int("expand_ratio", expand_ratio, ge=1)
        hidden = c_in * expand_ratio
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand_ratio != 1:  # (N, c_in, H, W) -> (N, hidden, H, W)
            layers.append(nn.Sequential(nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                                        nn.ReLU6(inplace=True)))
        layers += [
            nn.Sequential(nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
                          nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)),  # depthwise: -> (N, hidden, H/s, W/s)
            nn.Conv2d(hidden, c_out, 1, bias=False),  # pointwise projection: -> (N, c_out, H/s, W/s)
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


# ----------------------------------------------------------------------------------------------------------------------
# The degradation experiment's nets


def stacked_cnn(num_blocks: int, width: int, residual: bool, in_channels: int = 1, num_classes: int = 10,
                stem_stride: int = 2) -> nn.Sequential:
    """A stem (3x3 conv-BN-ReLU, stride `stem_stride`), `num_blocks` `BasicBlock`s of `width` channels (with their
    identity shortcuts if `residual`, without if not), global average pool and a linear layer.

    It has 2 * num_blocks + 2 weight layers either way; the plain and residual versions have the same parameters.
    He (Kaiming) initialisation for the convs, as in the ResNet paper.

    >>> [stacked_cnn(4, 8, r)(torch.zeros(2, 1, 28, 28)).shape[1] for r in (False, True)]
    [10, 10]
    """
    check_int("num_blocks", num_blocks, ge=0)
    check_int("width", width, ge=1)
    check_bool("residual", residual)
    check_int("in_channels", in_channels, ge=1)
    check_int("num_classes", num_classes, ge=1)
    check_int("stem_stride", stem_stride, ge=1)
    net = nn.Sequential(
        nn.Conv2d(in_channels, width, 3, stride=stem_stride, padding=1, bias=False), nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),  # (N, in_channels, H, W) -> (N, width, H/s, W/s)
        *[BasicBlock(width, width, residual=residual) for _ in range(num_blocks)],  # same shape all the way
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes),  # -> (N, num_classes)
    )
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")  # He init, as torchvision's ResNet
    return net


# ----------------------------------------------------------------------------------------------------------------------
# Counting parameters and multiply-accumulates


@dataclass(frozen=True)
class LayerCost:
    """One conv or linear layer of `layer_costs`: its output shape, parameters and MACs per image."""

    name: str  # e.g. "features.0" or "layer2.0.conv1"
    kind: str  # "conv" or "fc"
    output_shape: tuple  # (C, H, W) for a conv, (features,) for a linear layer: one image
    params: int
    macs: int  # multiply-accumulates for one image


def _macs(layer: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one conv/linear layer for the whole batch in `output`: each output number is a dot
    product of (C_in / groups) * kH * kW (conv) or in_features (linear) terms. Biases, BatchNorm, activations and
    pooling are not counted (the convention of torchvision's `_ops` and of most papers)."""
    if isinstance(layer, nn.Conv2d):
        per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
    else:
        per_output = layer.in_features
    return output.numel() * per_output


def layer_costs(net: nn.Module, input_shape: Sequence[int]) -> list[LayerCost]:
    """Parameters and multiply-accumulates (MACs) per image of every Conv2d and Linear layer of `net`, in the order they
    run, from one forward pass of a zero image of `input_shape` = (C, H, W) (hooks from `cnnlab.models.forward_hooks`).

    >>> [(c.kind, c.output_shape, c.params, c.macs) for c in layer_costs(lenet5(), (1, 32, 32))][:2]
    [('conv', (6, 28, 28), 156, 117600), ('conv', (16, 10, 10), 2416, 240000)]
    """
    check_module("net", net)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise TypeError(f"input_shape must be one image's (C, H, W), e.g. (3, 224, 224), got {input_shape!r}")
    shape = tuple(check_int(f"input_shape[{i}]", s, ge=1) for i, s in enumerate(input_shape))
    first = next(net.parameters(), None)
    x = torch.zeros((1, *shape), device=first.device if first is not None else None)
    rows: list[LayerCost] = []

    def record(name: str, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        kind = "conv" if isinstance(layer, nn.Conv2d) else "fc"
        rows.append(LayerCost(name, kind, tuple(output.shape[1:]), param_count(layer), _macs(layer, output)))

    with forward_hooks(net, record, kinds=(nn.Conv2d, nn.Linear)), torch.no_grad():
        net(x)
    return rows


def total_macs(net: nn.Module, input_shape: Sequence[int]) -> int:
    """The MACs of all conv and linear layers of `net` for one image of `input_shape` = (C, H, W).

    >>> total_macs(nn.Conv2d(3, 8, 3, padding=1), (3, 4, 4))  # 8 x 4 x 4 outputs, each 3 x 3 x 3 products
    3456
    """
    return sum(c.macs for c in layer_costs(net, input_shape))


def main_path(net: nn.Module, input_shape: Sequence[int]) -> list[tuple[str, int, int, int]]:
    """(name, kernel_size, stride, dilation) of every conv and pool layer on the main path of `net`, in the order they
    run, skipping shortcut projections (`downsample`): feed the tuples to `conv_arith.receptive_field_steps`.

    >>> main_path(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), (1, 8, 8))
    [('0', 3, 1, 1), ('2', 2, 2, 1)]
    """
    check_module("net", net)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise TypeError(f"input_shape must be one image's (C, H, W), e.g. (3, 224, 224), got {input_shape!r}")
    shape = tuple(check_int(f"input_shape[{i}]", s, ge=1) for i, s in enumerate(input_shape))
    steps: list[tuple[str, int, int, int]] = []

    def first(v: int | tuple[int, ...]) -> int:
        return v[0] if isinstance(v, tuple) else v

    def record(name: str, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if "downsample" not in name.split("."):
            steps.append((name, first(layer.kernel_size), first(layer.stride), first(getattr(layer, "dilation", 1))))

    with forward_hooks(net, record, kinds=(nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)), torch.no_grad():
        net(torch.zeros((1, *shape)))
    return steps


# ----------------------------------------------------------------------------------------------------------------------
# The zoo, from torchvision's weights metadata (read offline: nothing is downloaded)

# The lecture's list of torchvision models, plus resnet50 (the bottleneck ResNet)
ZOO = ("alexnet", "vgg16", "googlenet", "inception_v3", "resnet18", "resnet50", "resnext50_32x4d",
       "wide_resnet50_2", "densenet161", "squeezenet1_0", "shufflenet_v2_x1_0", "mobilenet_v2", "mnasnet1_0")


@dataclass(frozen=True)
class ZooEntry:
    """One torchvision model with its published ImageNet-1K numbers (from its first weights' metadata)."""

    name: str
    params: int
    gmacs: float  # torchvision's `_ops`: billions of multiply-accumulates per image at its input size
    top1: float  # ImageNet-1K validation top-1 accuracy, percent
    input_size: int  # the crop it was evaluated at (224, or 299 for Inception v3)
    weights: str  # the weights enum member the numbers belong to


def zoo_table(names: Sequence[str] = ZOO) -> list[ZooEntry]:
    """Parameters, GMACs and top-1 of each named torchvision model, from its IMAGENET1K_V1 weights' metadata.

    >>> e = zoo_table(["resnet18"])[0]
    >>> e.params, e.gmacs, e.top1
    (11689512, 1.814, 69.758)
    """
    from torchvision import models

    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise TypeError(f"names must be a list of torchvision model names such as ['resnet18'], got {names!r}")
    known = set(models.list_models(module=models))
    rows = []
    for i, name in enumerate(names):
        if name not in known:
            raise ValueError(f"names[{i}] must be a torchvision classification model such as 'resnet18', got {name!r}")
        weights = models.get_model_weights(name).IMAGENET1K_V1
        meta = weights.meta
        rows.append(ZooEntry(name, meta["num_params"], meta["_ops"], meta["_metrics"]["ImageNet-1K"]["acc@1"],
                             weights.transforms().crop_size[0], f"{type(weights).__name__}.{weights.name}"))
    return rows


# ----------------------------------------------------------------------------------------------------------------------
# The degradation problem


def _losses(name: str, values: object) -> list[float]:
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError(f"{name} must be a non-empty list of final training losses (one per seed), got {values!r}")
    return [check_float(f"{name}[{i}]", v, ge=0) for i, v in enumerate(values)]


def degradation_claims(shallow: Sequence[float], deep_plain: Sequence[float],
                       deep_residual: Sequence[float]) -> dict[str, bool]:
    """He et al.'s two claims, over seeds: each argument holds one final *training* loss per seed (same seeds in
    the same order).

    - `deep_plain_worse`: in every seed the deep plain net ends with a higher training loss than the shallow one
      (so it is not overfitting: it fits its own training data worse);
    - `residual_better`: in every seed the residual net of the same depth ends lower than the deep plain one.

    >>> degradation_claims([0.5, 0.6], [0.8, 0.9], [0.4, 0.5])
    {'deep_plain_worse': True, 'residual_better': True}
    """
    shallow_, plain_, residual_ = (_losses(n, v) for n, v in (("shallow", shallow), ("deep_plain", deep_plain),
                                                             ("deep_residual", deep_residual)))
    if not len(shallow_) == len(plain_) == len(residual_):
        raise ValueError(f"shallow, deep_plain and deep_residual must have one loss per seed each, got "
                         f"{len(shallow_)}, {len(plain_)} and {len(residual_)}")
    return {"deep_plain_worse": all(p > s for s, p in zip(shallow_, plain_)),
            "residual_better": all(r < p for p, r in zip(plain_, residual_))}
