"""eventsim.tonic: tonic's event data sets (SHD, N-MNIST) as eventsim spike trains.

The data sets are written by the tests in their own on-disk formats and read back
through tonic's own classes; nothing is downloaded.
"""

import importlib
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

tonic = pytest.importorskip("tonic")
h5py = pytest.importorskip("h5py")

import eventsim  # noqa: E402
from eventsim import SpikeTrains  # noqa: E402
from eventsim import tonic as et  # noqa: E402

# SHD examples: (unit, k) with spike time k / 64 s.  Multiples of 1/64 s are exact in
# float16 (SHD's storage type) and k / 64 s = 15625 k us is a whole number of
# microseconds, so tonic's conversion (seconds * 1e6, truncated to an integer) is
# exact and the expected time in ms is 15.625 k.  Unsorted on purpose, with a tie
# (units 5 and 3 at the same time) and the last unit.
SHD_EXAMPLES = [
    ([(5, 3), (3, 3), (699, 1), (0, 80), (5, 10)], 7),
    ([], 0),
    ([(12, 2), (12, 1), (400, 64)], 19),
]
SHD_MS = 1e6 / 64 / 1000  # 15.625 ms per k


def write_shd(root, split="train"):
    """An SHD split in SHD's HDF5 layout where tonic.datasets.SHD looks for it."""
    folder = root / "SHD"
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / f"shd_{split}.h5", "w") as f:
        times = f.create_dataset("spikes/times", (len(SHD_EXAMPLES),),
                                 dtype=h5py.vlen_dtype(np.float16))
        units = f.create_dataset("spikes/units", (len(SHD_EXAMPLES),),
                                 dtype=h5py.vlen_dtype(np.uint16))
        for e, (spikes, _) in enumerate(SHD_EXAMPLES):
            times[e] = np.array([k / 64 for _, k in spikes], np.float16)
            units[e] = np.array([u for u, _ in spikes], np.uint16)
        f["labels"] = np.array([label for _, label in SHD_EXAMPLES], np.uint16)
        f["extra/keys"] = np.array([f"digit-{i}".encode() for i in range(20)])
        f["extra/speaker"] = np.zeros(len(SHD_EXAMPLES), np.uint16)
    # tonic's SHD downloads unless it finds the archive next to the extracted file;
    # it checks only that the archive exists (no md5 is passed to its check), so an
    # empty placeholder makes it read our file instead of downloading.
    (folder / f"shd_{split}.h5.zip").write_bytes(b"")


# N-MNIST examples: (folder digit, file name, [(x, y, p, t_us)]).
NMNIST_EXAMPLES = [
    (0, "00001.bin", [(0, 0, 0, 0), (33, 33, 1, 8_388_607), (5, 7, 1, 1500), (5, 7, 0, 1500)]),
    (0, "00002.bin", [(10, 20, 0, 99_999), (1, 2, 1, 42)]),
    (3, "00003.bin", [(17, 0, 1, 123_456)]),
]


