"""The grader's test cases for hw4_cnn_project (instructors only: never hand this file out).

Each case sends inputs to the student's process, where its probe calls the student's code (or reads what the
notebook computed) and returns numbers or text; its check runs in the grader. Q3 sends Fashion-MNIST *test* images
(a seeded sample the notebook never loads) and keeps their labels here: the probe returns the predicted labels and
the check counts them. The main training run happens in the notebook's own cells, which the grader re-runs in the
sandbox (each cell under the cell time limit); its CPU-time budget is checked twice: `train` is called here with
a 2-second budget, and the run's own history must report at most BUDGET_S.

Automatic: 20 points. By the instructor (not in CASES): 6 more, with this rubric.

* Q4, written diagnosis (3): the label matches the curves and is argued from them (the gap between training and
  validation loss, their trend over the last epochs) (1); the best epoch is named and explained (validation loss
  lowest there; with a schedule that anneals, often one of the last epochs) (1); one concrete change for twice the
  budget that follows from the diagnosis (1).
* Q5, written conclusion (3): the regulariser and the means and spreads over the three seeds are stated from the
  table (1); the difference is compared with the seed-to-seed spread, and the answer says whether three seeds are
  enough to call it (1); a reason from notebook 11 why it helped or not on 1,500 images and a few epochs (little
  overfitting yet, regularisation slows early training) (1).

What the grader cannot check: Fashion-MNIST is public. The sandbox hides every copy of its test split the course
knows (`tools.assignments.HELD_OUT_DATA`: `data/fashion-mnist/t10k-*` read as empty, `/usr/share/datasets/fashion-mnist`
and `data/downloads` as empty folders; tests/test_grader_attacks.py checks it), but a submission could carry a table
of test images and labels pasted into the notebook; the instructor reads the code. Times measured inside the
student's process (`seconds` in the history, the probe's `time.process_time()`) could be forged by code that
patches `time`; the wall-clock limits per cell and case cannot.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from cnnlab.curves import LABELS
from cnnlab.data import load_fashion_mnist
from tools.assignments import Case

RNG = np.random.default_rng(20261204)  # every input below is drawn from this one generator, in order
BUDGET_S = 60.0  # the notebook's BUDGET_S: CPU seconds for the main run
STEPS = (0.80, 0.84, 0.87)  # held-out accuracy for 2, 4 and 6 points of Q3
HELDOUT_N = 5000  # test images the model is scored on: one accuracy step is 200 of them

_X_TEST, _Y_TEST = load_fashion_mnist("test")  # (10000, 1, 28, 28) uint8, (10000,) int64: the labels stay here
_HELDOUT = np.sort(RNG.choice(len(_Y_TEST), HELDOUT_N, replace=False))
HELDOUT_X = _X_TEST[_HELDOUT].numpy()  # sent to the student's process: images only
HELDOUT_Y = _Y_TEST[_HELDOUT].numpy()  # never sent
_X_TRAIN, _Y_TRAIN = load_fashion_mnist("train", 10_000)  # the shipped training images the notebook also uses


def _train_sample(n_train: int, n_val: int) -> dict[str, np.ndarray]:
    """n_train + n_val distinct training-split images (uint8) and labels, drawn from RNG."""
    idx = RNG.choice(len(_Y_TRAIN), n_train + n_val, replace=False)
    X, y = _X_TRAIN[idx].numpy(), _Y_TRAIN[idx].numpy()
    return {"X": X[:n_train], "y": y[:n_train], "Xv": X[n_train:], "yv": y[n_train:]}


# ----------------------------------------------------------------------------------------------- Q1 model


def probe_model_shape(ns, inputs):
    build_model = ns["build_model"]
    import torch
    torch.manual_seed(0)
    net = build_model()
    with torch.no_grad():
        scores = net.eval()(torch.from_numpy(inputs["X"]))
    return {"shape": list(scores.shape), "convs": sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())}


def probe_model_own(ns, inputs):
    build_model = ns["build_model"]
    import torch
    from unittest import mock

    import cnnlab.models

    def forbidden(*args, **kwargs):
        raise AssertionError("build_model must build the network from torch.nn layers, not cnnlab.models")

    builders = [name for name in cnnlab.models.__all__ if name not in ("leaf_layers", "forward_hooks")]
    patches = [mock.patch.object(cnnlab.models, name, forbidden) for name in builders]
    for p in patches:
        p.start()
    try:
        torch.manual_seed(0)
        plain, dropped = build_model(), build_model(dropout=0.5)
    finally:
        for p in patches:
            p.stop()
    with torch.no_grad():
        scores = plain.eval()(torch.from_numpy(inputs["X"]))
    return {"shape": list(scores.shape), "params": sum(p.numel() for p in plain.parameters()),
            "convs": sum(isinstance(m, torch.nn.Conv2d) for m in plain.modules()),
            "dropouts": [float(m.p) for m in dropped.modules() if isinstance(m, torch.nn.Dropout)]}


def check_model_shape(out, inputs):
    n = len(inputs["X"])
    assert out["shape"].tolist() == [n, 10], f"{n} images should give scores of shape ({n}, 10), got {out['shape'].tolist()}"
    assert int(out["convs"]) >= 1, "the network has no nn.Conv2d layer"


def check_model_own(out, inputs):
    check_model_shape(out, inputs)
    assert int(out["params"]) <= 1_000_000, f"the network has {int(out['params']):,} parameters, more than 1,000,000"
    assert 0.5 in out["dropouts"].tolist(), "build_model(dropout=0.5) has no nn.Dropout with p=0.5"


# ----------------------------------------------------------------------------------------------- Q2 training loop


def probe_history_format(ns, inputs):
    train, build_model = ns["train"], ns["build_model"]
    import torch
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    def norm(X):
        return (torch.from_numpy(X).float() / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD

    torch.manual_seed(0)
    h = train(build_model(), norm(inputs["X"]), torch.from_numpy(inputs["y"]), norm(inputs["Xv"]),
              torch.from_numpy(inputs["yv"]), seconds=30.0, max_epochs=1)
    return {"lengths": [len(h["train_loss"]), len(h["val_loss"]), len(h["val_acc"])],
            "best_epoch": h["best_epoch"], "seconds": h["seconds"]}


def check_history_format(out, inputs):
    assert out["lengths"].tolist() == [1, 1, 1], \
        f"one epoch should give one value in train_loss, val_loss and val_acc; got {out['lengths'].tolist()}"
    assert int(out["best_epoch"]) == 0, "with one epoch the best epoch is 0"
    assert 0 <= float(out["seconds"]) <= 30, "history['seconds'] should be the CPU seconds train used"


def probe_evaluate(ns, inputs):
    evaluate_model = ns["evaluate_model"]
    import torch
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(784, 10))
    with torch.no_grad():
        net[2].weight.copy_(torch.from_numpy(inputs["weight"]))
        net[2].bias.copy_(torch.from_numpy(inputs["bias"]))
    net.train()  # evaluate_model must switch to evaluation mode itself
    loss, acc = evaluate_model(net, torch.from_numpy(inputs["X"]), torch.from_numpy(inputs["y"]))
    return {"loss": float(loss), "acc": float(acc)}


def check_evaluate(out, inputs):
    logits = torch.from_numpy(inputs["X"]).flatten(1) @ torch.from_numpy(inputs["weight"]).T \
        + torch.from_numpy(inputs["bias"])
    y = torch.from_numpy(inputs["y"])
    loss, acc = F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()
    assert math.isclose(float(out["loss"]), loss, rel_tol=1e-4), \
        "the loss differs from the mean cross-entropy in evaluation mode (dropout off, mean over all images)"
    assert math.isclose(float(out["acc"]), acc, abs_tol=1e-9), "the accuracy differs: the fraction of argmax == y"


def probe_budget(ns, inputs):
    train, build_model = ns["train"], ns["build_model"]
    import time
    import torch
    from unittest import mock

    import cnnlab.train
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    def norm(X):
        return (torch.from_numpy(X).float() / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD

    def forbidden(*args, **kwargs):
        raise AssertionError("train must be written with torch.optim, not cnnlab.train's loop")

    X, y, Xv, yv = norm(inputs["X"]), torch.from_numpy(inputs["y"]), norm(inputs["Xv"]), torch.from_numpy(inputs["yv"])
    torch.manual_seed(1)
    net = build_model()
    with mock.patch.object(cnnlab.train, "fit", forbidden), mock.patch.object(cnnlab.train, "train_one_epoch", forbidden), \
            mock.patch.object(cnnlab.train, "evaluate", forbidden):
        start = time.process_time()
        h = train(net, X, y, Xv, yv, seconds=float(inputs["seconds"]), max_epochs=int(inputs["max_epochs"]))
        cpu = time.process_time() - start
    return {"cpu_s": cpu, "epochs": len(h["val_loss"])}


def check_budget(out, inputs):
    seconds, slack = float(inputs["seconds"]), float(inputs["slack"])
    assert float(out["cpu_s"]) <= seconds + slack, \
        f"train(seconds={seconds:g}) ran for {float(out['cpu_s']):.1f} CPU seconds: check the clock after every mini-batch"
    assert 1 <= int(out["epochs"]) < int(inputs["max_epochs"]), \
        "the budget should have stopped training before max_epochs, with at least one epoch recorded"


def probe_best_epoch(ns, inputs):
    train, build_model, evaluate_model = ns["train"], ns["build_model"], ns["evaluate_model"]
    import torch
    import torch.nn.functional as F
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD

    def norm(X):
        return (torch.from_numpy(X).float() / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD

    X, y, Xv, yv = norm(inputs["X"]), torch.from_numpy(inputs["y"]), norm(inputs["Xv"]), torch.from_numpy(inputs["yv"])
    torch.manual_seed(2)
    net = build_model()
    h = train(net, X, y, Xv, yv, seconds=30.0, max_epochs=int(inputs["max_epochs"]))
    net.eval()
    with torch.no_grad():
        final = F.cross_entropy(net(Xv), yv).item()
    return {"val_loss": h["val_loss"], "val_acc": h["val_acc"], "train_loss": h["train_loss"],
            "best_epoch": h["best_epoch"], "final_val_loss": final}


def check_best_epoch(out, inputs):
    val_loss, best = out["val_loss"].astype(np.float64), int(out["best_epoch"])
    assert len(val_loss) == int(inputs["max_epochs"]), f"{int(inputs['max_epochs'])} epochs should give as many values"
    assert np.isfinite(val_loss).all() and np.isfinite(out["train_loss"]).all(), "a loss is not finite"
    assert best == int(np.argmin(val_loss)), "best_epoch is not the epoch with the lowest validation loss"
    assert math.isclose(float(out["final_val_loss"]), float(val_loss[best]), rel_tol=1e-3, abs_tol=1e-5), \
        "after train the model does not hold the best epoch's weights: restore them before returning"
    assert float(out["val_acc"][best]) >= 0.6, "the best epoch's validation accuracy is below 0.6: does it learn?"


# ----------------------------------------------------------------------------------------------- Q3 held-out


def probe_heldout(ns, inputs):
    model, history = ns["model"], ns["history"]
    import torch
    from cnnlab.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
    X = (torch.from_numpy(inputs["X"]).float() / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
    model.eval()
    with torch.no_grad():
        labels = torch.cat([model(Xb).argmax(1) for Xb in X.split(1000)])
    return {"labels": labels, "seconds": float(history["seconds"])}


def _heldout_step(threshold: float):
    def check(out, inputs):
        labels = out["labels"]
        assert labels.shape == HELDOUT_Y.shape and labels.dtype.kind in "iu", \
            f"expected one integer label per test image ({HELDOUT_Y.shape[0]}), got {labels.dtype} of shape {labels.shape}"
        assert float(out["seconds"]) <= BUDGET_S + 5, \
            f"the main run's history reports {float(out['seconds']):.0f} CPU seconds, over the {BUDGET_S:g} s budget"
        acc = float((labels == HELDOUT_Y).mean())
        assert acc >= threshold, f"held-out accuracy {acc:.3f} is below this step ({threshold:.2f})"
    check.__name__ = f"check_heldout_{round(threshold * 100)}"
    return check


# ----------------------------------------------------------------------------------------------- Q4 curves


def probe_curves(ns, inputs):
    history, diagnosis = ns["history"], ns["diagnosis"]
    return {"train_loss": history["train_loss"], "val_loss": history["val_loss"], "val_acc": history["val_acc"],
            "best_epoch": history["best_epoch"], "diagnosis": str(diagnosis), "max_epochs": ns["MAX_EPOCHS"]}


def check_diagnosis_label(out, inputs):
    assert str(out["diagnosis"]) in LABELS, f"diagnosis must be one of {LABELS}"
    assert len(out["val_loss"]) >= 2, "a learning curve needs at least two epochs"


def check_curves_consistent(out, inputs):
    train_loss, val_loss, val_acc = (out[k].astype(np.float64) for k in ("train_loss", "val_loss", "val_acc"))
    assert len(train_loss) == len(val_loss) == len(val_acc) >= 2, "the history's lists should have one value per epoch"
    assert len(val_loss) <= int(out["max_epochs"]), "the history has more epochs than MAX_EPOCHS"
    assert np.isfinite(np.concatenate([train_loss, val_loss])).all() and (train_loss > 0).all() and (val_loss > 0).all(), \
        "the recorded losses must be finite positive cross-entropies"
    assert ((0 <= val_acc) & (val_acc <= 1)).all(), "validation accuracies must be fractions between 0 and 1"
    assert int(out["best_epoch"]) == int(np.argmin(val_loss)), \
        "the reported best epoch is not the one with the lowest recorded validation loss"


# ----------------------------------------------------------------------------------------------- Q5 ablation


def probe_ablation(ns, inputs):
    ablation, seeds = ns["ablation"], ns["SEEDS"]
    return {"without": [float(a) for a in ablation["without"]], "with": [float(a) for a in ablation["with"]],
            "seeds": [int(s) for s in seeds]}


def check_ablation_table(out, inputs):
    for setting in ("without", "with"):
        accs = out[setting].astype(np.float64)
        assert accs.shape == (3,), f"{setting!r} should hold one accuracy for each of 3 seeds"
        assert np.isfinite(accs).all() and ((0 <= accs) & (accs <= 1)).all(), "accuracies are fractions in [0, 1]"


def check_ablation_seeds(out, inputs):
    check_ablation_table(out, inputs)
    assert len(set(out["seeds"].tolist())) == 3, "SEEDS should hold three different seeds"
    assert any(len(set(out[s].tolist())) > 1 for s in ("without", "with")), \
        "the three seeds give identical accuracies in both settings: does ablation_run pass its seed to set_seed?"


def probe_ablation_repeat(ns, inputs):
    ablation_run, ablation, seeds = ns["ablation_run"], ns["ablation"], ns["SEEDS"]
    setting = ("without", "with")[int(inputs["setting"])]
    seed_index = int(inputs["seed_index"])
    return {"table": float(ablation[setting][seed_index]), "rerun": float(ablation_run(setting, int(seeds[seed_index])))}


def check_ablation_repeat(out, inputs):
    assert math.isclose(float(out["rerun"]), float(out["table"]), abs_tol=1e-6), \
        "re-running one of your ablation runs gave a different accuracy than your table: seed every run, and stop " \
        "it by max_epochs rather than by the clock"


# ----------------------------------------------------------------------------------------------- the cases


_SHAPE_X = RNG.standard_normal((5, 1, 28, 28)).astype(np.float32)
_OWN_X = RNG.standard_normal((7, 1, 28, 28)).astype(np.float32)
_EVAL = {"X": RNG.standard_normal((300, 1, 28, 28)).astype(np.float32),
         "weight": (RNG.standard_normal((10, 784)) * 0.05).astype(np.float32),
         "bias": RNG.standard_normal(10).astype(np.float32), "y": RNG.integers(0, 10, 300)}
_FORMAT = _train_sample(256, 256)
_BUDGET = _train_sample(1500, 300) | {"seconds": 2.0, "slack": 2.5, "max_epochs": 20}
_BEST = _train_sample(600, 500) | {"max_epochs": 8}
_REPEAT = {"setting": RNG.integers(0, 2), "seed_index": RNG.integers(0, 3)}

CASES = [
    Case("q1", "cnn_shape", 1, probe_model_shape, check_model_shape, inputs={"X": _SHAPE_X}, hidden=False),
    Case("q1", "own_small_cnn_with_dropout", 1, probe_model_own, check_model_own, inputs={"X": _OWN_X}),
    Case("q2", "history_format", 1, probe_history_format, check_history_format, inputs=_FORMAT, hidden=False),
    Case("q2", "evaluate_matches_torch", 1, probe_evaluate, check_evaluate, inputs=_EVAL),
    Case("q2", "stops_at_budget", 2, probe_budget, check_budget, inputs=_BUDGET),
    Case("q2", "keeps_best_epoch", 2, probe_best_epoch, check_best_epoch, inputs=_BEST),
    *[Case("q3", f"heldout_{round(t * 100)}", 2, probe_heldout, _heldout_step(t), inputs={"X": HELDOUT_X},
           hidden=(i > 0)) for i, t in enumerate(STEPS)],
    Case("q4", "diagnosis_label", 1, probe_curves, check_diagnosis_label, hidden=False),
    Case("q4", "curves_consistent", 1, probe_curves, check_curves_consistent),
    Case("q5", "ablation_table", 1, probe_ablation, check_ablation_table, hidden=False),
    Case("q5", "ablation_seeds_differ", 1, probe_ablation, check_ablation_seeds),
    Case("q5", "ablation_repeats", 2, probe_ablation_repeat, check_ablation_repeat, inputs=_REPEAT),
]
