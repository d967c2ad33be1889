"""Tests for eventsim.analysis: pulse packets, information gain, class pathways."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import eventsim
from eventsim import analysis as an

FAST = settings(max_examples=30, deadline=None)


# --------------------------------------------------------------------------- information gain
def _balanced_labels(k=10, per_class=6):
    return np.repeat(np.arange(k), per_class)


def _fires_for(labels, classes):
    """Spike times of one neuron that fires (at t = 1) exactly on examples of ``classes``."""
    t = np.full((labels.size, 1), np.inf)
    t[np.isin(labels, classes), 0] = 1.0
    return t


@pytest.mark.parametrize("kind", ["entropy", "kl"])
def test_ig_one_class_is_one(kind):
    y = _balanced_labels()
    assert an.information_gain(_fires_for(y, [3]), y, kind=kind)[0] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["entropy", "kl"])
def test_ig_all_classes_is_zero(kind):
    y = _balanced_labels()
    assert an.information_gain(_fires_for(y, np.arange(10)), y, kind=kind)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["entropy", "kl"])
def test_ig_two_of_ten_classes(kind):
    y = _balanced_labels()
    ig = an.information_gain(_fires_for(y, [2, 7]), y, kind=kind)[0]
    assert ig == pytest.approx(1 - math.log(2) / math.log(10), abs=1e-12)
    assert ig == pytest.approx(0.69897, abs=5e-6)


def test_ig_partial_firing_within_class():
    # Firing on half the examples of class 0 and all of class 1: P(C|A) = (1/3, 2/3, 0, ...).
    y = _balanced_labels(k=4, per_class=4)
    t = np.full((y.size, 1), np.inf)
    t[np.flatnonzero(y == 0)[:2], 0] = 0.5
    t[y == 1, 0] = 0.7
    p = np.array([1 / 3, 2 / 3])
    expect = 1 + (p * np.log(p)).sum() / math.log(4)
    assert an.information_gain(t, y)[0] == pytest.approx(expect, abs=1e-12)


def test_ig_entropy_equals_kl_for_balanced_classes(rng):
    y = _balanced_labels(k=5, per_class=20)
    t = np.where(rng.random((y.size, 40)) < 0.3, rng.random((y.size, 40)), np.inf)
    a = an.information_gain(t, y, kind="entropy")
    b = an.information_gain(t, y, kind="kl")
    ok = ~np.isnan(a)
    assert ok.sum() > 30
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[ok], b[ok], atol=1e-12)


def test_ig_unbalanced_kl_nonnegative_entropy_can_be_negative():
    # Prior 0.9 / 0.1; the neuron fires on 1 example of each class: P(C|A) = (1/2, 1/2)
    # is *more* uncertain than the prior, so the entropy form is negative, KL is not.
    y = np.array([0] * 9 + [1])
    t = np.full((10, 1), np.inf)
    t[[0, 9], 0] = 1.0
    h_prior = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    ig = an.information_gain(t, y)[0]
    assert ig == pytest.approx((h_prior - math.log(2)) / math.log(2), abs=1e-12)
    assert ig < 0
    kl = an.information_gain(t, y, kind="kl")[0]
    expect = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert kl == pytest.approx(expect / math.log(2), abs=1e-12)
    assert kl > 0


def test_ig_never_active_is_nan_and_activity_matrix_accepted(rng):
    y = _balanced_labels(k=3, per_class=5)
    t = np.where(rng.random((15, 6)) < 0.5, 1.0, np.inf)
    t[:, 2] = np.inf
    ig = an.information_gain(t, y)
    assert np.isnan(ig[2]) and np.isfinite(np.delete(ig, 2)).all()
    np.testing.assert_array_equal(an.information_gain(np.isfinite(t), y), ig)


def test_ig_absent_classes_and_float_labels():
    # K = 4 although only classes 0 and 1 occur: a neuron firing for class 0 gives
    # (H(C) - 0) / ln 4 = ln 2 / ln 4 = 0.5.
    y = np.array([0, 0, 1, 1])
    t = _fires_for(y, [0])
    assert an.information_gain(t, y, n_classes=4)[0] == pytest.approx(0.5)
    assert an.information_gain(t, y.astype(float), n_classes=4)[0] == pytest.approx(0.5)


@pytest.mark.parametrize("times, labels, kwargs, match", [
    (np.ones(4), [0, 1, 0, 1], {}, "2-D"),
    (np.ones((4, 2)), [0, 1, 0], {}, "3 entries"),
    (np.full((4, 2), np.nan), [0, 1, 0, 1], {}, "NaN"),
    (np.full((4, 2), -np.inf), [0, 1, 0, 1], {}, "-inf"),
    (np.ones((4, 2)), [0, 1, 0, -1], {}, "out of range"),
    (np.ones((4, 2)), [0, 1, 0, 3], {"n_classes": 3}, "out of range"),
    (np.ones((4, 2)), [0, 0, 0, 0], {}, "at least 2 classes"),
    (np.ones((4, 2)), [0, 1, 0, 1], {"n_classes": 1}, "at least 2 classes"),
    (np.ones((4, 2)), [0, 1.5, 0, 1], {}, "integers"),
    (np.ones((4, 2)), [0, np.nan, 0, 1], {}, "NaN"),
    (np.ones((4, 2)), [[0, 1], [0, 1]], {}, "1-D"),
    (np.ones((4, 2)), [0, 1, 0, 1], {"kind": "mi"}, "kind"),
    (np.ones((0, 2)), [], {}, "no examples"),
])
def test_ig_errors(times, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        an.information_gain(times, labels, **kwargs)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n_classes=st.integers(2, 6), per_class=st.integers(1, 6),
       n_neurons=st.integers(1, 12), p=st.floats(0.05, 0.95))
def test_ig_properties(seed, n_classes, per_class, n_neurons, p):
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.repeat(np.arange(n_classes), per_class))
    t = np.where(rng.random((y.size, n_neurons)) < p, rng.random((y.size, n_neurons)), np.inf)
    ig = an.information_gain(t, y)
    kl = an.information_gain(t, y, kind="kl")
    ok = ~np.isnan(ig)
    np.testing.assert_array_equal(ok, np.isfinite(t).any(axis=0))
    # Balanced: in [0, 1] and both forms agree.
    assert (ig[ok] >= -1e-12).all() and (ig[ok] <= 1 + 1e-12).all()
    np.testing.assert_allclose(ig[ok], kl[ok], atol=1e-12)
    # Relabelling neurons permutes the result; reordering examples changes nothing.
    perm = rng.permutation(n_neurons)
    np.testing.assert_array_equal(an.information_gain(t[:, perm], y), ig[perm])
    order = rng.permutation(y.size)
    np.testing.assert_allclose(an.information_gain(t[order], y[order]), ig, atol=1e-12)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(4, 40), k=st.integers(2, 5))
def test_ig_kl_nonnegative_unbalanced(seed, n, k):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    t = np.where(rng.random((n, 8)) < 0.4, 1.0, np.inf)
    kl = an.information_gain(t, y, n_classes=k, kind="kl")
    assert (kl[~np.isnan(kl)] >= 0).all()
    assert (kl[~np.isnan(kl)] <= math.log(n) / math.log(k) + 1e-9).all()   # D_KL <= -ln min P(c)


# The paper's normalisation, IG = (H(C) - H(C | active)) / H(C), on constructed neurons.
def test_ig_prior_normalisation_known_answers():
    y = _balanced_labels(k=10, per_class=6)
    # Column 0: one class only -> 1.  Column 1: every class, all examples -> 0.
    # Column 2: classes 2 and 7 -> 1 - ln 2 / ln 10.  Column 3: one example of each class -> 0.
    t = np.full((y.size, 4), np.inf)
    t[y == 4, 0] = 0.3
    t[:, 1] = 0.2
    t[np.isin(y, [2, 7]), 2] = 0.5
    t[np.unique(y, return_index=True)[1], 3] = 0.9
    ig = an.information_gain(t, y, normalise="prior")
    np.testing.assert_allclose(ig, [1.0, 0.0, 1 - math.log(2) / math.log(10), 0.0], atol=1e-12)


def test_ig_prior_normalisation_hand_computed_intermediate_case():
    # Four classes of 4 examples each; the neuron fires on all of class 0, two of class 1,
    # one of class 2: P(C | A) = (4, 2, 1, 0) / 7; H(C) = ln 4.
    y = _balanced_labels(k=4, per_class=4)
    t = np.full((y.size, 1), np.inf)
    t[y == 0, 0] = 1.0
    t[np.flatnonzero(y == 1)[:2], 0] = 1.0
    t[np.flatnonzero(y == 2)[:1], 0] = 1.0
    h_cond = -(4 / 7 * math.log(4 / 7) + 2 / 7 * math.log(2 / 7) + 1 / 7 * math.log(1 / 7))
    expect = (math.log(4) - h_cond) / math.log(4)
    # By hand: H(C | A) = 0.3198 + 0.3579 + 0.2780 = 0.9557, so 1 - 0.9557 / 1.3863 = 0.3106.
    assert expect == pytest.approx(0.3106, abs=1e-4)
    assert an.information_gain(t, y, normalise="prior")[0] == pytest.approx(expect, abs=1e-12)


def test_ig_prior_normalisation_unbalanced_one_class_is_one():
    # Prior (0.7, 0.2, 0.1): a neuron firing for class 2 only tells everything -> 1
    # with the prior entropy, but only H(C) / ln 3 with ln K.
    y = np.array([0] * 7 + [1] * 2 + [2])
    t = _fires_for(y, [2])
    h = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    assert an.information_gain(t, y, normalise="prior")[0] == pytest.approx(1.0, abs=1e-12)
    assert an.information_gain(t, y)[0] == pytest.approx(h / math.log(3), abs=1e-12)
    kl = an.information_gain(t, y, kind="kl", normalise="prior")[0]
    assert kl == pytest.approx(-math.log(0.1) / h, abs=1e-12)


def test_ig_prior_normalisation_errors():
    with pytest.raises(ValueError, match="normalise"):
        an.information_gain(np.ones((4, 1)), [0, 1, 0, 1], normalise="h")
    with pytest.raises(ValueError, match="at least 2 classes present"):
        an.information_gain(np.ones((4, 1)), [1, 1, 1, 1], n_classes=3, normalise="prior")


def test_activity_before_deadline_per_example_and_scalar():
    t = np.array([[0.1, 0.5, np.inf], [0.3, 0.2, 0.4]])
    a = an.activity_before(t, [0.4, 0.35])
    np.testing.assert_array_equal(a, [[True, False, False], [True, True, False]])
    np.testing.assert_array_equal(an.activity_before(t, np.inf), np.isfinite(t))
    np.testing.assert_array_equal(an.activity_before(t, 0.3), [[True, False, False],
                                                               [False, True, False]])
    # A neuron that fires for every class, but before the decision only for class 0,
    # becomes fully specific when the late spikes are left out.
    y = np.array([0, 1])
    late = np.array([[0.1], [0.9]])
    assert an.information_gain(late, y)[0] == pytest.approx(0.0)
    assert an.information_gain(an.activity_before(late, [0.5, 0.5]), y)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("deadline, match", [
    ([0.1, 0.2, 0.3], "shape"), (np.nan, "NaN"), ("x", "deadline"), ([True, False], "deadline"),
])
def test_activity_before_errors(deadline, match):
    with pytest.raises(ValueError, match=match):
        an.activity_before(np.ones((2, 3)), deadline)


# --------------------------------------------------------------------------- by_layer
def test_by_layer_splits_e_and_i():
    values = np.array([0.1, 0.2, np.nan, 0.4, 0.5, 0.6, np.nan])
    exc = np.array([True, False, True, True, False, False, False])
    lv = an.by_layer(values, {"a": [0, 1, 2], "b": slice(3, 7)}, excitatory=exc)
    assert lv.names == ("a", "b") and lv.groups == ("E", "I")
    np.testing.assert_array_equal(lv.values["E"][0], [0.1])
    np.testing.assert_array_equal(lv.values["I"][0], [0.2])
    np.testing.assert_array_equal(lv.values["E"][1], [0.4])
    np.testing.assert_array_equal(lv.values["I"][1], [0.5, 0.6])
    np.testing.assert_array_equal(lv.n_neurons["E"], [2, 1])
    np.testing.assert_array_equal(lv.n_nan["E"], [1, 0])
    np.testing.assert_array_equal(lv.n_nan["I"], [0, 1])
    np.testing.assert_allclose(lv.mean("I"), [0.2, 0.55])
    np.testing.assert_allclose(lv.median("E"), [0.1, 0.4])
    np.testing.assert_allclose(lv.fraction_above("I", 0.55), [0.0, 0.5])
    # Per-layer masks give the same grouping.
    lv2 = an.by_layer(values, [[0, 1, 2], slice(3, 7)], excitatory=[exc[:3], exc[3:]])
    for g in ("E", "I"):
        for a, b in zip(lv.values[g], lv2.values[g]):
            np.testing.assert_array_equal(a, b)
    # Without a mask: one group.
    lv3 = an.by_layer(values, [slice(0, 3), slice(3, 7)])
    assert lv3.groups == ("all",)
    np.testing.assert_array_equal(lv3.n_nan["all"], [1, 1])
    with pytest.raises(ValueError, match="unknown group"):
        lv3.mean("E")


def test_by_layer_errors():
    v = np.zeros(4)
    with pytest.raises(ValueError, match="boolean"):
        an.by_layer(v, [[0, 1]], excitatory=np.ones(3, bool))
    with pytest.raises(ValueError, match="per-layer masks"):
        an.by_layer(v, [[0, 1], [2, 3]], excitatory=[np.ones(2, bool)])
    with pytest.raises(ValueError, match="1-D"):
        an.by_layer(np.zeros((2, 2)), [[0]])


def test_layer_values_quantiles_and_histogram():
    values = np.array([0.0, 0.25, 0.5, 1.0, np.nan, 0.95, 0.05, 0.15])
    exc = np.array([True, True, True, True, True, False, False, False])
    lv = an.by_layer(values, [np.arange(5), np.arange(5, 8)], excitatory=exc)
    q = lv.quantiles("E", [0.0, 0.5, 1.0])
    np.testing.assert_allclose(q, [[0.0, 0.375, 1.0], [np.nan] * 3])
    np.testing.assert_allclose(lv.quantiles("I", [0.5]), [[np.nan], [0.15]])
    counts, edges = lv.histogram("E", bins=4)
    np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(counts, [[1, 1, 1, 1], [0, 0, 0, 0]])  # 1.0 is in the last bin
    counts, _ = lv.histogram("I", bins=[0.0, 0.1, 1.0])
    np.testing.assert_array_equal(counts, [[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="q must"):
        lv.quantiles("E", [1.5])
    with pytest.raises(ValueError, match="unknown group"):
        lv.histogram("all")


# --------------------------------------------------------------------------- pulse packets
def test_pulse_packet_synthetic():
    rng = np.random.default_rng(1234)
    spikes = rng.normal(2.0, 0.3, 400)
    t = np.concatenate([spikes, np.full(100, np.inf)])[rng.permutation(500)]
    pp = an.pulse_packets(t, [slice(None)])
    expect_sigma = np.sqrt(np.mean((spikes - spikes.mean()) ** 2))     # ddof = 0
    assert pp.activity[0] == 400
    assert pp.fraction[0] == pytest.approx(0.8)
    assert pp.latency[0] == pytest.approx(spikes.mean(), rel=1e-12)
    assert pp.spread[0] == pytest.approx(expect_sigma, rel=1e-12)
    assert pp.spread[0] == pytest.approx(np.std(spikes, ddof=0), rel=1e-12)
    assert pp.spread[0] == pytest.approx(0.298, abs=0.02)
    assert pp.per_example["spread"].shape == (1, 1)


def test_pulse_packets_few_spikes_handled_explicitly():
    inf = np.inf
    t = np.array([
        [1.0, 3.0, inf, 0.5],       # layer 0: 2 spikes (sigma 1); layer 1: 1 spike
        [2.0, inf, inf, inf],       # layer 0: 1 spike;  layer 1: silent
        [inf, inf, inf, inf],       # everything silent
    ])
    layers = [[0, 1, 2], [3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pp = an.pulse_packets(t, layers)
        pp1 = an.pulse_packets(t, layers, min_spikes=1)
    np.testing.assert_array_equal(pp.per_example["activity"], [[2, 1], [1, 0], [0, 0]])
    np.testing.assert_allclose(pp.activity, [1.0, 1 / 3])
    np.testing.assert_allclose(pp.fraction, [0.5 / 1.5, 1 / 3])
    np.testing.assert_allclose(pp.latency, [(2.0 + 2.0) / 2, 0.5])
    np.testing.assert_array_equal(pp.n_latency, [2, 1])
    # Spread: only example 0 of layer 0 has >= 2 spikes; layer 1 never does.
    assert pp.spread[0] == pytest.approx(1.0) and np.isnan(pp.spread[1])
    np.testing.assert_array_equal(pp.n_spread, [1, 0])
    assert np.isnan(pp.per_example["spread"][1, 0]) and np.isnan(pp.per_example["latency"][2, 0])
    # min_spikes=1 counts single spikes with spread 0.
    np.testing.assert_allclose(pp1.spread, [0.5, 0.0])
    np.testing.assert_array_equal(pp1.n_spread, [2, 1])
    assert pp.to_dict()["names"] == ("layer 0", "layer 1")


def test_pulse_packets_layer_specs_equivalent():
    rng = np.random.default_rng(3)
    t = np.where(rng.random((7, 10)) < 0.6, rng.random((7, 10)), np.inf)
    net = eventsim.Network()
    a = net.add_inputs(4, name="a")
    b = net.add_inputs(6, name="b")
    specs = [
        [np.arange(4), np.arange(4, 10)],
        [slice(0, 4), slice(4, 10)],
        [np.arange(10) < 4, np.arange(10) >= 4],
        [a, b],
        {"a": range(4), "b": range(4, 10)},
    ]
    ref = an.pulse_packets(t, specs[0])
    for spec in specs[1:]:
        pp = an.pulse_packets(t, spec)
        for key in ("activity", "fraction", "latency", "spread"):
            np.testing.assert_array_equal(getattr(pp, key), getattr(ref, key))
    assert an.pulse_packets(t, specs[3]).names == ("a", "b")
    assert an.pulse_packets(t, specs[4]).names == ("a", "b")


@pytest.mark.parametrize("times, layers, kwargs, match", [
    (np.ones((2, 3)), [], {}, "layers is empty"),
    (np.ones((2, 3)), [[]], {}, "layer 0 is empty"),
    (np.ones((2, 3)), [slice(3, 3)], {}, "layer 0 is empty"),
    (np.ones((2, 3)), [[0, 3]], {}, "out of range"),
    (np.ones((2, 3)), [[0], [-1]], {}, "layer 1: neuron index -1"),
    (np.ones((2, 3)), [[0, 0]], {}, "more than once"),
    (np.ones((2, 3)), [[0.5]], {}, "integers"),
    (np.ones((2, 3)), [np.ones(2, bool)], {}, "boolean mask"),
    (np.ones((2, 3)), slice(0, 3), {}, "sequence"),
    (np.ones((2, 3)), [[0]], {"min_spikes": 0}, "min_spikes"),
    (np.full((2, 3), np.nan), [[0]], {}, "NaN"),
    (np.ones((2, 3, 1)), [[0]], {}, "1-D or 2-D"),
    (np.ones((2, 0)), [[0]], {}, "no neurons"),
    (np.array([["a"]]), [[0]], {}, "dtype"),
])
def test_pulse_packets_errors(times, layers, kwargs, match):
    with pytest.raises(ValueError, match=match):
        an.pulse_packets(times, layers, **kwargs)


@FAST
@given(seed=st.integers(0, 2**32 - 1), n_ex=st.integers(1, 6), sizes=st.lists(st.integers(1, 8), min_size=1, max_size=4),
       p=st.floats(0.0, 1.0))
def test_pulse_packet_properties(seed, n_ex, sizes, p):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    t = np.where(rng.random((n_ex, n)) < p, rng.normal(1.0, 0.5, (n_ex, n)), np.inf)
    bounds = np.cumsum([0] + sizes)
    layers = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(sizes))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pp = an.pulse_packets(t, layers)
    assert ((pp.fraction >= 0) & (pp.fraction <= 1)).all()
    assert ((pp.activity >= 0) & (pp.activity <= np.array(sizes))).all()
    sp = pp.per_example["spread"]
    assert (sp[np.isfinite(sp)] >= 0).all()
    # Spread never exceeds half the range of the layer's spike times.
    for j, g in enumerate(layers):
        for e in range(n_ex):
            s = t[e, g][np.isfinite(t[e, g])]
            if s.size >= 2:
                assert sp[e, j] == pytest.approx(np.std(s), abs=1e-12)
                assert sp[e, j] <= (s.max() - s.min()) / 2 + 1e-12
            else:
                assert np.isnan(sp[e, j])
    # Permuting neurons (and the layer index arrays with them) changes nothing.
    perm = rng.permutation(n)
    inv = np.argsort(perm)
    pp2 = an.pulse_packets(t[:, perm], [inv[g] for g in layers])
    np.testing.assert_array_equal(pp2.activity, pp.activity)
    np.testing.assert_allclose(pp2.spread, pp.spread, atol=1e-12)
    np.testing.assert_allclose(pp2.latency, pp.latency, atol=1e-12)


def test_spike_time_histograms():
    rng = np.random.default_rng(5)
    t = np.where(rng.random((20, 9)) < 0.7, rng.random((20, 9)) * 3, np.inf)
    layers = [slice(0, 4), slice(4, 9)]
    counts, edges = an.spike_time_histograms(t, layers, bins=12)
    assert counts.shape == (2, 12) and edges.shape == (13,)
    assert counts.dtype.kind == "i"
    assert counts[0].sum() == np.isfinite(t[:, :4]).sum()
    assert counts[1].sum() == np.isfinite(t[:, 4:]).sum()
    fin = t[np.isfinite(t)]
    assert edges[0] == fin.min() and edges[-1] == fin.max()
    dens, e2 = an.spike_time_histograms(t, layers, bins=np.linspace(0, 3, 7), density=True)
    np.testing.assert_allclose((dens * np.diff(e2)).sum(axis=1), 1.0)
    silent, e3 = an.spike_time_histograms(np.full((2, 3), np.inf), [[0, 1, 2]], bins=4)
    assert silent.sum() == 0 and e3[0] == 0.0 and e3[-1] == 1.0
    with pytest.raises(ValueError, match="increasing"):
        an.spike_time_histograms(t, layers, bins=[1.0, 0.0])


# --------------------------------------------------------------------------- pathways
def _chain():
    """A hand-built 4 -> 3 -> 2 network whose pathways are worked out in the test."""
    w0 = np.array([[4.0, 0.0, 0.0],      # x0 -> h0
                   [0.0, 1.0, 0.0],      # x1 -> h1
                   [1.0, 1.0, 0.0],      # x2 -> h0, h1
                   [10.0, 0.0, 0.0]])    # x3 is inhibitory: never part of a pathway
    w1 = np.array([[1.0, -3.0],          # h0 -> out0 (its negative weight to out1 is ignored)
                   [0.0, 2.0],           # h1 -> out1
                   [5.0, 5.0]])          # h2 is inhibitory
    exc = [np.array([True, True, True, False]), np.array([True, True, False])]
    return [w0, w1], exc


def test_pathways_hand_built_chain():
    weights, exc = _chain()
    pw = an.class_pathways(weights, exc, top_k=2)
    # D1 = [[1, 0], [0, 2], [0, 0]] / 2;  D0 = P0 D1 = [[2, 0], [0, 1], [.5, 1], [0, 0]] / 2.
    np.testing.assert_allclose(pw.drive[1], [[0.5, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(pw.drive[0], [[1, 0], [0, 0.5], [0.25, 0.5], [0, 0]])
    np.testing.assert_array_equal(pw.top[1], [[0, -1], [1, -1]])
    np.testing.assert_array_equal(pw.top[0], [[0, 2], [1, 2]])     # tie 0.5 / 0.5: lower index first
    np.testing.assert_array_equal(pw.neurons(1, 0), [0])
    # Layer 0: class 0 own = (1 + .25)/2, other = (0 + .5)/2; class 1 own = .5, other = (0 + .25)/2.
    np.testing.assert_allclose(pw.own[0], [0.625, 0.5])
    np.testing.assert_allclose(pw.other[0], [0.25, 0.125])
    np.testing.assert_allclose(pw.specificity[0], [2.5, 4.0])
    assert pw.layer_specificity[0] == pytest.approx(1.125 / 0.375)
    # Layer 1: each pathway drives only its own class.
    assert np.isposinf(pw.specificity[1]).all() and np.isposinf(pw.layer_specificity[1])
    assert pw.n_layers == 2 and pw.n_classes == 2


def test_pathways_sign_inhibitory_and_negative_never_enter():
    weights, exc = _chain()
    pw = an.class_pathways(weights, exc, top_k=5)
    assert 3 not in pw.top[0] and 2 not in pw.top[1]
    assert (pw.drive[0][3] == 0).all() and (pw.drive[1][2] == 0).all()
    # A neuron whose only path is through negative weights has no drive.
    w0, w1 = weights
    w0 = np.vstack([w0, [-1.0, -1.0, -1.0]])
    exc2 = [np.append(exc[0], True), exc[1]]
    pw2 = an.class_pathways([w0, w1], exc2, top_k=5)
    assert (pw2.drive[0][4] == 0).all() and 4 not in pw2.top[0]
    # A trailing output mask is accepted and ignored.
    pw3 = an.class_pathways(weights, exc + [np.ones(2, bool)], top_k=2)
    np.testing.assert_array_equal(pw3.top, an.class_pathways(weights, exc, top_k=2).top)


def test_pathways_class_without_pathway():
    w = np.array([[1.0, -1.0], [2.0, 0.0]])
    pw = an.class_pathways([w], [np.array([True, True])], top_k=3)
    np.testing.assert_array_equal(pw.top[0], [[1, 0, -1], [-1, -1, -1]])
    assert np.isnan(pw.own[0, 1]) and np.isnan(pw.specificity[0, 1])
    assert np.isposinf(pw.layer_specificity[0])
    none = an.class_pathways([w], [np.array([False, False])])
    assert (none.top == -1).all() and np.isnan(none.layer_specificity).all()


@FAST
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(2, 7), min_size=3, max_size=4),
       top_k=st.integers(1, 4), p_exc=st.floats(0.3, 1.0))
def test_pathway_properties(seed, sizes, top_k, p_exc):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0.2, 1.0, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    exc = [rng.random(a) < p_exc for a in sizes[:-1]]
    pw = an.class_pathways(weights, exc, top_k=top_k)
    assert pw.top.shape == (len(weights), sizes[-1], top_k)
    for l, d in enumerate(pw.drive):
        assert (d >= 0).all() and d.max() <= 1.0
        assert (d[~exc[l]] == 0).all()
        assert (d[(weights[l] <= 0).all(axis=1)] == 0).all()
        chosen = pw.top[l][pw.top[l] >= 0]
        assert exc[l][chosen].all()
        for c in range(sizes[-1]):
            sel = pw.neurons(l, c)
            if sel.size:            # strongest first, and nobody left out is stronger
                assert (np.diff(d[sel, c]) <= 0).all()
                rest = np.setdiff1d(np.arange(d.shape[0]), sel)
                assert (d[rest, c] <= d[sel[-1], c]).all()
    # Deterministic; invariant to positive rescaling of a layer.
    again = an.class_pathways(weights, exc, top_k=top_k)
    np.testing.assert_array_equal(again.top, pw.top)
    scaled = an.class_pathways([w * 3.7 for w in weights], exc, top_k=top_k)
    np.testing.assert_array_equal(scaled.top, pw.top)
    np.testing.assert_allclose(scaled.specificity, pw.specificity, rtol=1e-9)
    # Relabelling the neurons of a hidden layer permutes that layer's results.
    h = 1
    perm = rng.permutation(sizes[h])
    w2 = [w.copy() for w in weights]
    w2[h - 1] = weights[h - 1][:, perm]
    w2[h] = weights[h][perm]
    e2 = list(exc)
    e2[h] = exc[h][perm]
    pw2 = an.class_pathways(w2, e2, top_k=top_k)
    np.testing.assert_allclose(pw2.drive[h], pw.drive[h][perm], atol=1e-12)
    mapped = np.where(pw2.top[h] >= 0, perm[np.maximum(pw2.top[h], 0)], -1)
    # Equal drives could be ordered differently, so compare as sets of drive values.
    for c in range(sizes[-1]):
        np.testing.assert_allclose(np.sort(pw.drive[h][pw.neurons(h, c), c]),
                                   np.sort(pw.drive[h][mapped[c][mapped[c] >= 0], c]), atol=1e-12)
    np.testing.assert_allclose(pw2.specificity, pw.specificity, rtol=1e-9)


@pytest.mark.parametrize("weights, exc, kwargs, match", [
    ([], [], {}, "empty"),
    ([np.ones((2, 3)), np.ones((2, 2))], [np.ones(2, bool), np.ones(3, bool)], {}, "do not chain"),
    ([np.ones((2, 3))], [np.ones(3, bool)], {}, r"shape \(2,\)"),
    ([np.ones((2, 3))], [np.ones(2)], {}, "boolean"),
    ([np.ones((2, 3))], [], {}, "one mask per matrix"),
    ([np.full((2, 3), np.nan)], [np.ones(2, bool)], {}, "NaN"),
    ([np.ones(3)], [np.ones(3, bool)], {}, "2-D"),
    ([np.ones((2, 1))], [np.ones(2, bool)], {}, "at least 2 output classes"),
    ([np.ones((2, 3))], [np.ones(2, bool)], {"top_k": 0}, "top_k"),
])
def test_pathway_errors(weights, exc, kwargs, match):
    with pytest.raises(ValueError, match=match):
        an.class_pathways(weights, exc, **kwargs)


# --------------------------------------------------------------------------- eventsim networks
def test_network_layers_feedforward():
    net = eventsim.feedforward(3, [5, 4], 2, n_pulses=2, rng=0)
    ln = an.network_layers(net)
    assert ln.names == ("input", "hidden0", "hidden1", "output")
    np.testing.assert_array_equal(ln.layers[1], net["hidden0"].ids)
    assert [w.shape for w in ln.weights] == [(3, 5), (5, 4), (4, 2)]
    np.testing.assert_array_equal(ln.weights[1], net.weight_matrix("hidden0", "hidden1"))
    for w, e in zip(ln.weights, ln.excitatory):
        np.testing.assert_array_equal(e, (w >= 0).all(axis=1))
    assert ln.excitatory[-1].all() and ln.excitatory[-1].shape == (2,)
    np.testing.assert_array_equal(ln.pulse_ids, net.pulse_ids)
    assert list(ln.layer_dict()) == list(ln.names)
    full = ln.excitatory_mask(net.n_neurons)
    assert not full[net.pulse_ids].any() and full[net["output"].ids].all()
    # Glorot weights mix signs: not a Dale network.
    assert not ln.dale


def test_network_layers_dale_and_strict():
    net = eventsim.Network()
    x = net.add_inputs(2, name="x")
    h = net.add_population(3, name="h")
    o = net.add_population(2, name="o")
    net.connect_dense(x, h, [[1.0, 2.0, 0.5], [-1.0, -2.0, -0.5]])
    net.connect_dense(h, o, [[1.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])
    ln = an.network_layers(net)
    assert ln.dale
    np.testing.assert_array_equal(ln.excitatory[0], [True, False])
    np.testing.assert_array_equal(ln.excitatory[1], [True, False, True])
    ln2 = an.network_layers(net, ["x", h])
    assert ln2.names == ("x", "h") and len(ln2.weights) == 1
    net.connect([int(x.ids[0])], [int(o.ids[0])], [1.0])          # a skip connection
    with pytest.raises(ValueError, match="strict=False"):
        an.network_layers(net)
    assert len(an.network_layers(net, strict=False).weights) == 2
    with pytest.raises(ValueError, match="at least 2 layers"):
        an.network_layers(net, ["x"])
    p = net.add_pulses([0.5], name="p")
    with pytest.raises(ValueError, match="pulses"):
        an.network_layers(net, ["x", p])


def test_network_layers_uses_declared_signs():
    from eventsim.layers import dale_network

    net = dale_network(5, 3, n_layers=2, n_excitatory=6, n_inhibitory=2, rng=0)
    ln = an.network_layers(net)
    assert ln.names == ("input", "hidden0", "hidden1", "output")
    for l in (1, 2):
        np.testing.assert_array_equal(ln.excitatory[l], [True] * 6 + [False] * 2)
        np.testing.assert_array_equal(ln.excitatory[l], net.neuron_sign[ln.layers[l]] > 0)
    # Inputs are unconstrained: excitatory only if no outgoing weight is negative.
    np.testing.assert_array_equal(ln.excitatory[0], (ln.weights[0] >= 0).all(axis=1))
    pw = an.class_pathways(ln.weights, ln.excitatory, top_k=3)
    assert not np.isin(pw.top[1:], [6, 7]).any()


def test_end_to_end_on_a_simulated_network():
    """The analyses on spike times of a small Dale network (pure-Python engine)."""
    from eventsim import pyengine

    rng = np.random.default_rng(11)
    net = eventsim.Network()
    x = net.add_inputs(4, name="input")
    h = net.add_population(8, name="hidden")
    o = net.add_population(2, name="output")
    sign = np.where(np.arange(8) < 6, 1.0, -1.0)
    net.connect_dense(x, h, np.abs(rng.normal(0, 1, (4, 8))) * 3.0)
    net.connect_dense(h, o, np.abs(rng.normal(0, 1, (8, 2))) * 2.0 * sign[:, None])
    X = rng.uniform(0, 1, (12, 4))
    y = (X[:, 0] < X[:, 1]).astype(int)
    times = pyengine.simulate(net, X).times
    ln = an.network_layers(net)
    assert ln.dale and ln.excitatory[1].sum() == 6
    pp = an.pulse_packets(times, ln.layer_dict())
    assert pp.fraction[0] == 1.0 and pp.names == ("input", "hidden", "output")
    ig = an.information_gain(times, y, 2)
    lv = an.by_layer(ig, ln.layer_dict(), excitatory=ln.excitatory)
    assert lv.n_neurons["E"].tolist() == [4, 6, 2] and lv.n_neurons["I"].tolist() == [0, 2, 0]
    pw = an.class_pathways(ln.weights, ln.excitatory, top_k=3)
    assert not np.isin(pw.top[1], [6, 7]).any()
