"""The grader's test cases for hw1_cnn_foundations (instructors only: never hand this file out).

Each case sends inputs to the student's process, where its probe calls the student's code and returns numbers or
text; its check runs in the grader and compares them with PyTorch's answer on the same inputs. Probes are
self-contained (they import what they use): only their source reaches the student's process. Checks' messages are
what the student reads as feedback, so they say what is wrong without giving the expected values away.
"""

from __future__ import annotations

import functools
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

# ----------------------------------------------------------------------------------------------- Q2 sizes


def probe_alexnet(ns, inputs):
    return {"side": ns["alexnet_conv1_side"], "params": ns["alexnet_conv1_params"]}


def probe_conv_out(ns, inputs):
    return {"sides": [ns["conv_out"](*(int(v) for v in row)) for row in inputs["grid"]]}


def probe_conv_params(ns, inputs):
    return {"params": [ns["conv_params"](*(int(v) for v in row)) for row in inputs["grid"]]}


def check_alexnet(out, inputs):
    assert out["side"].shape == () and out["side"] == 55, "AlexNet's conv1 side is wrong (227 -> ? in the lecture)"
    assert out["params"].shape == () and out["params"] == 34944, "AlexNet's conv1 parameter count is wrong"


def check_conv_out(out, inputs):
    for (n, k, s, p), side in zip(inputs["grid"].tolist(), out["sides"].tolist(), strict=True):
        expected = nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
        assert side == expected, f"conv_out(n={n}, k={k}, s={s}, p={p}) is wrong"


def check_conv_params(out, inputs):
    for (c_in, c_out, k), count in zip(inputs["grid"].tolist(), out["params"].tolist(), strict=True):
        expected = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k).parameters())
        assert count == expected, f"conv_params({c_in}, {c_out}, {k}) is wrong"


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


def probe_diagnoses(ns, inputs):
    diagnoses = ns["diagnoses"]
    return {"runs": sorted(str(k) for k in diagnoses), "labels": [str(diagnoses[k]) for k in sorted(diagnoses)]}


def probe_diagnosis(ns, inputs):
    return {"label": str(ns["diagnoses"][str(inputs["run"])])}


def check_diagnoses(out, inputs):
    from cnnlab.curves import LABELS
    assert out["runs"].tolist() == ["A", "B", "C"], "give one diagnosis per run: A, B and C"
    assert all(d in LABELS for d in out["labels"].tolist()), f"each diagnosis must be one of {LABELS}"


def _check_diagnosis(expected):
    def check_diagnosis(out, inputs):
        assert out["label"].shape == () and str(out["label"]) == expected, f"run {inputs['run']} is misdiagnosed"
    return check_diagnosis


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


def probe_transfer_trainable(ns, inputs):
    net = ns["make_transfer_net"](3)
    params = list(net.parameters())
    return {"numel": [p.numel() for p in params], "requires_grad": [bool(p.requires_grad) for p in params]}


def probe_transfer_weights(ns, inputs):
    net = ns["make_transfer_net"](4)
    return {"first": net.features[0][0].weight, "last": net.features[18][0].weight}


def probe_transfer_bn(ns, inputs):
    make_transfer_net = ns["make_transfer_net"]
    import torch
    net = make_transfer_net(2)
    before = net.features[1].conv[0][1].running_mean.clone()
    net.train()
    net(torch.from_numpy(inputs["x"]))
    return {"before": before, "after": net.features[1].conv[0][1].running_mean}


def check_transfer_output(out, inputs):
    assert tuple(out["out"].shape) == (2, 7), f"2 images, 7 classes: expected shape (2, 7), got {out['out'].shape}"


def check_transfer_trainable(out, inputs):
    trainable = int(out["numel"][out["requires_grad"].astype(bool)].sum())
    assert trainable == 1280 * 3 + 3, "only the new head (1280 -> 3) should be trainable"


