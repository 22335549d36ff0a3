"""The exercises of notebook 12 (ensembles, distillation and model selection): predictions of search and
cross-validation counts, three functions to write (an ensemble's accuracy, the distillation loss, a hyperparameter
grid), checked against PyTorch and scikit-learn on inputs the notebook never shows, and one explain."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F

from cnnlab.exercises import Exercise, Feedback, add, number_judge

__all__ = []  # registered with cnnlab.exercises; used through check/hint/solution


def _not_callable(fn: Any) -> Feedback | None:
    if not callable(fn):
        return False, f"pass your function itself (without calling it), got {type(fn).__name__}"
    return None


def _as_number(got: Any) -> float | None:
    """A Python number or a one-element tensor as a float; None for anything else."""
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        return float(got.detach().reshape(()).item())
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return float(got)
    return None


# ----------------------------------------------------------------------------------------------------------
# 12.4: the ensemble's accuracy (average the probabilities, not the logits)
# ----------------------------------------------------------------------------------------------------------
def _ensemble_cases(seed: int, count: int) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
    """Members' (N, K) logits with different confidences (scales), and labels the members mostly get right."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for _ in range(count):
        M, N, K = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((2, 7), (40, 120), (3, 11)))
        y = torch.randint(0, K, (N,), generator=g)
        signal = F.one_hot(y, K).double() * 1.5
        logits = [(signal + torch.randn(N, K, generator=g, dtype=torch.float64)) *
                  float(torch.empty(1).uniform_(0.2, 6.0, generator=g)) for _ in range(M)]
        cases.append((logits, y))
    return cases


def _ensemble_truth(logits: list[torch.Tensor], y: torch.Tensor) -> float:
    return (torch.stack([z.softmax(dim=1) for z in logits]).mean(dim=0).argmax(dim=1) == y).double().mean().item()


def _ensemble_mistakes(logits: list[torch.Tensor], y: torch.Tensor) -> list[tuple[float, str]]:
    acc = lambda pred: (pred == y).double().mean().item()
    members = [acc(z.argmax(dim=1)) for z in logits]
    truth = _ensemble_truth(logits, y)
    return [
        (acc(torch.stack(logits).mean(dim=0).argmax(dim=1)),
         ("you averaged the logits (or log-probabilities); the ensemble averages the members' probabilities "
         "(softmax first, then the mean)")),
        (acc(torch.stack([z.argmax(dim=1) for z in logits]).mode(dim=0).values),
         "that is a majority vote of the members' classes; the ensemble averages their probabilities"),
        (sum(members) / len(members), "that is the mean accuracy of the members, not the accuracy of their average"),
        (max(members), "that is the best member's accuracy, not the ensemble's"),
        (100 * truth, "return a fraction between 0 and 1, not a percentage"),
        (1 - truth, "that is the error rate; return the accuracy"),
    ]


