"""Tests for cnnlab.conv_arith, with PyTorch as the oracle: nn.Conv2d, nn.MaxPool2d, nn.ConvTranspose2d, F.conv2d."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchinfo
from torch import nn

from cnnlab.conv_arith import (
    LayerShape,
    conv2d_im2col,
    conv2d_naive,
    conv_output_size,
    conv_params,
    depthwise_separable_params,
    max_pool_mask,
    param_count,
    pool_output_size,
    receptive_field,
    receptive_field_steps,
    trace_shapes,
    transposed_output_size,
)

CONV2D_FUNCTIONS = [conv2d_naive, conv2d_im2col]


def torch_output_size(make_layer, n: int) -> int | None:
    """Output height of `make_layer()` on a (1, 1, n, n) input, or None where PyTorch rejects the combination.

    An empty output counts as rejected: for a computed output size of 0, `nn.ConvTranspose2d` on CPU raises "Output size
    is too small" for some settings and returns a (1, 1, 0, 0) tensor for others (e.g. n=1, k=4, p=2); cnnlab always
    raises.
    """
    try:
        size = make_layer()(torch.zeros(1, 1, n, n)).shape[-1]
    except (RuntimeError, ValueError):
        return None
    return size if size > 0 else None


def assert_same_as_torch(ours, torch_size: int | None) -> None:
    """Our size equals PyTorch's; where PyTorch rejects the combination, ours raises ValueError."""
    if torch_size is None:
        with pytest.raises(ValueError):
            ours()
    else:
        assert ours() == torch_size


# ----------------------------------------------------------------------------------------------------------------------
# Output sizes: a grid of sizes, kernels, strides, paddings and dilations against the layers themselves


@pytest.mark.parametrize(
    "n, k, s, p, d", list(itertools.product([1, 3, 7], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]))
)
def test_conv_output_size_matches_conv2d(n, k, s, p, d):
    expected = torch_output_size(lambda: nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d), n)
    assert_same_as_torch(lambda: conv_output_size(n, k, stride=s, padding=p, dilation=d), expected)


@pytest.mark.parametrize(
    "n, k, s, p, d, ceil_mode",
    list(itertools.product([1, 2, 7], [1, 2, 3], [1, 2, 3], [0, 1], [1, 2], [False, True])),
)
def test_pool_output_size_matches_maxpool2d(n, k, s, p, d, ceil_mode):
    make_layer = lambda: nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode)  # noqa: E731
    expected = torch_output_size(make_layer, n)
    assert_same_as_torch(lambda: pool_output_size(n, k, stride=s, padding=p, dilation=d, ceil_mode=ceil_mode), expected)


@pytest.mark.parametrize("n, k", [(5, 2), (7, 3), (4, 4)])
def test_pool_stride_defaults_to_kernel_size(n, k):
    assert pool_output_size(n, k) == nn.MaxPool2d(k)(torch.zeros(1, 1, n, n)).shape[-1]


@pytest.mark.parametrize(
    "n, k, s, p, op, d", list(itertools.product([1, 3], [1, 3, 4], [1, 3], [0, 1, 2], [0, 1, 2], [1, 2]))
)
def test_transposed_output_size_matches_convtranspose2d(n, k, s, p, op, d):
    make_layer = lambda: nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d)  # noqa: E731
    expected = torch_output_size(make_layer, n)
    assert_same_as_torch(
        lambda: transposed_output_size(n, k, stride=s, padding=p, output_padding=op, dilation=d), expected
    )


def test_transposed_conv_undoes_the_conv_size():
    # a ConvTranspose2d with the same settings maps the conv's output size back to its input size (output_padding
    # picks among the inputs that a strided conv maps to the same size)
    for n, k, s, p in itertools.product(range(4, 12), [1, 3, 4], [1, 2, 3], [0, 1]):
        o = conv_output_size(n, k, stride=s, padding=p)
        op = (n + 2 * p - k) % s
        assert transposed_output_size(o, k, stride=s, padding=p, output_padding=op) == n


