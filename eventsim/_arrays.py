"""Array helpers shared by the package: read-only arrays, and rows of ragged arrays
(flat data plus per-row offsets)."""

from __future__ import annotations

import numpy as np


def readonly(arr: np.ndarray) -> np.ndarray:
    """``arr`` itself, made read-only (arrays the compiled passes index must not change)."""
    arr.setflags(write=False)
    return arr


def take_rows(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions and offsets of the rows ``rows`` of a ragged array.

    Row ``r`` of the flat data is ``data[offsets[r]:offsets[r + 1]]``.  Returns
    ``(take, new_offsets)`` such that ``data[take]`` holds the chosen rows in the order
    of ``rows`` and ``new_offsets`` delimits them.
    """
    starts, ends = offsets[rows], offsets[rows + 1]
    lens = ends - starts
    new_offsets = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lens, out=new_offsets[1:])
    take = np.repeat(starts - new_offsets[:-1], lens) + np.arange(new_offsets[-1])
    return take, new_offsets
