"""The exercises of notebook 13 (architectures): the parameters of a ResNet block with its projection shortcut, the
MACs of one conv layer, a depthwise-separable convolution and a MAC counter to write (checked on settings and nets
the notebook never shows, with PyTorch's own FLOP counter as the oracle), and an explain question on degradation."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _not_callable(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


# ----------------------------------------------------------------------------------------------------------
# 13.1: a ResNet basic block that halves the size and doubles the channels
# ----------------------------------------------------------------------------------------------------------
_CONV1, _CONV2, _PROJ, _BN = 64 * 128 * 9, 128 * 128 * 9, 64 * 128, 2 * 128
_BLOCK = _CONV1 + _BN + _CONV2 + _BN + _PROJ + _BN  # 230,144

add(Exercise(
    id="13.1", kind="predict",
    question="How many parameters does BasicBlock(64, 128, stride=2) have (convs without bias, BatchNorm with gamma "
             "and beta, and the 1x1 projection shortcut)?",
    judge=number_judge(_BLOCK, {
        _BLOCK: "two 3x3 convs (64*128*9 + 128*128*9), the 1x1 projection (64*128) and three BatchNorms (2*128 each).",
        _BLOCK - _PROJ - _BN: "the shape changes (64 -> 128 channels, half the size), so the shortcut is a 1x1 "
                              "projection conv with its own BatchNorm",
        _CONV1 + _CONV2 + _PROJ: "each BatchNorm has two parameters per channel (gamma and beta)",
        _CONV1 + _CONV2: "count the BatchNorms and the projection shortcut too",
        _BLOCK + 3 * 128: "the convs have no bias (BatchNorm's beta plays that role)",
        _BLOCK + 2 * 128: "the convs have no bias (BatchNorm's beta plays that role)",
        _BLOCK - _PROJ: "the projection shortcut is a 1x1 conv with its own BatchNorm: count its weights",
        2 * 128 * 128 * 9 + _PROJ + 3 * _BN: "the first conv goes from 64 channels to 128, not 128 to 128",
    }, "parameters"),
    hints=("A 3x3 conv from C_in to C_out channels has C_in * C_out * 9 weights.",
           "The shape changes, so the shortcut is a 1x1 conv (64 -> 128) followed by a BatchNorm.",
           "Three BatchNorm layers of 128 channels, each with gamma and beta."),
    solution="230,144 = 73,728 (conv1, 64->128) + 147,456 (conv2, 128->128) + 8,192 (1x1 projection) "
             "+ 3 x 256 (BatchNorms). Check: param_count(BasicBlock(64, 128, stride=2)).",
    model=_BLOCK, wrong=_BLOCK - _PROJ - _BN,
))

# ----------------------------------------------------------------------------------------------------------
# 13.2: the MACs of one of ResNet-18's layer1 convs
# ----------------------------------------------------------------------------------------------------------
_MACS = 56 * 56 * 64 * 64 * 9  # 115,605,504

add(Exercise(
    id="13.2", kind="predict",
    question="How many multiply-accumulates does nn.Conv2d(64, 64, 3, padding=1) do on one 64 x 56 x 56 input?",
    judge=number_judge(_MACS, {
        _MACS: "56*56 positions x 64 output channels, each a dot product of 64*3*3 = 576 terms.",
        2 * _MACS: "that counts FLOPs (a multiply and an add each); a MAC is the pair",
        56 * 56 * 64 * 9: "each output sums over all 64 input channels, not one",
        64 * 64 * 9: "that is the number of weights; each is used once per output position (56*56 of them)",
        54 * 54 * 64 * 64 * 9: "padding 1 keeps the size at 56x56",
        56 * 56 * 64 * 64: "each output is a dot product over a 3x3 window of every input channel",
    }, "MACs"),
    hints=("Each output number is one dot product; count the outputs first.",
           "Padding 1 with a 3x3 kernel keeps 56x56; there are 64 output channels.",
           "Each dot product has C_in * k * k terms."),
    solution="115,605,504 = (64 * 56 * 56 outputs) x (64 * 3 * 3 terms). About 0.116 GMACs: ResNet-18 has 1.8 G in all.",
    model=_MACS, wrong=2 * _MACS,
))

# ----------------------------------------------------------------------------------------------------------
# 13.3: a depthwise-separable convolution
# ----------------------------------------------------------------------------------------------------------


def _ds_cases() -> list[tuple[int, int, int, int]]:
    g = torch.Generator().manual_seed(13)
    return [(int(torch.randint(2, 24, (1,), generator=g)), int(torch.randint(2, 40, (1,), generator=g)),
             1 + trial % 2, int(torch.randint(6, 17, (1,), generator=g))) for trial in range(8)]


def _judge_depthwise_separable(fn: Any) -> Feedback:
    """`fn(c_in, c_out, stride)` must return a module: depthwise 3x3 (groups=c_in) then pointwise 1x1."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    for c_in, c_out, stride, size in _ds_cases():
        net = fn(c_in, c_out, stride)
        if net is None:
            return False, "your function returns None: write its body (replace the ...) and return the module"
        if not isinstance(net, nn.Module):
            return False, f"return an nn.Module (e.g. an nn.Sequential), got {type(net).__name__}"
        want = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)(torch.zeros(1, c_in, size, size)).shape
        got = net(torch.zeros(1, c_in, size, size)).shape
        setting = f"c_in={c_in}, c_out={c_out}, stride={stride} on a {size}x{size} input"
        if got != want:
            return False, f"for {setting} your module gives shape {tuple(got)}, a 3x3 conv gives {tuple(want)}"
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        weights = sum(m.weight.numel() for m in convs)
        if not any(m.groups == c_in and m.in_channels == c_in and m.kernel_size == (3, 3) for m in convs):
            return False, (f"for {setting} no 3x3 conv works on each channel on its own: the depthwise step needs "
                           f"groups equal to its input channels")
        if weights != c_in * 9 + c_in * c_out:
            return False, (f"for {setting} your convs have {weights} weights, not the number a depthwise 3x3 "
                           f"followed by a pointwise 1x1 has: check each conv's channels, groups and kernel size")
    return True, "the shapes and weights match a depthwise 3x3 followed by a 1x1, on 8 settings you had not seen."