def test_lecture_alexnet_sizes():
    # [227x227x3] -> CONV1 55 -> POOL1 27 -> CONV2 27 -> POOL2 13 -> CONV3,4,5 13 -> POOL3 6
    n = conv_output_size(227, 11, stride=4)
    sizes = [n]
    n = pool_output_size(n, 3, stride=2); sizes.append(n)  # noqa: E702
    n = conv_output_size(n, 5, padding=2); sizes.append(n)  # noqa: E702
    n = pool_output_size(n, 3, stride=2); sizes.append(n)  # noqa: E702
    for _ in range(3):
        n = conv_output_size(n, 3, padding=1); sizes.append(n)  # noqa: E702
    n = pool_output_size(n, 3, stride=2); sizes.append(n)  # noqa: E702
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]


def test_lecture_max_pool_example():
    x = torch.tensor([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=torch.float32)
    pooled = nn.MaxPool2d(2, stride=2)(x[None, None])[0, 0]
    assert pool_output_size(4, 2, stride=2) == pooled.shape[-1] == 2
    assert pooled.tolist() == [[6, 8], [3, 4]]


# ----------------------------------------------------------------------------------------------------------------------
# Convolution from scratch against F.conv2d

IMAGE_6X6 = torch.tensor(
    [[1, 0, 0, 0, 0, 1],
     [0, 1, 0, 0, 1, 0],
     [0, 0, 1, 1, 0, 0],
     [1, 0, 0, 0, 1, 0],
     [0, 1, 0, 0, 1, 0],
     [0, 0, 1, 0, 1, 0]],
    dtype=torch.float32,
)
FILTER_1 = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float32)
FILTER_2 = torch.tensor([[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]], dtype=torch.float32)


@pytest.mark.parametrize("conv2d", CONV2D_FUNCTIONS)
def test_lecture_6x6_image_two_filters(conv2d):
    x = IMAGE_6X6[None, None]  # (1, 1, 6, 6)
    w = torch.stack([FILTER_1, FILTER_2])[:, None]  # (2, 1, 3, 3): two filters -> "a 2 x 4 x 4 matrix"
    out = conv2d(x, w)[0]  # (2, 4, 4)
    lecture_1 = [[3, -1, -3, -1], [-3, 1, 0, -3], [-3, -3, 0, 1], [3, -2, -2, -1]]
    lecture_2 = [[-1, -1, -1, -1], [-1, -1, -2, 1], [-1, -1, -2, 1], [-1, 0, -4, 3]]
    assert out.tolist() == [lecture_1, lecture_2]
    torch.testing.assert_close(out, F.conv2d(x, w)[0])
    assert conv2d(x, w, stride=2)[0, 0, 0].tolist() == [3, -3]  # lecture: "if stride=2", the first row is 3, -3


CONV_SHAPES = [(1, 1, 6, 6, 1), (2, 3, 7, 5, 4)]  # (N, C_in, H, W, C_out); the second is non-square


@pytest.mark.parametrize(
    "shape, k, stride, padding, dilation, bias",
    list(itertools.product(CONV_SHAPES, [1, 3, (2, 3)], [1, (2, 3)], [0, (2, 1)], [1, 2, (1, 2)], [False, True])),
)
def test_conv2d_matches_torch(shape, k, stride, padding, dilation, bias):
    N, C_in, H, W, C_out = shape
    kH, kW = (k, k) if isinstance(k, int) else k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, C_in, H, W, generator=g, dtype=torch.float64)
    w = torch.randn(C_out, C_in, kH, kW, generator=g, dtype=torch.float64)
    b = torch.randn(C_out, generator=g, dtype=torch.float64) if bias else None
    expected = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    for conv2d in CONV2D_FUNCTIONS:
        out = conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
        torch.testing.assert_close(out, expected, msg=lambda m: f"{conv2d.__name__}: {m}")


@pytest.mark.parametrize("conv2d", CONV2D_FUNCTIONS)
def test_conv2d_float32_matches_torch(conv2d):
    g = torch.Generator().manual_seed(1)
    x, w, b = torch.randn(2, 3, 8, 6, generator=g), torch.randn(5, 3, 3, 2, generator=g), torch.randn(5, generator=g)
    torch.testing.assert_close(conv2d(x, w, b, padding=(1, 0)), F.conv2d(x, w, b, padding=(1, 0)))


