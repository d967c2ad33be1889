"""The per-epoch record of a fit (``SpikingClassifier.history_``)."""

from __future__ import annotations

__all__ = ["HISTORY_KEYS", "restore_history"]

#: Keys of ``history_``, one list entry per epoch (see :class:`SpikingClassifier`).
HISTORY_KEYS = (
    "epoch", "loss", "train_accuracy", "test_loss", "test_accuracy",
    "running_loss", "running_accuracy", "n_updates", "adam_step",
    "train_first_output_time", "train_hidden_time", "train_hidden_silent",
    "test_first_output_time", "test_hidden_time", "test_hidden_silent",
    "pulse_times", "time_s", "start", "start_epoch", "train_margin",
)


def _history_default(key, history):
    """Values of a history key missing from an older checkpoint (one per epoch)."""
    n = len(history.get("epoch", []))
    if key == "start":
        return [0] * n
    if key == "start_epoch":
        return list(history.get("epoch", []))
    return [float("nan")] * n


def restore_history(saved):
    """The history of a checkpoint, with every key (older files lack some)."""
    return {k: list(saved[k]) if k in saved else _history_default(k, saved)
            for k in HISTORY_KEYS}
