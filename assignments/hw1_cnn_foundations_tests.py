"""The grader's test cases for hw1_cnn_foundations (instructors only: never hand this file out).

Each case sends inputs to the student's process, where its probe calls the student's code and returns numbers or
text; its check runs in the grader and compares them with PyTorch's answer on the same inputs. Probes are
self-contained (they import what they use): only their source reaches the student's process. Checks' messages are
what the student reads as feedback, so they say what is wrong without giving the expected values away.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tools.assignments import Case

RNG = np.random.default_rng(20261203)  # every input below is drawn from this one generator, in order


def _randn(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)  # float64


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array))


def _close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    assert actual.dtype.kind in "fiu", f"{what}: not numbers (dtype {actual.dtype})"
    assert np.allclose(actual.astype(np.float64), expected, rtol=1e-5, atol=1e-6), \
        f"{what}: values differ from PyTorch's (largest difference {np.abs(actual - expected).max():.3g})"


# ----------------------------------------------------------------------------------------------- Q1 conv2d


def probe_conv2d(ns, inputs):
    conv2d = ns["conv2d"]  # first: a missing answer fails at once, before torch is imported
    import torch
    configs = [key[1:] for key in inputs if key.startswith("X")]
    out = {}
    for i in configs:
        stride, padding = (int(v) for v in inputs[f"sp{i}"]) if f"sp{i}" in inputs else (1, 0)
        X, W, b = (torch.from_numpy(inputs[f"{k}{i}"]) for k in "XWb")
        out[f"out{i}"] = conv2d(X, W, b, stride=stride, padding=padding)
    return out


def probe_conv2d_from_scratch(ns, inputs):
    conv2d = ns["conv2d"]
    import torch
    from unittest import mock

    import cnnlab.conv_arith

    def forbidden(*args, **kwargs):
        raise AssertionError("conv2d must be written from scratch, not call a library convolution")

    X, W, b = (torch.from_numpy(inputs[k]) for k in "XWb")
    with mock.patch("torch.nn.functional.conv2d", forbidden), mock.patch("torch.conv2d", forbidden), \
            mock.patch.object(cnnlab.conv_arith, "conv2d_naive", forbidden), \
            mock.patch.object(cnnlab.conv_arith, "conv2d_im2col", forbidden):
        return {"out": conv2d(X, W, b, stride=1, padding=1)}


def check_conv2d_shape(out, inputs):
    assert tuple(out["out0"].shape) == (2, 4, 6, 6), \
        f"a 3x3 conv without padding maps 8x8 to 6x6: got shape {tuple(out['out0'].shape)}"


def check_conv2d_matches_torch(out, inputs):
    for i in (key[1:] for key in inputs if key.startswith("X")):
        stride, padding = (int(v) for v in inputs[f"sp{i}"])
        expected = F.conv2d(_t(inputs[f"X{i}"]), _t(inputs[f"W{i}"]), _t(inputs[f"b{i}"]), stride=stride,
                            padding=padding)
        _close(out[f"out{i}"], expected.numpy(), f"stride {stride}, padding {padding}, kernel "
               f"{inputs[f'W{i}'].shape[2]}x{inputs[f'W{i}'].shape[3]}")


def check_conv2d_from_scratch(out, inputs):
    _close(out["out"], F.conv2d(_t(inputs["X"]), _t(inputs["W"]), _t(inputs["b"]), padding=1).numpy(),
           "3x3 kernel, padding 1")


CONV_GRID = {}
for _i, (_stride, _padding, (_kh, _kw)) in enumerate([(1, 0, (3, 3)), (2, 1, (3, 3)), (1, 2, (5, 3)), (3, 1, (2, 4))]):
    CONV_GRID |= {f"X{_i}": _randn(2, 3, 11, 9), f"W{_i}": _randn(5, 3, _kh, _kw), f"b{_i}": _randn(5),
                  f"sp{_i}": np.array([_stride, _padding])}

# ----------------------------------------------------------------------------------------------- Q2 trace
# A layer spec is a dict (see the notebook): {"type": "conv", "out_channels", "kernel_size", "stride"=1, "padding"=0,
# "dilation"=1, "groups"=1, "bias"=True}, {"type": "maxpool" | "avgpool", "kernel_size", "stride"=kernel_size,
# "padding"=0}, {"type": "batchnorm"}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out_features",
# "bias"=True}; sizes are an int or a pair [h, w]. The oracle builds the torch layers and runs a zero tensor.

Q2_RNG = np.random.default_rng([20261203, 2])  # Q2's architectures, drawn in order


def _pair(value) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (list, tuple)) else (int(value), int(value))


def _torch_layer(spec: dict, shape: tuple[int, ...]) -> nn.Module:
    """The nn.Module a spec describes, for an input of `shape` (without the batch dimension)."""
    kind = spec["type"]
    if kind == "conv":
        return nn.Conv2d(shape[0], spec["out_channels"], _pair(spec["kernel_size"]), stride=_pair(spec.get("stride", 1)),
                         padding=_pair(spec.get("padding", 0)), dilation=_pair(spec.get("dilation", 1)),
                         groups=spec.get("groups", 1), bias=spec.get("bias", True))
    if kind in ("maxpool", "avgpool"):
        pool = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        k = _pair(spec["kernel_size"])
        return pool(k, stride=_pair(spec.get("stride", k)), padding=_pair(spec.get("padding", 0)))
    if kind == "batchnorm":
        return (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(shape[0])
    if kind == "linear":
        return nn.Linear(shape[0], spec["out_features"], bias=spec.get("bias", True))
    return {"relu": nn.ReLU, "flatten": nn.Flatten}[kind]()


def _torch_trace(arch: list[dict], input_shape: tuple[int, ...]) -> list[tuple[tuple[int, ...], int]]:
    """[(output shape without the batch dimension, parameter count)] per layer, from torch itself."""
    x, out = torch.zeros(1, *input_shape), []
    with torch.no_grad():
        for spec in arch:
            layer = _torch_layer(spec, tuple(x.shape[1:])).eval()
            x = layer(x)
            out.append((tuple(x.shape[1:]), sum(p.numel() for p in layer.parameters())))
    return out


def _size(rng, low: int, high: int, pair: bool):
    """An int in [low, high], or (when `pair` and a coin says so) a pair of them as a list."""
    if pair and rng.random() < 0.5:
        return [int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1))]
    return int(rng.integers(low, high + 1))


def _random_layer(rng, kind: str, shape: tuple[int, ...], style: str) -> dict:
    if kind == "conv":
        spec = {"type": "conv", "out_channels": int(rng.integers(2, 9)), "kernel_size": _size(rng, 1, 5, True),
                "stride": _size(rng, 1, 3, True), "padding": _size(rng, 0, 2, True)}
        if style in ("geometry", "mixed"):
            spec["dilation"] = _size(rng, 2, 3, True) if rng.random() < 0.5 else 1
        if style in ("groups", "mixed"):
            groups = int(rng.choice([g for g in (1, 2, 3, 4, shape[0]) if shape[0] % g == 0]))
            spec |= {"groups": groups, "out_channels": groups * int(rng.integers(1, 4)), "bias": bool(rng.random() < 0.5)}
        return spec
    if kind in ("maxpool", "avgpool"):
        k = _size(rng, 2, 3, style == "mixed")
        spec = {"type": kind, "kernel_size": k}
        if rng.random() < 0.5:
            spec["stride"] = _size(rng, 1, 3, style == "mixed")
        if rng.random() < 0.5:
            spec["padding"] = int(rng.integers(0, min(_pair(k)) // 2 + 1))
        return spec
    if kind == "linear":
        return {"type": "linear", "out_features": int(rng.integers(3, 40)), "bias": bool(rng.random() < 0.7)}
    return {"type": kind}


def _random_arch(rng, kinds: list[str], style: str) -> tuple[list[dict], tuple[int, int, int]]:
    """A valid architecture with these layer kinds in order (torch must accept each layer; redrawn otherwise)."""
    shape = (int(rng.integers(1, 5)), int(rng.integers(24, 49)), int(rng.integers(24, 49)))
    arch, current = [], shape
    for kind in kinds:
        for _ in range(100):
            spec = _random_layer(rng, kind, current, style)
            try:
                (out_shape, _), = _torch_trace([spec], current)
            except RuntimeError:  # the kernel does not fit: draw again
                continue
            if min(out_shape) >= 2 or kind in ("flatten", "linear"):
                break
        else:
            raise RuntimeError(f"no valid {kind} layer for input {current}")
        arch.append(spec)
        current = out_shape
    return arch, shape


def _trace_inputs(archs: list[tuple[list[dict], tuple[int, ...]]], strict: bool = False) -> dict:
    inputs = {"strict": strict}
    for i, (arch, shape) in enumerate(archs):
        inputs |= {f"arch{i}": json.dumps(arch), f"shape{i}": np.array(shape)}
    return inputs


LENET = ([{"type": "conv", "out_channels": 6, "kernel_size": 5}, {"type": "relu"},
          {"type": "maxpool", "kernel_size": 2}, {"type": "conv", "out_channels": 16, "kernel_size": 5},
          {"type": "relu"}, {"type": "maxpool", "kernel_size": 2}, {"type": "flatten"},
          {"type": "linear", "out_features": 120}, {"type": "relu"}, {"type": "linear", "out_features": 84},
          {"type": "relu"}, {"type": "linear", "out_features": 10}], (1, 32, 32))  # the notebook's public check
TRACE_ARCHS = {
    # strides, paddings and dilations, square and rectangular kernels
    "geometry": [_random_arch(Q2_RNG, ["conv", "relu", "conv", "conv", "relu", "conv"], "geometry") for _ in range(3)],
    # grouped and depthwise convolutions, convolutions without bias, BatchNorm's two parameters per channel
    "groups": [_random_arch(Q2_RNG, ["conv", "batchnorm", "relu", "conv", "conv", "batchnorm"], "groups")
               for _ in range(3)],
    # pools (default stride = kernel), flatten, linear layers with and without bias, BatchNorm on features
    "pools": [_random_arch(Q2_RNG, ["conv", "maxpool", "conv", "avgpool", "flatten", "linear", "batchnorm", "relu",
                                    "linear"], "plain") for _ in range(3)],
    # everything at once, with the library helpers switched off
    "mixed": [_random_arch(Q2_RNG, ["conv", "batchnorm", "relu", "maxpool", "conv", "avgpool", "conv", "flatten",
                                    "linear", "linear"], "mixed") for _ in range(2)],
}


def probe_trace(ns, inputs):
    trace = ns["trace"]
    import json
    from unittest import mock

    import torch

    import cnnlab.conv_arith

    def forbidden(*args, **kwargs):
        raise AssertionError("trace must compute with the formulas: no torch layers, no cnnlab.conv_arith")

    helpers = [f for f in vars(cnnlab.conv_arith).values() if type(f) is type(forbidden)
               and f.__module__ == "cnnlab.conv_arith" and f.__closure__ is None]
    codes = [f.__code__ for f in helpers]
    patches = [mock.patch.object(torch.nn.Module, "__call__", forbidden),
               mock.patch.object(torch.nn.Module, "__init__", forbidden),
               *[mock.patch.object(module, name, forbidden) for module in (torch.nn.functional, torch)
                 for name in ("conv2d", "max_pool2d", "avg_pool2d") if hasattr(module, name)]]
    strict = bool(inputs["strict"])
    out = {}
    try:
        if strict:  # every reference to a cnnlab.conv_arith function now runs `forbidden`, saved ones too
            for f in helpers:
                f.__code__ = forbidden.__code__
            for p in patches:
                p.start()
        for key in sorted(k for k in inputs if k.startswith("arch")):
            i = key[len("arch"):]
            result = list(trace(json.loads(str(inputs[key])), tuple(int(v) for v in inputs[f"shape{i}"])))
            shapes = [tuple(int(v) for v in shape) for shape, _ in result]
            width = max([3, *map(len, shapes)])
            out[f"ranks{i}"] = [len(s) for s in shapes]
            out[f"shapes{i}"] = [list(s) + [-1] * (width - len(s)) for s in shapes]
            out[f"params{i}"] = [int(count) for _, count in result]
    finally:
        if strict:
            for p in patches:
                p.stop()
            for f, code in zip(helpers, codes):
                f.__code__ = code
    return out


def _describe(spec: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type").join((f"{spec['type']}(", ")"))


def check_trace(out, inputs):
    for key in sorted(k for k in inputs if k.startswith("arch")):
        i = key[len("arch"):]
        arch, shape = json.loads(str(inputs[key])), tuple(inputs[f"shape{i}"].tolist())
        ranks, shapes, params = (out[f"{k}{i}"].reshape(-1) if k != "shapes" else out[f"{k}{i}"]
                                 for k in ("ranks", "shapes", "params"))
        assert len(ranks) == len(params) == len(arch), \
            f"input {shape}: {len(arch)} layers, so one (shape, parameters) pair per layer, got {len(ranks)}"
        for j, (spec, (expected_shape, expected_count)) in enumerate(zip(arch, _torch_trace(arch, shape))):
            got = tuple(int(v) for v in shapes[j][: int(ranks[j])])
            where = f"input {shape}, layer {j + 1} {_describe(spec)}"
            assert got == expected_shape, f"{where}: wrong output shape {got}"
            assert int(params[j]) == expected_count, f"{where}: wrong parameter count {int(params[j])}"


# ----------------------------------------------------------------------------------------------- Q3 He init


def probe_he_linear(ns, inputs):
    he_init_ = ns["he_init_"]
    import torch
    torch.manual_seed(0)
    layer = he_init_(torch.nn.Linear(1000, 500))
    return {"weight": layer.weight, "bias": layer.bias}


def probe_he_conv(ns, inputs):
    he_init_ = ns["he_init_"]
    import torch
    torch.manual_seed(1)
    layer = he_init_(torch.nn.Sequential(torch.nn.Conv2d(16, 64, 5)))[0]
    return {"weight": layer.weight, "bias": layer.bias}


def probe_he_deep(ns, inputs):
    he_init_ = ns["he_init_"]
    import torch
    weights, biases = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(*[m for _ in range(30) for m in (torch.nn.Linear(200, 200), torch.nn.ReLU())])
        he_init_(net)
        weights += [m.weight.detach() for m in net if isinstance(m, torch.nn.Linear)]
        biases += [m.bias.detach() for m in net if isinstance(m, torch.nn.Linear)]
    return {"weights": torch.stack(weights), "biases": torch.stack(biases)}


def _check_he(weight, bias, fan_in, what):
    std = float(np.std(weight))
    assert abs(std / math.sqrt(2 / fan_in) - 1) < 0.05, f"{what}: the weights' std should be sqrt(2 / fan_in)"
    assert abs(float(np.mean(weight))) < 0.01, f"{what}: the weights' mean should be 0"
    assert np.abs(bias).max() == 0.0, f"{what}: biases start at zero"


def check_he_linear(out, inputs):
    assert out["weight"].shape == (500, 1000), "he_init_ must keep the layer's shape"
    _check_he(out["weight"], out["bias"], 1000, "nn.Linear(1000, 500)")


def check_he_conv(out, inputs):
    assert out["weight"].shape == (64, 16, 5, 5), "he_init_ must keep the layer's shape"
    _check_he(out["weight"], out["bias"], 16 * 5 * 5, "nn.Conv2d(16, 64, 5): fan_in = C_in * kH * kW")


def check_he_deep(out, inputs):
    weights, biases = _t(out["weights"]).double(), _t(out["biases"]).double()
    assert weights.shape == (90, 200, 200) and biases.shape == (90, 200), "he_init_ must keep every layer"
    g = torch.Generator().manual_seed(5)
    for net in range(3):
        h = torch.randn(400, 200, generator=g, dtype=torch.float64)
        for layer in range(30):
            h = torch.relu(h @ weights[30 * net + layer].T + biases[30 * net + layer])
        rms = h.pow(2).mean().sqrt().item()
        assert 0.5 < rms < 2.0, "through 30 ReLU layers the activations vanish or explode"


# ----------------------------------------------------------------------------------------------- Q4 BatchNorm


def probe_bn_train(ns, inputs):
    batchnorm_forward = ns["batchnorm_forward"]
    import torch
    X, gamma, beta = (torch.from_numpy(inputs[k]) for k in ("X", "gamma", "beta"))
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    return {"out": batchnorm_forward(X, gamma, beta, rm, rv, True)}


def probe_bn_running(ns, inputs):
    batchnorm_forward = ns["batchnorm_forward"]
    import torch
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    gamma, beta = torch.ones(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    for X in inputs["Xs"]:
        batchnorm_forward(torch.from_numpy(X), gamma, beta, rm, rv, True, momentum=0.3)
    return {"running_mean": rm, "running_var": rv}


def probe_bn_eval(ns, inputs):
    batchnorm_forward = ns["batchnorm_forward"]
    import torch
    rm, rv = torch.from_numpy(inputs["rm"].copy()), torch.from_numpy(inputs["rv"].copy())
    X, gamma, beta = (torch.from_numpy(inputs[k]) for k in ("X", "gamma", "beta"))
    out = batchnorm_forward(X, gamma, beta, rm, rv, False)
    return {"out": out, "running_mean": rm, "running_var": rv}


def check_bn_train(out, inputs):
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    expected = F.batch_norm(_t(inputs["X"]), rm, rv, _t(inputs["gamma"]), _t(inputs["beta"]), training=True)
    _close(out["out"], expected.numpy(), "training-mode output")


def check_bn_running(out, inputs):
    bn = nn.BatchNorm2d(4, momentum=0.3).double()
    for X in inputs["Xs"]:
        bn(_t(X))
    _close(out["running_mean"], bn.running_mean.numpy(), "running mean after 3 training batches")
    _close(out["running_var"], bn.running_var.numpy(), "running variance after 3 training batches (unbiased?)")


def check_bn_eval(out, inputs):
    expected = F.batch_norm(_t(inputs["X"]), _t(inputs["rm"]), _t(inputs["rv"]), _t(inputs["gamma"]),
                            _t(inputs["beta"]), training=False)
    _close(out["out"], expected.numpy(), "eval mode must normalise with the running statistics")
    _close(out["running_mean"], inputs["rm"], "eval mode must not change the running statistics")
    _close(out["running_var"], inputs["rv"], "eval mode must not change the running statistics")


# ----------------------------------------------------------------------------------------------- Q5 curves
# diagnose_run(train_loss, val_loss) -> one of Q5_LABELS, graded on runs drawn here that the student never saw. Each
# is drawn to be one case, by the lecture's definitions and with wide margins, and the oracle is the course's own
# rule set, cnnlab.curves.diagnose (tests/test_assignments.py checks that every drawn run is the case it was drawn as).

Q5_RNG = np.random.default_rng([20261203, 5])  # Q5's runs, drawn in order
Q5_LABELS = ("underfit", "overfit", "undertrained", "good_fit")
Q5_RUNS_PER_LABEL = 5


def _run(rng, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(train_loss, val_loss) per epoch of a run that is `label`, in units of a random scale, with a little noise."""
    n = int(rng.integers(12, 31))  # epochs
    scale = float(rng.uniform(0.3, 3.0))  # the first epoch's loss: the rules must not depend on the loss's units
    t = np.arange(n, dtype=np.float64)
    if label == "underfit":  # the training loss hardly falls; validation just as bad
        train = 1 - rng.uniform(0.0, 0.12) * (1 - np.exp(-t / rng.uniform(1.0, n / 3)))
        val = train * (1 + rng.uniform(0.0, 0.05))
    elif label == "undertrained":  # both still falling steadily at the last epoch
        drop = rng.uniform(0.4, 0.7)
        train = 1 - drop * (t / (n - 1)) ** rng.uniform(0.8, 1.1)
        val = train + rng.uniform(0.0, 0.04) * t / (n - 1)
    elif label == "good_fit":  # both fall fast, then settle together, a small gap apart
        tau = rng.uniform(0.8, n / 8)
        settle = 1 - np.exp(-t / tau)
        train = 1 - rng.uniform(0.6, 0.9) * settle
        val = train + rng.uniform(0.01, 0.08) * settle
    else:  # overfit: training keeps falling; validation turns at its minimum and rises steadily to the end
        tau = rng.uniform(1.0, n / 6)
        train = 1 - rng.uniform(0.8, 0.95) * (1 - np.exp(-t / tau))
        turn = int(rng.integers(n // 4, n // 2))
        val = train + 0.02
        val[turn:] = val[turn] + rng.uniform(0.25, 0.6) * (t[turn:] - turn) / (n - 1 - turn)
    noise = 0.004 * rng.standard_normal((2, n))
    return scale * (train + noise[0]), scale * (val + noise[1])


def _runs_inputs(runs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    inputs = {"count": len(runs)}
    for i, (train, val) in enumerate(runs):
        inputs |= {f"train{i}": np.asarray(train, dtype=np.float64), f"val{i}": np.asarray(val, dtype=np.float64)}
    return inputs


# the notebook's four runs (its public check), then Q5_RUNS_PER_LABEL unseen runs of each case
PUBLIC_RUNS = {
    "A": ([2.30, 1.20, 0.80, 0.55, 0.40, 0.28, 0.20, 0.14, 0.10, 0.07],
          [2.25, 1.25, 0.95, 0.85, 0.88, 0.95, 1.05, 1.15, 1.27, 1.40]),
    "B": ([2.30, 2.25, 2.24, 2.22, 2.23, 2.21, 2.22, 2.20, 2.21, 2.20],
          [2.31, 2.27, 2.26, 2.25, 2.25, 2.24, 2.25, 2.24, 2.24, 2.23]),
    "C": ([2.30, 1.10, 0.75, 0.60, 0.52, 0.48, 0.45, 0.44, 0.43, 0.43],
          [2.28, 1.15, 0.80, 0.66, 0.58, 0.54, 0.52, 0.51, 0.51, 0.50]),
    "D": ([2.30, 2.15, 2.01, 1.88, 1.74, 1.61, 1.49, 1.36, 1.24, 1.12],
          [2.29, 2.16, 2.03, 1.90, 1.77, 1.65, 1.53, 1.41, 1.30, 1.19]),
}
UNSEEN_RUNS = {label: [_run(Q5_RNG, label) for _ in range(Q5_RUNS_PER_LABEL)] for label in Q5_LABELS}


def probe_diagnose_run(ns, inputs):
    diagnose_run = ns["diagnose_run"]
    import cnnlab.curves

    def forbidden(*args, **kwargs):
        raise AssertionError("diagnose_run must apply your own rules, not call cnnlab.curves")

    helpers = [f for f in vars(cnnlab.curves).values() if type(f) is type(forbidden)
               and f.__module__ == "cnnlab.curves" and f.__closure__ is None]
    codes = [f.__code__ for f in helpers]
    labels = []
    try:  # every reference to a cnnlab.curves function now runs `forbidden`, saved ones too
        for f in helpers:
            f.__code__ = forbidden.__code__
        for i in range(int(inputs["count"])):
            train, val = ([float(v) for v in inputs[f"{k}{i}"]] for k in ("train", "val"))
            label = diagnose_run(train, val)
            if not isinstance(label, str):
                raise TypeError(f"diagnose_run must return a label (str), got {type(label).__name__}")
            labels.append(label)
    finally:
        for f, code in zip(helpers, codes):
            f.__code__ = code
    return {"labels": labels}


def check_diagnose_run(out, inputs):
    from cnnlab.curves import diagnose
    labels = out["labels"].reshape(-1).tolist()
    count = int(inputs["count"])
    assert len(labels) == count, f"one label per run: {count} runs, got {len(labels)}"
    for i, label in enumerate(labels):
        train, val = inputs[f"train{i}"].tolist(), inputs[f"val{i}"].tolist()
        assert label in Q5_LABELS, f"run {i + 1} of {count}: {label!r} is not one of {Q5_LABELS}"
        assert label == diagnose(train, val).label, \
            f"run {i + 1} of {count} ({len(train)} epochs, first training loss {train[0]:.2f}) is misdiagnosed " \
            f"as {label}"


# ----------------------------------------------------------------------------------------------- Q6 transfer


@functools.lru_cache(maxsize=1)
def _mobilenet():
    from cnnlab.transfer import pretrained_mobilenet_v2
    return pretrained_mobilenet_v2().eval()


def probe_transfer_output(ns, inputs):
    make_transfer_net = ns["make_transfer_net"]
    import torch
    net = make_transfer_net(7).eval()
    with torch.no_grad():
        return {"out": net(torch.from_numpy(inputs["x"]))}


def probe_transfer(ns, inputs):
    make_transfer_net = ns["make_transfer_net"]
    import torch

    import cnnlab.transfer

    def forbidden(*args, **kwargs):
        raise AssertionError("make_transfer_net must freeze and replace the head itself, not call cnnlab.transfer's "
                             "freeze or replace_head")

    helpers = [getattr(cnnlab.transfer, name) for name in ("freeze", "unfreeze", "replace_head", "head_name",
                                                           "set_train_mode", "_set_frozen", "_keep_eval")]
    codes = [f.__code__ for f in helpers]
    what = str(inputs["what"])
    try:  # every reference to these helpers now runs `forbidden`, saved ones too
        for f in helpers:
            f.__code__ = forbidden.__code__
        net = make_transfer_net(int(inputs["num_classes"]))
        if what == "trainable":
            params = list(net.parameters())
            return {"numel": [p.numel() for p in params], "requires_grad": [bool(p.requires_grad) for p in params]}
        if what == "weights":
            return {"first": net.features[0][0].weight, "last": net.features[18][0].weight}
        before = net.features[1].conv[0][1].running_mean.clone()
        net.train()
        net(torch.from_numpy(inputs["x"]))
        return {"before": before, "after": net.features[1].conv[0][1].running_mean}
    finally:
        for f, code in zip(helpers, codes):
            f.__code__ = code


def check_transfer_output(out, inputs):
    assert tuple(out["out"].shape) == (2, 7), f"2 images, 7 classes: expected shape (2, 7), got {out['out'].shape}"


def check_transfer_trainable(out, inputs):
    trainable = int(out["numel"][out["requires_grad"].astype(bool)].sum())
    classes = int(inputs["num_classes"])
    assert trainable == 1280 * classes + classes, f"only the new head (1280 -> {classes}) should be trainable"


def check_transfer_weights(out, inputs):
    net = _mobilenet()
    _close(out["first"], net.features[0][0].weight.detach().numpy(), "the first convolution's pretrained weights")
    _close(out["last"], net.features[18][0].weight.detach().numpy(), "the last convolution's pretrained weights")


def check_transfer_bn(out, inputs):
    pretrained = _mobilenet().features[1].conv[0][1].running_mean.numpy()
    _close(out["before"], pretrained, "the BatchNorm statistics must be the pretrained ones")
    _close(out["after"], pretrained, "net.train() must not move a frozen BatchNorm layer's statistics")


# finetune(X, y, num_classes) -> net and predict(net, X) -> labels, graded on the notebook's task (notebook 09's: which
# of five photos a 32 x 32 patch comes from) with patches the student never saw, cut where cnnlab.transfer.photo_patches
# cuts them (training patches from the left halves, held-out ones from the right halves) with seeds drawn here, and
# classes numbered in an order drawn here. The held-out labels never leave the grader.
Q6_RNG = np.random.default_rng([20261203, 6])
NOTEBOOK_PHOTOS = ("brick", "coffee", "chelsea", "coins", "astronaut")  # the notebook's (and notebook 09's) task


def _photo_task() -> tuple[dict, np.ndarray]:
    from cnnlab.transfer import photo_patches
    names = tuple(str(p) for p in Q6_RNG.permutation(NOTEBOOK_PHOTOS))  # class i = names[i]: only the grader knows
    seeds = [int(s) for s in Q6_RNG.integers(1000, 10**6, size=2)]
    X, y = photo_patches(names, 30, "train", seed=seeds[0])  # 150 labelled training patches, 32 x 32
    X_test, y_test = photo_patches(names, 40, "test", seed=seeds[1])  # 200 held-out patches
    order, order_test = Q6_RNG.permutation(len(y)), Q6_RNG.permutation(len(y_test))  # not grouped by class
    return {"X_train": X.numpy()[order], "y_train": y.numpy()[order], "X_test": X_test.numpy()[order_test],
            "num_classes": len(names)}, y_test.numpy()[order_test]


Q6_TASK, Q6_LABELS = _photo_task()
# Held-out accuracy steps, one point each. Chance is 1/5 = 0.2. The steps come from notebook 09's quick-profile run of
# this task (its committed output, 3 seeds): a frozen MobileNetV2 with a trained linear head reached 0.76-0.80 with only
# 10 patches per class (here 30), and the small CNN trained from scratch 0.65-0.85. So: 0.5 = it learnt something,
# 0.65 = as good as the worst small CNN from scratch, 0.75 = transfer works as well as notebook 09's frozen features.
ACCURACY_STEPS = (0.5, 0.65, 0.75)


def probe_finetune(ns, inputs):
    finetune, predict = ns["finetune"], ns["predict"]
    import hashlib

    import torch
    # the three accuracy steps get the same inputs: train once, keyed by the inputs (a forged entry would need the
    # held-out labels, which never leave the grader)
    key = hashlib.sha256(b"".join(inputs[k].tobytes() for k in ("X_train", "y_train", "X_test"))).hexdigest()
    cache = ns.setdefault("_hw1_grader_predictions", {})
    if key not in cache:
        torch.manual_seed(0)
        X, y, X_test = (torch.from_numpy(inputs[k]) for k in ("X_train", "y_train", "X_test"))
        net = finetune(X, y, int(inputs["num_classes"]))
        labels = predict(net, X_test)
        if labels is None:
            raise TypeError("predict returned None: return one label per image")
        labels = torch.as_tensor(labels).reshape(-1)
        cache[key] = labels.detach().cpu().to(torch.int64)
    return {"labels": cache[key]}


def _check_accuracy(threshold: float):
    def check_accuracy(out, inputs):
        labels = out["labels"].reshape(-1)
        assert len(labels) == len(Q6_LABELS), \
            f"predict must return one label per image: {len(Q6_LABELS)} images, got {len(labels)}"
        acc = float(np.mean(labels == Q6_LABELS))
        assert acc >= threshold, f"held-out accuracy {acc:.3f} is below {threshold} (chance is 0.2)"
    return check_accuracy


# ----------------------------------------------------------------------------------------------- the cases


CASES = [
    Case("q1", "conv2d_shape", 1, probe_conv2d, check_conv2d_shape, hidden=False,
         inputs={"X0": _randn(2, 3, 8, 8), "W0": _randn(4, 3, 3, 3), "b0": _randn(4)}),
    Case("q1", "conv2d_matches_torch", 2, probe_conv2d, check_conv2d_matches_torch, inputs=CONV_GRID),
    Case("q1", "conv2d_from_scratch", 1, probe_conv2d_from_scratch, check_conv2d_from_scratch,
         inputs={"X": _randn(1, 2, 6, 6), "W": _randn(3, 2, 3, 3), "b": _randn(3)}),
    Case("q2", "trace_lenet", 1, probe_trace, check_trace, hidden=False, inputs=_trace_inputs([LENET])),
    Case("q2", "trace_stride_padding_dilation", 1, probe_trace, check_trace,
         inputs=_trace_inputs(TRACE_ARCHS["geometry"])),
    Case("q2", "trace_groups_bias_batchnorm", 1, probe_trace, check_trace, inputs=_trace_inputs(TRACE_ARCHS["groups"])),
    Case("q2", "trace_pool_flatten_linear", 1, probe_trace, check_trace, inputs=_trace_inputs(TRACE_ARCHS["pools"])),
    Case("q2", "trace_from_formulas", 1, probe_trace, check_trace,
         inputs=_trace_inputs(TRACE_ARCHS["mixed"], strict=True)),
    Case("q3", "he_linear_std", 1, probe_he_linear, check_he_linear, hidden=False),
    Case("q3", "he_conv_fan_in", 1, probe_he_conv, check_he_conv),
    Case("q3", "he_keeps_activation_std", 1, probe_he_deep, check_he_deep),
    Case("q4", "bn_train_output", 1, probe_bn_train, check_bn_train, hidden=False,
         inputs={"X": _randn(8, 3, 5, 5) * 3 + 1, "gamma": RNG.random(3) + 0.5, "beta": _randn(3)}),
    Case("q4", "bn_running_stats", 1, probe_bn_running, check_bn_running, inputs={"Xs": _randn(3, 6, 4, 3, 2) * 2 - 1}),
    Case("q4", "bn_eval_uses_running_stats", 2, probe_bn_eval, check_bn_eval,
         inputs={"X": _randn(2, 3, 4, 4), "rm": np.array([0.5, -1.0, 2.0]), "rv": np.array([4.0, 0.25, 1.0]),
                 "gamma": np.array([1.5, 0.5, 2.0]), "beta": np.array([0.1, -0.2, 0.3])}),
    Case("q5", "diagnose_notebook_runs", 1, probe_diagnose_run, check_diagnose_run, hidden=False,
         inputs=_runs_inputs(list(PUBLIC_RUNS.values()))),
    *[Case("q5", f"diagnose_unseen_{label}", 1, probe_diagnose_run, check_diagnose_run,
           inputs=_runs_inputs(UNSEEN_RUNS[label])) for label in Q5_LABELS],
    Case("q6", "transfer_output_shape", 1, probe_transfer_output, check_transfer_output, hidden=False,
         inputs={"x": RNG.standard_normal((2, 3, 64, 64)).astype(np.float32)}),
    Case("q6", "transfer_only_head_trains", 1, probe_transfer, check_transfer_trainable,
         inputs={"what": "trainable", "num_classes": 3}),
    Case("q6", "transfer_keeps_pretrained_weights", 1, probe_transfer, check_transfer_weights,
         inputs={"what": "weights", "num_classes": 4}),
    Case("q6", "transfer_bn_stats_frozen", 1, probe_transfer, check_transfer_bn,
         inputs={"what": "bn", "num_classes": 2, "x": (RNG.standard_normal((4, 3, 64, 64)) * 3 + 2).astype(np.float32)}),
    *[Case("q6", f"finetune_heldout_accuracy_{round(100 * step)}", 1, probe_finetune, _check_accuracy(step),
           inputs=Q6_TASK) for step in ACCURACY_STEPS],
]