@pytest.mark.parametrize("conv2d", CONV2D_FUNCTIONS)
def test_conv2d_gradients_match_torch(conv2d):
    g = torch.Generator().manual_seed(1)
    shapes = [(2, 3, 8, 6), (5, 3, 3, 2), (5,)]
    tensors = [torch.randn(shape, generator=g, dtype=torch.float64) for shape in shapes]
    ours = [t.clone().requires_grad_() for t in tensors]
    theirs = [t.clone().requires_grad_() for t in tensors]
    out = conv2d(*ours, stride=(2, 1), padding=1, dilation=(1, 2))
    expected = F.conv2d(*theirs, stride=(2, 1), padding=1, dilation=(1, 2))
    torch.testing.assert_close(out, expected)
    out.square().sum().backward()
    expected.square().sum().backward()
    for mine, reference in zip(ours, theirs):
        torch.testing.assert_close(mine.grad, reference.grad)


# ----------------------------------------------------------------------------------------------------------------------
# Receptive field: the formula, on nn.Sequential, and against a measurement with autograd


def test_lecture_receptive_field_example():
    # lecture: R = 5 after two 3x3 convs, 5 + (2-1)*(1*1) = 6 after a 2x2 pool at stride 2, 6 + (3-1)*(1*1*2) = 10
    assert receptive_field_steps([(3, 1), (3, 1), (2, 2), (3, 1)]) == [3, 5, 6, 10]
    net = nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()),
        nn.MaxPool2d(2),
        nn.Dropout(0.5),
        nn.Conv2d(4, 4, 3),
    )
    assert receptive_field(net) == 10


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([], 1),
        ([(5, 1)], 5),
        ([(3, 1, 2)], 5),  # a 3x3 kernel at dilation 2 spans 5 pixels
        ([(3, 2), (3, 1, 2)], 3 + 4 * 2),
        ([(2, 2), (2, 2), (2, 2)], 8),
        (nn.Conv2d(1, 1, 3, dilation=3), 7),
        (nn.Sequential(nn.ReLU(), nn.Identity()), 1),
    ],
)
def test_receptive_field_small_cases(layers, expected):
    assert receptive_field(layers) == expected


def test_receptive_field_alexnet():
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, stride=2), nn.LocalResponseNorm(5),
        nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2), nn.LocalResponseNorm(5),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
    )
    assert receptive_field_steps(features) == [11, 19, 51, 67, 99, 131, 163, 195]


def random_stack(seed: int) -> list[tuple[str, int, int, int]]:
    """1 to 4 random layers (kind, kernel_size, stride, dilation); avg pools have no dilation."""
    rng = random.Random(seed)
    stack = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["conv", "max", "avg"])
        stack.append((kind, rng.randint(1, 4), rng.randint(1, 3), 1 if kind == "avg" else rng.randint(1, 2)))
    return stack


def as_sequential(stack: list[tuple[str, int, int, int]]) -> nn.Sequential:
    """The stack as real layers, with a ReLU after each conv."""
    layers = []
    for kind, k, s, d in stack:
        if kind == "conv":
            layers += [nn.Conv2d(1, 1, k, stride=s, dilation=d), nn.ReLU()]
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, stride=s, dilation=d))
        else:
            layers.append(nn.AvgPool2d(k, stride=s))
    return nn.Sequential(*layers)


def measured_receptive_field(stack: list[tuple[str, int, int, int]], n: int) -> tuple[int, int]:
    """Height and width of the input region that output pixel (0, 0) depends on: where its gradient is non-zero.

    The measurement runs on a linear copy: every layer (pools too, since a pool window has a conv's geometry) becomes a
    conv with all-ones weights, so no path cancels and the gradient is non-zero on the whole receptive field. (Max
    pooling itself would send the gradient to one pixel per window.)
    """
    layers = [nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False) for _, k, s, d in stack]
    for layer in layers:
        nn.init.ones_(layer.weight)
    x = torch.ones(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    nn.Sequential(*layers).double()(x)[0, 0, 0, 0].backward()
    rows = x.grad[0, 0].sum(dim=1).nonzero()  # input rows that reach the output pixel
    cols = x.grad[0, 0].sum(dim=0).nonzero()
    return int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1


@pytest.mark.parametrize("seed", range(20))
def test_receptive_field_matches_gradient_measurement(seed):
    stack = random_stack(seed)
    expected = receptive_field([(k, s, d) for _, k, s, d in stack])
    assert receptive_field(as_sequential(stack)) == expected
    assert measured_receptive_field(stack, n=expected + 3) == (expected, expected)


# ----------------------------------------------------------------------------------------------------------------------
# Parameter counts and shape traces on a small LeNet-like net


def lenet() -> nn.Sequential:
    """LeNet-5 as in the lecture (5x5 convs at stride 1, 2x2 pools at stride 2), with ReLU and max pooling."""
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
    )
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Dropout(0.5), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )
    return nn.Sequential(features, classifier)


