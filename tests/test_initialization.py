"""Initialisation: fan-in, init_weights against torch.nn.init, the streaming hooks against hand-computed values."""

import gc
import math
import weakref

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab.models import mlp, plain_cnn
from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD, load_fashion_mnist
from cnnlab.initialization import (
    SCHEMES,
    activation_stats,
    deep_tanh_claims,
    fan_in_out,
    gradient_claims,
    gradient_stats,
    he_vs_xavier_claims,
    init_std,
    init_weights,
    only,
    relu_variance_claims,
    sigmoid_saturation_claims,
    unit_spread,
    variance_table,
    zero_init_claims,
)
from cnnlab.runtime import set_seed
from cnnlab.train import TensorLoader, fit, train_one_epoch

LAYERS = {
    "linear": lambda: nn.Linear(300, 200),
    "conv1d": lambda: nn.Conv1d(6, 10, 5),
    "conv2d": lambda: nn.Conv2d(16, 32, 3),
    "conv3d": lambda: nn.Conv3d(2, 4, (3, 2, 2)),
}


# ---------------------------------------------------------------------------------------------- fan-in, std
@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_fan_in_out_equals_pytorchs_for_ungrouped_layers(make):
    layer = make()
    assert fan_in_out(layer) == nn.init._calculate_fan_in_and_fan_out(layer.weight)


def test_conv_fan_in_is_k_squared_times_in_channels_and_grouped_fan_out_divides_by_groups():
    assert fan_in_out(nn.Conv2d(3, 10, 5)) == (5 * 5 * 3, 5 * 5 * 10)
    assert fan_in_out(nn.Conv2d(8, 16, 3, groups=4)) == (3 * 3 * 2, 3 * 3 * 4)  # 2 inputs / 4 outputs per group
    assert fan_in_out(nn.Conv2d(8, 16, 3, groups=4))[0] == nn.init._calculate_fan_in_and_fan_out(
        nn.Conv2d(8, 16, 3, groups=4).weight)[0]


def test_init_std_formulas():
    conv = nn.Conv2d(16, 32, 3)  # D_in = 144, D_out = 288
    assert init_std(conv, "zeros") == 0.0
    assert init_std(conv, "uniform", a=0.5) == pytest.approx(0.5 / math.sqrt(3))
    assert init_std(conv, "normal") == 1.0 and init_std(conv, "small_normal") == 0.01
    assert init_std(conv, "xavier") == pytest.approx(math.sqrt(2 / (144 + 288)))
    assert init_std(conv, "xavier", mode="fan_in") == pytest.approx(math.sqrt(1 / 144))
    assert init_std(conv, "he") == pytest.approx(math.sqrt(2 / 144))
    assert init_std(conv, "he", mode="fan_out") == pytest.approx(math.sqrt(2 / 288))
    assert init_std(conv, "he", negative_slope=0.1) == pytest.approx(math.sqrt(2 / 1.01 / 144))


# ---------------------------------------------------------------------------------------------- vs torch.nn.init
TORCH_EQUIVALENT = {  # (scheme, options) -> the torch.nn.init call that must give the same distribution
    ("zeros", ()): lambda w, g: nn.init.zeros_(w),
    ("uniform", ()): lambda w, g: nn.init.uniform_(w, -1.0, 1.0, generator=g),
    ("uniform", (("a", 0.2),)): lambda w, g: nn.init.uniform_(w, -0.2, 0.2, generator=g),
    ("normal", ()): lambda w, g: nn.init.normal_(w, 0.0, 1.0, generator=g),
    ("small_normal", ()): lambda w, g: nn.init.normal_(w, 0.0, 0.01, generator=g),
    ("xavier", ()): lambda w, g: nn.init.xavier_normal_(w, generator=g),
    ("xavier", (("distribution", "uniform"),)): lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    ("xavier", (("gain", 5 / 3),)): lambda w, g: nn.init.xavier_normal_(w, gain=5 / 3, generator=g),
    ("he", ()): lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g),
    ("he", (("distribution", "uniform"),)): lambda w, g: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g),
    ("he", (("mode", "fan_out"),)):
        lambda w, g: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=g),
    ("he", (("negative_slope", 0.1),)): lambda w, g: nn.init.kaiming_normal_(w, a=0.1, generator=g),
}


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, grid, side="right") / len(a)
                        - np.searchsorted(b, grid, side="right") / len(b)).max())


