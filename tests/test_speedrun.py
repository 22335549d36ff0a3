"""cnnlab.speedrun: recipes as fit settings, the clock that leaves out evaluation, and the speedrun's claim at a small
size over seeds (notebook 14 makes it on more data; `make bench` times it on the whole of Fashion-MNIST)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cnnlab.data import load_split
from cnnlab.speedrun import DEFAULT, SPEEDRUN, Recipe, TestAccuracy, run_recipe, seconds_to, train_seconds
from cnnlab.train import History


def training_flops(net: torch.nn.Module) -> int:
    """PyTorch's own count of one training image's forward and backward."""
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 28, 28)).sum().backward()
    return counter.get_total_flops()


def test_the_speedrun_does_a_quarter_of_the_work_per_image_or_less():
    torch.manual_seed(0)
    assert training_flops(SPEEDRUN.model()) <= training_flops(DEFAULT.model()) / 3.5


def test_fit_settings_are_what_the_recipe_says():
    net = SPEEDRUN.model()
    s = SPEEDRUN.fit_settings(net, n_train=1000)
    group = s["optimizer"].param_groups[0]
    assert isinstance(s["optimizer"], torch.optim.SGD) and group["nesterov"] and group["weight_decay"] == 5e-4
    assert isinstance(s["scheduler"], torch.optim.lr_scheduler.OneCycleLR)
    assert s["scheduler"].total_steps == SPEEDRUN.epochs * 8  # 1000 images in batches of 128: 8 steps per epoch
    assert s["loss_fn"].label_smoothing == 0.1 and s["batch_size"] == 128
    plain = DEFAULT.fit_settings(DEFAULT.model(), n_train=10)
    assert plain["scheduler"] is None and plain["augment"] is None and plain["loss_fn"].label_smoothing == 0


@pytest.mark.parametrize("change, error, message", [
    (dict(schedule="cosine"), ValueError, "schedule must be one of"),
    (dict(width=0), ValueError, "width must be a positive int"),
    (dict(lr=float("nan")), ValueError, "lr must be a finite number > 0"),
    (dict(label_smoothing=1.0), ValueError, "label_smoothing must be"),
    (dict(flip=1), TypeError, "flip must be True or False"),
    (dict(momentum=0.0, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
])
def test_a_bad_recipe_is_refused(change, error, message):
    with pytest.raises(error, match=message):
        dataclasses.replace(DEFAULT, **change)


def test_the_clock_leaves_out_the_test_evaluations():
    history, test = History(), TestAccuracy(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.int64))
    for epoch, (t, spent) in enumerate([(5.0, 1.0), (11.0, 2.0), (20.0, 1.5)], start=1):
        history.add(epoch, 0.1, t, (1.0, 0.5), None)
        test.seconds.append(spent)
    assert train_seconds(history, test) == [5.0, 10.0, 17.0]
    assert seconds_to(0.9, [5.0, 10.0, 17.0], [0.8, 0.9, 0.95]) == 10.0
    assert math.isnan(seconds_to(0.99, [5.0, 10.0, 17.0], [0.8, 0.9, 0.95]))
    test.seconds.pop()
    with pytest.raises(ValueError, match="same TestAccuracy"):
        train_seconds(history, test)


def test_run_recipe_tests_after_every_epoch_and_its_clock_runs_forward():
    split = load_split("fashion-mnist", 600, 0, 300)
    recipe = dataclasses.replace(SPEEDRUN, width=4, epochs=2, batch_size=128)
    out = run_recipe(recipe, (split.X_train, split.y_train), (split.X_test, split.y_test), seed=0, **split.norm)
    assert len(out["accuracy"]) == 2 and 0 < out["seconds"][0] < out["seconds"][1]
    # the accuracy it reports is the net's accuracy on the test images, computed here independently
    x = (split.X_test.float() / 255 - split.norm["mean"]) / split.norm["std"]
    with torch.no_grad():
        mine = (out["net"].eval()(x).argmax(1) == split.y_test).float().mean().item()
    assert mine == pytest.approx(out["accuracy"][-1], abs=1e-6)


@pytest.mark.parametrize("seed", [11, 12])  # notebook 14 shows seed 0 (quick) and 0-2 (full)
def test_notebook_14s_claims_hold_on_other_seeds(seed):
    """Notebook 14's checked sentences at its quick size (4,000 images, 2 epochs), with its own margin of 2 points:
    the speedrun recipe is not less accurate than the default (its 'lower' needs a drop of more than 0.02); batches
    of 512 at the same rate end lower ('lowered': more than 0.02 below); scaling their rate x4 diverges (below 0.3,
    where chance is 0.1). The one-cycle schedule's effect is not claimed: on these seeds at this size it went
    +0.3 and -8.8 points at 3,000 images, -1.1 and +2.1 at 4,000 (the notebook prints it as unchecked)."""
    split = load_split("fashion-mnist", 4000, 0, 2000)
    train, test = (split.X_train, split.y_train), (split.X_test, split.y_test)

    def final(recipe):
        return run_recipe(dataclasses.replace(recipe, epochs=2), train, test, seed=seed, **split.norm)["accuracy"][-1]

    default, fast = final(DEFAULT), final(SPEEDRUN)
    big_batch = final(dataclasses.replace(SPEEDRUN, batch_size=512))
    scaled = final(dataclasses.replace(SPEEDRUN, batch_size=512, lr=4 * SPEEDRUN.lr))
    assert fast > default - 0.02
    assert big_batch < fast - 0.02
    assert scaled < 0.3