def test_param_count_matches_numel_sum():
    net = lenet()
    assert param_count(net) == sum(p.numel() for p in net.parameters()) == 61_718
    net[0][0].requires_grad_(False)  # freeze the first conv: 6*1*5*5 + 6 = 156 parameters
    assert param_count(net, trainable_only=True) == 61_718 - 156
    assert param_count(net) == 61_718
    assert param_count(nn.BatchNorm2d(8)) == 16  # gamma and beta; the running statistics are buffers
    shared = nn.Linear(4, 4)
    assert param_count(nn.Sequential(shared, nn.ReLU(), shared)) == 20  # one tensor used twice counts once


@pytest.mark.parametrize(
    "c_in, c_out, k, bias", list(itertools.product([1, 3], [2, 5], [1, 3, (1, 7)], [False, True]))
)
def test_conv_params_and_depthwise_separable_match_layers(c_in, c_out, k, bias):
    assert conv_params(c_in, c_out, k, bias=bias) == param_count(nn.Conv2d(c_in, c_out, k, bias=bias))
    separable = nn.Sequential(nn.Conv2d(c_in, c_in, k, groups=c_in, bias=bias), nn.Conv2d(c_in, c_out, 1, bias=bias))
    assert depthwise_separable_params(c_in, c_out, k, bias=bias) == param_count(separable)


def leaf_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in net.named_modules() if not list(m.children())]


@pytest.mark.parametrize("c_in, c_out, k, bias, dims", [(3, 64, 3, True, 3), (1, 8, (5, 3, 3), False, 3),
                                                        (16, 4, (1, 1, 1), True, 3), (50, 100, 3, True, 1),
                                                        (4, 2, (7,), False, 1)])
def test_conv_params_counts_conv3d_and_conv1d(c_in, c_out, k, bias, dims):
    layer = (nn.Conv1d if dims == 1 else nn.Conv3d)(c_in, c_out, k, bias=bias)
    assert conv_params(c_in, c_out, k, bias=bias, dims=dims) == param_count(layer)


@pytest.mark.parametrize("size, k, s, p", [((8, 32, 32), 3, 1, 1), ((16, 112, 112), (3, 7, 7), (1, 2, 2), (1, 3, 3)),
                                           ((5, 9, 11), 2, 2, 0)])
def test_conv_output_size_per_axis_gives_conv3d_shapes(size, k, s, p):
    """A 3D conv's output shape is the 1-D formula on each of T, H, W, as nn.Conv3d computes it."""
    ks, ss, ps = (v if isinstance(v, tuple) else (v,) * 3 for v in (k, s, p))
    out = nn.Conv3d(2, 4, k, stride=s, padding=p)(torch.zeros(1, 2, *size)).shape[2:]
    assert tuple(out) == tuple(conv_output_size(n, *args) for n, *args in zip(size, ks, ss, ps))


@pytest.mark.parametrize("shape, k, s", [((2, 3, 8, 8), 2, None), ((1, 4, 9, 7), 2, 2), ((2, 2, 10, 10), 3, 2),
                                         ((1, 1, 6, 6), 3, 3), ((3, 2, 5, 8), 2, 1)])
