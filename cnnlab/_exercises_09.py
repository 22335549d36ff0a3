"""The exercises of notebook 09 (transfer learning): predictions of trainable-parameter counts after replacing a head
and freezing, a function that puts a partly frozen network in train mode without letting frozen BatchNorm statistics
drift (checked on small random networks the notebook never shows), three explain questions, and a prediction about
PCA lighting noise on grey photos."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution

# ----------------------------------------------------------------------------------------------------------
# 09.1: MobileNetV2 as a feature extractor for 5 classes
# ----------------------------------------------------------------------------------------------------------
_FEATURES, _MOBILENET_TOTAL_2 = 1280, 2_226_434  # MobileNetV2's feature width; its parameters with a 2-class head
_HEAD_5 = _FEATURES * 5 + 5

add(Exercise(
    id="09.1", kind="predict",
    question="MobileNetV2 with replace_head(net, num_classes=5), then freeze(net): how many trainable parameters?",
    judge=number_judge(_HEAD_5, {
        _HEAD_5: "only the new head trains: 1280 weights per class plus one bias per class.",
        _FEATURES * 5: "the new head also has one bias per class",
        _FEATURES + 5: "the head has one weight per (feature, class) pair",
        _FEATURES * 2 + 2: "that is the notebook's 2-class head; this one has 5 classes",
        _MOBILENET_TOTAL_2 - (_FEATURES * 2 + 2) + _HEAD_5: "that counts the frozen body too; freeze leaves only "
                                                            "the head trainable",
        3_504_872: "that is the original network with its 1000-class head, everything trainable",
    }, "parameters"),
    hints=("After freeze, only the head (the last nn.Linear) requires a gradient.",
           "MobileNetV2's head sees a 1280-number feature vector.",
           "A Linear(in, out) layer has in * out weights and out biases."),
    solution="6405 = 1280 * 5 weights + 5 biases: nn.Linear(1280, 5). The other 2.2 M parameters are frozen.",
    model=_HEAD_5, wrong=_FEATURES * 5,
))

# ----------------------------------------------------------------------------------------------------------
# 09.2: a careless freeze that forgets BatchNorm
# ----------------------------------------------------------------------------------------------------------


def _net_09_2() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4))


def _counts_09_2() -> dict[str, int]:
    net = _net_09_2()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            m.requires_grad_(False)
    bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    return {"trainable": sum(p.numel() for p in net.parameters() if p.requires_grad),
            "all": sum(p.numel() for p in net.parameters()),
            "bn_params": sum(p.numel() for m in bn for p in m.parameters()),
            "bn_float_buffers": sum(b.numel() for m in bn for b in (m.running_mean, m.running_var)),
            "bn_counters": len(bn),
            "head": sum(p.numel() for p in net[-1].parameters())}


_C = _counts_09_2()

add(Exercise(
    id="09.2", kind="predict",
    question="In the notebook's small net (two bias-free 3x3 convs with 8 and 16 channels, each followed by "
             "BatchNorm2d, then Linear(16, 4)), every nn.Conv2d is frozen with requires_grad_(False). How many "
             "parameters are still trainable?",
    judge=number_judge(_C["trainable"], {
        _C["trainable"]: "the head (16 * 4 + 4) and the BatchNorm layers' weight and bias (2 per channel), which "
                         "this freeze forgot.",
        _C["head"]: "BatchNorm layers have parameters too (a weight and a bias per channel), and this freeze only "
                    "touched the convolutions",
        _C["trainable"] + _C["bn_float_buffers"]: "the running mean and variance are buffers, not parameters: "
                                                  "they get no gradient and the optimizer never sees them",
        _C["trainable"] + _C["bn_float_buffers"] + _C["bn_counters"]: "running mean, variance and the batch "
                                                                      "counter are buffers, not parameters",
        _C["head"] - 4: "the Linear layer has a bias too",
        _C["all"]: "that counts the frozen convolutions too",
        _C["bn_params"]: "the head is still trainable too",
    }, "parameters"),
    hints=("Only nn.Conv2d modules were frozen; what else has parameters?",
           ("A BatchNorm2d(C) layer has 2 * C parameters (gamma and beta) and 2 * C buffers (running mean and "
           "variance); buffers are not parameters."),
           "Add the Linear(16, 4) layer's weights and biases."),
    solution=f"{_C['trainable']} = Linear(16, 4): 16 * 4 + 4 = 68, plus BatchNorm2d(8) and BatchNorm2d(16): "
             f"2 * 8 + 2 * 16 = 48. The running statistics are buffers, not parameters — and they are the other "
             f"half of the trap: in train mode they still change. Build it and check with transfer.count_trainable.",
    model=_C["trainable"], wrong=_C["head"],
))

# ----------------------------------------------------------------------------------------------------------
# 09.3: train mode with frozen BatchNorm kept in eval
# ----------------------------------------------------------------------------------------------------------


def _model_set_train_mode(net: nn.Module) -> nn.Module:
    net.train()
    for m in net.modules():
        params = list(m.parameters())
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and params and not any(p.requires_grad for p in params):
            m.eval()
    return net


def _random_nets(seed: int, count: int) -> list[nn.Module]:
    """Small partly frozen nets with BatchNorm (2-D and 1-D), Dropout and nesting: the learner has not seen them."""
    g = torch.Generator().manual_seed(seed)
    nets = []
    for k in range(count):
        c, blocks = int(torch.randint(2, 6, (1,), generator=g)), []
        for _ in range(int(torch.randint(2, 5, (1,), generator=g))):
            blocks.append(nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                                        nn.Dropout2d(0.1)))
        head = nn.Sequential(nn.Flatten(), nn.Linear(c * 4, 6), nn.BatchNorm1d(6), nn.Dropout(0.2), nn.Linear(6, 3))
        net = nn.Sequential(nn.Sequential(*blocks), nn.AdaptiveAvgPool2d(2), head)
        frozen = int(torch.randint(1, len(blocks) + 1, (1,), generator=g))
        for block in blocks[:frozen]:  # the first blocks frozen, as freeze(net, up_to=...) would
            block.requires_grad_(False)
        if k % 2:  # and sometimes the head's BatchNorm too
            head[2].requires_grad_(False)
        net.train(k % 3 == 0)  # handed over in either mode
        nets.append(net)
    return nets


def _is_frozen_bn(m: nn.Module) -> bool:
    params = list(m.parameters())
    return isinstance(m, nn.modules.batchnorm._BatchNorm) and bool(params) and not any(p.requires_grad for p in params)


def _judge_set_train_mode(fn: Any) -> Feedback:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    for net in _random_nets(seed=9, count=6):
        grads = [p.requires_grad for p in net.parameters()]
        got = fn(net)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return net"
        if got is not net:
            return False, "return the same net, changed in place (not a copy)"
        if [p.requires_grad for p in net.parameters()] != grads:
            return False, "you changed which parameters are frozen; only the train/eval modes should change"
        frozen_bn = [m for m in net.modules() if _is_frozen_bn(m)]
        trainable_bn = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                        and not _is_frozen_bn(m)]
        others = [m for m in net.modules() if not isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if any(m.training for m in frozen_bn):
            return False, ("a frozen BatchNorm layer is in train mode: its running mean and variance would move "
                           "at the next forward pass, although its weights are frozen")
        if not any(m.training for m in net.modules()):
            return False, ("the whole net is in eval mode: Dropout is off and the trainable BatchNorm layers stop "
                           "learning their statistics; only frozen BatchNorm layers go to eval")
        if any(not m.training for m in others):
            return False, ("some layers (Dropout, Linear, ...) are not in train mode: put the whole net in train "
                           "mode first, then only the frozen BatchNorm layers back to eval")
        if any(not m.training for m in trainable_bn):
            return False, ("a BatchNorm layer whose parameters train is in eval mode: only the frozen ones "
                           "should keep their statistics")
        stats = [m.running_mean.clone() for m in frozen_bn]
        with torch.no_grad():
            net(torch.randn(4, net[0][0][0].in_channels, 5, 5))
        if any(not torch.equal(a, m.running_mean) for a, m in zip(stats, frozen_bn)):
            return False, "a frozen BatchNorm layer's running mean changed during a forward pass"
    return True, ("on 6 partly frozen nets, frozen BatchNorm layers stay in eval mode and keep their statistics; "
                  "everything else trains.")


add(Exercise(
    id="09.3", kind="code",
    question="Complete set_train_mode(net): put the net in train mode, except BatchNorm layers whose parameters "
             "are all frozen, which go to eval mode; return net.",
    judge=_judge_set_train_mode,
    hints=("net.train() sets every module to train mode; then walk net.modules().",
           ("A frozen BatchNorm layer: isinstance(m, nn.modules.batchnorm._BatchNorm) and none of its parameters "
           "requires a gradient."),
           "Put only those back with m.eval(); Dropout and trainable BatchNorm layers stay in train mode."),
    solution=("def set_train_mode(net):\n"
              "    net.train()\n"
              "    for m in net.modules():\n"
              "        params = list(m.parameters())\n"
              "        if (isinstance(m, nn.modules.batchnorm._BatchNorm) and params\n"
              "                and not any(p.requires_grad for p in params)):\n"
              "            m.eval()\n"
              "    return net"),
    model=_model_set_train_mode,
    wrong=lambda net: net.train(),
))

# ----------------------------------------------------------------------------------------------------------
# 09.4 - 09.6: explain
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="09.4", kind="explain",
    question="Section 11's augmentation pipeline made the from-scratch CNN worse after 10 epochs. Why can "
             "augmentation hurt on a short budget, and what should change with 30 epochs?",
    judge=None,
    hints=("Augmentation is a regulariser: it fights overfitting. Was the plain CNN overfitting after 10 epochs?",
           "What does a random-resized crop keeping a quarter of a 32 px patch leave of a photo's texture?"),
    solution=("Augmentation makes the training task harder so that the net cannot memorise its 50 patches; it pays "
              "off once the plain net overfits. After 10 epochs the plain CNN is still learning (it underfits rather "
              "than overfits), so the extra variety only slows it down. And the crops are aggressive for this task: "
              "a quarter of a 32 px patch, blown up to full size, has a different texture scale than the test "
              "patches, and colour jitter changes the colour cues that tell the photos apart. With 30 epochs the "
              "plain net starts to overfit and the pipeline's variety can win back part of its cost; how much is an "
              "experiment (three seeds), and milder settings, e.g. scale=(0.5, 1.0) and less jitter, suit small "
              "patches better."),
))

add(Exercise(
    id="09.5", kind="explain",
    question="With 100 labelled faces, a linear layer on ImageNet features reaches about 0.97 accuracy while the "
             "same MobileNetV2 trained from random weights stays near chance. Explain both results.",
    judge=None,
    hints=("Count what each strategy must learn, and from how many examples.",
           "Look at the PCA plot of section 6: how are the classes arranged in the ImageNet features?"),
    solution=("The pretrained body already turns an image into 1280 numbers that describe edges, textures and "
              "object parts; faces and non-faces lie apart in that space (section 6's PCA separates them along the "
              "first direction), so a linear layer with 2,562 parameters can be fitted from 100 examples. From "
              "scratch, 2.2 M parameters must learn those features from the same 100 images in a few epochs: far "
              "too little data and time, and through 17 blocks with fresh BatchNorm statistics the random "
              "features carry almost no signal (axis scale ~1e-8), so the net stays near chance. The pretrained "
              "weights are a far better starting point than random ones."),
))

add(Exercise(
    id="09.6", kind="explain",
    question="Why did the lectures' fine-tuning recipe (body at 1/10 of the head's lr, StepLR after 7 epochs) tie on "
             "photo patches but lose on Fashion-MNIST in section 10?",
    judge=None,
    hints=("How much does a body at lr / 10 move in 10 epochs, with a further cut after epoch 7?",
           "Which task needs the pretrained features to change more?"),
    solution=("The small body lr protects the pretrained features: it is the right choice when they already fit "
              "the target, as for photo patches, which look like ImageNet, so the recipe and the same-lr run tie. "
              "Fashion-MNIST (grey clothes on black, upsampled from 28 px) is far from ImageNet: the late blocks "
              "must adapt, and at 1/10 of the rate, cut by another 10x after epoch 7, they barely move in 10 epochs, "
              "so the same lr wins on every seed. The body lr factor is a hyperparameter that depends on how close "
              "the target is to the source task, not a free win."),
))


# ----------------------------------------------------------------------------------------------------------
# 09.7: predict (PCA lighting noise, section 5)
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="09.7", kind="predict",
    question="A training set of grey photos stored as RGB (R = G = B at every pixel): how many of the three "
             "eigenvalues of its RGB covariance are non-zero?",
    judge=number_judge(1, {
        1: "every pixel lies on the grey line (1, 1, 1): all the variance is along that one direction, so PCA "
           "lighting can only make such photos lighter or darker, never tint them.",
        3: "three channels give three eigenvalues, but they need not all be non-zero: along which directions do "
           "grey pixels actually vary?",
        0: "the photos are not all one shade: their pixels vary, so some direction carries variance",
        2: "with R = G = B, moving along any direction other than (1, 1, 1) would make a pixel coloured"}, "eigenvalues"),
    hints=("An eigenvalue of the covariance is the variance of the pixels along its eigenvector.",
           "Every grey pixel is a multiple of (1, 1, 1). Along which directions can such pixels differ?",
           "The covariance of grey pixels is var * [[1, 1, 1], [1, 1, 1], [1, 1, 1]]: what is its rank?"),
    solution="1. Grey pixels (g, g, g) vary only along (1, 1, 1) / sqrt(3); the covariance var(g) * ones(3, 3) has "
             "rank 1: eigenvalue 3 var(g) along grey and 0, 0 across it. PCA lighting then shifts every image only "
             "along grey, lighter or darker (tests/test_train.py checks this with cnnlab.train.pca_lighting).",
    model=1, wrong=3,
))
