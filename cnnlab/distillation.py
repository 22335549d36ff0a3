"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a small student learns from a bigger teacher's softened
probabilities as well as from the labels. In notebook 12 the teacher is an ensemble of small CNNs
(`cnnlab.ensembles.Ensemble`) and the student a much thinner CNN."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.data import Split
from cnnlab.models import fast_cnn
from cnnlab.runtime import set_seed
from cnnlab.train import accuracy, fit, predict
from cnnlab.validation import check_float, check_int, check_module, check_tensor

__all__ = ["distillation_loss", "Distill", "distillation_experiment"]


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float = 4.0, alpha: float = 0.9
) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross_entropy(student, y),
    the KL term averaged over the batch. T^2 keeps the soft term's gradients the same size as T changes.

    >>> s, t, y = torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([0])
    >>> round(distillation_loss(s, t, y, T=2.0, alpha=0.5).item(), 4)  # KL = 0, CE = log 3
    0.5493
    """
    check_tensor("student_logits", student_logits, ndim=2, dtype="float", finite=True)  # NaN: training diverged
    check_tensor("teacher_logits", teacher_logits, ndim=2, dtype="float", finite=True)
    check_tensor("y", y, ndim=1, dtype="int")
    check_float("T", T, gt=0)
    check_float("alpha", alpha, ge=0, le=1)
    if student_logits.shape != teacher_logits.shape or len(y) != len(student_logits):
        raise ValueError(f"student and teacher logits must both be (N, K) and y (N,), got {tuple(student_logits.shape)}"
                         f", {tuple(teacher_logits.shape)} and {tuple(y.shape)}")
    log_p_student = (student_logits / T).log_softmax(dim=1)  # (N, K)
    p_teacher = (teacher_logits / T).softmax(dim=1)  # (N, K) soft targets
    kl = (p_teacher * (p_teacher.clamp_min(1e-12).log() - log_p_student)).sum(dim=1).mean()
    return alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(student_logits, y)


class Distill(nn.Module):
    """Wrap a `student` for distillation with `cnnlab.train.fit` (as `Mixup` wraps a net): in training, each forward
    pass also runs the frozen `teacher` on the same batch, and `self.loss` mixes its softened logits with the labels
    (`distillation_loss`); in eval mode it is the student alone and the loss is plain cross-entropy.

    The teacher is held outside the module's parameters, so an optimiser built from `parameters()` trains the student
    only. Use it as `fit(d := Distill(student, teacher), ..., loss_fn=d.loss)`.

    >>> student, teacher = nn.Linear(4, 3), nn.Linear(4, 3)
    >>> d = Distill(student, teacher, T=2.0, alpha=0.5)
    >>> [name for name, _ in d.named_parameters()]
    ['student.weight', 'student.bias']
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, T: float = 4.0, alpha: float = 0.9) -> None:
        super().__init__()
        check_module("student", student)
        check_module("teacher", teacher)
        self.T = check_float("T", T, gt=0)
        self.alpha = check_float("alpha", alpha, ge=0, le=1)
        self.student = student
        self._teacher = (teacher.eval().requires_grad_(False),)  # a tuple: not a submodule, not trained, not saved
        self._teacher_logits: torch.Tensor | None = None  # of the last training batch

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher."""
        return self._teacher[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self._teacher_logits = self.teacher.to(x.device).eval()(x).float()  # (N, K)
        return self.student(x)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """`distillation_loss` against the teacher's logits of this batch in training, cross-entropy in evaluation."""
        if not self.training or self._teacher_logits is None:
            return F.cross_entropy(logits, y)
        return distillation_loss(logits.float(), self._teacher_logits, y, self.T, self.alpha)


def distillation_experiment(
    seed: int,
    data: Split,
    teacher: nn.Module,
    *,
    student_width: int = 2,  # the student: fast_cnn(2), about 2,100 parameters
    lr: float = 0.02,
    num_epochs: int = 12,
    T: float = 4.0,
    alpha: float = 0.9,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Test accuracy of a trained `teacher`, of a `fast_cnn(student_width)` student trained on labels only and of the
    same student distilled from the teacher (same seed, data order, epochs and optimiser for both students), and how
    often each student predicts the teacher's class (`"<student>, agrees with teacher"`).
    `data` is a `cnnlab.data.Split`. Notebook 12 writes seed 0 of it out in full; this is the same experiment for the
    other seeds and the tests."""
    if not isinstance(data, Split):
        raise TypeError(f"data must be a cnnlab.data.Split (from load_split), got {type(data).__name__}")
    check_int("seed", seed, ge=0)
    check_module("teacher", teacher)
    check_int("student_width", student_width, ge=1)
    check_float("lr", lr, gt=0)
    check_float("T", T, gt=0)  # checked here too, so that a typo fails before a student trains
    check_float("alpha", alpha, ge=0, le=1)
    teacher_logits = predict(teacher, data.X_test, **data.norm)  # (N, K)
    result = {"teacher": accuracy(teacher_logits, data.y_test)}
    for name in ("labels only", "distilled"):
        set_seed(seed)
        student = fast_cnn(student_width)  # (N, 1, 28, 28) -> (N, 10)
        net = Distill(student, teacher, T, alpha) if name == "distilled" else student
        fit(net, data.train, None, num_epochs=num_epochs, lr=lr, batch_size=64, device=device,
            loss_fn=net.loss if name == "distilled" else None, seed=seed, progress=False, **data.norm)
        student_logits = predict(student, data.X_test, **data.norm)
        result[name] = accuracy(student_logits, data.y_test)
        result[f"{name}, agrees with teacher"] = accuracy(student_logits, teacher_logits.argmax(1))
    return result