def test_max_pool_mask_marks_what_maxpool_keeps(shape, k, s):
    """Against F.max_pool2d's own indices and against autograd: only the marked values get a gradient."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape)), requires_grad=True)  # no ties
    mask = max_pool_mask(x.detach(), k, s)
    out, indices = F.max_pool2d(x, k, s, return_indices=True)
    expected = torch.zeros(shape[0], shape[1], shape[2] * shape[3], dtype=torch.bool)
    expected.scatter_(2, indices.flatten(2), True)
    assert torch.equal(mask, expected.reshape(shape))
    out.sum().backward()
    assert torch.equal(mask, x.grad != 0)


def test_two_by_two_pooling_discards_three_quarters():
    x = torch.randn(4, 8, 28, 28, generator=torch.Generator().manual_seed(3))
    assert max_pool_mask(x).float().mean().item() == 0.25  # one survivor per 4 values, counted


@pytest.mark.parametrize("k", [2, 3])
def test_sum_pooling_is_average_pooling_times_k_squared_and_lp_pool_with_p_1(k):
    """The lecture's SUM pooling, three ways: windows summed by unfold, avg_pool2d * k^2, lp_pool2d with p = 1."""
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(k))
    by_hand = F.unfold(x.reshape(6, 1, 9, 9), k, stride=k).sum(dim=1).reshape(2, 3, 9 // k, 9 // k)
    torch.testing.assert_close(F.avg_pool2d(x, k) * k * k, by_hand)
    torch.testing.assert_close(F.lp_pool2d(x, 1, k), by_hand)


def test_keras_lecture_model_has_the_pytorch_twins_shapes_and_parameters(monkeypatch):
    """The lecture's Keras CNN, built in Keras 3 (torch backend), against the PyTorch twin that notebook 02 traces."""
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="keras is a test dependency: pip install -e '.[browser,instructor,keras]'")
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Convolution2D(25, (3, 3)), layers.MaxPooling2D((2, 2)),
                              layers.Convolution2D(50, (3, 3)), layers.MaxPooling2D((2, 2)), layers.Flatten(),
                              layers.Dense(100, activation="relu"), layers.Dense(10, activation="softmax")])
    twin = nn.Sequential(nn.Conv2d(1, 25, 3), nn.MaxPool2d(2), nn.Conv2d(25, 50, 3), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(1250, 100), nn.ReLU(), nn.Linear(100, 10), nn.Softmax(dim=1))
    rows = [row for row in trace_shapes(twin, (1, 1, 28, 28)) if row.layer_type not in ("ReLU", "Softmax")]
    assert len(rows) == len(model.layers)
    for layer, row in zip(model.layers, rows):
        keras_shape = tuple(layer.output.shape[1:])  # (H, W, C): channels last
        torch_shape = row.output_shape[1:]  # (C, H, W): channels first
        assert keras_shape == (torch_shape[1:] + torch_shape[:1] if len(torch_shape) == 3 else torch_shape)
        assert layer.count_params() == row.num_params
    assert model.count_params() == param_count(twin) == 137_660
    # Keras 1's Convolution2D(25, 3, 3) meant a 3x3 kernel; since Keras 2 the third argument is the stride
    assert layers.Conv2D(25, 3, 3).strides == (3, 3)


def test_trace_shapes_matches_a_forward_pass_layer_by_layer():
    net = lenet()
    trace = trace_shapes(net, (2, 1, 28, 28))
    x = torch.zeros(2, 1, 28, 28)
    net.eval()
    expected = []
    for name, layer in leaf_layers(net):  # the net is sequential, so its leaves run in this order
        x = layer(x)
        num_params = sum(p.numel() for p in layer.parameters())
        expected.append(LayerShape(name, type(layer).__name__, tuple(x.shape), num_params))
    assert list(trace) == expected
    assert trace[0] == LayerShape("0.0", "Conv2d", (2, 6, 28, 28), 156)
    assert trace[-1].output_shape == (2, 10)
    assert trace.total_params == param_count(net)
    table = str(trace)
    assert table.splitlines()[0].split() == ["name", "type", "output", "shape", "params"]
    assert "1.1    Linear       (2, 120)         48,120" in table
    assert table.endswith("total params: 61,718")


def test_trace_shapes_agrees_with_torchinfo():
    net = lenet()
    stats = torchinfo.summary(net, input_size=(2, 1, 28, 28), device="cpu", verbose=0)
    leaves = [info for info in stats.summary_list if info.is_leaf_layer]
    assert [(row.layer_type, list(row.output_shape), row.num_params) for row in trace_shapes(net, (2, 1, 28, 28))] == [
        (info.class_name, info.output_size, info.num_params) for info in leaves
    ]