@pytest.mark.parametrize("key", TORCH_EQUIVALENT, ids=[f"{s}{dict(o)}" for s, o in TORCH_EQUIVALENT])
@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_same_generator_state_gives_the_same_numbers_as_torch_nn_init(key, make):
    scheme, options = key
    ours, theirs = make(), make()
    init_weights(ours, scheme, generator=torch.Generator().manual_seed(1), **dict(options))
    TORCH_EQUIVALENT[key](theirs.weight, torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-6, atol=0)
    assert torch.count_nonzero(ours.bias) == 0


@pytest.mark.parametrize("key", [k for k in TORCH_EQUIVALENT if k[0] != "zeros"],
                         ids=[f"{s}{dict(o)}" for s, o in TORCH_EQUIVALENT if s != "zeros"])
def test_equal_in_distribution_to_torch_nn_init(key):
    """Independent draws (different seeds) pass a two-sample KS test, and the std matches the formula."""
    scheme, options = key
    ours, theirs = nn.Conv2d(64, 128, 3), nn.Conv2d(64, 128, 3)  # 73,728 weights, D_in = 576, D_out = 1152
    init_weights(ours, scheme, generator=torch.Generator().manual_seed(10), **dict(options))
    TORCH_EQUIVALENT[key](theirs.weight, torch.Generator().manual_seed(20))
    a, b = ours.weight.detach().flatten().numpy(), theirs.weight.detach().flatten().numpy()
    n = len(a)
    critical = 1.949 * math.sqrt(2 / n)  # KS critical value for alpha = 0.001
    assert ks_statistic(a, b) < critical
    assert a.std() == pytest.approx(init_std(ours, scheme, **dict(options)), rel=0.02)
    assert abs(a.mean()) < 5 * a.std() / math.sqrt(n)


def test_init_weights_covers_every_layer_and_keeps_batchnorm_and_prelu():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.PReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    with torch.no_grad():
        net[1].weight.fill_(3.0)
    init_weights(net, "he", generator=torch.Generator().manual_seed(0))
    assert net[0].weight.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.3)
    assert net[4].weight.std().item() == pytest.approx(math.sqrt(2 / (4 * 26 * 26)), rel=0.05)
    assert net[1].weight.unique().tolist() == [3.0] and net[2].weight.item() == 0.25  # untouched


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda net: init_weights(net, "kaiming"), ValueError,
         "allowed: zeros, uniform, normal, small_normal, xavier, he"),
        (lambda net: init_weights(net, "zeros", std=1.0), TypeError, "'zeros' takes no options; got std"),
        (lambda net: init_weights(net, "xavier", std=0.1), TypeError, "takes distribution, mode, gain; got std"),
        (lambda net: init_weights(net, "he", distribution="gaussian"), ValueError, "one of normal, uniform"),
        (lambda net: init_weights(net, "he", mode="fan_avg"), ValueError, "fan_in, fan_out"),
        (lambda net: init_weights(net, "normal", std=-1.0), ValueError, "std must be a finite number > 0"),
        (lambda net: init_weights(net, "uniform", a=True), TypeError, "a must be a number, got bool"),
        (lambda net: init_weights(net, "he", negative_slope="0.1"), TypeError, "negative_slope must be a number"),
        (lambda net: init_weights(nn.Sequential(nn.Embedding(10, 3)), "he"), TypeError,
         "cannot initialise layer '0' of type Embedding; it initialises Linear, Conv1d, Conv2d, Conv3d and leaves "
         "BatchNorm/InstanceNorm, LayerNorm, GroupNorm, PReLU as they are"),
        (lambda net: init_weights(nn.Sequential(nn.ConvTranspose2d(2, 2, 3)), "he"), TypeError, "ConvTranspose2d"),
        (lambda net: init_weights(nn.Sequential(nn.ReLU(), nn.Tanh()), "he"), ValueError, "no layer to initialise"),
        (lambda net: init_weights(torch.zeros(3), "he"), TypeError, "must be a torch.nn.Module"),
    ],
)
def test_bad_arguments_say_what_is_allowed(call, error, match):
    with pytest.raises(error, match=match):
        call(nn.Sequential(nn.Linear(3, 2)))


