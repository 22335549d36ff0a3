"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a small student learns from a bigger teacher's softened
probabilities as well as from the labels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from cnnlab.curves import mlp
from cnnlab.ensembles import NORM, accuracy_of, predict_proba, train_member
from cnnlab.models import fast_cnn
from cnnlab.runtime import set_seed
from cnnlab.train import TensorLoader, fit


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float = 4.0, alpha: float = 0.9
) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross_entropy(student, y),
    the KL term averaged over the batch. T^2 keeps the soft term's gradients the same size as T changes.

    >>> s, t, y = torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([0])
    >>> round(distillation_loss(s, t, y, T=2.0, alpha=0.5).item(), 4)  # KL = 0, CE = log 3
    0.5493
    """
    if not T > 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need temperature T > 0 and 0 <= alpha <= 1, got T={T!r}, alpha={alpha!r}")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 2:
        raise ValueError(f"student and teacher logits must both be (N, K), got {tuple(student_logits.shape)} and "
                         f"{tuple(teacher_logits.shape)}")
    log_p_student = (student_logits / T).log_softmax(dim=1)  # (N, K)
    p_teacher = (teacher_logits / T).softmax(dim=1)  # (N, K) soft targets
    kl = (p_teacher * (p_teacher.clamp_min(1e-12).log() - log_p_student)).sum(dim=1).mean()
    return alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(student_logits, y)


def pack_targets(y: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Labels and teacher logits in one float tensor (N, 1 + K), so `fit` slices them together batch by batch.

    >>> pack_targets(torch.tensor([2]), torch.tensor([[0.5, 1.0, 3.0]]))
    tensor([[2.0000, 0.5000, 1.0000, 3.0000]])
    """
    if y.ndim != 1 or teacher_logits.ndim != 2 or len(y) != len(teacher_logits):
        raise ValueError(f"need y (N,) and teacher logits (N, K), got {tuple(y.shape)} and "
                         f"{tuple(teacher_logits.shape)}")
    return torch.cat([y.float()[:, None], teacher_logits.float()], dim=1)


class DistillationLoss:
    """A `loss_fn` for `cnnlab.train.fit`: `distillation_loss` on packed (N, 1 + K) targets, plain cross-entropy on
    class labels (N,) — so validation during `fit` reports the usual loss."""

    def __init__(self, T: float = 4.0, alpha: float = 0.9) -> None:
        distillation_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), T, alpha)  # checks
        self.T, self.alpha = T, alpha

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not target.is_floating_point():
            return F.cross_entropy(logits, target)
        y, teacher_logits = target[:, 0].long(), target[:, 1:]  # (N, 1 + K) -> (N,), (N, K)
        return distillation_loss(logits, teacher_logits, y, self.T, self.alpha)


@torch.no_grad()
def teacher_logits(teacher: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The teacher's logits (N, K) on images X, computed once (valid because the training uses no augmentation)."""
    device = next(teacher.parameters()).device
    teacher.eval()
    loader = TensorLoader(X, torch.zeros(len(X), dtype=torch.long), 1000, device=device, **NORM)
    return torch.cat([teacher(xb).cpu() for xb, _ in loader])


def distillation_experiment(
    seed: int,
    data: tuple[torch.Tensor, ...],
    *,
    teacher_width: int = 32,  # the teacher: fast_cnn(teacher_width); 0 means an MLP with `teacher_hidden` layers
    teacher_hidden: Sequence[int] = (512, 512),
    teacher_data: tuple[torch.Tensor, torch.Tensor] | None = None,  # default: the student's training images
    student_hidden: Sequence[int] = (16,),
    student_lr: float = 0.02,
    num_epochs: int = 12,
    T: float = 4.0,
    alpha: float = 0.9,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Test accuracy of the teacher, of a student trained on labels only and of the same student distilled from the
    teacher (same seed, data order, epochs and optimiser for both students). `data` is an `ensembles.fashion_split`."""
    X_train, y_train, _, _, X_test, y_test = data
    make_teacher = (lambda: fast_cnn(teacher_width)) if teacher_width else None
    teacher_train = teacher_data if teacher_data is not None else (X_train, y_train)
    teacher = train_member(teacher_train, seed, hidden=teacher_hidden, num_epochs=num_epochs, device=device,
                           make_net=make_teacher)
    soft = pack_targets(y_train, teacher_logits(teacher, X_train))
    result = {"teacher": accuracy_of(predict_proba(teacher, X_test, **NORM), y_test)}
    for name, targets, loss_fn in [("labels only", y_train, None), ("distilled", soft, DistillationLoss(T, alpha))]:
        set_seed(seed)
        student = mlp(student_hidden)
        fit(student, (X_train, targets), None, num_epochs=num_epochs, lr=student_lr, loss_fn=loss_fn, batch_size=64,
            device=device, seed=seed, progress=False, **NORM)
        result[name] = accuracy_of(predict_proba(student, X_test, **NORM), y_test)
    return result
