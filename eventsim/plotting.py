"""Figures: training curves.

Needs matplotlib (``pip install eventsim[plot]``).  Figures are drawn with the
non-interactive Agg backend, so they work on machines without a display.
"""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["plot_training_curves"]


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'eventsim[plot]' "
                          "(or pip install matplotlib)") from None
    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history, path=None, *, title=None):
    """Plot loss, accuracy and mean spike times per epoch.

    Parameters
    ----------
    history : dict of str -> list
        ``SpikingClassifier.history_`` (or a checkpoint's ``meta["history"]``).
    path : str or os.PathLike, optional
        Save the figure there as PNG.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = np.asarray(history.get("epoch", []), float)
    if epochs.size == 0:
        raise ValueError("the history is empty: nothing to plot")

    def series(key):
        vals = history.get(key)
        if vals is None or len(vals) != epochs.size:
            return None
        arr = np.asarray(vals, float)
        return arr if np.isfinite(arr).any() else None

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    panels = [
        (axes[0], "loss", [("loss", "train"), ("test_loss", "test"),
                           ("running_loss", "running (during epoch)")]),
        (axes[1], "accuracy", [("train_accuracy", "train"), ("test_accuracy", "test"),
                               ("running_accuracy", "running (during epoch)")]),
        (axes[2], "mean spike time", [
            ("train_first_output_time", "first output (train)"),
            ("test_first_output_time", "first output (test)"),
            ("train_hidden_time", "hidden (train)"),
            ("test_hidden_time", "hidden (test)")]),
    ]
    for ax, ylabel, keys in panels:
        drawn = False
        for key, label in keys:
            vals = series(key)
            if vals is not None:
                style = ":" if key.startswith("running") else "-"
                ax.plot(epochs, vals, style, label=label, marker="." if epochs.size < 30 else None)
                drawn = True
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8)
    if series("loss") is not None and np.nanmin(series("loss")) > 0:
        axes[0].set_yscale("log")
    axes[1].set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title)
    if path is not None:
        path = pathlib.Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, format="png")
    return fig