def test_fan_in_out_rejects_other_layers():
    with pytest.raises(TypeError, match="handles Linear, Conv1d, Conv2d, Conv3d; got LSTM"):
        fan_in_out(nn.LSTM(3, 3))


# ---------------------------------------------------------------------------------------------- the hooks
def tiny_net() -> nn.Sequential:
    """Linear(2 -> 3) with hand-picked weights, then Tanh; the ReLU sees the same pre-activations."""
    lin = nn.Linear(2, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0], [10.0, 10.0]]))
        lin.bias.zero_()
    return nn.Sequential(lin, nn.Tanh())


def test_activation_stats_against_hand_computed_values():
    X = torch.tensor([[1.0, 2.0], [-1.0, 0.0]])
    # Linear output: [[1, -2, 30], [-1, 0, -10]] -> mean 18/6 = 3, E[a^2] = (1+4+900+1+0+100)/6 = 1006/6
    lin, tanh = activation_stats(tiny_net(), X, bins=4, hist_range=(-2.0, 2.0))
    assert (lin.name, lin.kind, tanh.kind, lin.count) == ("0", "Linear", "Tanh", 6)
    assert lin.mean == pytest.approx(3.0) and lin.std == pytest.approx(math.sqrt(1006 / 6 - 9))
    assert lin.zero == pytest.approx(1 / 6) and lin.dead == 0.0  # one exact zero; every unit non-zero somewhere
    # bins [-2,-1), [-1,0), [0,1), [1,2]: values -2, -1, 0, 1 inside; 30 above, -10 below
    assert lin.hist.tolist() == [1.0, 1.0, 1.0, 1.0] and lin.above == pytest.approx(1 / 6)
    assert lin.below == pytest.approx(1 / 6)
    # tanh: |tanh(30)|, |tanh(-10)| > 0.99; tanh(+-2) = 0.964 and the rest are not
    assert tanh.saturated == pytest.approx(2 / 6) and math.isnan(lin.saturated)


def test_dead_units_are_the_units_zero_for_every_input():
    lin = nn.Linear(1, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0], [-1.0], [0.0]]))
        lin.bias.copy_(torch.tensor([0.0, -5.0, 0.0]))
    X = torch.tensor([[1.0], [2.0], [-1.0]])  # unit 1: -x - 5 < 0 always; unit 2: always 0
    (_, relu) = activation_stats(nn.Sequential(lin, nn.ReLU()), X, batch_size=1)
    assert relu.dead == pytest.approx(2 / 3)
    assert relu.zero == pytest.approx(7 / 9)  # unit 0 is off for x = -1, units 1 and 2 always