def test_trace_shapes_alexnet_conv1():
    trace = trace_shapes(nn.Conv2d(3, 96, 11, stride=4), (1, 3, 227, 227))
    # lecture: [55x55x96] and "(11x11x3)x96 = 35K", a count without the 96 biases
    assert list(trace) == [LayerShape("(net)", "Conv2d", (1, 96, 55, 55), 34_944)]


def test_trace_shapes_tuple_output():
    trace = trace_shapes(nn.MaxPool2d(2, return_indices=True), (1, 1, 4, 4))
    assert trace[0].output_shape == ((1, 1, 2, 2), (1, 1, 2, 2))  # values and indices


def test_trace_shapes_leaves_the_net_as_it_was():
    net = lenet()
    net[0][1].eval()  # a frozen BatchNorm inside a net in train mode must stay frozen
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng_before = torch.get_rng_state()
    trace_shapes(net, (4, 1, 28, 28))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert net.training and net[1].training and not net[0][1].training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # no BatchNorm statistics updated
    assert torch.equal(torch.get_rng_state(), rng_before)  # no dropout masks drawn


def test_trace_shapes_says_where_a_net_breaks():
    net = lenet()
    net[1][1] = nn.Linear(16 * 4 * 4, 120)  # wrong in_features: the flattened input has 16*5*5 = 400 values
    with pytest.raises(ValueError, match=r"failed after layer '1.0' \(Flatten\) on input \(1, 1, 28, 28\): mat1"):
        trace_shapes(net, (1, 1, 28, 28))
    assert all(not m._forward_hooks for m in net.modules())


# ----------------------------------------------------------------------------------------------------------------------
# Validation: every bad argument is refused by cnnlab with a message that says what is wrong and what is allowed

