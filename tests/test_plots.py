"""Learning-curve figures: what is drawn, and that the live version updates one output in place."""

import matplotlib

matplotlib.use("Agg")

from cnnlab.plots import LiveLearningCurves, plot_history  # noqa: E402
from cnnlab.train import History  # noqa: E402


def history(n=3):
    h = History()
    for e in range(1, n + 1):
        h.epoch.append(e)
        h.train_loss.append(1 / e)
        h.train_acc.append(1 - 1 / (e + 1))
        h.val_loss.append([0.9, 0.5, 0.7][e - 1])
        h.val_acc.append(0.5 + e / 10)
    return h


def test_plot_history_draws_train_and_validation_and_marks_the_best_epoch():
    fig = plot_history(history(), title="run")
    loss_ax, acc_ax = fig.axes
    labels = [line.get_label() for line in loss_ax.lines]
    assert labels == ["train", "validation", "best epoch (2)"]
    assert list(loss_ax.lines[1].get_ydata()) == [0.9, 0.5, 0.7]
    assert acc_ax.get_ylabel() == "accuracy" and fig._suptitle.get_text() == "run"


def test_plot_history_without_validation_data():
    h = History(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.7])
    assert [line.get_label() for line in plot_history(h).axes[0].lines] == ["train"]


def test_live_curves_display_once_then_update_the_same_output(monkeypatch):
    calls = []

    class Handle:
        def update(self, fig):
            calls.append("update")

    def fake_display(fig, display_id):
        calls.append("display")
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    live = LiveLearningCurves(num_epochs=3)
    for n in (1, 2, 3):
        live.update(history(n))
    live.close()
    assert calls == ["display", "update", "update"]
    assert live.axes[0].get_xlim() == (0.5, 3.5)


def test_plot_history_checks_its_arguments():
    import pytest

    for kwargs, error, message in [
        (dict(history={"epoch": [1]}), TypeError, r"history must be a cnnlab.train.History .*got dict"),
        (dict(history=History()), ValueError, r"history has no epochs to plot"),
        (dict(history=history(), title=3), TypeError, r"title must be a str or None, got int"),
        (dict(history=history(), axes="ab"), TypeError, r"axes must be a pair of matplotlib Axes or None, got str"),
        (dict(history=history(), axes=[1, 2, 3]), ValueError, r"axes must be a pair of matplotlib Axes"),
    ]:
        with pytest.raises(error, match=message):
            plot_history(**kwargs)
    with pytest.raises(ValueError, match="num_epochs must be a positive int, got 0"):
        LiveLearningCurves(num_epochs=0)