def _judge_ensemble_accuracy(fn: Any) -> Feedback:
    """The learner's `fn(member_logits, y)` against the accuracy of torch's averaged softmax, on unseen ensembles."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    cases = _ensemble_cases(seed=12, count=8)
    for logits, y in cases:
        got = fn([z.clone() for z in logits], y.clone())
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the accuracy"
        value = _as_number(got)
        if value is None:
            if isinstance(got, torch.Tensor):
                return False, (f"return one number (the accuracy), got a tensor of shape {tuple(got.shape)}: "
                               f"compare the ensemble's classes with y and take the mean")
            return False, f"return the accuracy as a number, got {type(got).__name__}"
        want = _ensemble_truth(logits, y)
        if abs(value - want) > 1e-6:
            M, (N, K) = len(logits), tuple(logits[0].shape)
            for mistake, why in _ensemble_mistakes(logits, y):
                if abs(value - mistake) <= 1e-6:
                    return False, f"on an ensemble of {M} members ({N} examples, {K} classes) {why}"
            return False, (f"on an ensemble of {M} members ({N} examples, {K} classes) your accuracy is off: softmax "
                           f"each member's logits, average over the members, take the argmax, compare with y")
    return True, f"it matches PyTorch's averaged softmax on {len(cases)} ensembles you had not seen."


# ----------------------------------------------------------------------------------------------------------
# 12.5: the distillation loss, against T^2 * F.kl_div(batchmean) + cross-entropy
# ----------------------------------------------------------------------------------------------------------
def _kd_variants(s: torch.Tensor, t: torch.Tensor, y: torch.Tensor, T: float, a: float) -> tuple[torch.Tensor, list]:
    """The true loss, and the loss each typical mistake computes (with the name of the mistake)."""
    ce = F.cross_entropy(s, y)
    kl = lambda log_q, p, red="batchmean": F.kl_div(log_q, p, reduction=red)
    p_t, log_p_s = (t / T).softmax(dim=1), (s / T).log_softmax(dim=1)
    soft = kl(log_p_s, p_t)
    truth = a * T**2 * soft + (1 - a) * ce
    mistakes = [
        (a * soft + (1 - a) * ce, "the soft term is missing its factor T^2 (its gradients shrink like 1/T^2)"),
        (a * T * soft + (1 - a) * ce, "the soft term is scaled by T; it needs T^2"),
        (a * T**2 * kl(log_p_s, p_t, "sum") + (1 - a) * ce,
         "the KL term is summed over the batch; average it over the examples (reduction='batchmean')"),
        (a * T**2 * kl(log_p_s, p_t, "sum") / s.numel() + (1 - a) * ce,  # what reduction="mean" computes
         "reduction='mean' divides by examples x classes; the KL needs 'batchmean' (per example)"),
        (a * T**2 * kl((t / T).log_softmax(dim=1), log_p_s.exp()) + (1 - a) * ce,
         ("the KL is the wrong way round: it is KL(teacher || student), so F.kl_div gets the student's "
         "log-probabilities first and the teacher's probabilities second")),
        (a * T**2 * kl(s.log_softmax(dim=1), p_t) + (1 - a) * ce,
         "the student's logits must be divided by T too, like the teacher's"),
        (a * T**2 * kl(log_p_s, t.softmax(dim=1)) + (1 - a) * ce,
         "the teacher's logits must be divided by T: the soft targets are softmax(t / T)"),
        (a * T**2 * -(p_t * log_p_s).sum(dim=1).mean() + (1 - a) * ce,
         ("that is the cross-entropy with the soft targets; the KL divergence also subtracts the teacher's own "
         "entropy (same gradients, different value)")),
        ((1 - a) * T**2 * soft + a * ce, "alpha and 1 - alpha are swapped: alpha weighs the soft term"),
        (a * T**2 * soft + (1 - a) * F.cross_entropy(s / T, y),
         "the hard-label cross-entropy uses the plain logits, not logits / T"),
    ]
    return truth, mistakes


def _judge_kd_loss(fn: Any) -> Feedback:
    """The learner's `fn(s, t, y, T, alpha)` against alpha T^2 F.kl_div(batchmean) + (1 - alpha) CE, unseen inputs."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    g = torch.Generator().manual_seed(1503)
    for trial in range(10):
        N, K = int(torch.randint(3, 33, (1,), generator=g)), int(torch.randint(3, 13, (1,), generator=g))
        T = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 2.5, 5.0, 3.0, 4.0)[trial]
        alpha = float(torch.empty(1).uniform_(0.15, 0.85, generator=g))
        s = torch.randn(N, K, generator=g, dtype=torch.float64) * 2
        t = torch.randn(N, K, generator=g, dtype=torch.float64) * 4
        y = torch.randint(0, K, (N,), generator=g)
        got = fn(s.clone(), t.clone(), y.clone(), T, alpha)
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the loss"
        value = _as_number(got)
        if value is None:
            shape = f" of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else ""
            return False, f"return the loss as one number (a 0-dim tensor), got {type(got).__name__}{shape}"
        truth, mistakes = _kd_variants(s, t, y, T, alpha)
        if abs(value - truth.item()) > 1e-6 * max(1.0, abs(truth.item())):
            setting = f"on a batch of {N} examples, {K} classes, T = {T}, alpha = {alpha:.2f}"
            for wrong, why in mistakes:
                if abs(value - wrong.item()) <= 1e-6 * max(1.0, abs(wrong.item())):
                    return False, f"{setting}: {why}"
            return False, (f"{setting} your loss differs from alpha T^2 KL + (1 - alpha) CE: check each term, "
                           f"from the soft targets up")
    return True, "it equals alpha * T^2 * F.kl_div(..., 'batchmean') + (1 - alpha) * CE on 10 batches you had not seen."


