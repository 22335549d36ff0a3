"""Tests for cnnlab.normalization, with PyTorch as the oracle (nn.BatchNorm1d/2d/3d, F.layer_norm, F.instance_norm,
F.group_norm), and the claims notebook 06 prints, re-checked over seeds 0, 1 and 2."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.data import Split, load_split
from cnnlab.models import mlp
from cnnlab.normalization import (
    LEARNS,
    NORM_KINDS,
    STALLED,
    BatchNorm,
    activation_spread,
    fit_accuracy,
    group_norm,
    instance_norm,
    largest_lr_that_learns,
    layer_norm,
    norm_stats,
    run_convnet,
    run_mlp,
    saturated_fraction,
    train_with_trace,
    well_spread,
)

SEEDS = (0, 1, 2)
CPU = torch.device("cpu")
TORCH_BN = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


# ----------------------------------------------------------------------------------------------------------
# BatchNorm == nn.BatchNorm1d / 2d / 3d
# ----------------------------------------------------------------------------------------------------------
def twin_layers(C: int, ndim: int, momentum: float | None, affine: bool) -> tuple[BatchNorm, nn.Module]:
    """Our BatchNorm and PyTorch's, in float64, with the same random gamma and beta."""
    ours = BatchNorm(C, momentum=momentum, affine=affine).double()
    theirs = TORCH_BN[ndim](C, momentum=momentum, affine=affine).double()
    if affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 2.0)
            ours.bias.normal_()
    theirs.load_state_dict(ours.state_dict())  # same names: weight, bias, running_mean/var, num_batches_tracked
    return ours, theirs