def brute_force(net: nn.Module, X: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every leaf layer's whole output, kept (what activation_stats must NOT do), for comparison."""
    outputs = {}
    handles = [m.register_forward_hook(lambda m, i, o, name=name: outputs.setdefault(name, o.detach().clone()))
               for name, m in net.named_modules() if not list(m.children())]
    with torch.no_grad():
        net(X)
    for h in handles:
        h.remove()
    return outputs


@pytest.mark.parametrize("batch_size", [7, 64, 1000])
def test_streaming_in_batches_equals_the_statistics_of_the_whole_output(batch_size):
    torch.manual_seed(0)
    net = init_weights(mlp([16] * 3, in_features=20, num_classes=4), "he").double()  # float64: no rounding
    X = torch.randn(100, 20, dtype=torch.float64)  # differences between batch sizes
    whole = brute_force(net, X)
    stats = activation_stats(net, X, batch_size=batch_size, bins=10, hist_range=(-2.0, 2.0))
    assert [s.name for s in stats] == list(whole)  # every leaf, including Flatten and the parameter-free ReLUs
    for s in stats:
        a = whole[s.name].double()
        assert s.count == a.numel()
        assert s.mean == pytest.approx(a.mean().item(), abs=1e-9)
        assert s.std == pytest.approx(a.std(unbiased=False).item(), rel=1e-9)
        assert s.zero == pytest.approx((a == 0).double().mean().item())
        assert s.hist.tolist() == torch.histc(a, 10, -2.0, 2.0).tolist()


def test_conv_units_are_channels():
    net = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        net[0].bias.zero_()
    X = torch.rand(3, 1, 4, 4)  # positive pixels: channel 1 (weight -1) is off everywhere
    relu = activation_stats(net, X)[1]
    assert relu.dead == 0.5 and relu.zero == 0.5


def test_hooks_are_removed_modes_restored_and_no_activation_outlives_its_batch():
    net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    net.train()
    alive = []  # weak references to every output the net produces while stats are being taken
    spy = net[2].register_forward_hook(lambda m, i, o: alive.append(weakref.ref(o)))
    running_mean = net[1].running_mean.clone()
    stats = activation_stats(net, torch.randn(256, 8), batch_size=32)
    spy.remove()
    gc.collect()
    assert len(alive) == 8 and all(ref() is None for ref in alive)  # nothing kept a whole activation tensor
    assert all(not m._forward_hooks for m in net.modules())  # our hooks are gone
    assert net.training and net[1].training  # the mode is back, and BatchNorm ran in eval mode:
    assert torch.equal(net[1].running_mean, running_mean)
    assert len(stats) == 4


def test_memory_does_not_grow_with_the_data():
    """What a LayerStats holds is a fixed-size summary: the same tensors for 16 or 1,600 inputs."""
    torch.manual_seed(0)
    net = mlp([8] * 2, in_features=10, num_classes=None, activation=nn.Tanh)

    def held(stats):
        return sum(t.numel() for s in stats for t in vars(s).values() if isinstance(t, torch.Tensor))

    small = activation_stats(net, torch.randn(16, 10), batch_size=8)
    large = activation_stats(net, torch.randn(1600, 10), batch_size=8)
    assert held(small) == held(large) == len(small) * (60 + 61)  # one histogram and its edges per layer


def test_gradient_stats_against_hand_computed_values_and_autograd():
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, -3.0]]))
        lin.bias.zero_()
    net = nn.Sequential(lin, nn.ReLU())
    X, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.zeros(2)
    # loss = sum of outputs: dL/d(relu out) = 1 for both; dL/d(linear out) = relu'(z) = [1 (z=2), 0 (z=-3)]
    g_lin, g_relu = gradient_stats(net, X, y, loss_fn=lambda out, t: out.sum(), scale="linear",
                                   hist_range=(-2.0, 2.0), bins=4)
    assert (g_lin.kind, g_lin.mean, g_lin.zero) == ("Linear", 0.5, 0.5)
    assert (g_relu.mean, g_relu.std, g_relu.zero) == (1.0, 0.0, 0.0)
    assert lin.weight.grad is None  # parameters' .grad untouched


def test_gradient_stats_stream_the_same_numbers_as_autograd_on_the_whole_batch():
    torch.manual_seed(0)
    net = init_weights(mlp([10] * 3, in_features=12, num_classes=3, activation=nn.Tanh), "xavier")
    X, y = torch.randn(50, 12), torch.randint(0, 3, (50,))
    grads, outs = {}, {}

    def keep(name):
        def hook(m, i, o):
            o.retain_grad()
            outs[name] = o
        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in net.named_modules() if not list(m.children())]
    nn.functional.cross_entropy(net(X.requires_grad_(True)), y, reduction="sum").backward()
    for h in handles:
        h.remove()
    grads = {n: o.grad.double() for n, o in outs.items()}
    stats = gradient_stats(net, X.detach(), y, batch_size=16)
    for s in stats:
        g = grads[s.name]
        assert s.mean == pytest.approx(g.mean().item(), abs=1e-9)
        assert s.std == pytest.approx(g.std(unbiased=False).item(), rel=1e-6)
        assert s.hist.sum().item() + (s.below + s.above + s.zero) * s.count == pytest.approx(g.numel())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(bins=0), ValueError, "bins must be a positive int"),
        (dict(hist_range=(1.0, -1.0)), ValueError, "low < high"),
        (dict(hist_range=None), ValueError, "hist_range must be"),
        (dict(hist_range=(float("nan"), 1.0)), ValueError, r"hist_range\[0\] must be a finite number"),
        (dict(scale="log"), ValueError, "'linear' or 'log10'"),
        (dict(X=[[1.0]]), TypeError, "X must be a torch tensor"),
        (dict(net="mlp"), TypeError, "net must be a torch.nn.Module"),
    ],
)
def test_stats_reject_bad_arguments(kwargs, error, match):
    args = dict(net=nn.Sequential(nn.Linear(1, 1)), X=torch.zeros(2, 1)) | kwargs
    with pytest.raises(error, match=match):
        activation_stats(args.pop("net"), args.pop("X"), **args)