# ----------------------------------------------------------------------------------------------------------
# 12.6: a hyperparameter grid, against scikit-learn's ParameterGrid
# ----------------------------------------------------------------------------------------------------------
_NAMES = ("lr", "weight_decay", "batch_size", "momentum", "dropout", "width", "T", "alpha")


def _grid_cases(seed: int, count: int) -> list[dict[str, list]]:
    g = torch.Generator().manual_seed(seed)
    cases = [{"lr": [0.1, 0.01], "weight_decay": [0.0, 1e-4, 1e-3], "batch_size": [32, 64, 128, 256]}]
    while len(cases) < count:
        n_keys = int(torch.randint(1, 5, (1,), generator=g))
        keys = [_NAMES[i] for i in torch.randperm(len(_NAMES), generator=g)[:n_keys].tolist()]
        cases.append({k: [round(float(v), 4) for v in torch.rand(int(torch.randint(1, 5, (1,), generator=g)),
                                                                  generator=g)] for k in keys})
    return cases


def _key(point: dict) -> tuple:
    return tuple(sorted(point.items()))


def _judge_grid(fn: Any) -> Feedback:
    """The learner's `fn(space)` against sklearn's ParameterGrid (as multisets of points), on unseen spaces."""
    # the oracle; imported only when this exercise is checked (scikit-learn takes a moment to import)
    from sklearn.model_selection import ParameterGrid

    if (bad := _not_callable(fn)) is not None:
        return bad
    cases = _grid_cases(seed=27, count=12)
    for space in cases:
        got = fn({k: list(v) for k, v in space.items()})
        if got is None:
            return False, "your function returns None: write its body (replace the ...) and return the list of points"
        try:
            got = list(got)
        except TypeError:
            return False, f"return a list of dicts, got {type(got).__name__}"
        if not all(isinstance(p, dict) for p in got):
            return False, "each point of the grid is a dict {name: value}, one entry per hyperparameter"
        want = list(ParameterGrid(space))
        sizes = {k: len(v) for k, v in space.items()}
        where = "for " + ", ".join(f"{len(v)} values of {k}" for k, v in space.items())
        if any(set(p) != set(space) for p in got):
            return False, f"{where}: every point must set every hyperparameter (the same keys as the space)"
        if Counter(map(_key, got)) == Counter(map(_key, want)):
            continue
        if len(got) != len(set(map(_key, got))):
            return False, f"{where}: your grid repeats some points; each combination appears once"
        if len(sizes) > 1 and len(got) == min(sizes.values()):
            return False, (f"{where}: your grid pairs the i-th values of each hyperparameter (like zip); a grid "
                           f"takes every combination")
        if len(sizes) > 1 and len(got) <= sum(sizes.values()):
            return False, (f"{where}: your grid varies one hyperparameter at a time; a grid takes every "
                           f"combination of all of them")
        if len(got) != len(want):
            return False, f"{where}: your grid has {len(got)} points; multiply the numbers of values"
        return False, f"{where}: the number of points is right but some combinations are wrong or missing"
    return True, f"it gives the same points as scikit-learn's ParameterGrid on {len(cases)} spaces you had not seen."


