"""Tests for eventsim.losses: the Göltz et al. loss and the registry of losses."""

import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eventsim import losses, train
from eventsim.losses import GOLTZ_SILENT_LOSS, LOSSES, get_loss, goltz_loss


@st.composite
def loss_cases(draw, *, min_time=-3.0, max_time=5.0, silent=False):
    """(times, labels, options): finite times; with ``silent``, some non-label outputs
    are ``inf``."""
    n = draw(st.integers(1, 4))
    k = draw(st.integers(2, 5))
    times = np.array(draw(st.lists(
        st.floats(min_time, max_time, allow_nan=False, allow_infinity=False),
        min_size=n * k, max_size=n * k))).reshape(n, k)
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    if silent:
        mask = np.array(draw(st.lists(st.booleans(), min_size=n * k, max_size=n * k)))
        mask = mask.reshape(n, k)
        mask[np.arange(n), labels] = False
        times[mask] = np.inf
    options = dict(xi=draw(st.floats(0.1, 1.0)), tau_syn=draw(st.floats(0.5, 2.0)),
                   alpha=draw(st.sampled_from([0.0, 0.005, 0.05])),
                   beta=draw(st.floats(0.5, 2.0)))
    return times, labels, options


def _direct(times, label, xi, tau_syn, alpha, beta):
    """docs/math.md D.2 evaluated term by term in 50-digit arithmetic (no log-sum-exp)."""
    with mpmath.workdps(50):
        s, r = mpmath.mpf(xi) * tau_syn, mpmath.mpf(beta) * tau_syn
        ts = [mpmath.mpf(t) for t in times if np.isfinite(t)]
        tl = mpmath.mpf(times[label])
        total = mpmath.fsum(mpmath.exp(-t / s) for t in ts)
        loss = mpmath.log(total) + tl / s + alpha * mpmath.exp(tl / r)
        grad = []
        for k, t in enumerate(times):
            p = mpmath.exp(-mpmath.mpf(t) / s) / total if np.isfinite(t) else 0
            g = ((1 if k == label else 0) - p) / s
            if k == label:
                g += alpha / r * mpmath.exp(tl / r)
            grad.append(float(g))
        return float(loss), np.array(grad)


@settings(max_examples=150, deadline=None)
@given(loss_cases())
def test_goltz_gradient_matches_central_differences(case):
    times, labels, opt = case
    loss, grad = goltz_loss(times, labels, **opt)
    h = 1e-6
    for k in range(times.shape[1]):
        up, down = times.copy(), times.copy()
        up[:, k] += h
        down[:, k] -= h
        fd = (goltz_loss(up, labels, **opt)[0] - goltz_loss(down, labels, **opt)[0]) / (2 * h)
        # Truncation error plus the rounding error of the difference quotient.
        tol = 1e-5 * (1 + np.abs(fd)) + 10 * np.finfo(float).eps * np.abs(loss) / h
        assert (np.abs(grad[:, k] - fd) <= tol).all(), (k, grad, fd)


@settings(max_examples=150, deadline=None)
@given(loss_cases(silent=True))
def test_goltz_matches_direct_formula(case):
    times, labels, opt = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # inf entries: no warnings
        loss, grad = goltz_loss(times, labels, **opt)
    assert loss.shape == labels.shape and grad.shape == times.shape
    for i in range(len(labels)):
        ref_loss, ref_grad = _direct(times[i], labels[i], **opt)
        assert loss[i] == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grad[i], ref_grad, rtol=1e-11, atol=1e-12)
        assert (grad[i][np.isinf(times[i])] == 0).all()


