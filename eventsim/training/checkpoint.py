"""Checkpoint files: a network and the training state in one ``.npz``, written
atomically."""

from __future__ import annotations

import hashlib
import json
import pathlib
import zipfile

import numpy as np

from .._atomic import atomic_write
from .serialization import network_from_arrays, network_to_arrays

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "data_digest",
           "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

CHECKPOINT_FORMAT = "eventsim-checkpoint"
# First bytes of a zip archive (a .npz file); an empty archive starts with the second.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated or not an eventsim checkpoint."""


def save_checkpoint(path, network, *, config=None, optimizer=None, epoch=0, history=None,
                    extra=None, state=None, state_arrays=None):
    """Save a network and (optionally) its training state atomically to ``path`` (.npz).

    The file is a numpy ``.npz`` archive holding the network's arrays, Adam's
    moments (``adam_m_*``, ``adam_v_*``) and a JSON string ``meta`` (format tag,
    config, epoch, Adam step, metrics per epoch, population layout).  It is written
    to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so ``path`` always holds a complete checkpoint.

    ``state`` (JSON-serialisable, stored as ``meta["train_state"]``) and
    ``state_arrays`` (stored under their own names, which must not start with
    ``net_``, ``adam_`` or be ``meta``) hold the trainer's bookkeeping of starts and
    selected networks (see :meth:`SpikingClassifier.fit`).
    """
    desc, arrays = network_to_arrays(network)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "network": desc,
        "epoch": int(epoch),
        "config": None if config is None else config.to_dict(),
        "adam_step": None if optimizer is None else int(optimizer.t),
        "history": history or {},
        "extra": extra or {},
    }
    if state is not None:
        meta["train_state"] = state
    payload = {f"net_{k}": v for k, v in arrays.items()}
    if optimizer is not None:
        payload.update({f"adam_{k}": v for k, v in optimizer.state_arrays().items()})
    for k, v in (state_arrays or {}).items():
        if k == "meta" or k.startswith(("net_", "adam_")):
            raise ValueError(f"state array name {k!r} is reserved")
        payload[k] = v
    payload["meta"] = np.array(json.dumps(meta, allow_nan=True))
    atomic_write(pathlib.Path(path), lambda f: np.savez(f, **payload))
    return meta


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    network : Network
    meta : dict
        The JSON metadata (``config``, ``epoch``, ``history``, ``adam_step``...).
    arrays : dict of str -> ndarray
        All arrays of the file (``adam_m_weights`` etc.).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    CheckpointError
        If the file is corrupt, truncated or not an eventsim checkpoint; the message
        names the file.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        hint = (f" (did you mean {path / 'checkpoint.npz'}?)"
                if (path / "checkpoint.npz").is_file() else "")
        raise CheckpointError(f"{path} is a folder, not a checkpoint file{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} not found")
    with open(path, "rb") as f:
        head = f.read(4)
    if head not in _ZIP_MAGIC:
        what = "an empty file" if not head else "not a .npz archive"
        raise CheckpointError(f"{path} is not an eventsim checkpoint: it is {what} (a "
                              f"checkpoint is the .npz file that eventsim writes with "
                              f"SpikingClassifier.save or `eventsim train --checkpoint-dir`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise CheckpointError(f"{path}: corrupt checkpoint (an array in it cannot be "
                                  f"read: {exc})") from None
        raise CheckpointError(f"{path} is not an eventsim checkpoint: it holds Python "
                              f"objects, which eventsim checkpoints never do") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, zipfile.LargeZipFile,
            NotImplementedError):
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint (the file is cut "
                              f"short or damaged, e.g. by an interrupted copy; eventsim "
                              f"itself writes checkpoints atomically)") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not an eventsim checkpoint (no 'meta' entry)")
    try:
        meta = json.loads(str(arrays.pop("meta")[()]))
    except (ValueError, TypeError, IndexError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an eventsim checkpoint (format tag missing)")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {meta.get('version')!r} "
                              f"(this eventsim reads version {CHECKPOINT_VERSION})")
    try:
        net_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("net_")}
        network = network_from_arrays(meta["network"], net_arrays)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: corrupt checkpoint: cannot rebuild the network "
                              f"({type(exc).__name__}: {exc})") from None
    return network, meta, arrays


def data_digest(X, y) -> str:
    """SHA-256 of the training data, so a resumed fit can refuse other data."""
    h = hashlib.sha256()
    for a in (np.ascontiguousarray(X, np.float64), np.ascontiguousarray(y, np.int64)):
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()