# ----------------------------------------------------------------------------------------------------------
# Notebook 12: ensembles, distillation and model selection
# ----------------------------------------------------------------------------------------------------------
add(Exercise(
    id="12.1", kind="predict",
    question="A grid search tries 3 learning rates, 3 weight decays and 3 batch sizes. How many training runs?",
    judge=number_judge(27, {27: "a grid runs every combination: 3 * 3 * 3. Each added hyperparameter with 3 values "
                                "triples the bill.",
                            9: "a grid runs every combination of all three hyperparameters: multiply, and do not "
                               "leave one out (adding the counts gives too few as well)",
                            6: "a grid runs every combination: multiply the numbers of values",
                            3: "a grid runs every combination, not one run per value",
                            81: "three hyperparameters, three values each: that is one factor of 3 too many",
                            1: "a grid runs every combination, not one run per value"}, "runs"),
    hints=("A grid tries every combination of the values.",
           "With 2 learning rates and 2 weight decays there are 4 combinations.",
           "Multiply the numbers of values of the three hyperparameters."),
    solution="27 = 3 * 3 * 3: every combination of the three lists. With q hyperparameters of p values each, p^q runs; "
             "that is why the lectures advise against grids beyond q = 3.",
    model=27, wrong=9,
))

add(Exercise(
    id="12.2", kind="predict",
    question="Random search gets the same budget as that grid (one run per combination) and draws every point's "
             "log10 learning rate uniformly from [-3, 0]. How many distinct learning rates does it try?",
    judge=number_judge(27, {27: "every run draws its own learning rate, so all of them are distinct, against only 3 "
                                "for the grid. If the learning rate is what matters, random search explores it 9 "
                                "times more finely for the same cost.",
                            3: "that is the grid's count: random search draws a fresh learning rate for every run",
                            9: "the other hyperparameters do not matter here: random search draws a fresh learning "
                               "rate for every run of the budget",
                            1: "random search draws a fresh learning rate for every run"}, "learning rates"),
    hints=("How many runs does the budget allow? (Exercise 12.1.)",
           "Random search draws each point independently from a continuous range.",
           "Two draws from a continuous range are (almost surely) never equal."),
    solution="27: one fresh draw per run, all distinct, while the 3x3x3 grid tries 3 learning rates 9 times each. "
             "Bergstra & Bengio (2012): when few hyperparameters matter, random search covers each of them far more "
             "densely.",
    model=27, wrong=3,
))

add(Exercise(
    id="12.3", kind="predict",
    question="Nested CV on 600 images with 5 outer folds and 3 inner folds: on how many images is each inner net "
             "trained?",
    judge=number_judge(320, {320: "the outer fold holds out 600 / 5 = 120, leaving 480; the inner 3-fold CV holds "
                                  "out 480 / 3 = 160 of those for validation, so each inner net trains on 320.",
                             480: "that is the outer training set; the inner CV holds out one of its folds for "
                                  "validation",
                             120: "that is one outer test fold; the inner nets train on much more",
                             160: "that is one inner validation fold; the inner net trains on the other inner folds",
                             400: "the inner folds split what is left after the outer fold is held out, not all "
                                  "600 images",
                             200: "that is a third of all 600 images; the inner folds split what is left after the "
                                  "outer fold is held out",
                             384: "the numbers of folds are swapped: 5 outer folds first, then 3 inner folds",
                             96: "the inner net trains on all inner folds but one, not on one fold"}, "images"),
    hints=("Work from the outside in: first hold out the outer fold.",
           "5 outer folds of 600 images: each outer training set has 4/5 of them.",
           "The inner 3-fold CV then trains on 2/3 of the outer training set."),
    solution="320: the outer fold holds out 120 of 600, leaving 480; the inner 3-fold CV trains on 2/3 of those, "
             "480 * 2/3 = 320, and validates on 160. Nested CV trains on less data than the final model will: "
             "its error estimate is slightly pessimistic, never optimistic.",
    model=320, wrong=480,
))

