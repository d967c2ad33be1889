"""Tests for eventsim.tasks: the generated Boolean and circle tasks, image task loading."""

import gzip

import numpy as np
import pytest

from eventsim import tasks


@pytest.mark.parametrize("kind", ["and", "or", "xor"])
@pytest.mark.parametrize("balanced", [True, False])
def test_logic_ranges_and_labels(kind, balanced):
    X, y = tasks.make_logic(kind, 4000, rng=1, balanced=balanced)
    assert X.shape == (4000, 2) and y.shape == (4000,) and y.dtype == np.int64
    true = X <= 0.45
    false = X >= 0.55
    assert (true ^ false).all()                   # nothing in the gap (0.45, 0.55)
    assert X.min() >= 0.0 and X.max() <= 1.0
    fn = {"and": np.logical_and, "or": np.logical_or, "xor": np.logical_xor}[kind]
    np.testing.assert_array_equal(y, fn(true[:, 0], true[:, 1]).astype(int))
    # True uniform in [0, 0.45], False uniform in [0.55, 1].
    assert X[true].mean() == pytest.approx(0.225, abs=0.01)
    assert X[false].mean() == pytest.approx(0.775, abs=0.01)
    if balanced:
        assert y.mean() == pytest.approx(0.5, abs=0.03)
    else:
        expect = {"and": 0.25, "or": 0.75, "xor": 0.5}[kind]
        assert y.mean() == pytest.approx(expect, abs=0.03)
    # Every input combination occurs.
    assert len({(a, b) for a, b in true}) == 4


def test_circles_ranges_and_labels():
    X, y = tasks.make_circles(5000, rng=2)
    assert X.shape == (5000, 2) and set(np.unique(y)) == {0, 1}
    assert X.min() >= 0.0 and X.max() <= 1.0
    r = np.hypot(X[:, 0] - 0.5, X[:, 1] - 0.5)
    assert (r[y == 0] <= 0.3 + 1e-12).all()
    assert ((r[y == 1] >= 0.4 - 1e-12) & (r[y == 1] <= 0.5 + 1e-12)).all()
    assert y.mean() == pytest.approx(0.5, abs=0.03)
    # Uniform in area: within the inner disc, P(r < 0.15) = 1/4.
    assert (r[y == 0] < 0.15).mean() == pytest.approx(0.25, abs=0.03)
    # Uniform in angle.
    ang = np.arctan2(X[:, 1] - 0.5, X[:, 0] - 0.5)
    assert (ang > 0).mean() == pytest.approx(0.5, abs=0.03)


def test_make_task_defaults_and_seeds():
    Xtr, ytr, Xte, yte = tasks.make_task("xor")
    assert Xtr.shape == (1000, 2) and Xte.shape == (150, 2)
    again = tasks.make_task("xor", seed=0)
    np.testing.assert_array_equal(again[0], Xtr)
    other = tasks.make_task("xor", seed=1)
    assert not np.array_equal(other[0], Xtr)
    assert not np.array_equal(Xte, Xtr[:150])     # train and test are independent draws
    Xc, yc, Xc2, yc2 = tasks.make_task("circles", n_train=10, n_test=3, seed=4)
    assert Xc.shape == (10, 2) and Xc2.shape == (3, 2)
    assert tasks.n_outputs_of("mnist") == 10 and tasks.n_outputs_of("and") == 2
    with pytest.raises(ValueError, match="unknown task"):
        tasks.make_task("nand")
    with pytest.raises(ValueError, match="non-negative"):
        tasks.make_logic("xor", -1)


def _write_idx(path, arr):
    arr = np.asarray(arr, np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(gzip.compress(header + arr.tobytes()))


def test_image_task_from_idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("t10k", 7)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz",
                   rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    Xtr, ytr, Xte, yte = tasks.make_task("mnist", data_dir=tmp_path)
    assert Xtr.shape == (12, 784) and Xte.shape == (7, 784)
    np.testing.assert_array_equal(ytr, np.arange(12) % 10)
    finite = np.isfinite(Xtr)
    assert (Xtr[finite] > 0).all() and (Xtr[finite] < 1).all()
    sub = tasks.make_task("fashion-mnist", data_dir=tmp_path, n_train=5, n_test=3, seed=1)
    assert sub[0].shape == (5, 784) and sub[2].shape == (3, 784)
    with pytest.raises(ValueError, match="only 12"):
        tasks.make_task("mnist", data_dir=tmp_path, n_train=50)
    with pytest.raises(ValueError, match="data_dir"):
        tasks.load_image_task("fashion-mnist")