def nmnist_bytes(events):
    """N-MNIST's 40-bit events: x, y, then polarity (bit 7) and a 23-bit time in us."""
    out = bytearray()
    for x, y, p, t in events:
        out += bytes([x, y, (p << 7) | (t >> 16) & 0x7F, (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


@pytest.fixture(scope="module")
def nmnist_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmnist")
    train = root / "NMNIST" / "Train"
    for digit, name, events in NMNIST_EXAMPLES:
        (train / str(digit)).mkdir(parents=True, exist_ok=True)
        (train / str(digit) / name).write_bytes(nmnist_bytes(events))
    # tonic's NMNIST downloads unless it finds train.zip (presence only, no md5) and
    # at least 10000 .bin files; empty files (no events) in the last digit's folder
    # pass that check and sort after the examples above.
    filler = train / "9"
    filler.mkdir()
    for i in range(10_000 - len(NMNIST_EXAMPLES)):
        open(filler / f"z{i:05d}.bin", "wb").close()
    (root / "NMNIST" / "train.zip").write_bytes(b"")
    return root


@pytest.fixture
def no_download(monkeypatch):
    """Any attempt of tonic to download fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("tonic tried to download")
    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", refuse)


class ListDataset:
    """The smallest tonic-like data set: a list of (events, target)."""

    def __init__(self, items, sensor_size=(4, 3, 2)):
        self.items, self.sensor_size = items, sensor_size

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def xytp(rows):
    return np.array(rows, dtype=[("x", int), ("y", int), ("t", int), ("p", int)])


# ------------------------------------------------------------------ SHD
def test_shd_file_through_tonic_keeps_every_spike(tmp_path, no_download):
    write_shd(tmp_path)
    spikes, labels = et.load_shd(tmp_path, "train")
    assert spikes.n_examples == 3 and spikes.n_channels == 700
    assert labels.tolist() == [7, 0, 19] and labels.dtype.kind in "iu"
    for e, (written, _) in enumerate(SHD_EXAMPLES):
        expected = sorted((k * SHD_MS, u) for u, k in written)
        idx, t = spikes.example(e)
        assert list(zip(t.tolist(), idx.tolist())) == expected


def test_shd_test_split_and_options(tmp_path, no_download):
    write_shd(tmp_path, "test")
    spikes, _ = et.load_shd(tmp_path, "test", n=1, t_max=100.0, time_scale=0.5)
    # t_max applies to the scaled times: k / 64 s * 0.5 <= 100 ms keeps k <= 12.
    idx, t = spikes.example(0)
    assert spikes.n_examples == 1
    assert list(zip(t.tolist(), idx.tolist())) == [
        (1 * SHD_MS / 2, 699), (3 * SHD_MS / 2, 3), (3 * SHD_MS / 2, 5),
        (10 * SHD_MS / 2, 5)]


def test_missing_shd_is_not_downloaded(tmp_path, no_download):
    with pytest.raises(FileNotFoundError, match=r"shd_train\.h5\.zip.*download=True"):
        et.load_shd(tmp_path, "train")
    assert not (tmp_path / "SHD" / "shd_train.h5").exists()


def test_shd_spikes_drive_a_multispike_lif_network(tmp_path, no_download):
    write_shd(tmp_path)
    spikes, _ = et.load_shd(tmp_path)
    net = eventsim.Network()
    x = net.add_inputs(700)
    # One hidden neuron per watched channel, a kick strong enough to fire soon after
    # each input spike; a small recurrent ring makes it a recurrent network.
    watched = np.array([3, 5, 12, 1])
    h = net.add_population(watched.size, model="lif", multispike=True, tau_mem=2.0,
                           tau_syn=1.0, theta=1.0, t_ref=1.0)
    net.connect(x.ids[watched], h.ids, 50.0)
    net.connect(h.ids, np.roll(h.ids, 1), 0.01, 0.5)
    res = eventsim.simulate(net, spikes, t_max=1300.0)
    inputs = res.spikes.trains(0)[:700]
    for e in range(spikes.n_examples):
        trains = res.spikes.trains(e)
        assert all(np.array_equal(a, b) for a, b in zip(trains[:700], spikes.trains(e)))
        for c, n in zip(watched, h.ids):
            first_in, out = spikes.trains(e)[c], trains[n]
            if first_in.size:
                assert out.size and first_in[0] < out[0] < first_in[0] + 2.0
            else:
                assert out.size == 0
    assert inputs[699].tolist() == [SHD_MS]


# ------------------------------------------------------------------ N-MNIST
def test_nmnist_files_through_tonic_keep_every_spike(nmnist_root, no_download):
    spikes, labels = et.load_nmnist(nmnist_root, "train", n=3)
    assert spikes.n_channels == 34 * 34 * 2 and labels.tolist() == [0, 0, 3]
    for e, (_, _, written) in enumerate(NMNIST_EXAMPLES):
        expected = sorted((t / 1000, x + 34 * y + 34 * 34 * p) for x, y, p, t in written)
        idx, t = spikes.example(e)
        assert list(zip(t.tolist(), idx.tolist())) == expected


def test_nmnist_merged_polarities(nmnist_root, no_download):
    spikes, _ = et.load_nmnist(nmnist_root, n=1, polarity="merge")
    idx, t = spikes.example(0)
    # Both polarities of pixel (5, 7) at 1.5 ms land on the same channel.
    assert spikes.n_channels == 34 * 34
    assert list(zip(t.tolist(), idx.tolist())) == [
        (0.0, 0), (1.5, 5 + 34 * 7), (1.5, 5 + 34 * 7), (8388.607, 33 + 34 * 33)]


def test_missing_nmnist_is_not_downloaded(tmp_path, no_download):
    with pytest.raises(FileNotFoundError, match=r"NMNIST.*test\.zip.*download=True"):
        et.load_nmnist(tmp_path, "test")
    assert not (tmp_path / "NMNIST" / "Test").exists()


# ------------------------------------------------------------------ from_events
def test_channel_order_is_tonic_frame_order():
    ev = xytp([(1, 2, 10, 1), (3, 0, 20, 0), (0, 1, 30, 1)])
    frame = tonic.functional.to_frame_numpy(ev.copy(), (4, 3, 2), event_count=3)[0]
    idx, t = et.from_events(ev, (4, 3, 2))
    counts = np.bincount(idx, minlength=et.n_channels((4, 3, 2)))
    assert np.array_equal(counts, frame.ravel()) and t.tolist() == [0.01, 0.02, 0.03]


def test_single_polarity_ignores_p_and_missing_fields_count_as_zero():
    audio = np.array([(2, 1, 5000)], dtype=[("x", int), ("p", int), ("t", float)])
    only_t = np.array([(7,)], dtype=[("t", int)])
    assert [a.tolist() for a in et.from_events(audio, (3, 1, 1))] == [[2], [5.0]]
    assert [a.tolist() for a in et.from_events(only_t, (1, 1, 1))] == [[0], [0.007]]


@settings(max_examples=60, deadline=None)
@given(size=st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3)),
       rows=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**9),
                               st.integers(0, 10**6), st.integers(0, 10**6)), max_size=40),
       merge=st.booleans(), scale=st.sampled_from([1.0, 0.5, 3.0]))
def test_every_event_appears_once_with_its_exact_time(size, rows, merge, scale):
    w, h, p = size
    ev = xytp([(x % w, y % h, t, q % p) for x, t, y, q in rows])
    idx, t = et.from_events(ev, size, polarity="merge" if merge else "separate",
                            time_scale=scale)
    n_pol = 1 if merge else p
    expected = sorted(
        (tt / 1000 * scale, x + w * (y + h * (q if n_pol > 1 else 0)))
        for x, y, tt, q in ev.tolist())
    assert list(zip(t.tolist(), idx.tolist())) == expected
    assert idx.dtype == np.int64 and t.dtype == np.float64
    assert (idx < et.n_channels(size, "merge" if merge else "separate")).all()


@pytest.mark.parametrize("events, sensor, match", [
    (np.array([(1, 0)], dtype=[("x", int), ("p", int)]), (2, 1, 1), "no 't' field"),
    (np.array([(0, np.nan)], dtype=[("x", int), ("t", float)]), (2, 1, 1), "event 0: t is NaN"),
    (xytp([(0, 0, 5, 0), (0, 0, -1, 0)]), (2, 2, 2), "event 1: t = -1.0 is negative"),
    (xytp([(2, 0, 0, 0)]), (2, 2, 2), r"x = 2 is outside 0..1"),
    (xytp([(0, -1, 0, 0)]), (2, 2, 2), r"y = -1 is outside 0..1"),
    (xytp([(0, 0, 0, 2)]), (2, 2, 2), r"p = 2 is outside 0..1"),
    (np.array([(0, 1)], dtype=[("x", int), ("t", int)]), (2, 3, 1), "no 'y' field"),
    (np.array([(0.5, 1)], dtype=[("x", float), ("t", int)]), (2, 1, 1), "not a whole number"),
    (xytp([(0, 0, 0, 0)]), (2, 2), "three positive integers"),
    (xytp([(0, 0, 0, 0)]), (2, 0, 1), "three positive integers"),
])
def test_bad_events_are_refused_with_the_reason(events, sensor, match):
    with pytest.raises(ValueError, match=match) as info:
        et.from_events(events, sensor)
    assert info.type is ValueError


def test_bad_options_and_frames_are_refused():
    ev = xytp([(0, 0, 0, 0)])
    with pytest.raises(TypeError, match="structured array"):
        et.from_events(np.zeros((3, 2, 4, 4)), (4, 4, 2))
    with pytest.raises(ValueError, match="polarity must be one of"):
        et.from_events(ev, (1, 1, 1), polarity="both")
    with pytest.raises(ValueError, match="t_per_ms must be a finite number > 0"):
        et.from_events(ev, (1, 1, 1), t_per_ms=0)
    with pytest.raises(ValueError, match="t_max must be a number"):
        et.from_events(ev, (1, 1, 1), t_max=float("nan"))
    assert et.from_events(ev[:0], (1, 1, 1))[0].size == 0


# ------------------------------------------------------------------ from_tonic
def test_from_tonic_sorts_crops_and_labels():
    ds = ListDataset([(xytp([(1, 0, 3000, 1), (0, 2, 1000, 0), (3, 2, 1000, 0)]), 4),
                      (xytp([]), 1),
                      (xytp([(2, 1, 9000, 1)]), 2)])
    spikes, labels = et.from_tonic(ds, t_max=5.0, progress=False)
    expected = SpikeTrains.from_events([8, 11, 13], [1.0, 1.0, 3.0], 24,
                                       example=[0, 0, 0], n_examples=3)
    assert spikes == expected and labels.tolist() == [4, 1, 2]
    assert [a.tolist() for a in spikes.example(0)] == [[8, 11, 13], [1.0, 1.0, 3.0]]


def test_from_tonic_errors_name_the_example():
    ds = ListDataset([(xytp([(0, 0, 0, 0)]), 0), (xytp([(9, 0, 0, 0)]), 1)])
    with pytest.raises(ValueError, match=r"example 1: event 0: x = 9"):
        et.from_tonic(ds)
    with pytest.raises(ValueError, match="n=5 but the data set has 2 examples"):
        et.from_tonic(ds, 5)
    with pytest.raises(ValueError, match="no sensor_size attribute"):
        et.from_tonic([(xytp([]), 0)])
    with pytest.raises(TypeError, match=r"example 0: .*\(events, target\)"):
        et.from_tonic(ListDataset([xytp([])]))
    spikes, labels = et.from_tonic(ds, 1, sensor_size=(1, 1, 1))
    assert spikes.n_channels == 1 and labels.tolist() == [0]


def test_non_numeric_targets_and_progress_bar(capsys):
    ds = ListDataset([(xytp([(0, 0, 0, 0)]), ("a", 1)), (xytp([]), ("b", 2, 3))])
    spikes, labels = et.from_tonic(ds, progress=True)
    assert labels.dtype == object and labels.tolist() == [("a", 1), ("b", 2, 3)]
    assert "ListDataset -> SpikeTrains" in capsys.readouterr().err
    assert spikes.n_examples == 2


def test_bad_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        et.load_shd(tmp_path, "valid")
    assert not (tmp_path / "SHD").exists()


def test_without_tonic_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tonic", None)
    monkeypatch.delitem(sys.modules, "eventsim.tonic")
    with pytest.raises(ImportError, match=r'pip install "eventsim\[tonic\]"'):
        importlib.import_module("eventsim.tonic")
    assert et.n_channels((2, 1, 1)) == 2