add(Exercise(
    id="13.3", kind="code",
    question="Complete depthwise_separable(c_in, c_out, stride): a module that maps (N, c_in, H, W) like a padded "
             "3x3 conv with that stride would, as a depthwise 3x3 conv followed by a pointwise 1x1 conv.",
    judge=_judge_depthwise_separable,
    hints=("Depthwise: nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in): one filter per channel.",
           "Pointwise: nn.Conv2d(c_in, c_out, 1) mixes the channels at each pixel.",
           "Put them (with BatchNorm and ReLU between if you like) in an nn.Sequential."),
    solution=("def depthwise_separable(c_in, c_out, stride=1):\n"
              "    return nn.Sequential(\n"
              "        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),  # depthwise\n"
              "        nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),\n"
              "        nn.Conv2d(c_in, c_out, 1, bias=False),  # pointwise\n"
              "        nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))"),
    model=lambda c_in, c_out, stride: nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride=stride, padding=1, groups=c_in), nn.Conv2d(c_in, c_out, 1)),
    wrong=lambda c_in, c_out, stride: nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)),
))

# ----------------------------------------------------------------------------------------------------------
# 13.4: count MACs with forward hooks
# ----------------------------------------------------------------------------------------------------------


def _mac_nets() -> list[tuple[nn.Module, tuple[int, int, int]]]:
    torch.manual_seed(0)
    return [
        (nn.Sequential(nn.Conv2d(3, 10, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(10 * 6 * 6, 7)), (3, 16, 16)),
        (nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.Conv2d(8, 12, 1)), (8, 9, 9)),
        (nn.Sequential(nn.Conv2d(4, 6, (3, 5), padding=(1, 2), dilation=1), nn.MaxPool2d(2), nn.Conv2d(6, 6, 3,
                       groups=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3, bias=False)), (4, 12, 10)),
    ]