def check_transfer_weights(out, inputs):
    net = _mobilenet()
    _close(out["first"], net.features[0][0].weight.detach().numpy(), "the first convolution's pretrained weights")
    _close(out["last"], net.features[18][0].weight.detach().numpy(), "the last convolution's pretrained weights")


def check_transfer_bn(out, inputs):
    pretrained = _mobilenet().features[1].conv[0][1].running_mean.numpy()
    _close(out["before"], pretrained, "the BatchNorm statistics must be the pretrained ones")
    _close(out["after"], pretrained, "net.train() must not move a frozen BatchNorm layer's statistics")


# ----------------------------------------------------------------------------------------------- the cases


CASES = [
    Case("q1", "conv2d_shape", 1, probe_conv2d, check_conv2d_shape, hidden=False,
         inputs={"X0": _randn(2, 3, 8, 8), "W0": _randn(4, 3, 3, 3), "b0": _randn(4)}),
    Case("q1", "conv2d_matches_torch", 2, probe_conv2d, check_conv2d_matches_torch, inputs=CONV_GRID),
    Case("q1", "conv2d_from_scratch", 1, probe_conv2d_from_scratch, check_conv2d_from_scratch,
         inputs={"X": _randn(1, 2, 6, 6), "W": _randn(3, 2, 3, 3), "b": _randn(3)}),
    Case("q2", "alexnet_conv1", 1, probe_alexnet, check_alexnet, hidden=False),
    Case("q2", "conv_out_grid", 1, probe_conv_out, check_conv_out,
         inputs={"grid": np.array([(28, 5, 1, 0), (28, 3, 2, 1), (32, 7, 2, 3), (13, 3, 3, 0), (9, 1, 1, 4)])}),
    Case("q2", "conv_params_grid", 1, probe_conv_params, check_conv_params,
         inputs={"grid": np.array([(3, 10, 5), (1, 1, 1), (64, 128, 3), (16, 7, 2)])}),
    Case("q3", "he_linear_std", 1, probe_he_linear, check_he_linear, hidden=False),
    Case("q3", "he_conv_fan_in", 1, probe_he_conv, check_he_conv),
    Case("q3", "he_keeps_activation_std", 1, probe_he_deep, check_he_deep),
    Case("q4", "bn_train_output", 1, probe_bn_train, check_bn_train, hidden=False,
         inputs={"X": _randn(8, 3, 5, 5) * 3 + 1, "gamma": RNG.random(3) + 0.5, "beta": _randn(3)}),
    Case("q4", "bn_running_stats", 1, probe_bn_running, check_bn_running, inputs={"Xs": _randn(3, 6, 4, 3, 2) * 2 - 1}),
    Case("q4", "bn_eval_uses_running_stats", 2, probe_bn_eval, check_bn_eval,
         inputs={"X": _randn(2, 3, 4, 4), "rm": np.array([0.5, -1.0, 2.0]), "rv": np.array([4.0, 0.25, 1.0]),
                 "gamma": np.array([1.5, 0.5, 2.0]), "beta": np.array([0.1, -0.2, 0.3])}),
    Case("q5", "diagnoses_are_labels", 1, probe_diagnoses, check_diagnoses, hidden=False),
    *[Case("q5", f"diagnosis_{run}", 1, probe_diagnosis, _check_diagnosis(label), inputs={"run": run})
      for run, label in (("A", "overfit"), ("B", "underfit"), ("C", "good_fit"))],
    Case("q6", "transfer_output_shape", 1, probe_transfer_output, check_transfer_output, hidden=False,
         inputs={"x": RNG.standard_normal((2, 3, 64, 64)).astype(np.float32)}),
    Case("q6", "transfer_only_head_trains", 1, probe_transfer_trainable, check_transfer_trainable),
    Case("q6", "transfer_keeps_pretrained_weights", 1, probe_transfer_weights, check_transfer_weights),
    Case("q6", "transfer_bn_stats_frozen", 1, probe_transfer_bn, check_transfer_bn,
         inputs={"x": (RNG.standard_normal((4, 3, 64, 64)) * 3 + 2).astype(np.float32)}),
]
