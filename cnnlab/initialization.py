"""Weight initialisation: the schemes from zeros to He, fan-in for Linear and Conv layers, and per-layer statistics.

`init_weights(net, scheme)` fills every Linear and Conv weight of `net` by one scheme and sets every bias to 0, so
the weights alone decide what an experiment shows. `activation_stats` and `gradient_stats` measure what each layer
of a network puts out (or receives back) with hooks that *stream*: every batch is reduced at once to a few numbers
and a histogram, and no activation tensor outlives its batch. (fastai's `ActivationStats` callback kept every
batch's statistics tensors in a growing list; a hook that stores outputs grows with the data set.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models import forward_hooks, leaf_layers
from cnnlab.train import TensorLoader
from cnnlab.validation import check_float, module_device

__all__ = [
    "SCHEMES",
    "fan_in_out",
    "init_std",
    "init_weights",
    "LayerStats",
    "activation_stats",
    "gradient_stats",
    "only",
    "unit_spread",
    "variance_table",
    "zero_init_claims",
    "deep_tanh_claims",
    "relu_variance_claims",
    "sigmoid_saturation_claims",
    "he_vs_xavier_claims",
    "gradient_claims",
]

SCHEMES = ("zeros", "uniform", "normal", "small_normal", "xavier", "he")
SCHEME_OPTIONS = {  # the keyword arguments each scheme accepts, with their defaults
    "zeros": {},
    "uniform": {"a": 1.0},  # U(-a, a)
    "normal": {"std": 1.0},  # N(0, std^2): the "standard Gaussian" when std = 1
    "small_normal": {},  # N(0, 0.01^2), the CS231n "small random numbers"
    "xavier": {"distribution": "normal", "mode": "fan_avg", "gain": 1.0},
    "he": {"distribution": "normal", "mode": "fan_in", "negative_slope": 0.0},
}
DISTRIBUTIONS = ("normal", "uniform")
XAVIER_MODES = ("fan_avg", "fan_in")  # Glorot & Bengio's 2 / (D_in + D_out), or the lecture's 1 / D_in
HE_MODES = ("fan_in", "fan_out")
SMALL_STD = 0.01

WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Layers with parameters of their own that init_weights leaves as PyTorch initialised them (gamma = 1, beta = 0; slope).
KEPT_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.PReLU)
KEPT_NAMES = "BatchNorm/InstanceNorm, LayerNorm, GroupNorm, PReLU"


# ----------------------------------------------------------------------------------------------------------
# Fan-in and the standard deviation of each scheme
# ----------------------------------------------------------------------------------------------------------
def fan_in_out(layer: nn.Module) -> tuple[int, int]:
    """(D_in, D_out): the inputs feeding one output unit, and the outputs one input unit feeds.

    A convolution's output unit sees kernel_size^2 * in_channels inputs (per group):

    >>> fan_in_out(nn.Conv2d(3, 10, 5))  # 5 * 5 * 3 = 75 inputs per output, 5 * 5 * 10 = 250 outputs per input
    (75, 250)
    >>> fan_in_out(nn.Linear(4096, 1000))
    (4096, 1000)

    For grouped convolutions D_out is out_channels / groups * k^2 (PyTorch's own `fan_out` leaves out the division).
    """
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        k = math.prod(layer.kernel_size)
        return k * layer.in_channels // layer.groups, k * layer.out_channels // layer.groups
    raise TypeError(f"fan_in_out handles {_names(WEIGHT_LAYERS)}; got {type(layer).__name__}")


def _names(types: tuple[type, ...]) -> str:
    return ", ".join(t.__name__ for t in types)


def _check_options(scheme: str, options: dict) -> dict:
    """The scheme's full options (defaults filled in); a clear error for an unknown scheme, option or value."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    allowed = SCHEME_OPTIONS[scheme]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise TypeError(f"scheme {scheme!r} takes {takes}; got {', '.join(unknown)}")
    full = {**allowed, **options}
    if "distribution" in full and full["distribution"] not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}; got {full['distribution']!r}")
    modes = XAVIER_MODES if scheme == "xavier" else HE_MODES
    if "mode" in full and full["mode"] not in modes:
        raise ValueError(f"{scheme} mode must be one of {', '.join(modes)}; got {full['mode']!r}")
    for name in ("a", "std", "gain"):
        if name in full:
            check_float(name, full[name], gt=0)
    if "negative_slope" in full:
        check_float("negative_slope", full["negative_slope"], ge=0)
    return full