add(Exercise(
    id="12.4", kind="code",
    question="Complete ensemble_accuracy(member_logits, y): the accuracy of the ensemble that averages its members' "
             "probabilities.",
    judge=_judge_ensemble_accuracy,
    hints=("Turn each member's logits into probabilities with softmax over the classes (dim=1).",
           "Average the (N, K) probabilities over the members: torch.stack(...).mean(dim=0).",
           "The ensemble's class is the argmax of the average; the accuracy is the fraction equal to y."),
    solution=("def ensemble_accuracy(member_logits, y):\n"
              "    probs = torch.stack([z.softmax(dim=1) for z in member_logits]).mean(dim=0)  # (N, K)\n"
              "    return (probs.argmax(dim=1) == y).float().mean().item()"),
    model=lambda logits, y: _ensemble_truth(logits, y),
    wrong=lambda logits, y: (torch.stack(logits).mean(dim=0).argmax(dim=1) == y).double().mean().item(),
))

add(Exercise(
    id="12.5", kind="code",
    question="Complete kd_loss(s, t, y, T, alpha) with F.kl_div: alpha T^2 KL(softmax(t/T) || softmax(s/T)) + "
             "(1 - alpha) CE(s, y).",
    judge=_judge_kd_loss,
    hints=(("The soft targets are softmax(t / T); F.kl_div wants the student's log-probabilities log_softmax(s / T) "
           "first and the targets (probabilities) second."),
           "Average the KL over the examples: reduction='batchmean', not 'mean' (which also divides by the classes).",
           "Multiply the KL by T**2 and by alpha; the cross-entropy with the labels uses the plain logits s."),
    solution=("def kd_loss(s, t, y, T, alpha):\n"
              "    kl = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction='batchmean')\n"
              "    return alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(s, y)"),
    model=lambda s, t, y, T, a: a * T**2 * F.kl_div((s / T).log_softmax(1), (t / T).softmax(1), reduction="batchmean")
    + (1 - a) * F.cross_entropy(s, y),
    wrong=lambda s, t, y, T, a: a * F.kl_div((s / T).log_softmax(1), (t / T).softmax(1), reduction="batchmean")
    + (1 - a) * F.cross_entropy(s, y),  # forgets T^2
))


def _model_grid(space: dict) -> list[dict]:
    import itertools

    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


add(Exercise(
    id="12.6", kind="code",
    question="Complete grid(space): every combination of a dict {name: list of values}, as a list of dicts.",
    judge=_judge_grid,
    hints=("Each point sets every hyperparameter: one value from each list.",
           "itertools.product(*space.values()) yields every combination of the values, as tuples.",
           "Zip each tuple with the names: dict(zip(space, values))."),
    solution=("import itertools\n\n"
              "def grid(space):\n"
              "    return [dict(zip(space, values)) for values in itertools.product(*space.values())]"),
    model=_model_grid,
    wrong=lambda space: [dict(zip(space, values)) for values in zip(*space.values())],  # zip, not product
))

add(Exercise(
    id="12.7", kind="explain",
    question="A colleague tries 20 weight decays with 5-fold CV and reports the winner's CV error as the error to "
             "expect on new data. What is wrong, and what should they report instead?",
    judge=None,
    hints=("The winner was chosen *because* its CV error was the lowest of 20.",
           "Part of a low score is luck on those particular folds; which number was never used to choose?"),
    solution=("The winner's CV error is optimistic: it was picked as the minimum of 20 noisy estimates, so it is "
              "partly the best setting and partly the luckiest on those folds (the more settings tried, the larger "
              "the bias). An honest estimate must come from data the selection never saw: either a test set "
              "touched once, after the choice, or nested CV, which repeats the whole procedure \"choose the weight "
              "decay by 5-fold CV\" inside an outer loop and scores each choice on its outer fold. The notebook's "
              "nested-CV section measured that optimism on real runs."),
))
