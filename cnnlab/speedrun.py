"""How fast can a CNN learn? Training recipes as settings for `fit`, and an honest clock for time to accuracy.

A `Recipe` is everything that decides how a run trains: the network's width, epochs, batch size, optimiser, schedule,
label smoothing, augmentation. `DEFAULT` is what the course's notebooks do; `SPEEDRUN` is the fastest recipe found in
notebook 14, one trick at a time. Any notebook can use it through the same `fit`::

    net = SPEEDRUN.model()
    fit(net, (X, y), num_epochs=SPEEDRUN.epochs, **SPEEDRUN.fit_settings(net, len(X)), **split.norm)

`TestAccuracy` evaluates after every epoch and keeps its own time, so `train_seconds` gives the clock of training
alone (evaluation excluded, as the published speedruns count it; loading the data from disk is not counted either).
Used by notebook 14 and `make bench` (`cnnlab.bench`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab.models import small_cnn
from cnnlab.runtime import set_seed
from cnnlab.train import Callback, History, TensorLoader, evaluate, fit, random_hflip
from cnnlab.validation import check_bool, check_choice, check_device, check_float, check_int, check_module, check_tensor

__all__ = ["Recipe", "DEFAULT", "SPEEDRUN", "TestAccuracy", "train_seconds", "seconds_to", "run_recipe"]

SCHEDULES = ("constant", "onecycle")


@dataclass(frozen=True)
class Recipe:
    """How a run trains `small_cnn(width=width, stem=stem)`; `dataclasses.replace(recipe, lr=0.1)` changes one thing.

    >>> Recipe(width=16, epochs=2).model()[0][0]
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
    """

    width: int = 32
    stem: str = "pool"
    epochs: int = 2
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        check_int("width", self.width, ge=1)
        check_choice("stem", self.stem, ("pool", "patch"))
        check_int("epochs", self.epochs, ge=1)
        check_int("batch_size", self.batch_size, ge=1)
        check_float("lr", self.lr, gt=0)
        check_float("momentum", self.momentum, ge=0, lt=1)
        check_bool("nesterov", self.nesterov)
        check_float("weight_decay", self.weight_decay, ge=0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_float("label_smoothing", self.label_smoothing, ge=0, lt=1)
        check_bool("flip", self.flip)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum 0")

    def model(self) -> nn.Module:
        """A fresh `small_cnn` of this recipe's width and stem (seed first: `set_seed`)."""
        return small_cnn(width=self.width, stem=self.stem)

    def fit_settings(self, net: nn.Module, n_train: int) -> dict:
        """`fit`'s keyword arguments for `net` trained on `n_train` examples: optimizer, scheduler, loss, batches."""
        check_module("net", net)
        n_train = check_int("n_train", n_train, ge=1)
        optimizer = torch.optim.SGD(net.parameters(), lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                                    weight_decay=self.weight_decay)
        scheduler = None
        if self.schedule == "onecycle":  # warm up to lr over the first 30% of the steps, then anneal to ~0
            steps = self.epochs * math.ceil(n_train / self.batch_size)
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=steps)
        return dict(optimizer=optimizer, scheduler=scheduler, step_scheduler="batch", batch_size=self.batch_size,
                    loss_fn=nn.CrossEntropyLoss(label_smoothing=self.label_smoothing),
                    augment=random_hflip if self.flip else None)


# The course's notebooks: small_cnn, plain SGD with momentum 0.9 at a constant learning rate, batches of 128.
DEFAULT = Recipe()
# Notebook 14's winner on a 2-core CPU: a one-cycle schedule, label smoothing, Nesterov momentum and weight decay, and
# a smaller net (half the width, a 2x2 stride-2 stem: a quarter of the FLOPs per image, fewer full-size layers);
# batches stay at 128. Chosen on seed 0 of the full training set among the runs tried (widths 16 and 20, stems 3x3 +
# pool and 2x2 stride 2, 2-3 epochs, rates 0.1 and 0.2, batch 128; on 1 CPU thread the patch stem trained 7,200
# images/s against 5,000 at width 16, and reached 90.1% after 3 epochs); notebook 14's full profile runs its ladder
# over 3 seeds.
SPEEDRUN = Recipe(width=16, stem="patch", epochs=3, batch_size=128, lr=0.1, nesterov=True, weight_decay=5e-4,
                  schedule="onecycle", label_smoothing=0.1)