def init_std(layer: nn.Module, scheme: str, **options) -> float:
    """The standard deviation of the weights `scheme` gives `layer` (the same for its normal and uniform forms).

    >>> round(init_std(nn.Linear(4096, 4096), "xavier"), 6), round(1 / 4096**0.5, 6)  # sqrt(1 / D_in)
    (0.015625, 0.015625)
    >>> round(init_std(nn.Conv2d(16, 16, 3), "he") ** 2 * 9 * 16, 6)  # Var(w) = 2 / D_in, D_in = 3 * 3 * 16
    2.0
    """
    opts = _check_options(scheme, options)
    fan_in, fan_out = fan_in_out(layer)
    if scheme == "zeros":
        return 0.0
    if scheme == "uniform":
        return opts["a"] / math.sqrt(3)  # Var(U(-a, a)) = a^2 / 3
    if scheme == "normal":
        return float(opts["std"])
    if scheme == "small_normal":
        return SMALL_STD
    if scheme == "xavier":
        fan = (fan_in + fan_out) / 2 if opts["mode"] == "fan_avg" else fan_in
        return opts["gain"] / math.sqrt(fan)  # Var(w) = 1 / fan: output variance = input variance
    fan = fan_in if opts["mode"] == "fan_in" else fan_out
    return math.sqrt(2.0 / (1 + opts["negative_slope"] ** 2) / fan)  # He: Var(w) = 2 / fan, ReLU halves it back


