"""Figures the notebooks share, kept out of the story: learning curves, live or final."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import nn

from cnnlab.train import Callback, History
from cnnlab.validation import check_instance, check_int

__all__ = ["plot_history", "LiveLearningCurves", "check_ax"]


def check_ax(ax: object) -> None:
    """The figures' shared door check: `ax` is a matplotlib Axes to draw into, or None for a new figure."""
    check_instance("ax", ax, Axes, "a matplotlib Axes", optional=True)


def plot_history(history: History, axes=None, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training and validation, side by side; the best validation epoch marked."""
    if not isinstance(history, History):
        raise TypeError(f"history must be a cnnlab.train.History (what fit returns), got {type(history).__name__}")
    if not history.epoch:
        raise ValueError("history has no epochs to plot")
    if axes is not None and not (isinstance(axes, (list, tuple)) or hasattr(axes, "shape")):
        raise TypeError(f"axes must be a pair of matplotlib Axes or None, got {type(axes).__name__}")
    if axes is not None and (len(axes) != 2 or not all(isinstance(ax, Axes) for ax in axes)):
        raise ValueError(f"axes must be a pair of matplotlib Axes (loss, accuracy), got {len(axes)} items")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a str or None, got {type(title).__name__}")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = axes[0].figure
    ax_loss, ax_acc = axes
    ax_loss.clear(), ax_acc.clear()
    ax_loss.plot(history.epoch, history.train_loss, "o-", label="train")
    ax_acc.plot(history.epoch, history.train_acc, "o-", label="train")
    if history.val_loss:
        ax_loss.plot(history.epoch, history.val_loss, "s-", label="validation")
        ax_acc.plot(history.epoch, history.val_acc, "s-", label="validation")
        best = history.best_epoch("val_loss")
        for ax in axes:
            ax.axvline(best, color="gray", linestyle=":", label=f"best epoch ({best})")
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class LiveLearningCurves(Callback):
    """A `fit` callback: learning curves that redraw in place in JupyterLab after every epoch (one output, updated).

    Use it as `fit(..., callbacks=[LiveLearningCurves(num_epochs)])`.
    """

    def __init__(self, num_epochs: int) -> None:
        self.num_epochs = check_int("num_epochs", num_epochs, ge=1)
        self.fig, self.axes = plt.subplots(1, 2, figsize=(9, 3.2))
        self.handle = None

    def on_epoch_end(self, net: nn.Module, history: History) -> None:
        self.update(history)

    def on_fit_end(self, net: nn.Module, history: History) -> None:
        self.close()

    def update(self, history: History) -> None:
        """Redraw with the epochs so far."""
        from IPython.display import display

        plot_history(history, self.axes, title=f"epoch {history.epoch[-1]}/{self.num_epochs}")
        for ax in self.axes:
            ax.set_xlim(0.5, self.num_epochs + 0.5)
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)

    def close(self) -> None:
        """Stop drawing: the figure stays as the last update shows it and is not drawn a second time."""
        plt.close(self.fig)
