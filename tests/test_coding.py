"""eventsim.coding: coding measures (issue 11) against closed forms, numerical
integration, hand-computed cases and, where installed, elephant."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventsim import SpikeTrains, coding

FAST = settings(max_examples=30, deadline=None)


# ------------------------------------------------------------------------ strategies
def _train_strategy(max_spikes=6, t_max=10.0):
    return st.lists(st.floats(0.0, t_max, allow_nan=False, allow_infinity=False),
                    max_size=max_spikes).map(lambda ts: np.sort(np.array(ts, float)))


@st.composite
def datasets(draw, max_samples=6, max_neurons=4):
    n_samples = draw(st.integers(1, max_samples))
    n_neurons = draw(st.integers(1, max_neurons))
    return [[draw(_train_strategy()) for _ in range(n_neurons)] for _ in range(n_samples)]


def _psd_ok(k):
    w = np.linalg.eigvalsh(0.5 * (k + k.T))
    return w.min() >= -1e-10 * max(abs(w.max()), 1e-300)


def _numeric_vr(a, b, tau):
    """(2 / tau) * integral (f_a - f_b)^2 dt on a fine grid, piece by piece between
    spikes (the filtered difference is smooth there), with the tail in closed form."""
    from scipy.integrate import quad
    events = np.sort(np.concatenate([a, b, [0.0]]))
    def diff(t):
        fa = np.exp(-(t - a[a <= t]) / tau).sum()
        fb = np.exp(-(t - b[b <= t]) / tau).sum()
        return (fa - fb) ** 2
    total = 0.0
    for lo, hi in zip(events[:-1], events[1:]):
        if hi > lo:
            total += quad(diff, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    # after the last spike the difference decays as c * exp(-(t - T)/tau)
    total += diff(events[-1]) * tau / 2
    return np.sqrt(2.0 / tau * total)


# ------------------------------------------------------------------ input handling
def test_spiketrains_and_lists_agree(rng):
    data = [[np.sort(rng.uniform(0, 5, rng.integers(0, 5))) for _ in range(3)] for _ in range(4)]
    st_ = SpikeTrains.from_lists(data)
    assert np.array_equal(coding.spike_counts(st_), coding.spike_counts(data))
    assert np.allclose(coding.timing_kernel(st_, 0.5), coding.timing_kernel(data, 0.5),
                       rtol=1e-13, atol=0)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="tau must be positive"):
        coding.van_rossum_distance([1.0], [2.0], tau=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        coding.victor_purpura_distance([1.0, np.nan], [2.0], q=1.0)
    with pytest.raises(ValueError, match="sample 1 of data has 1 neurons"):
        coding.spike_counts([[[1.0], [2.0]], [[1.0]]])
    with pytest.raises(TypeError, match="wrap"):
        coding.spike_counts(np.array([[1.0, 2.0]]))
    with pytest.raises(TypeError, match="data\\[0\\]\\[0\\] is a single number"):
        coding.spike_counts([np.array([1.0, 2.0]), np.array([3.0])])
    with pytest.raises(ValueError, match="at least 2 samples in every class"):
        coding.separability_over_time([[[1.0]], [[2.0]], [[3.0]]], [0, 0, 1], [1.0], 1.0)
    with pytest.raises(ValueError, match="labels must be 1-D"):
        coding.class_distances([[[1.0]], [[2.0]]], [0, 1, 1])
    with pytest.raises(ValueError, match="kernel 1 has shape"):
        coding.average_kernels([np.eye(2), np.eye(3)])
    with pytest.raises(ValueError, match="y must have 2 rows"):
        coding.gp_regression(np.eye(2), [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ 1. count correlation
def test_count_correlation_known_value(rng):
    # counts c0 = z, c1 = z + w with independent z, w of equal variance: corr = 1/sqrt(2);
    # c2 = -z: corr(c0, c2) = -1.  Built exactly with a balanced design.
    z = np.array([0, 2, 4, 0, 2, 4, 0, 2, 4])
    w = np.array([0, 0, 0, 2, 2, 2, 4, 4, 4])
    c = np.stack([z, z + w, 4 - z], axis=1)
    data = [[np.sort(rng.uniform(0, 1, k)) for k in row] for row in c]
    corr = coding.count_correlation(data)
    assert np.allclose(corr, [[1, 1 / np.sqrt(2), -1], [1 / np.sqrt(2), 1, -1 / np.sqrt(2)],
                              [-1, -1 / np.sqrt(2), 1]], atol=1e-12)


def test_mean_pairwise_count_correlation_known_value(rng):
    z = np.array([0, 2, 4, 0, 2, 4, 0, 2, 4])
    w = np.array([0, 0, 0, 2, 2, 2, 4, 4, 4])
    c = np.stack([z, z + w, 4 - z], axis=1)
    data = [[np.sort(rng.uniform(0, 1, k)) for k in row] for row in c]
    expected = (1 / np.sqrt(2) - 1 - 1 / np.sqrt(2)) / 3
    assert coding.mean_pairwise_count_correlation(data) == pytest.approx(expected, abs=1e-12)


def test_count_correlation_window_and_constant_neuron():
    # neuron 1 always fires once in the window: undefined (NaN); neuron 0 counts 0, 1, 2
    data = [[[], [0.5]], [[0.2], [0.5, 3.0]], [[0.1, 0.3], [0.5]]]
    corr = coding.count_correlation(data, window=(0.0, 1.0))
    assert np.isnan(corr[1]).all() and corr[0, 0] == 1.0


# --------------------------------------------------------------------- 2. distances
@pytest.mark.parametrize("a, b, tau", [
    ([0.3], [], 1.0),
    ([0.3, 0.9, 2.5], [0.4, 2.0], 0.5),
    ([1.0, 1.05, 1.1, 4.0], [0.2, 1.02, 3.9], 0.2),
    ([0.1, 0.2], [0.1, 0.2], 2.0),
])
def test_van_rossum_matches_numerical_integration(a, b, tau):
    a, b = np.array(a, float), np.array(b, float)
    exact = coding.van_rossum_distance(a, b, tau)
    numeric = _numeric_vr(a, b, tau)
    assert exact == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_van_rossum_single_spike_is_one_and_far_times_are_stable():
    assert coding.van_rossum_distance([3.0], [], 0.1) == pytest.approx(1.0, abs=1e-15)
    # spikes at t / tau ~ 1e6: no overflow, same as near 0
    near = coding.van_rossum_distance([0.0, 1.0], [0.5], 0.1)
    far = coding.van_rossum_distance([1e5, 1e5 + 1.0], [1e5 + 0.5], 0.1)
    assert far == pytest.approx(near, rel=1e-9)


@FAST
@given(a=_train_strategy(8), b=_train_strategy(8),
       tau=st.floats(0.05, 5.0, allow_nan=False))
def test_exponential_overlap_matches_double_sum(a, b, tau):
    direct = np.exp(-np.abs(a[:, None] - b[None, :]) / tau).sum()
    assert coding.exponential_overlap(a, b, tau) == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_van_rossum_matrix_matches_pairwise(rng):
    data = [[rng.uniform(0, 5, rng.integers(0, 5)) for _ in range(3)] for _ in range(5)]
    d = coding.van_rossum_distance_matrix(data, 0.5, per_neuron=True)
    direct = np.array([[[coding.van_rossum_distance(data[s][n], data[r][n], 0.5)
                         for r in range(5)] for s in range(5)] for n in range(3)])
    assert np.allclose(d, direct, rtol=1e-10, atol=1e-12)


def worst_against_elephant(rng, ours, theirs, param, unit):
    """Largest |ours - elephant| over 20 random pairs of trains, with the parameter
    drawn from ``param`` and given to elephant in ``unit``."""
    pq = pytest.importorskip("quantities")
    neo = pytest.importorskip("neo")
    worst = 0.0
    for _ in range(20):
        trains = [np.sort(rng.uniform(0, 10, rng.integers(0, 10))) for _ in range(2)]
        x = rng.uniform(*param)
        ref = theirs([neo.SpikeTrain(t * pq.s, t_stop=10 * pq.s) for t in trains],
                     x * getattr(pq, unit))[0, 1]
        worst = max(worst, abs(ours(*trains, x) - ref))
    return worst


def test_van_rossum_matches_elephant(rng):
    pytest.importorskip("elephant")
    from elephant.spike_train_dissimilarity import van_rossum_distance
    worst = worst_against_elephant(
        rng, coding.van_rossum_distance,
        lambda trains, tau: van_rossum_distance(trains, time_constant=tau), (0.05, 3.0), "s")
    assert worst < 1e-9


@pytest.mark.parametrize("a, b, q, expected", [
    ([], [], 1.0, 0.0),
    ([1.0, 2.0], [], 1.0, 2.0),               # delete both
    ([], [0.5], 3.0, 1.0),                    # insert one
    ([1.0], [1.5], 1.0, 0.5),                 # shift: q |dt| = 0.5 < 2
    ([1.0], [1.5], 10.0, 2.0),                # delete + insert: 2 < q |dt| = 5
    ([1.0], [1.5], 4.0, 2.0),                 # tie: q |dt| = 2
    ([1.0, 2.0], [1.1, 5.0], 1.0, 0.1 + 2.0),  # shift one, delete + insert the other
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 7.0, 0.0),
    ([1.0, 2.0], [1.2, 2.2, 9.0], 0.0, 1.0),  # q = 0: count difference
])
def test_victor_purpura_hand_computed(a, b, q, expected):
    assert coding.victor_purpura_distance(a, b, q) == pytest.approx(expected, abs=1e-12)
    assert coding.victor_purpura_distance(b, a, q) == pytest.approx(expected, abs=1e-12)


def test_victor_purpura_matches_elephant(rng):
    pytest.importorskip("elephant")
    from elephant.spike_train_dissimilarity import victor_purpura_distance
    worst = worst_against_elephant(
        rng, coding.victor_purpura_distance,
        lambda trains, q: victor_purpura_distance(trains, cost_factor=q), (0.1, 5.0), "Hz")
    assert worst < 1e-9


def test_class_distances_within_below_between_for_aligned_timing(rng):
    # class 0 fires near 1.0, class 1 near 3.0, jitter 0.05: aligned within class
    labels = np.repeat([0, 1], 6)
    data = [[np.array([1.0 + 2.0 * c + rng.normal(0, 0.05)])] for c in labels]
    for metric, p in (("van_rossum", 0.5), ("victor_purpura", 2.0)):
        within, between = coding.class_distances(data, labels, metric, p)
        assert within < 0.3 * between


def test_class_distances_per_neuron_shape_and_values():
    data = [[[1.0], [2.0]], [[1.0], [2.5]], [[3.0], [2.0]], [[3.0], [2.5]]]
    within, between = coding.class_distances(data, [0, 0, 1, 1], "victor_purpura", 1.0,
                                             per_neuron=True)
    # neuron 0: within 0, between 2 (|dt| = 2 costs 2 either way); neuron 1: within 0.5
    # in each class, between: pairs (2,2),(2,2.5),(2.5,2),(2.5,2.5) -> mean 0.25
    assert np.allclose(within, [0.0, 0.5]) and np.allclose(between, [2.0, 0.25])


# ---------------------------------------------------------------- 3. separability
def _timing_classes(rng, n_per_class=8, jitter=0.02):
    """Same counts in both classes; class 0 fires at 1.0, class 1 at 2.0."""
    labels = np.repeat([0, 1], n_per_class)
    data = [[np.array([1.0 + c + rng.normal(0, jitter)]),
             np.array([0.5 + rng.normal(0, jitter)])] for c in labels]
    return data, labels


def test_filtered_traces_closed_form():
    x = coding.filtered_traces([[[1.0, 2.0], []]], [0.5, 1.0, 2.5], tau=0.5)
    expected = [0.0, 1.0, np.exp(-3.0) + np.exp(-1.0)]
    assert np.allclose(x[0, 0], expected, rtol=1e-14) and np.all(x[0, 1] == 0)


def test_separability_higher_when_classes_differ_in_timing(rng):
    data, labels = _timing_classes(rng)
    times = [0.8, 1.5, 2.5]
    acc = coding.separability_over_time(data, labels, times, tau=0.5)
    # before 1.0 the classes look alike (chance); after the class-0 spike they separate
    assert acc[0] == pytest.approx(0.5, abs=0.25) and acc[1] == 1.0 and acc[2] == 1.0


def test_separability_chance_when_classes_do_not_differ(rng):
    # every sample identical: ties share the credit, accuracy is exactly 1 / n_classes,
    # the Fisher ratio exactly 0
    data = [[np.array([1.0, 1.7]), np.array([0.4])] for _ in range(9)]
    labels = np.repeat([0, 1, 2], 3)
    acc = coding.separability_over_time(data, labels, [0.5, 1.2, 2.0], tau=0.5)
    fisher = coding.separability_over_time(data, labels, [0.5, 1.2, 2.0], tau=0.5,
                                           method="fisher")
    assert np.allclose(acc, 1 / 3, atol=1e-12) and np.all(fisher == 0.0)


def test_separability_near_chance_for_same_distribution(rng):
    # both classes drawn from one jittered pattern: accuracy averaged over times ~ chance
    labels = np.repeat([0, 1], 40)
    data = [[np.array([1.0 + rng.normal(0, 0.2)]), np.array([1.5 + rng.normal(0, 0.2)])]
            for _ in labels]
    acc = coding.separability_over_time(data, labels, np.linspace(1.0, 3.0, 9), tau=0.5)
    assert abs(acc.mean() - 0.5) < 0.15


def test_fisher_higher_with_timing_difference(rng):
    data, labels = _timing_classes(rng)
    fisher = coding.separability_over_time(data, labels, [0.8, 1.5], tau=0.5, method="fisher")
    assert fisher[1] > 100 * max(fisher[0], 1e-3)


# ----------------------------------------------------------------------- 4. kernels
@FAST
@given(data=datasets(), taus=st.lists(st.floats(0.01, 5.0), min_size=1, max_size=3))
def test_timing_kernels_are_psd(data, taus):
    ks = coding.timing_kernel(data, taus)
    ks_cos = coding.timing_kernel(data, taus, normalize="cosine")
    assert all(_psd_ok(k) for k in ks) and all(_psd_ok(k) for k in ks_cos)


@FAST
@given(data=datasets())
def test_count_kernels_are_psd(data):
    assert all(_psd_ok(coding.count_kernel(data, normalize=nm))
               for nm in (None, "neurons", "cosine"))


def test_timing_kernel_closed_form_and_cross_kernel(rng):
    data = [[rng.uniform(0, 4, rng.integers(0, 4)) for _ in range(2)] for _ in range(4)]
    other = [[rng.uniform(0, 4, rng.integers(1, 4)) for _ in range(2)] for _ in range(3)]
    tau = 0.3
    direct = np.array([[sum(0.5 * tau * np.exp(-np.abs(np.subtract.outer(a[n], b[n])) / tau).sum()
                            for n in range(2)) for b in other] for a in data])
    assert np.allclose(coding.timing_kernel(data, tau, other=other), direct,
                       rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("tau", [1e-3, 0.1, 2.0, 50.0, 1e4])
@pytest.mark.parametrize("span", [1.0, 40.0, 1000.0])
def test_timing_kernel_matches_direct_sum_over_time_scales(tau, span):
    # Many bins (tau << span, factors near e^+-300), one bin's worth of pairs summed one by
    # one (tau >> span), coincident spikes across samples, a silent sample, and a cross
    # kernel whose spikes lie outside the data's span.
    rng = np.random.default_rng(int(tau * 1000 + span))
    data = [[np.sort(rng.uniform(0, span, rng.poisson(3))) for _ in range(3)] for _ in range(5)]
    data[1][0] = data[0][0].copy()
    data[2] = [np.zeros(0)] * 3
    other = [[np.sort(rng.uniform(-span, 2 * span, rng.poisson(2))) for _ in range(3)]
             for _ in range(4)]

    def direct(a, b):
        return np.array([[sum(0.5 * tau * np.exp(-np.abs(np.subtract.outer(x[n], y[n])) / tau)
                              .sum() for n in range(3)) for y in b] for x in a])

    for got, ref in ((coding.timing_kernel(data, tau), direct(data, data)),
                     (coding.timing_kernel(data, tau, other=other), direct(data, other))):
        # |t| / tau * eps: the conditioning of exp(-|t_i - t_j| / tau) itself
        tol = 1e-13 + 4 * np.finfo(float).eps * 3 * span / tau
        assert np.all(np.abs(got - ref) <= tol * np.abs(ref).max() + 1e-300), \
            np.abs(got - ref).max() / np.abs(ref).max()
    k = coding.timing_kernel(data, tau)
    assert np.array_equal(k, k.T)
    assert not k[2].any()


def test_timing_kernel_is_integral_of_filtered_traces():
    # inner product of causally filtered trains = numerical integral of their product
    from scipy.integrate import quad
    data = [[np.array([0.2, 0.9])], [np.array([0.5])]]
    tau = 0.4

    def product(t):
        x = coding.filtered_traces(data, [t], tau)[:, 0, 0]
        return x[0] * x[1]
    edges = [0.5, 0.9, 40.0]   # smooth between spikes; the rest is below 1e-40
    numeric = sum(quad(product, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
                  for lo, hi in zip(edges[:-1], edges[1:]))
    assert coding.timing_kernel(data, tau)[0, 1] == pytest.approx(numeric, rel=1e-9)


def test_count_kernel_values():
    data = [[[1.0, 2.0], [3.0]], [[1.0], []]]
    assert np.array_equal(coding.count_kernel(data), [[5.0, 2.0], [2.0, 1.0]])


def test_average_kernels():
    assert np.allclose(coding.average_kernels([np.eye(2), 3 * np.eye(2)]), 2 * np.eye(2))


# ------------------------------------------------------------------ 5. GP readout
def test_gp_regression_matches_direct_solve(rng):
    x = rng.normal(size=(7, 3))
    xt = rng.normal(size=(4, 3))
    k, kt = x @ x.T, xt @ x.T
    y = rng.normal(size=7)
    mean, alpha, var = coding.gp_regression(k, y, kt, noise=0.3,
                                            K_test_diag=np.einsum("ij,ij->i", xt, xt))
    a = k + 0.3 * np.eye(7)
    alpha_ref = np.linalg.solve(a, y)
    var_ref = np.einsum("ij,ij->i", xt, xt) - np.einsum("ij,ji->i", kt, np.linalg.solve(a, kt.T))
    assert (np.allclose(alpha, alpha_ref, rtol=1e-10, atol=1e-10)
            and np.allclose(mean, kt @ alpha_ref, rtol=1e-10, atol=1e-10)
            and np.allclose(var, var_ref, rtol=1e-10, atol=1e-10))


def test_gp_classify_on_timing_kernel(rng):
    data, labels = _timing_classes(rng, n_per_class=10)
    train = np.arange(20) % 2 == 0
    tr = [d for d, m in zip(data, train) if m]
    te = [d for d, m in zip(data, train) if not m]
    k = coding.timing_kernel(tr, 0.2)
    kt = coding.timing_kernel(te, 0.2, other=tr)
    pred, scores, classes = coding.gp_classify(k, labels[train], kt, noise=0.1)
    assert np.array_equal(pred, labels[~train]) and scores.shape == (10, 2)


def test_gp_classify_one_vs_rest_targets(rng):
    k = np.eye(4)
    pred, scores, classes = coding.gp_classify(k, ["a", "b", "b", "c"], noise=1.0)
    # identity kernel: scores = targets / (1 + noise)
    expected = np.array([[1, -1, -1], [-1, 1, -1], [-1, 1, -1], [-1, -1, 1]]) / 2.0
    assert np.allclose(scores, expected) and list(pred) == ["a", "b", "b", "c"]


def test_gp_regression_not_positive_definite_raises():
    with pytest.raises(np.linalg.LinAlgError, match="increase noise"):
        coding.gp_regression(np.zeros((2, 2)), [1.0, -1.0], noise=0.0)