@settings(max_examples=100, deadline=None)
@given(loss_cases(silent=True), st.floats(-200.0, 200.0))
def test_goltz_shift(case, shift):
    times, labels, opt = case
    loss, grad = goltz_loss(times, labels, **opt)
    rows = np.arange(len(labels))
    reg_scale = opt["beta"] * opt["tau_syn"]
    # The softmax part is invariant under a common shift of all times (checked for
    # shifts that keep the regulariser small enough to subtract it accurately) ...
    small = float(np.clip(shift, -10.0, 10.0))
    loss2, grad2 = goltz_loss(times + small, labels, **opt)
    tl = times[rows, labels]
    reg = opt["alpha"] * np.exp(tl / reg_scale)
    reg2 = opt["alpha"] * np.exp((tl + small) / reg_scale)
    tol = 1e-9 + 1e-14 * (reg + reg2)
    assert (np.abs((loss2 - reg2) - (loss - reg)) <= tol).all()
    onehot = np.zeros_like(grad)
    onehot[rows, labels] = 1.0
    diff = (grad2 - onehot * (reg2 / reg_scale)[:, None]) \
        - (grad - onehot * (reg / reg_scale)[:, None])
    assert (np.abs(diff) <= tol[:, None] / reg_scale).all()
    # ... and without the regulariser so is the whole loss, for any shift.
    opt0 = dict(opt, alpha=0.0)
    a, ga = goltz_loss(times, labels, **opt0)
    b, gb = goltz_loss(times + shift, labels, **opt0)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gb, ga, rtol=1e-9, atol=1e-9)


