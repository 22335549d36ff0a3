"""The exercises of notebook 00 (start here): the course's data and conventions — the number of classes, the shape
of a batch, what `CNNLAB_PROFILE` chooses — and one explain about the printed claims the tests re-check."""

from __future__ import annotations

from typing import Any

import torch

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _judge_batch_shape(answer: Any) -> Feedback:
    """(N, C, H, W) of a batch of 64 Fashion-MNIST images; names the usual slips without printing the shape."""
    if not isinstance(answer, (tuple, list, torch.Size)) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in answer):
        return False, f"write the shape as a tuple of ints (N, C, H, W), got {answer!r}"
    shape = tuple(answer)
    if shape == (64, 1, 28, 28):
        return True, "(batch, channels, height, width): 64 grayscale images of 28x28 pixels, channels first."
    if shape in ((64, 28, 28), (28, 28)):
        return False, ("the channel axis is missing: in PyTorch even a grayscale image has a channel axis, "
                       "and a batch is (N, C, H, W)")
    if shape in ((64, 28, 28, 1), (64, 28, 1, 28)):
        return False, "PyTorch puts the channels before height and width: (N, C, H, W), not channels last"
    if len(shape) == 2 and shape[0] == 64:
        return False, "the loader does not flatten the images: each keeps its channel, height and width axes"
    if len(shape) == 3 and shape[1:] == (28, 28):
        return False, "that is one image (C, H, W); a batch adds a leading axis for the images"
    if len(shape) != 4:
        return False, f"a batch of images has 4 axes (N, C, H, W), you wrote {len(shape)}"
    N, C, H, W = shape
    if (C, H, W) == (3, 28, 28):
        return False, "Fashion-MNIST is grayscale, not RGB: count its channels again"
    if (H, W) != (28, 28):
        return False, "the height and width are not right: what size are Fashion-MNIST images?"
    if (C, H, W) != (1, 28, 28):
        return False, "the number of channels is not right: Fashion-MNIST images are grayscale"
    if N in (10_000, 60_000):
        return False, "the first axis counts the images in one batch, not in the whole dataset"
    return False, "the first axis is the number of images in one batch: look at the DataLoader's batch_size"


add(Exercise(
    id="00.1", kind="predict",
    question="How many classes does Fashion-MNIST have?",
    judge=number_judge(10, {10: "T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag and ankle "
                                "boot: the labels run from 0 to 9.",
                            9: "the labels run from 0 up to 9: count them, label 0 included",
                            784: "that is the number of pixels of one image, not of classes",
                            2: "Fashion-MNIST is not a binary task: look at the picture of one example per class"},
                       "classes"),
    hints=("The notebook draws one example of each class in a row.",
           "The labels are the integers 0, 1, ..., up to the largest label; count them, 0 included."),
    solution="10: T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot "
             "(FASHION_MNIST_CLASSES), labels 0-9 — the same number as MNIST's digits, which it was made to replace.",
    model=10, wrong=9,
))

add(Exercise(
    id="00.2", kind="predict",
    question="Shape of one image batch from DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)?",
    judge=_judge_batch_shape,
    hints=("X_train's shape is printed above: (number of images, channels, height, width).",
           "A DataLoader stacks batch_size images along a new first axis and keeps the other axes.",
           "Fashion-MNIST images are grayscale and 28x28."),
    solution="(64, 1, 28, 28): 64 images per batch, 1 channel (grayscale), 28x28 pixels. PyTorch's convolutions "
             "expect (N, C, H, W), channels first; a single image is (1, 28, 28).",
    model=(64, 1, 28, 28), wrong=(64, 28, 28),
))

add(Exercise(
    id="00.3", kind="predict",
    question="On a machine with a GPU, JupyterLab was started with CNNLAB_PROFILE=quick. What does "
             "PROFILE.pick(quick=2, full=10) return?",
    judge=number_judge(2, {2: "CNNLAB_PROFILE wins over the device: it says quick, so pick returns the quick value. "
                              "Without it the GPU would choose full.",
                           10: "the device only chooses the profile when CNNLAB_PROFILE is not set; here it is set"},
                       "epochs"),
    hints=("get_profile looks at its argument first, then at CNNLAB_PROFILE, and only then at the device.",
           "pick returns its quick value in the quick profile and its full value in the full one."),
    solution="2: an explicit CNNLAB_PROFILE wins over the device's default (quick on a CPU, full on a GPU), so the "
             "profile is quick and pick returns quick=2. The code is the same on every machine; only the sizes change.",
    model=2, wrong=10,
))

add(Exercise(
    id="00.4", kind="explain",
    question="Why do the notebooks print claims such as 'validation accuracy ... is far above chance (> 50%): True' "
             "instead of the accuracy itself, and why are cells like the version table marked NBVAL_IGNORE_OUTPUT?",
    judge=None,
    hints=("The tests re-run every notebook and compare the outputs with the ones saved in it.",
           "Which outputs differ from one machine, or one library version, to the next?"),
    solution=("The test suite (pytest --nbval) re-executes each notebook and compares every output with the one "
              "saved in it. Exact numbers (an accuracy, a timing, a version, a path) change from machine to machine "
              "and release to release, so they would make the tests fail for no reason — or tempt one to stop "
              "checking. A claim like '... > 50%: True' states what must hold everywhere, so it can be compared "
              "exactly: if training broke, it would print False and the test would fail. Cells whose output "
              "legitimately varies (versions, where the data was found, timings) are marked NBVAL_IGNORE_OUTPUT, "
              "and the claims after them check what matters."),
))