class TestAccuracy(Callback):
    """After every epoch: accuracy on `(X, y)` (normalised like the training data), and the seconds that took.

    `seconds` lets `train_seconds` stop the clock while the test set is evaluated.
    """

    __test__ = False  # a callback, not a pytest test class

    def __init__(self, X: torch.Tensor, y: torch.Tensor, *, mean: float | None = None, std: float | None = None,
                 batch_size: int = 1000) -> None:
        check_tensor("X", X, ndim=4)
        check_tensor("y", y, ndim=1, dtype="int")
        if len(X) != len(y):
            raise ValueError(f"X and y must hold as many examples, got {len(X)} images and {len(y)} labels")
        self.X, self.y, self.mean, self.std = X, y, mean, std
        self.batch_size = check_int("batch_size", batch_size, ge=1)
        self.accuracy: list[float] = []
        self.seconds: list[float] = []

    def on_epoch_end(self, net: nn.Module, history: History) -> None:
        start = time.perf_counter()
        device = next(net.parameters()).device
        loader = TensorLoader(self.X, self.y, self.batch_size, mean=self.mean, std=self.std, device=device)
        self.accuracy.append(evaluate(net, loader, device=device)[1])
        if device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds.append(time.perf_counter() - start)


def train_seconds(history: History, test: TestAccuracy) -> list[float]:
    """Seconds of training (fit's clock minus the test evaluations before it) at the end of each epoch."""
    if not isinstance(history, History) or not isinstance(test, TestAccuracy):
        raise TypeError(f"history must be a History and test a TestAccuracy, got {type(history).__name__} and "
                        f"{type(test).__name__}")
    if len(test.seconds) != len(history.time):
        raise ValueError(f"test evaluated {len(test.seconds)} epochs but history has {len(history.time)}: pass the "
                         f"same TestAccuracy to fit's callbacks")
    return [t - sum(test.seconds[:i]) for i, t in enumerate(history.time)]


def seconds_to(target: float, seconds: list[float], accuracy: list[float]) -> float:
    """Training seconds at the end of the first epoch whose accuracy reached `target`; nan if none did.

    >>> seconds_to(0.9, [10.0, 20.0, 30.0], [0.85, 0.91, 0.92])
    20.0
    """
    target = check_float("target", target, gt=0, le=1)
    if len(seconds) != len(accuracy):
        raise ValueError(f"seconds and accuracy must have one entry per epoch, got {len(seconds)} and {len(accuracy)}")
    return next((s for s, a in zip(seconds, accuracy) if a >= target), float("nan"))


def run_recipe(recipe: Recipe, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor], *,
               mean: float, std: float, seed: int = 0, device: torch.device | str | None = None,
               progress: bool = False) -> dict:
    """Train `recipe` on `train` with `fit`, test after every epoch; per epoch: accuracy and training seconds."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a cnnlab.speedrun.Recipe, got {type(recipe).__name__}")
    seed = check_int("seed", seed, ge=0)
    device = check_device("device", device)
    set_seed(seed)
    net = recipe.model()
    tester = TestAccuracy(*test, mean=mean, std=std)
    history = fit(net, train, num_epochs=recipe.epochs, **recipe.fit_settings(net, len(train[1])), mean=mean, std=std,
                  callbacks=[tester], device=device, seed=seed, progress=progress)
    return {"accuracy": tester.accuracy, "seconds": train_seconds(history, tester), "net": net}