def test_goltz_silent_outputs():
    t = np.array([[np.inf, 1.0, 2.0],          # label silent: 100, no gradient
                  [np.inf, np.inf, np.inf],    # all silent
                  [0.5, np.inf, 1.5],          # a non-label output silent
                  [0.5, np.inf, np.inf]])      # only the label spiked
    y = np.array([0, 2, 0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = goltz_loss(t, y)
    assert loss[0] == loss[1] == GOLTZ_SILENT_LOSS == 100.0
    assert (grad[:2] == 0).all()
    # A silent output counts as p = 0: the loss equals that without the column.
    l2, g2 = goltz_loss(t[2:3, [0, 2]], [0])
    assert loss[2] == pytest.approx(l2[0], rel=1e-15)
    np.testing.assert_allclose(grad[2, [0, 2]], g2[0], rtol=1e-15)
    assert grad[2, 1] == 0.0 and not np.signbit(grad[2, 1])
    # Only the label spiked: p = 1, loss and gradient are the regulariser's.
    assert loss[3] == pytest.approx(0.005 * np.exp(0.5), rel=1e-15)
    np.testing.assert_allclose(grad[3], [0.005 * np.exp(0.5), 0.0, 0.0], rtol=1e-15)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


def test_goltz_overflow_safe():
    # Naive exp(-t / (xi tau)) underflows to 0 (ln 0) or overflows here.
    t = np.array([[1000.0, 1001.0, np.inf], [-1000.0, -999.0, -990.0],
                  [0.0, 1e6, 2e300]])
    y = np.array([0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = goltz_loss(t, y, alpha=0.0)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    ref, ref_grad = goltz_loss([[0.0, 1.0]], [0], alpha=0.0)
    assert loss[0] == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(grad[0, :2], ref_grad[0], rtol=1e-12)
    assert loss[1] == pytest.approx(1 / 0.2 + np.log1p(np.exp(-5.0)), rel=1e-12)
    assert loss[2] == 0.0 and (grad[2] == 0.0).all()          # p = (1, 0, 0)
    # The regulariser is finite for any time not beyond ~709 * beta * tau_syn.
    loss, grad = goltz_loss([[700.0, 701.0]], [0], alpha=1e-300)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


def test_goltz_reduces_to_cross_entropy():
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 3, (20, 4))
    t[rng.random((20, 4)) < 0.2] = np.inf
    y = rng.integers(0, 4, 20)
    t[np.arange(20), y] = rng.uniform(0, 3, 20)
    a, ga = goltz_loss(t, y, xi=1.0, tau_syn=1.0, alpha=0.0)
    b, gb = train.cross_entropy(t, y)
    np.testing.assert_allclose(a, b, rtol=1e-13)
    np.testing.assert_allclose(ga, gb, rtol=1e-13, atol=1e-15)
    # Temperature: xi * tau_syn scales times.
    c, gc = goltz_loss(t, y, xi=0.5, tau_syn=0.4, alpha=0.0)
    d, gd = train.cross_entropy(t / 0.2, y)
    np.testing.assert_allclose(c, d, rtol=1e-13)
    np.testing.assert_allclose(gc, gd / 0.2, rtol=1e-13, atol=1e-15)


def test_goltz_rows_are_independent_and_not_averaged():
    t = np.array([[0.2, 1.0, 3.0], [2.0, 0.1, np.inf]])
    y = np.array([1, 1])
    loss, grad = goltz_loss(t, y)
    for i in range(2):
        li, gi = goltz_loss(t[i:i + 1], y[i:i + 1])
        assert loss[i] == li[0]
        np.testing.assert_array_equal(grad[i], gi[0])
    l0, g0 = goltz_loss(np.zeros((0, 3)), np.zeros(0, int))
    assert l0.shape == (0,) and g0.shape == (0, 3)
    # Float labels holding integers are accepted, like train.cross_entropy.
    np.testing.assert_array_equal(goltz_loss(t, [1.0, 1.0])[0], loss)


@pytest.mark.parametrize("times, labels, kwargs, match", [
    ([1.0, 2.0], [0], {}, "shape"),
    (np.zeros((2, 0)), [0, 0], {}, "shape"),
    ([[np.nan, 1.0]], [0], {}, "NaN"),
    ([[-np.inf, 1.0]], [0], {}, "-inf"),
    ([[0.0, 1.0]], [0, 1], {}, "labels must have shape"),
    ([[0.0, 1.0]], [2], {}, "labels must lie"),
    ([[0.0, 1.0]], [-1], {}, "labels must lie"),
    ([[0.0, 1.0]], [0.5], {}, "integer"),
    ([[0.0, 1.0]], [np.inf], {}, "integer"),
    ([[0.0, 1.0]], [0], dict(xi=0.0), "xi"),
    ([[0.0, 1.0]], [0], dict(xi=np.nan), "xi"),
    ([[0.0, 1.0]], [0], dict(tau_syn=-1.0), "tau_syn"),
    ([[0.0, 1.0]], [0], dict(alpha=-0.1), "alpha"),
    ([[0.0, 1.0]], [0], dict(beta=0), "beta"),
    ([[0.0, 1.0]], [0], dict(beta=True), "beta"),
])
def test_goltz_errors(times, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        goltz_loss(times, labels, **kwargs)


def test_registry():
    assert set(LOSSES) == {"cross_entropy", "goltz", "ttfs_cross_entropy"}
    assert LOSSES["goltz"] is goltz_loss
    t = np.array([[1.0, 2.0, np.inf], [0.5, 0.4, 3.0]])
    y = np.array([1, 0])
    for name, fn in LOSSES.items():
        loss, grad = fn(t, y)
        assert loss.shape == (2,) and grad.shape == (2, 3)
        assert loss.dtype == grad.dtype == np.float64
        again = get_loss(name)(t, y)
        np.testing.assert_array_equal(again[0], loss)
    for a, b in zip(losses.cross_entropy(t, y), train.cross_entropy(t, y)):
        np.testing.assert_array_equal(a, b)
    bound = get_loss("goltz", xi=0.5, alpha=0.0)
    for a, b in zip(bound(t, y), goltz_loss(t, y, xi=0.5, alpha=0.0)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("mse")
    with pytest.raises(ValueError, match="bad options"):
        get_loss("cross_entropy", xi=0.2)
    with pytest.raises(ValueError, match="bad options"):
        get_loss("goltz", temperature=0.2)
    with pytest.raises(ValueError, match="xi"):
        get_loss("goltz", xi=-0.2)


def test_ttfs_cross_entropy_gradient_matches_finite_differences():
    from eventsim.losses import ttfs_cross_entropy
    rng = np.random.default_rng(0)
    t = rng.uniform(1.0, 6.0, (6, 3))      # losses below the cap (its derivative is 0)
    y = rng.integers(0, 3, 6)
    loss, g = ttfs_cross_entropy(t, y, tau0=0.7, tau1=5.0, alpha=0.01)
    assert loss.max() < 15.0
    h = 1e-6
    for e in range(6):
        for k in range(3):
            tp, tm = t.copy(), t.copy()
            tp[e, k] += h
            tm[e, k] -= h
            fd = (ttfs_cross_entropy(tp, y, tau0=0.7, tau1=5.0, alpha=0.01)[0][e]
                  - ttfs_cross_entropy(tm, y, tau0=0.7, tau1=5.0, alpha=0.01)[0][e]) / (2 * h)
            assert abs(fd - g[e, k]) < 1e-6 * max(1.0, abs(fd))
    # The loss is the softmax cross-entropy of -t / tau0 plus the regulariser.
    z = -t / 0.7
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = -np.log(p[np.arange(6), y]) + 0.01 * np.expm1(t[np.arange(6), y] / 5.0)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)


def test_ttfs_cross_entropy_silent_outputs():
    from eventsim.losses import MAX_EXAMPLE_LOSS, ttfs_cross_entropy
    loss, g = ttfs_cross_entropy([[1.0, np.inf, 3.0], [np.inf, 1.0, 2.0]], [0, 0])
    assert g[0, 1] == 0.0 and g[0, 0] > 0 and g[0, 2] < 0
    # A silent label neuron: the capped loss, and no gradient at all.
    assert loss[1] == pytest.approx(MAX_EXAMPLE_LOSS)
    assert (g[1] == 0).all()
    with pytest.raises(ValueError, match="tau0 must be a finite number > 0"):
        ttfs_cross_entropy([[1.0]], [0], tau0=0.0)


@settings(max_examples=150, deadline=None)
@example(case=([[np.inf, np.inf, 0.0, 1.0]], [2], 0.0546875, 1.0, 0.0))   # 1 - p = 1e-8
@given(st.integers(1, 6).flatmap(lambda n: st.integers(1, 5).flatmap(lambda k: st.tuples(
    st.lists(st.lists(st.one_of(st.floats(0.0, 60.0), st.just(np.inf)), min_size=k, max_size=k),
             min_size=n, max_size=n),
    st.lists(st.integers(0, k - 1), min_size=n, max_size=n),
    st.floats(0.05, 5.0), st.floats(0.5, 20.0), st.sampled_from([0.0, 3e-3, 0.1])))))
def test_ttfs_cross_entropy_equals_its_definition_in_high_precision(case):
    # The compiled kernel against the definition evaluated with mpmath (30 digits):
    # silent outputs (p = 0), rows with no spike (p = 1/K), a silent label (capped
    # loss, no gradient), the cap itself.
    from eventsim.losses import MAX_EXAMPLE_LOSS, ttfs_cross_entropy
    rows, y, tau0, tau1, alpha = case
    t = np.array(rows, dtype=np.float64)
    y = np.array(y)
    loss, g = ttfs_cross_entropy(t, y, tau0=tau0, tau1=tau1, alpha=alpha)
    mpmath.mp.dps = 30
    for r in range(t.shape[0]):
        fin = np.isfinite(t[r])
        k = t.shape[1]
        if fin.any():
            z = [mpmath.mpf(-v) / tau0 if f else None for v, f in zip(t[r], fin)]
            zmax = max(v for v in z if v is not None)
            ex = [mpmath.exp(v - zmax) if v is not None else mpmath.mpf(0) for v in z]
            p = [v / sum(ex) for v in ex]
        else:
            p = [mpmath.mpf(1) / k] * k
        if p[y[r]] > 0:
            expected = min(-mpmath.log(p[y[r]]), mpmath.mpf(MAX_EXAMPLE_LOSS))
        else:
            expected = mpmath.mpf(MAX_EXAMPLE_LOSS)
        dl = [mpmath.mpf(0)] * k
        if fin[y[r]]:
            ty = mpmath.mpf(t[r, y[r]])
            expected += alpha * mpmath.expm1(ty / tau1)
            dl = [((1 if c == y[r] else 0) - p[c]) / tau0 if fin[c] else mpmath.mpf(0)
                  for c in range(k)]
            dl[y[r]] += alpha * mpmath.exp(ty / tau1) / tau1
        assert abs(loss[r] - float(expected)) <= 1e-12 * max(1.0, abs(float(expected))), r
        # The label's 1 - p cancels where p is near 1 (a confident, right answer): its
        # absolute error is a few eps / tau0, as in every softmax cross-entropy's gradient.
        np.testing.assert_allclose(g[r], [float(v) for v in dl], rtol=1e-12,
                                   atol=4 * np.finfo(float).eps / tau0)