def test_only_filters_by_layer_class():
    stats = activation_stats(mlp([3] * 2, in_features=4, num_classes=None, activation=nn.Tanh), torch.randn(5, 4))
    assert [s.kind for s in only(stats, "Tanh")] == ["Tanh", "Tanh"]


def test_schemes_listed():
    assert SCHEMES == ("zeros", "uniform", "normal", "small_normal", "xavier", "he")


# ---------------------------------------------------------------------------------------------- the claims
# Each printed claim of notebooks/05_initialization.ipynb, re-run over three seeds at small sizes.
SEEDS = [0, 1, 2]


def assert_all(claims: dict[str, bool]) -> None:
    failed = [claim for claim, ok in claims.items() if not ok]
    assert not failed, failed


NORM = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)


def measure(make_net, scheme, X, seed, **stats_kw):
    """The notebook's `measure`: build, initialise by `scheme` from `seed`, stream every layer's statistics."""
    set_seed(seed)
    net = init_weights(make_net(), scheme)
    return net, activation_stats(net, X, **stats_kw)


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_zero_init_keeps_every_hidden_unit_identical(seed):
    """Section 1 (quick profile): a 2 x 32 sigmoid MLP trained 3 epochs on 2000 images, from zeros and Xavier."""
    X, y = load_fashion_mnist("train", subset=2000)
    Xv, yv = load_fashion_mnist("test", subset=1000)
    runs = {}
    for scheme in ("zeros", "xavier"):
        set_seed(seed)
        net = init_weights(mlp([32, 32], activation=nn.Sigmoid), scheme)
        history = fit(net, (X, y), (Xv, yv), num_epochs=3, lr=0.1, seed=seed, progress=False, device="cpu", **NORM)
        hidden = [net[1], net[3]]
        runs[scheme] = {"spread": [unit_spread(m) for m in hidden],
                        "weight_size": [m.weight.detach().abs().max().item() for m in hidden],
                        "val_acc": history.val_acc[-1]}
    assert_all(zero_init_claims(runs["zeros"], runs["xavier"]))


def test_unit_spread_is_the_largest_gap_to_the_first_unit():
    layer = nn.Linear(2, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [1.0, 2.5], [0.0, 2.0]]))
        layer.bias.copy_(torch.tensor([0.0, 0.0, 0.25]))
    assert unit_spread(layer) == 1.0  # unit 2's first weight differs by 1, unit 1's second by 0.5, a bias by 0.25
    with pytest.raises(TypeError, match="layer must be an nn.Linear"):
        unit_spread(nn.Conv2d(1, 1, 3))


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_deep_tanh_collapses_saturates_or_spreads(seed):
    X = torch.randn(64, 512, generator=torch.Generator().manual_seed(seed))
    result = {scheme: measure(lambda: mlp([512] * 7, in_features=512, num_classes=None, activation=nn.Tanh),
                              scheme, X, seed, hist_range=(-1.0, 1.0), bins=40)[1]
              for scheme in ("small_normal", "normal", "xavier")}
    assert_all(deep_tanh_claims(result))


def variance_runs(make_net, X, seed, **stats_kw):
    runs = {}
    for scheme in ("xavier", "he"):
        net, stats = measure(make_net, scheme, X, seed, **stats_kw)
        runs[scheme] = {"stats": stats, "table": variance_table(net, stats)}
    return runs


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_relu_mlp_xavier_halves_he_keeps(seed):
    X = torch.randn(64, 256, generator=torch.Generator().manual_seed(seed))
    assert_all(relu_variance_claims(variance_runs(lambda: mlp([256] * 7, in_features=256, num_classes=None), X, seed)))


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_conv_net_on_real_images(seed):
    X, _ = load_fashion_mnist("train", subset=32)
    result = variance_runs(lambda: plain_cnn(depth=8, channels=32, num_classes=None), X, seed, **NORM)
    assert_all(relu_variance_claims(result, low=0.3, high=0.65, factor=2.0))