def _torch_macs(net: nn.Module, shape: tuple[int, int, int]) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


def _judge_count_macs(fn: Any) -> Feedback:
    if (bad := _not_callable(fn)) is not None:
        return bad
    for i, (net, shape) in enumerate(_mac_nets()):
        got = fn(net, shape)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the count"
        want = _torch_macs(net, shape)
        if got != want:
            kinds = ", ".join(sorted({type(m).__name__ for m in net.modules() if m is not net}))
            hint = " (is there a grouped conv?)" if any(getattr(m, "groups", 1) > 1 for m in net.modules()) else ""
            return False, (f"on test net {i + 1} (layers: {kinds}) with input {shape} your count is {got!r}, "
                           f"PyTorch's FLOP counter says something else{hint}")
    for _, m in (pair for net, _ in _mac_nets() for pair in net.named_modules()):
        if m._forward_hooks:
            return False, "your function leaves hooks on the net: remove them when you are done"
    return True, "it agrees with PyTorch's FLOP counter (FLOPs / 2) on 3 nets you had not seen, grouped convs included."


def _model_count_macs(net: nn.Module, input_shape: tuple[int, int, int]) -> int:
    total = []

    def hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        if isinstance(m, nn.Conv2d):
            total.append(out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, nn.Linear):
            total.append(out.numel() * m.in_features)

    handles = [m.register_forward_hook(hook) for m in net.modules()]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return sum(total)


def _wrong_count_macs(net: nn.Module, input_shape: tuple[int, int, int]) -> int:  # forgets groups
    total = []
    handles = [m.register_forward_hook(lambda m, i, o: total.append(
        o.numel() * (m.in_channels * m.kernel_size[0] * m.kernel_size[1] if isinstance(m, nn.Conv2d)
                     else m.in_features))) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    return sum(total)


add(Exercise(
    id="13.4", kind="code",
    question="Complete count_macs(net, input_shape): the multiply-accumulates of all Conv2d and Linear layers of net "
             "for one image of input_shape = (C, H, W), measured with forward hooks.",
    judge=_judge_count_macs,
    hints=("register_forward_hook gives you each layer's output: each output number is one dot product.",
           "A Conv2d's dot products have (in_channels / groups) * kH * kW terms; a Linear's, in_features.",
           "Run one zero image of shape (1, C, H, W) under torch.no_grad(), then remove the hooks."),
    solution=("def count_macs(net, input_shape):\n"
              "    total = []\n"
              "    def hook(m, inputs, out):\n"
              "        if isinstance(m, nn.Conv2d):\n"
              "            total.append(out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])\n"
              "        elif isinstance(m, nn.Linear):\n"
              "            total.append(out.numel() * m.in_features)\n"
              "    handles = [m.register_forward_hook(hook) for m in net.modules()]\n"
              "    with torch.no_grad():\n"
              "        net.eval()(torch.zeros(1, *input_shape))\n"
              "    for h in handles:\n"
              "        h.remove()\n"
              "    return sum(total)"),
    model=_model_count_macs, wrong=_wrong_count_macs,
))

# ----------------------------------------------------------------------------------------------------------
# 13.5: explain degradation
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="13.5", kind="explain",
    question="The 26-layer plain net ends with a higher *training* loss than the 6-layer one. Why is that not "
             "overfitting, why is it surprising, and what does a residual connection change?",
    judge=None,
    hints=("Overfitting means a low training loss and a high validation loss. Which loss is high here?",
           "The deeper net could copy the shallow one and set its extra layers to the identity. Is the identity easy "
           "for conv-BN-ReLU layers to learn? What is it for a block computing F(x) + x?"),
    solution=("Overfitting would show a *lower* training loss than the shallow net; here the deep plain net fits its own "
              "training data worse, so the optimiser fails to find a solution that exists (the shallow net plus "
              "identity layers). A residual block computes F(x) + x: doing nothing is F = 0, the easiest thing to "
              "learn, and the gradient reaches early layers through the shortcuts unchanged, so depth stops hurting "
              "the fit."),
))