class ConvBlock(nn.Module):
    """A custom block: receptive_field cannot know the order its forward runs its layers in."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(1, 1, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


X = torch.zeros(1, 3, 5, 5)
W = torch.zeros(4, 3, 3, 3)

VALIDATION_CASES = [
    # (function, args, kwargs, error, message)
    (conv_output_size, (1, 5), {"padding": 1}, ValueError,
     r"^kernel 5 larger than padded input 3 \(input 1 \+ 2\*padding 1\)$"),
    (conv_output_size, (5, 3), {"dilation": 3}, ValueError,
     r"dilated kernel 7 \(kernel_size 3, dilation 3\) larger than padded input 5 \(input 5 \+ 2\*padding 0\)"),
    (conv_output_size, (5, 0), {}, ValueError, r"kernel_size must be a positive int, got 0"),
    (conv_output_size, (5, 3), {"stride": 0}, ValueError, r"stride must be a positive int, got 0"),
    (conv_output_size, (5, 3), {"stride": -2}, ValueError, r"stride must be a positive int, got -2"),
    (conv_output_size, (5, 3), {"dilation": 0}, ValueError, r"dilation must be a positive int, got 0"),
    (conv_output_size, (5, 3), {"padding": -1}, ValueError, r"padding must be an int >= 0, got -1"),
    (conv_output_size, (0, 1), {}, ValueError, r"input size n must be a positive int, got 0"),
    (conv_output_size, (5.0, 3), {}, TypeError, r"input size n must be an int, got float 5.0"),
    (conv_output_size, (5, True), {}, TypeError, r"kernel_size must be an int, got bool True"),
    (conv_output_size, (5, 3), {"stride": "2"}, TypeError, r"stride must be an int, got str '2'"),
    (pool_output_size, (5, 3), {"padding": 2}, ValueError,
     r"padding 2 must be at most half of kernel_size 3 \(<= 1\), as nn.MaxPool2d requires"),
    (pool_output_size, (2, 3), {"stride": 1}, ValueError,
     r"kernel 3 larger than padded input 2 \(input 2 \+ 2\*padding 0\)"),
    (pool_output_size, (1, 3), {"stride": 1, "ceil_mode": True}, ValueError,
     r"kernel 3 larger than padded input 1 \(input 1 \+ 2\*padding 0\), even with ceil_mode"),
    (pool_output_size, (5, 2), {"stride": 0}, ValueError, r"stride must be a positive int, got 0"),
    (pool_output_size, (5, 2), {"dilation": 0}, ValueError, r"dilation must be a positive int, got 0"),
    (pool_output_size, (5, 2), {"ceil_mode": 1}, TypeError,
     r"ceil_mode must be True or False \(a bool\), got int 1"),
    (transposed_output_size, (2, 3), {"stride": 2, "output_padding": 2}, ValueError,
     r"output_padding 2 must be smaller than stride 2 or dilation 1"),
    (transposed_output_size, (1, 1), {"padding": 1}, ValueError, r"output size -1 < 1: .*use less padding"),
    (transposed_output_size, (2, 3), {"output_padding": -1}, ValueError, r"output_padding must be an int >= 0, got -1"),
    (transposed_output_size, (2, 3), {"padding": -1}, ValueError, r"padding must be an int >= 0, got -1"),
    (transposed_output_size, (2, 0), {}, ValueError, r"kernel_size must be a positive int, got 0"),
    (receptive_field, ("3x3",), {}, TypeError,
     r"layers must be a list of \(kernel_size, stride\[, dilation\]\) tuples"),
    (receptive_field, ([(3,)],), {}, ValueError,
     r"layers\[0\] must be \(kernel_size, stride\) or \(kernel_size, stride, dilation\)"),
    (receptive_field, ([(3, 1), (3, 0)],), {}, ValueError, r"layers\[1\] stride must be a positive int, got 0"),
    (receptive_field, ([(True, 1)],), {}, TypeError, r"layers\[0\] kernel_size must be an int, got bool True"),
    (receptive_field, (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Flatten(), nn.Linear(4, 2)),), {}, ValueError,
     r"does not know layer '1' \(Flatten\); allowed: Conv2d, MaxPool2d, AvgPool2d .*\(e.g. net.features\)"),
    (receptive_field, (nn.Sequential(nn.Conv2d(1, 1, (1, 7))),), {}, ValueError,
     r"layer '0' \(Conv2d\) has kernel_size \(1, 7\); receptive_field needs the same value along height and width"),
    (receptive_field, (nn.Sequential(nn.ConvTranspose2d(1, 1, 3)),), {}, ValueError, r"does not know layer '0'"),
    (receptive_field, (nn.Sequential(nn.Conv2d(1, 1, 3), ConvBlock()),), {}, ValueError,
     r"does not know layer '1' \(ConvBlock\); .* inside nn.Sequential"),
    (param_count, ("net",), {}, TypeError, r"module must be a torch.nn.Module, got str"),
    (param_count, (nn.ReLU(),), {"trainable_only": 1}, TypeError,
     r"trainable_only must be True or False \(a bool\), got int 1"),
    (conv_params, (0, 3, 3), {}, ValueError, r"c_in must be a positive int, got 0"),
    (conv_params, (3, 3, (1, 2, 3)), {}, ValueError, r"k must be an int or a pair \(h, w\), got \(1, 2, 3\)"),
    (conv_params, (3, 3, (1, 2)), {"dims": 3}, ValueError, r"k must be an int or 3 sizes \(one per axis of a Conv3d\)"),
    (conv_params, (3, 3, (3, 0, 3)), {"dims": 3}, ValueError, r"k\[1\] must be a positive int, got 0"),
    (conv_params, (3, 3, 3), {"dims": 4}, ValueError, r"dims must be"),
    (max_pool_mask, (torch.zeros(2, 4, 4),), {}, ValueError, r"x must have 4 dimensions"),
    (max_pool_mask, (torch.zeros(1, 1, 4, 4),), {"kernel_size": 5}, ValueError, r"height: kernel 5 larger than"),
    (max_pool_mask, (torch.zeros(1, 1, 4, 4),), {"stride": 0}, ValueError, r"stride must be a positive int"),
    (conv_params, (3, 3, 3), {"bias": None}, TypeError, r"bias must be True or False \(a bool\), got NoneType None"),
    (depthwise_separable_params, (3, 0, 3), {}, ValueError, r"c_out must be a positive int, got 0"),
    (depthwise_separable_params, (3, 3, 2.5), {}, TypeError, r"k must be an int, got float 2.5"),
    (trace_shapes, ("net", (1, 3, 8, 8)), {}, TypeError, r"net must be a torch.nn.Module, got str"),
    (trace_shapes, (nn.ReLU(), "1x3x8x8"), {}, TypeError, r"input_shape must be a non-empty tuple of ints"),
    (trace_shapes, (nn.ReLU(), (1, 0, 8, 8)), {}, ValueError, r"input_shape\[1\] must be a positive int, got 0"),
    (trace_shapes, (nn.ReLU(), (1, 3, 8.0, 8)), {}, TypeError, r"input_shape\[2\] must be an int, got float 8.0"),
]

CONV2D_VALIDATION_CASES = [
    # (args, kwargs, error, message) for both conv2d_naive and conv2d_im2col
    ((X[0], W), {}, ValueError, r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)"),
    ((X, W[0]), {}, ValueError, r"w must be 4-D \(C_out, C_in, kH, kW\) .*got shape \(3, 3, 3\)"),
    ((torch.zeros(1, 2, 5, 5), W), {}, ValueError,
     r"x has 2 channels but w expects C_in = 3 \(w has shape \(4, 3, 3, 3\)\); they must match"),
    ((X, W, torch.zeros(3)), {}, ValueError, r"b must have shape \(C_out,\) = \(4,\), got \(3,\)"),
    ((X, W, [0.0] * 4), {}, TypeError, r"b must be a torch.Tensor, got list"),
    ((X.tolist(), W), {}, TypeError, r"x must be a torch.Tensor, got list"),
    ((torch.zeros(1, 3, 1, 5), torch.zeros(4, 3, 5, 1)), {"padding": 1}, ValueError,
     r"^height: kernel 5 larger than padded input 3 \(input 1 \+ 2\*padding 1\)$"),
    ((X, torch.zeros(4, 3, 1, 4)), {"dilation": (1, 2)}, ValueError,
     r"width: dilated kernel 7 \(kernel_size 4, dilation 2\) larger than padded input 5"),
    ((X, W), {"stride": 0}, ValueError, r"stride must be a positive int, got 0"),
    ((X, W), {"stride": (1, 0)}, ValueError, r"stride\[1\] must be a positive int, got 0"),
    ((X, W), {"stride": (1, 2, 3)}, ValueError, r"stride must be an int or a pair \(h, w\), got \(1, 2, 3\)"),
    ((X, W), {"stride": 1.5}, TypeError, r"stride must be an int, got float 1.5"),
    ((X, W), {"padding": -1}, ValueError, r"padding must be an int >= 0, got -1"),
    ((X, W), {"dilation": True}, TypeError, r"dilation must be an int, got bool True"),
    ((X.double(), W), {}, TypeError, r"same floating-point dtype, got x torch.float64, w torch.float32"),
    ((X.long(), W.long()), {}, TypeError, r"same floating-point dtype, got x torch.int64, w torch.int64"),
    ((torch.zeros(0, 3, 5, 5), W), {}, ValueError, r"x must not be empty, got shape \(0, 3, 5, 5\)"),
    ((X, W.numpy()), {}, TypeError, r"w must be a torch.Tensor, got ndarray"),
]


def assert_raised_by_cnnlab(excinfo: pytest.ExceptionInfo) -> None:
    """The error comes from cnnlab's own checks, not from deep inside torch."""
    assert Path(excinfo.traceback[-1].path).name in ("conv_arith.py", "validation.py")


@pytest.mark.parametrize(
    "function, args, kwargs, error, message",
    VALIDATION_CASES,
    ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(VALIDATION_CASES)],
)
def test_validation_errors(function, args, kwargs, error, message):
    with pytest.raises(error, match=message) as excinfo:
        function(*args, **kwargs)
    assert_raised_by_cnnlab(excinfo)


@pytest.mark.parametrize("conv2d", CONV2D_FUNCTIONS)
@pytest.mark.parametrize("args, kwargs, error, message", CONV2D_VALIDATION_CASES)
def test_conv2d_validation_errors(conv2d, args, kwargs, error, message):
    with pytest.raises(error, match=message) as excinfo:
        conv2d(*args, **kwargs)
    assert_raised_by_cnnlab(excinfo)