# ----------------------------------------------------------------------------------------------------------
# Filling the weights
# ----------------------------------------------------------------------------------------------------------
def _layers_to_init(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The Linear and Conv layers of `net`; a TypeError for any other layer with parameters of its own."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    found = []
    for name, module in net.named_modules():
        if isinstance(module, WEIGHT_LAYERS):
            found.append((name, module))
        elif isinstance(module, KEPT_LAYERS) or not any(True for _ in module.parameters(recurse=False)):
            continue
        else:
            raise TypeError(
                f"init_weights cannot initialise layer {name or '(the net)'!r} of type {type(module).__name__}; it "
                f"initialises {_names(WEIGHT_LAYERS)} and leaves {KEPT_NAMES} as they are"
            )
    if not found:
        raise ValueError(f"net has no layer to initialise: it needs at least one of {_names(WEIGHT_LAYERS)}")
    return found


@torch.no_grad()
def init_weights(net: nn.Module, scheme: str, *, generator: torch.Generator | None = None, **options) -> nn.Module:
    """Fill every Linear/Conv weight of `net` by `scheme` (one of SCHEMES), set every bias to 0; returns `net`.

    Options: uniform `a` (U(-a, a), default 1); normal `std` (default 1); xavier `distribution` ("normal" or
    "uniform"), `mode` ("fan_avg" = torch's xavier_, or "fan_in" = the lecture's 1 / D_in), `gain`; he
    `distribution`, `mode` ("fan_in" or "fan_out"), `negative_slope` (for Leaky ReLU). Equal in distribution to
    the matching `torch.nn.init` function, and with the same `generator` state, equal to it number for number
    (grouped convolutions excepted for Xavier and fan_out: there our D_out divides by the groups, torch's does not).

    >>> net = init_weights(nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)), "zeros")
    >>> [p.abs().sum().item() for p in net.parameters()]
    [0.0, 0.0, 0.0, 0.0]
    """
    opts = _check_options(scheme, options)
    for _, layer in _layers_to_init(net):
        w = layer.weight
        std = init_std(layer, scheme, **options)
        if scheme == "zeros":
            w.zero_()
        elif scheme == "uniform":
            w.uniform_(-opts["a"], opts["a"], generator=generator)
        elif opts.get("distribution", "normal") == "uniform":
            bound = math.sqrt(3.0) * std  # U(-b, b) has std b / sqrt(3)
            w.uniform_(-bound, bound, generator=generator)
        else:
            w.normal_(0.0, std, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    return net


# ----------------------------------------------------------------------------------------------------------
# Streaming statistics of every layer's output (or of the gradient arriving at it)
# ----------------------------------------------------------------------------------------------------------
@dataclass
class LayerStats:
    """What one layer put out over all the inputs: moments, fractions, and a histogram with fixed bins."""

    name: str  # the layer's name in the net, e.g. "3"
    kind: str  # its class, e.g. "Tanh"
    count: int  # how many numbers were seen
    mean: float
    std: float  # population standard deviation
    saturated: float  # fraction in the flat tails: |a| > 0.99 after Tanh, a < 0.01 or a > 0.99 after Sigmoid; else nan
    zero: float  # fraction exactly 0 (a ReLU that is off)
    dead: float  # fraction of units (dim 1: features or channels) that were 0 for every input
    hist: torch.Tensor  # counts per bin (float64); the bins split `edges`
    edges: torch.Tensor
    below: float  # fraction below the first edge (not in `hist`)
    above: float  # fraction above the last edge
    scale: str  # "linear": a histogram of the values; "log10": of log10|value| (zeros counted in `zero` only)

    @property
    def var(self) -> float:
        """The population variance, std squared."""
        return self.std**2

    @property
    def mean_square(self) -> float:
        """E[a^2] = Var(a) + E[a]^2: what the next layer's Var(y) = D_in Var(w) E[x^2] needs."""
        return self.std**2 + self.mean**2


class _Running:
    """Accumulates one layer's statistics batch by batch (Chan's parallel mean/variance update)."""

    def __init__(self, name: str, module: nn.Module, bins: int, hist_range: tuple[float, float], scale: str) -> None:
        self.name, self.kind = name, type(module).__name__
        self.bins, self.hist_range, self.scale = bins, hist_range, scale
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.n_saturated = self.n_zero = self.n_below = self.n_above = 0
        self.hist = torch.zeros(bins, dtype=torch.float64)
        self.unit_alive: torch.Tensor | None = None  # per unit: ever non-zero?

    def update(self, a: torch.Tensor) -> None:
        a = a.detach().double()  # a copy in float64; it dies at the end of this call
        n = a.numel()
        if n == 0:
            return
        batch_mean = a.mean().item()
        batch_m2 = ((a - batch_mean) ** 2).sum().item()
        delta, total = batch_mean - self.mean, self.n + n
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta**2 * self.n * n / total
        self.n = total
        if self.kind == "Tanh":
            self.n_saturated += int((a.abs() > 0.99).sum())
        elif self.kind == "Sigmoid":
            self.n_saturated += int(((a < 0.01) | (a > 0.99)).sum())
        nonzero = a != 0
        self.n_zero += n - int(nonzero.sum())
        if a.ndim >= 2:  # units along dim 1: Linear features (N, F) or conv channels (N, C, H, W)
            alive = nonzero.transpose(0, 1).reshape(a.shape[1], -1).any(dim=1).cpu()
            self.unit_alive = alive if self.unit_alive is None else self.unit_alive | alive
        values = a[nonzero].abs().log10() if self.scale == "log10" else a.flatten()
        low, high = self.hist_range
        self.n_below += int((values < low).sum())
        self.n_above += int((values > high).sum())
        self.hist += torch.histc(values, self.bins, low, high).cpu()  # histc ignores values outside [low, high]

    def result(self) -> LayerStats:
        n = max(self.n, 1)
        kinds_with_tails = ("Tanh", "Sigmoid")
        return LayerStats(
            name=self.name, kind=self.kind, count=self.n, mean=self.mean, std=math.sqrt(self.m2 / n),
            saturated=self.n_saturated / n if self.kind in kinds_with_tails else math.nan,
            zero=self.n_zero / n,
            dead=float((~self.unit_alive).double().mean()) if self.unit_alive is not None else math.nan,
            hist=self.hist, edges=torch.linspace(*self.hist_range, self.bins + 1, dtype=torch.float64),
            below=self.n_below / n, above=self.n_above / n, scale=self.scale,
        )


def _check_stats_args(net: nn.Module, X: torch.Tensor, bins: int, hist_range: tuple[float, float], scale: str) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"X must be a torch tensor, got {type(X).__name__}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins!r}")
    if (not isinstance(hist_range, (tuple, list)) or len(hist_range) != 2
            or not check_float("hist_range[0]", hist_range[0]) < check_float("hist_range[1]", hist_range[1])):
        raise ValueError(f"hist_range must be (low, high) with low < high, got {hist_range!r}")
    if scale not in ("linear", "log10"):
        raise ValueError(f"scale must be 'linear' or 'log10', got {scale!r}")


class _Recorder:
    """One `_Running` per leaf layer, filled by `models.forward_hooks`, in the order the layers first ran."""

    def __init__(self, net: nn.Module, on_output: Callable[[_Running, torch.Tensor], None], **running_kw) -> None:
        self.running = {name: _Running(name, m, **running_kw) for name, m in leaf_layers(net)}
        self.order: list[str] = []
        self.on_output = on_output

    def __call__(self, name: str, layer: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if name not in self.order:
            self.order.append(name)
        self.on_output(self.running[name], output)

    def results(self) -> list[LayerStats]:
        return [self.running[name].result() for name in self.order]


def activation_stats(
    net: nn.Module, X: torch.Tensor, *, batch_size: int = 512, bins: int = 60,
    hist_range: tuple[float, float] = (-3.0, 3.0), scale: str = "linear",
    mean: float | None = None, std: float | None = None,
) -> list[LayerStats]:
    """Statistics of every leaf layer's output over all of `X`, in the order the layers run; `net` is unchanged.

    `X` streams through in batches of `batch_size` (uint8 images become [0, 1] floats, then `(x - mean) / std` if
    given, as in TensorLoader); a forward hook reduces each layer's output to running sums and a histogram.

    >>> net = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    >>> _ = net[0].weight.data.fill_(1.0), net[0].bias.data.fill_(0.0)
    >>> out = activation_stats(net, torch.tensor([[-1.0], [1.0], [3.0]]))
    >>> [(s.kind, s.mean, s.zero) for s in out]
    [('Linear', 1.0, 0.0), ('ReLU', 1.3333333333333333, 0.3333333333333333)]
    """
    _check_stats_args(net, X, bins, hist_range, scale)

    # reduce each output at once; keep nothing that refers to it
    recorder = _Recorder(net, lambda run, output: run.update(output), bins=bins, hist_range=hist_range, scale=scale)
    loader = TensorLoader(X, torch.zeros(len(X)), batch_size, mean=mean, std=std, device=module_device(net))
    with forward_hooks(net, recorder), torch.no_grad():
        for xb, _ in loader:
            net(xb)
    return recorder.results()


def gradient_stats(
    net: nn.Module, X: torch.Tensor, y: torch.Tensor, *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None, batch_size: int = 512,
    bins: int = 60, hist_range: tuple[float, float] = (-10.0, 2.0), scale: str = "log10",
    mean: float | None = None, std: float | None = None,
) -> list[LayerStats]:
    """Statistics of dLoss/d(output) of every leaf layer: the signal backpropagation sends into each layer.

    The loss is summed over examples (cross-entropy unless `loss_fn`), so one example's gradient does not depend on
    the batch size. Gradients are taken with `torch.autograd.grad`: no parameter's `.grad` is touched. By default
    the histograms are of log10|gradient| from 1e-10 to 1e2: vanishing moves them left, exploding right.
    """
    _check_stats_args(net, X, bins, hist_range, scale)
    if not isinstance(y, torch.Tensor) or len(y) != len(X):
        raise ValueError("y must be a tensor with one label per row of X")
    loss_fn = loss_fn if loss_fn is not None else (lambda out, t: nn.functional.cross_entropy(out, t, reduction="sum"))

    def on_output(run: _Running, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.register_hook(run.update)  # called with the gradient during backward, then forgotten

    recorder = _Recorder(net, on_output, bins=bins, hist_range=hist_range, scale=scale)
    loader = TensorLoader(X, y, batch_size, mean=mean, std=std, device=module_device(net))
    with forward_hooks(net, recorder):
        for xb, yb in loader:
            xb = xb.requires_grad_(True)  # every layer's output then lies on the path back to xb
            loss = loss_fn(net(xb), yb)
            torch.autograd.grad(loss, xb)
    return recorder.results()


def only(stats: list[LayerStats], *kinds: str) -> list[LayerStats]:
    """The entries of `stats` whose layer class is one of `kinds`, e.g. ``only(stats, "Tanh")``."""
    if not isinstance(stats, list) or not all(isinstance(s, LayerStats) for s in stats):
        raise TypeError(f"stats must be a list of LayerStats (from activation_stats), got {type(stats).__name__}")
    if not kinds or not all(isinstance(k, str) for k in kinds):
        raise TypeError(f"kinds must be layer class names such as 'Tanh', got {kinds!r}")
    return [s for s in stats if s.kind in kinds]


# ----------------------------------------------------------------------------------------------------------
# Measurements for notebook 05's experiments, and the claims it prints. The notebook runs each experiment once,
# in its own cells; tests/test_initialization.py re-runs them over several seeds.
# ----------------------------------------------------------------------------------------------------------
def unit_spread(layer: nn.Linear) -> float:
    """How different the units of a Linear layer are: max |row_j - row_0| over its weight rows and biases.

    0 means every unit of the layer is a copy of the first: the symmetry zero initialisation never breaks.

    >>> unit_spread(init_weights(nn.Sequential(nn.Linear(3, 4)), "zeros")[0])
    0.0
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be an nn.Linear, got {type(layer).__name__}")
    W = layer.weight.detach()
    if layer.bias is not None:
        W = torch.cat([W, layer.bias.detach()[:, None]], dim=1)  # (units, D_in + 1)
    return float((W - W[0]).abs().max())


def zero_init_claims(zeros: dict, xavier: dict) -> dict[str, bool]:
    """Zero init: the weights moved, yet every hidden unit equals its neighbours; Xavier's units all differ."""
    return {
        "zero init: the hidden weights did change during training": min(zeros["weight_size"]) > 0,
        "zero init: every hidden unit in a layer is still identical to the others": max(zeros["spread"]) == 0.0,
        "Xavier init: the hidden units differ": min(xavier["spread"]) > 0.1,
        "Xavier's accuracy beats zero init's by more than 20 points": xavier["val_acc"] > zeros["val_acc"] + 0.2,
    }


def deep_tanh_claims(result: dict[str, list[LayerStats]]) -> dict[str, bool]:
    """std 0.01 collapses, N(0, 1) saturates, Xavier stays spread, in the tanh layers."""
    small, big, xavier = (only(result[s], "Tanh") for s in ("small_normal", "normal", "xavier"))
    return {
        "std 0.01: the last layer's std is below 0.05 and a tenth of the first's (collapsing to 0)":
            small[-1].std < 0.05 and small[-1].std < small[0].std / 10,
        "N(0, 1): more than 80% of every layer's outputs are saturated at +-1": min(s.saturated for s in big) > 0.8,
        "Xavier: every layer's std is between 0.2 and 0.7, and under 1% saturated":
            all(0.2 < s.std < 0.7 and s.saturated < 0.01 for s in xavier),
    }


def _geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def variance_table(net: nn.Module, stats: list[LayerStats]) -> list[dict[str, float]]:
    """Per weight layer after the first: measured Var(y) and the prediction D_in * Var(w) * E[x^2] from its input.

    E[x^2] (not Var(x)) is what the derivation needs once x is a ReLU output, whose mean is not 0.
    """
    layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    by_name = {s.name: s for s in stats}
    names = [name for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)]
    rows = []
    order = [s.name for s in stats]
    for i in range(1, len(layers)):
        before = order[order.index(names[i]) - 1]  # the layer whose output feeds layer i
        d_in = fan_in_out(layers[i])[0]
        var_w = float(layers[i].weight.detach().pow(2).mean())  # E[w^2] of the weights as drawn
        predicted = d_in * var_w * by_name[before].mean_square
        rows.append({"layer": i + 1, "D_in": d_in, "Var(w)": var_w, "E[x^2]": by_name[before].mean_square,
                     "predicted": predicted, "measured": by_name[names[i]].var})
    return rows


def relu_variance_claims(
    result: dict[str, dict], low: float = 0.4, high: float = 0.6, factor: float = 1.5,
) -> dict[str, bool]:
    """Xavier's per-layer variance ratio is about 1/2, He's about 1; the formula predicts each layer's variance.

    The ratio is the geometric mean over layers of Var(y_l) / Var(y_(l-1)); [low, high] brackets 1/2 and
    [2 low, 2 high] brackets 1, and `factor` bounds measured / predicted. A conv net on real images needs wider
    brackets than an MLP on Gaussian noise: neighbouring pixels are correlated, so fewer inputs are independent.
    """
    ratios, errors = {}, []
    for scheme, r in result.items():
        ratios[scheme] = _geometric_mean([row["measured"] / prev["measured"]
                                          for prev, row in zip(r["table"], r["table"][1:])])
        errors += [row["measured"] / row["predicted"] for row in r["table"]]
    return {
        f"Xavier: each layer has about half the variance of the one before (ratio in [{low}, {high}])":
            low <= ratios["xavier"] <= high,
        f"He: the variance stays about constant (ratio in [{2 * low}, {2 * high}])":
            2 * low <= ratios["he"] <= 2 * high,
        f"Var(y) = D_in Var(w) E[x^2] predicts every layer within a factor {factor}":
            all(1 / factor < e < factor for e in errors),
    }


def sigmoid_saturation_claims(result: dict[str, list]) -> dict[str, bool]:
    """The top hidden layer is driven to 0 early while the first stays near 0.5, and the loss has not moved yet."""
    top_end = result["means"][-1][-1]
    first = [m[0] for m in result["means"]]
    return {
        "at the start every hidden layer's mean activation is near 0.5":
            all(0.45 < m < 0.55 for m in result["means"][0]),
        "the top hidden layer's mean falls below 0.05 (saturated at 0)": top_end < 0.05,
        "the first hidden layer's mean stays between 0.45 and 0.6 throughout": all(0.45 < m < 0.6 for m in first),
        "the training loss is still near chance (above 2.2)": result["losses"][-1] > 2.2,
    }


def he_vs_xavier_claims(he: list[float], xavier: list[float]) -> dict[str, bool]:
    """He's net learns (loss well below chance, ln 10 = 2.30), Xavier's stays at chance.

    `he` and `xavier` are the training losses per epoch of the same plain conv net from each initialisation.
    """
    for name, losses in (("he", he), ("xavier", xavier)):
        if isinstance(losses, (str, bytes)) or not isinstance(losses, (list, tuple)) or not losses:
            raise TypeError(f"{name} must be a non-empty list of training losses per epoch, got {losses!r}")
        check_float(f"{name}[-1]", losses[-1])
    return {
        "He init: the final training loss is below 2.0 (it learns)": he[-1] < 2.0,
        "Xavier init: the final training loss is above 2.25 (stalled at chance, 2.30)": xavier[-1] > 2.25,
    }


def gradient_claims(result: dict[str, list[LayerStats]]) -> dict[str, bool]:
    """Backwards through a deep ReLU stack: small weights shrink the gradient, N(0, 1) blows it up, He keeps it.

    `result` maps "small_normal", "normal" and "he" to `gradient_stats` of the stack's hidden weight layers (its
    convolutions, not the classifier), first to last.
    """
    if not isinstance(result, dict) or not {"small_normal", "normal", "he"} <= set(result):
        raise TypeError(f"result must be a dict with 'small_normal', 'normal' and 'he', got {result!r}")
    for scheme, stats in result.items():
        if not isinstance(stats, list) or len(stats) < 2 or not all(isinstance(x, LayerStats) for x in stats):
            raise TypeError(f"result[{scheme!r}] must be a list of at least 2 LayerStats, got {stats!r}")

    def first_over_last(scheme: str) -> float:
        return result[scheme][0].std / result[scheme][-1].std

    return {
        "std 0.01: the first layer's gradient is over 1000x smaller than the last hidden layer's (vanishing)":
            first_over_last("small_normal") < 1e-3,
        "N(0, 1): the first layer's gradient is over 1000x larger (exploding)": first_over_last("normal") > 1e3,
        "He: first and last hidden layers' gradients within a factor 3": 1 / 3 < first_over_last("he") < 3,
    }