def forward_backward(layer: nn.Module, x: torch.Tensor, grad_out: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Output, input gradient and (if affine) gamma and beta gradients of one step."""
    x = x.clone().requires_grad_()
    y = layer(x)
    y.backward(grad_out)
    grads = (layer.weight.grad.clone(), layer.bias.grad.clone()) if layer.weight is not None else ()
    layer.zero_grad()
    return (y.detach(), x.grad, *grads)


SHAPES = [(5, 3), (2, 4), (16, 1), (8, 3, 7), (1, 2, 5), (4, 3, 5, 6), (2, 5, 1, 3), (1, 3, 2, 2), (3, 2, 4, 3, 2)]
MOMENTA = [0.1, 0.5, 1.0, 0.0, None]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("momentum", MOMENTA)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_equals_pytorch_in_train_and_eval(shape, momentum, affine):
    torch.manual_seed(0)
    C = shape[1]
    ours, theirs = twin_layers(C, len(shape), momentum, affine)
    for step in range(4):  # several steps: the running statistics accumulate
        x = torch.randn(shape, dtype=torch.float64) * (step + 1) + step  # a different mean and scale each step
        grad_out = torch.randn(shape, dtype=torch.float64)
        torch.testing.assert_close(forward_backward(ours, x, grad_out), forward_backward(theirs, x, grad_out))
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == step + 1
    ours.eval(), theirs.eval()
    x = torch.randn((1,) + tuple(shape[1:]), dtype=torch.float64) * 3  # eval mode takes a single example
    grad_out = torch.randn_like(x)
    torch.testing.assert_close(forward_backward(ours, x, grad_out), forward_backward(theirs, x, grad_out))
    assert int(ours.num_batches_tracked) == 4  # evaluation counts no batch


def test_batchnorm_float32_matches_with_default_tolerances():
    torch.manual_seed(0)
    ours, theirs = BatchNorm(6), nn.BatchNorm2d(6)
    x = torch.randn(8, 6, 5, 5) * 4 + 2
    grad_out = torch.randn_like(x)
    torch.testing.assert_close(forward_backward(ours, x, grad_out), forward_backward(theirs, x, grad_out))
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    assert ours.running_mean.dtype == torch.float32


def test_batchnorm_loads_a_pytorch_state_dict():
    torch.manual_seed(0)
    theirs = nn.BatchNorm2d(4)
    for _ in range(3):
        theirs(torch.randn(5, 4, 3, 3) + 1)
    ours = BatchNorm(4)
    ours.load_state_dict(theirs.state_dict())
    ours.eval(), theirs.eval()
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(ours(x), theirs(x))


def test_the_lectures_three_samples():
    z = torch.tensor([[1.0, 2.0], [4.0, 2.0], [7.0, 8.0]], dtype=torch.float64)  # (N, D): means 4, 4; vars 6, 8
    bn = BatchNorm(2, eps=1e-12).double()
    a, b = math.sqrt(1.5), 1 / math.sqrt(2)  # (1 - 4) / sqrt(6) = -sqrt(3/2); (2 - 4) / sqrt(8) = -1/sqrt(2)
    expected = torch.tensor([[-a, -b], [0.0, -b], [a, 2 * b]], dtype=torch.float64)
    torch.testing.assert_close(bn(z), expected)
    torch.testing.assert_close(bn.running_var, torch.tensor([0.9 + 0.1 * 9, 0.9 + 0.1 * 12], dtype=torch.float64))


def test_gamma_sigma_beta_mu_is_the_identity():
    torch.manual_seed(0)
    x = torch.randn(10, 3, dtype=torch.float64) * 5 + 3
    bn = BatchNorm(3).double()
    mean, var = norm_stats(x, "batch")  # (1, 3) each
    with torch.no_grad():
        bn.gamma.copy_(torch.sqrt(var.flatten() + bn.eps))
        bn.beta.copy_(mean.flatten())
    torch.testing.assert_close(bn(x), x)


def test_mode_follows_self_training_not_grad_mode():
    torch.manual_seed(0)
    x = torch.randn(6, 3) * 2 + 5
    ours, theirs = BatchNorm(3), nn.BatchNorm1d(3)
    with torch.no_grad():  # train mode without gradients: still the batch statistics, still updating (d2l's bug)
        torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    assert int(ours.num_batches_tracked) == 1
    ours.eval(), theirs.eval()  # eval mode with gradients: the running statistics, frozen, and gradients flow
    before = ours.running_mean.clone()
    grad_out = torch.randn_like(x)
    torch.testing.assert_close(forward_backward(ours, x, grad_out), forward_backward(theirs, x, grad_out))
    assert torch.equal(ours.running_mean, before)


def test_a_batch_of_two_normalises_every_feature_to_plus_or_minus_one():
    torch.manual_seed(0)
    h = torch.randn(2, 50, dtype=torch.float64) * 3  # (N, C) = (2, 50)
    out = BatchNorm(50, eps=1e-12).double()(h)
    torch.testing.assert_close(out[0], torch.where(h[0] > h[1], 1.0, -1.0).double())
    torch.testing.assert_close(out[1], -out[0])


def test_batchnorm_under_autocast_bfloat16_keeps_float32_statistics():
    torch.manual_seed(0)
    x = (torch.randn(16, 4, 3, 3) * 3 + 1).bfloat16()
    ours, theirs = BatchNorm(4), nn.BatchNorm2d(4)
    y = ours(x)
    assert y.dtype == torch.bfloat16 and ours.running_mean.dtype == torch.float32
    torch.testing.assert_close(y.float(), theirs(x.float()), atol=0.05, rtol=0.02)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)


@pytest.mark.parametrize(
    "make_input, match",
    [
        (lambda: torch.randn(3), "at least 2 dimensions"),  # (C,): no batch axis
        (lambda: torch.tensor(1.0), "at least 2 dimensions"),
        (lambda: torch.randn(2, 3, 2, 2, 2, 2), "2D to 5D"),
        (lambda: torch.randn(4, 5), r"BatchNorm\(3\) got 5 channels"),
        (lambda: torch.randn(4, 2, 8, 8), r"BatchNorm\(3\) got 2 channels"),
        (lambda: torch.randn(1, 3), "more than 1 value per channel when training"),
        (lambda: torch.randn(1, 3, 1, 1), "more than 1 value per channel when training"),
    ],
)
def test_batchnorm_rejects_bad_input(make_input, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm(3)(make_input())


def test_one_value_per_channel_is_fine_in_eval_mode():
    assert BatchNorm(3).eval()(torch.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_features=0), "num_features must be a positive int"),
        (dict(num_features=2.0), "num_features must be a positive int"),
        (dict(num_features=3, eps=0.0), "eps must be a finite number > 0"),
        (dict(num_features=3, momentum=1.5), r"momentum must be a finite number >= 0 and <= 1, got 1.5"),
        (dict(num_features=3, momentum=-0.1), r"momentum must be a finite number >= 0 and <= 1"),
    ],
)
def test_batchnorm_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm(**kwargs)


def test_batchnorm_rejects_a_non_tensor():
    with pytest.raises(TypeError, match="expects a torch.Tensor"):
        BatchNorm(2)([[1.0, 2.0], [3.0, 4.0]])


# ----------------------------------------------------------------------------------------------------------
# The statistics' shapes, and LayerNorm / InstanceNorm / GroupNorm == F.layer_norm / instance_norm / group_norm
# ----------------------------------------------------------------------------------------------------------
def test_statistics_have_the_lectures_shapes():
    N, C, H, W, G = 4, 6, 5, 7, 3
    x = torch.randn(N, C, H, W, dtype=torch.float64)
    shapes = {kind: tuple(norm_stats(x, kind, num_groups=G)[0].shape) for kind in NORM_KINDS}
    assert shapes == {"batch": (1, C, 1, 1), "layer": (N, 1, 1, 1), "instance": (N, C, 1, 1), "group": (N, G, 1, 1, 1)}
    for kind, dims in (("batch", (0, 2, 3)), ("layer", (1, 2, 3)), ("instance", (2, 3))):
        mean, var = norm_stats(x, kind)
        torch.testing.assert_close(mean, x.mean(dims, keepdim=True))
        torch.testing.assert_close(var, x.var(dims, unbiased=False, keepdim=True))
    mean, var = norm_stats(x, "group", num_groups=G)
    xg = x.reshape(N, G, C // G, H, W)
    torch.testing.assert_close(var, xg.var((2, 3, 4), unbiased=False, keepdim=True))
    assert tuple(norm_stats(torch.randn(N, C), "batch")[0].shape) == (1, C)  # (N, C): a fully connected layer


def grads_of(fn, x: torch.Tensor, *params: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """fn's output and the gradients of a random projection of it w.r.t. x and every parameter given."""
    leaves = [t.detach().clone().requires_grad_() if t is not None else None for t in (x, *params)]
    y = fn(*leaves)
    torch.manual_seed(1)
    (y * torch.randn_like(y)).sum().backward()
    return (y.detach(), *(t.grad for t in leaves if t is not None))


@pytest.mark.parametrize("shape, k", [((4, 10), 1), ((3, 5, 6), 1), ((3, 5, 6), 2), ((2, 3, 4, 5), 3),
                                      ((2, 3, 4, 5), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_equals_pytorch(shape, k, affine):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3 + 1
    normalized = shape[-k:]
    w, b = (torch.rand(normalized, dtype=torch.float64) + 0.5, torch.randn(normalized, dtype=torch.float64)) \
        if affine else (None, None)
    ours = grads_of(lambda x, w, b: layer_norm(x, normalized, w, b), x, w, b)
    theirs = grads_of(lambda x, w, b: F.layer_norm(x, normalized, w, b), x, w, b)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("shape", [(2, 3, 7), (4, 3, 5, 6), (2, 2, 3, 4, 2), (1, 4, 3, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm_equals_pytorch(shape, affine):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 2 - 1
    C = shape[1]
    w, b = (torch.rand(C, dtype=torch.float64) + 0.5, torch.randn(C, dtype=torch.float64)) if affine else (None, None)
    ours = grads_of(lambda x, w, b: instance_norm(x, w, b), x, w, b)
    theirs = grads_of(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), x, w, b)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("shape, G", [((4, 6), 3), ((4, 6), 1), ((3, 6, 5), 2), ((2, 6, 4, 5), 3), ((2, 6, 4, 5), 6),
                                      ((2, 6, 4, 5), 1), ((1, 8, 3, 3), 4), ((2, 4, 2, 2, 3), 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_equals_pytorch(shape, G, affine):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3 + 2
    C = shape[1]
    w, b = (torch.rand(C, dtype=torch.float64) + 0.5, torch.randn(C, dtype=torch.float64)) if affine else (None, None)
    ours = grads_of(lambda x, w, b: group_norm(x, G, w, b), x, w, b)
    theirs = grads_of(lambda x, w, b: F.group_norm(x, G, w, b), x, w, b)
    torch.testing.assert_close(ours, theirs)


def test_group_norm_spans_layer_norm_and_instance_norm():
    x = torch.randn(3, 6, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(group_norm(x, 1), layer_norm(x, x.shape[1:]))
    torch.testing.assert_close(group_norm(x, 6), instance_norm(x))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: group_norm(torch.randn(2, 6, 3, 3), 4), "num_groups=4 must divide the number of channels C=6"),
        (lambda: group_norm(torch.randn(2, 6), 0), "num_groups must be a positive int"),
        (lambda: group_norm(torch.randn(2, 6), 3, weight=torch.ones(5)), r"weight must hold one value per channel"),
        (lambda: group_norm(torch.randn(6), 3), "at least 2 dimensions"),
        (lambda: instance_norm(torch.randn(4, 3)), "at least 3 dimensions"),
        (lambda: instance_norm(torch.randn(4, 3, 1, 1)), "more than 1 spatial element"),
        (lambda: instance_norm(torch.randn(4, 3, 5), bias=torch.zeros(4)), r"bias must hold one value per channel"),
        (lambda: layer_norm(torch.randn(4, 5), (4,)), r"normalized_shape \(4,\) must be the last axes"),
        (lambda: layer_norm(torch.randn(4, 5), (5,), weight=torch.ones(4)), r"weight must have shape normalized_shape"),
        (lambda: norm_stats(torch.randn(4, 6), "group"), "group statistics need num_groups"),
        (lambda: norm_stats(torch.randn(4, 6), "batchy"), "unknown kind 'batchy'"),
    ],
)
def test_functional_norms_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: group_norm(torch.zeros(0, 4, 3), 2), ValueError, r"non-empty input x, got shape \(0, 4, 3\)"),
        (lambda: group_norm(torch.zeros(2, 4, 3), 2, eps=float("nan")), ValueError, "eps must be a finite number > 0"),
        (lambda: group_norm(torch.zeros(2, 4, 3), 2, eps=None), TypeError, "eps must be a number"),
        (lambda: layer_norm(torch.zeros(2, 4), (4,), eps=-1.0), ValueError, "eps must be"),
        (lambda: instance_norm(torch.zeros(2, 4, 3), eps="1e-5"), TypeError, "eps must be a number"),
        (lambda: instance_norm(torch.zeros(2, 4, 3, dtype=torch.long)), TypeError, "float tensor x"),
        (lambda: group_norm([[1.0, 2.0]], 1), TypeError, "expects a torch.Tensor x"),
        (lambda: BatchNorm(3, affine="yes"), TypeError, "affine must be True or False"),
        (lambda: BatchNorm(3, eps=None), TypeError, "eps must be a number"),
        (lambda: largest_lr_that_learns([0.1, 1.0], [0.9]), ValueError, "one value per run"),
        (lambda: saturated_fraction([0.5], nn.Tanh), TypeError, "a must be a torch.Tensor"),
    ],
)
def test_arguments_are_checked_at_the_door(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_batchnorm_passes_an_empty_batch_through_in_eval_mode():
    assert BatchNorm(3).eval()(torch.zeros(0, 3)).shape == (0, 3)


# ----------------------------------------------------------------------------------------------------------
# Pieces of the experiments
# ----------------------------------------------------------------------------------------------------------
def test_networks_and_helpers():
    assert largest_lr_that_learns([0.1, 1.0], [0.05, 0.1]) is None
    assert saturated_fraction(torch.tensor([0.999, 0.5, -0.995, 0.0]), nn.Tanh) == 0.5
    assert saturated_fraction(torch.tensor([0.001, 0.5]), nn.Sigmoid) == 0.5
    with pytest.raises(ValueError, match="placement must be one of 'before', 'after'"):
        run_convnet(None, norm="batch", placement="inside", lr=0.1)


# ----------------------------------------------------------------------------------------------------------
# The notebook's claims, over seeds 0, 1, 2 (the notebook's sizes, smaller where it says so)
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist() -> Split:
    return load_split("mnist")  # 8,000 / 2,000, as in the notebook


@pytest.fixture(scope="module")
def fashion() -> Split:
    return load_split("fashion-mnist", 4_000, n_test=2_000)  # as in the notebook's quick profile


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_bn_spreads_every_layer_and_plain_nets_do_not(mnist, seed):
    X = mnist.normalized(mnist.X_test[:1_000])
    for activation in (nn.Tanh, nn.ReLU):
        for std in (1.0, 0.01):
            assert all(well_spread(a, activation) for a in activation_spread(X, activation, std, "batch", seed=seed))
            assert not well_spread(activation_spread(X, activation, std, None, seed=seed)[-1], activation)


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_bn_learns_at_a_10x_higher_lr_where_the_plain_net_diverges(mnist, seed):
    def acc(norm, lr):
        return run_mlp(mnist, depth=3, activation=nn.ReLU, norm=norm, lr=lr, seed=seed, device=CPU)

    plain_01, plain_1, bn_1 = acc(None, 0.1), acc(None, 1.0), acc("batch", 1.0)
    assert plain_01 > LEARNS and plain_1 < STALLED and bn_1 > LEARNS


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_a_deep_sigmoid_net_trains_only_with_bn(mnist, seed):
    def acc(norm):
        return run_mlp(mnist, depth=8, activation=nn.Sigmoid, norm=norm, lr=0.1, seed=seed, device=CPU)

    assert acc(None) < STALLED and acc("batch") > LEARNS


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_ioffe_szegedy_fig1_bn_is_faster_and_its_inputs_stay_put(mnist, seed):
    traces = {}
    for norm in (None, "batch"):
        torch.manual_seed(seed)
        net = mlp([100] * 3, activation=nn.Sigmoid, norm=norm)
        traces[norm] = train_with_trace(net, mnist, net[-2], lr=0.1, num_steps=400, every=50, seed=seed, device=CPU)
    steps_bn = traces["batch"].steps_to(0.85)
    assert steps_bn < math.inf and 3 * steps_bn <= traces[None].steps_to(0.85)
    assert traces["batch"].median_drift().median() < traces[None].median_drift().median() / 2


def test_claim_placement_before_or_after_the_activation_differs_little(fashion):
    mean = {}
    for where in ("before", "after"):
        accs = [run_convnet(fashion, norm="batch", placement=where, lr=0.05, seed=seed, device=CPU) for seed in SEEDS]
        assert min(accs) > 0.70
        mean[where] = sum(accs) / len(accs)
    assert abs(mean["before"] - mean["after"]) < 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_batch_of_two_breaks_bn_and_groupnorm_recovers(mnist, seed):
    small = mnist.subset(1_000)  # the notebook uses 2,000; 1,000 keeps the 500 steps of batch size 2 cheap

    def acc(norm, batch_size, lr):
        return run_mlp(small, depth=3, activation=nn.ReLU, norm=norm, lr=lr, batch_size=batch_size, seed=seed,
                       device=CPU)

    bn_64, bn_2, gn_2 = acc("batch", 64, 0.05), acc("batch", 2, 0.005), acc("group", 2, 0.005)
    assert bn_2 < bn_64 - 0.30
    assert gn_2 > bn_2 + 0.20


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_train_mode_on_single_class_batches_fails(mnist, seed):
    torch.manual_seed(seed)
    net = mlp([100] * 3, norm="batch")
    assert fit_accuracy(net, mnist, lr=0.1, seed=seed, device=CPU) > 0.85
    X, y = mnist.normalized(mnist.X_test), mnist.y_test
    with torch.no_grad():
        acc = {}
        for mode in ("eval", "train"):
            getattr(net, mode)()
            acc[mode] = sum((net(X[y == c]).argmax(1) == c).float().mean().item() for c in range(10)) / 10
    assert acc["train"] < 0.30 and acc["eval"] > 0.85


# ----------------------------------------------------------------------------------------------------------
# The notebook's figures
# ----------------------------------------------------------------------------------------------------------
def test_figures_draw_what_they_say():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnlab.norm_plots import plot_activation_histograms, plot_layer_std, plot_lr_sweep, plot_trace
    from cnnlab.normalization import Trace

    layers = [torch.randn(50, 10) * s for s in (1.0, 0.1, 0.01)]
    fig = plot_activation_histograms({"a": layers, "a, BN": layers})
    assert len(fig.axes) == 2 * 3 and fig.axes[0].get_title() == "layer 1"
    fig = plot_layer_std({"a": layers, "a, BN": layers})
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx([a.std().item() for a in layers])
    fig = plot_lr_sweep([0.1, 1.0], {"plain": [0.9, 0.1], "BatchNorm": [0.9, 0.8]})
    assert [l.get_label() for l in fig.axes[0].get_lines()] == ["plain", "BatchNorm", "chance"]
    trace = Trace(steps=[10, 20], test_acc=[0.5, 0.8], percentiles=[torch.randn(3, 4), torch.randn(3, 4)])
    fig = plot_trace({"plain": trace, "BatchNorm": trace}, unit=2)
    assert len(fig.axes) == 3 and fig.axes[1].get_ylim() == fig.axes[2].get_ylim()  # one scale for both units
    plt.close("all")