def test_variance_table_prediction_by_hand():
    """One layer, weights all 0.5, inputs all 2: Var(y) = D_in Var(w) E[x^2] with Var(w) read as E[w^2]."""
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(1.0)
        net[2].weight.fill_(0.5)
    stats = activation_stats(net, torch.full((4, 3), 2.0))
    (row,) = variance_table(net, stats)  # relu output is 6 everywhere: E[x^2] = 36; y = 0.5 * 6 * 2 = 6
    assert (row["D_in"], row["Var(w)"], row["E[x^2]"], row["predicted"]) == (2, 0.25, 36.0, 18.0)
    assert row["measured"] == 0.0  # all four outputs equal: the measured variance is 0, the rule's E[w] = 0 fails


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_glorot_top_sigmoid_layer_saturates_early(seed):
    """Section 7 at a smaller size: 4 x 1000 sigmoid MLP, default init, zero biases, SGD lr 0.5, 500 images."""
    n_train = 500
    X, y = load_fashion_mnist("train", subset=n_train)
    Xp, _ = load_fashion_mnist("test", subset=200)
    set_seed(seed)
    net = mlp([1000] * 4, activation=nn.Sigmoid)
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.zeros_(layer.bias)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    chunk, result = n_train // 10, {"seen": [], "means": [], "losses": []}
    for step in range(11):
        result["seen"].append(step * chunk)
        result["means"].append([s.mean for s in only(activation_stats(net, Xp, hist_range=(0.0, 1.0), **NORM),
                                                     "Sigmoid")])
        if step < 10:
            part = slice(step * chunk, (step + 1) * chunk)
            loader = TensorLoader(X[part], y[part], 32, shuffle=True, seed=seed + step, **NORM)
            result["losses"].append(train_one_epoch(net, loader, optimizer)[0])
    assert_all(sigmoid_saturation_claims(result))


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_he_trains_xavier_stalls_in_a_deep_plain_conv_net(seed):
    """Section 8: 14 plain convs of 16 channels on 2000 images pooled to 14x14, SGD lr 0.01, batch 32, 3 epochs."""
    X, y = load_fashion_mnist("train", subset=2000)
    X = nn.functional.avg_pool2d(X.float(), 2).round().to(torch.uint8)
    losses = {}
    for scheme in ("he", "xavier"):
        set_seed(seed)
        net = init_weights(plain_cnn(depth=14, channels=16, stem_stride=2), scheme)
        losses[scheme] = fit(net, (X, y), num_epochs=3, lr=0.01, batch_size=32, seed=seed, progress=False,
                             device="cpu", **NORM).train_loss
    assert_all(he_vs_xavier_claims(losses["he"], losses["xavier"]))


@pytest.mark.parametrize("seed", SEEDS)
def test_claim_gradients_vanish_explode_or_hold(seed):
    """Section 9: six plain ReLU convs of 16 channels (first strides 2) on 256 images, three schemes."""
    X, y = load_fashion_mnist("train", subset=256)
    result = {}
    for scheme in ("small_normal", "he", "normal"):
        set_seed(seed)
        net = init_weights(plain_cnn(depth=6, channels=16, stem_stride=2), scheme)
        result[scheme] = only(gradient_stats(net, X, y, hist_range=(-10.0, 6.0), **NORM), "Conv2d")
        assert len(result[scheme]) == 6
    assert_all(gradient_claims(result))


@pytest.mark.parametrize("call, error, match", [
    (lambda: he_vs_xavier_claims([], [2.3]), TypeError, "he must be a non-empty list of training losses"),
    (lambda: he_vs_xavier_claims([2.3], [float("nan")]), ValueError, "xavier\\[-1\\] must be a finite number"),
    (lambda: gradient_claims({"he": []}), TypeError, "result must be a dict with 'small_normal', 'normal' and 'he'"),
])
def test_claims_refuse_bad_results_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_explorer_redraws_and_has_a_stable_repr():
    from cnnlab.init_plots import InitExplorer, explore_init

    panel = InitExplorer(activation="relu", scheme="he", depth=3, width=64)
    first = panel.image.value
    panel.scheme.value = "xavier"
    assert panel.image.value != first and panel.image.value[:4] == b"\x89PNG"
    assert repr(panel) == "InitExplorer(activation='relu', scheme='xavier', depth=3, width=64)"
    fig = explore_init("tanh", "normal", depth=2, width=64, static=True)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="scheme must be one of .*; got .glorot."):
        explore_init("tanh", "glorot", static=True)
