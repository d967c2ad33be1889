"""Tests for eventsim.escape_noise: the discrete-time escape-noise neuron and its rule.

Issue 12, discrete-time part: gradients against finite differences, the stable per-bin
weight against mpmath, the logistic link's exact weight, zero-mean score, firing
frequencies, the sigma_n -> 0 limit against the event-driven engine, seeding, errors.
"""

import itertools
import pathlib
import subprocess
import sys

import mpmath
import numpy as np
import pytest
from scipy import special

import eventsim
from eventsim import SpikeTrains
from eventsim import escape_noise as en

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _case(seed=0, T=120, n_in=4, N=1, rate=0.08, t_ref=0.0, link="probit", reset="value"):
    """A small neuron, inputs, weights and a target train sampled from it."""
    rng = np.random.default_rng(seed)
    neuron = en.DiscreteLIF(dt=0.5, tau_mem=8.0, tau_syn=3.0, theta=1.0, v_reset=-0.2,
                            t_ref=t_ref, link=link, v_init=0.1, reset=reset)
    x = (rng.random((2, T, n_in)) < rate).astype(float)
    x[0, 5, 0] = 2.0                                   # two spikes in one bin count twice
    w = rng.uniform(0.3, 1.2, (n_in, N))
    b = rng.uniform(0.0, 0.3, N)
    q = en.simulate(x, 2.0 * w, b, neuron=neuron, sigma_n=0.3, seed=seed + 7).spikes
    return neuron, x, w, b, q.astype(float)


def _fd(f, p, h=1e-3):
    """Five-point central difference of a scalar function along every entry of ``p``."""
    p = np.asarray(p, float)
    out = np.empty(p.shape)
    for idx in np.ndindex(p.shape):
        e = np.zeros(p.shape)
        e[idx] = h
        out[idx] = (-f(p + 2 * e) + 8 * f(p + e) - 8 * f(p - e) + f(p - 2 * e)) / (12 * h)
    return out


def _reference_gradient(x, q, w, b, neuron, sigma, weight_fn):
    """The poster's rule written out: explicit PSP traces dV_t/dw_i by forward recursion.

    Independent of the module's reverse sweep; one example, one neuron, teacher forcing,
    no refractory period.
    """
    a_m, a_s = np.exp(-neuron.dt / neuron.tau_mem), np.exp(-neuron.dt / neuron.tau_syn)
    k = (neuron.tau_syn / (neuron.tau_mem - neuron.tau_syn)) * (a_m - a_s)
    V, J = neuron.v_init, 0.0
    dV, dJ = np.zeros(len(w)), np.zeros(len(w))
    g = np.zeros(len(w))
    for t in range(len(q)):
        z = (V - neuron.theta) / sigma
        g += weight_fn(z, q[t]) / sigma * dV
        J += x[t] @ w
        dJ += x[t]
        if q[t]:
            V, dV = neuron.v_reset, np.zeros(len(w))
        V = b + a_m * (V - b) + k * J
        dV = a_m * dV + k * dJ
        J, dJ = a_s * J, a_s * dJ
    return g


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("link", en.LINKS)
@pytest.mark.parametrize("t_ref,reset", [(0.0, "value"), (1.5, "value"), (0.0, "subtract")])
def test_teacher_gradient_matches_finite_differences(link, t_ref, reset):
    neuron, x, w, b, q = _case(t_ref=t_ref, link=link, N=2, reset=reset)
    sig = 0.25
    g = en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sig)
    fw = _fd(lambda p: en.value_and_grad(x, q, p, b, neuron=neuron, sigma_n=sig).value, w)
    fb = _fd(lambda p: en.value_and_grad(x, q, w, p, neuron=neuron, sigma_n=sig).value, b)
    ft = _fd(lambda p: en.value_and_grad(
        x, q, w, b, neuron=neuron.__class__(**{**neuron.__dict__, "theta": float(p)}),
        sigma_n=sig).value, np.array(neuron.theta))
    scale = max(1.0, np.abs(g.weights).max())
    assert np.abs(g.weights - fw).max() <= 1e-8 * scale
    assert np.abs(g.bias - fb).max() <= 1e-8 * scale
    assert abs(g.theta.sum() - ft) <= 1e-8 * scale


def test_free_running_gradient_is_exact_for_the_sampled_resets():
    neuron, x, w, b, q = _case(seed=3, t_ref=1.0, N=2)
    sig = 0.3
    g = en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sig, mode="free", seed=11)
    assert g.spikes.sum() > 5 and not np.array_equal(g.spikes, q > 0.5)
    # What is differentiated: l(q | resets = the seeded sample), the sample held fixed.
    f = lambda p: _ll_given_resets(x, q, p, g.spikes, neuron, sig, bias=b)
    assert abs(f(w) - g.value) <= 1e-12 * abs(g.value)
    assert np.abs(g.weights - _fd(f, w)).max() <= 1e-8 * max(1.0, np.abs(g.weights).max())


@pytest.mark.parametrize("link,weight_fn", [
    ("probit", lambda z, q: float(en.per_bin_weight(z, q, "probit"))),
    ("logistic", lambda z, q: q - 1.0 / (1.0 + np.exp(-z))),        # the GLM rule, (q - p)
])
def test_reverse_sweep_equals_the_poster_rule_with_explicit_traces(link, weight_fn):
    neuron, x, w, b, q = _case(seed=5, link=link)
    sig = 0.2
    g = en.value_and_grad(x[0], q[0, :, 0], w[:, 0], b[0], neuron=neuron, sigma_n=sig)
    ref = _reference_gradient(x[0], q[0, :, 0], w[:, 0], b[0], neuron, sig, weight_fn)
    assert np.allclose(g.weights, ref, rtol=1e-12, atol=1e-12)


def test_gradient_is_finite_at_tiny_noise():
    # z reaches about -1e3 for missed target spikes: the naive weight gives NaN there.
    neuron, x, w, b, q = _case(seed=2)
    g = en.value_and_grad(x, q, 0.0 * w, b, neuron=neuron, sigma_n=1e-3)
    assert np.isfinite(g.value) and np.isfinite(g.weights).all() and np.isfinite(g.bias).all()
    assert (g.weights > 0).all()                       # missed spikes push every weight up


# --------------------------------------------------------------------------- per-bin weight
def _mp_weight(z, q, link):
    z = mpmath.mpf(z)
    if link == "probit":
        pdf, cdf = mpmath.npdf(z), mpmath.ncdf(z)
        return pdf / cdf if q else -pdf / mpmath.ncdf(-z)      # 1 - Phi(z) without cancellation
    e = mpmath.exp(z)
    return e / mpmath.expm1(e) if q else -e


@pytest.mark.parametrize("link", ["probit", "exponential"])
def test_per_bin_weight_matches_mpmath_for_abs_z_up_to_40(link):
    z = np.linspace(-40.0, 40.0, 1601)
    worst = 0.0
    with mpmath.workdps(60):
        for q in (0.0, 1.0):
            got = en.per_bin_weight(z, q, link)
            ref = np.array([float(_mp_weight(v, q, link)) for v in z])
            assert np.isfinite(got).all()
            # Beyond z = 37.5 the probit hit weight phi/Phi is below the smallest normal
            # double (1e-348 at z = 40): there only an absolute 1e-300 is meaningful.
            err = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300 / 1e-12)
            worst = max(worst, err.max())
    assert worst <= 1e-12


def test_naive_weight_fails_where_the_stable_one_does_not():
    z = np.linspace(-40.0, 40.0, 1601)
    with np.errstate(all="ignore"):
        p = special.ndtr(z)
        naive = (1.0 - p) / (p * (1.0 - p)) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    assert not np.isfinite(naive).all()
    assert np.isfinite(en.per_bin_weight(z, 1.0)).all()


def test_logistic_weight_is_exactly_q_minus_p():
    z = np.linspace(-40.0, 40.0, 1601)
    for q in (0.0, 1.0):
        assert np.array_equal(en.per_bin_weight(z, q, "logistic"), q - special.expit(z))


@pytest.mark.parametrize("link", en.LINKS)
def test_log_probabilities_are_finite_and_consistent(link):
    z = np.linspace(-40.0, 40.0, 801)
    lp, lnp = en.log_probabilities(z, link)
    assert np.isfinite(lp).all() and np.isfinite(lnp).all()
    mid = np.abs(z) < 3
    p = en.firing_probability(z[mid], link)
    assert np.allclose(np.exp(lp[mid]), p, rtol=1e-13) and np.allclose(np.exp(lnp[mid]), 1 - p, rtol=1e-13)


def test_per_bin_weight_is_the_derivative_of_the_bin_term():
    z = np.linspace(-30.0, 30.0, 121) + 0.37
    for link in en.LINKS:
        for q in (0.0, 1.0):
            f = lambda v: q * en.log_probabilities(v, link)[0] + (1 - q) * en.log_probabilities(v, link)[1]
            h = 1e-4
            fd = (-f(z + 2 * h) + 8 * f(z + h) - 8 * f(z - h) + f(z - 2 * h)) / (12 * h)
            assert np.allclose(en.per_bin_weight(z, q, link), fd, rtol=1e-7, atol=1e-7)


# --------------------------------------------------------------------------- statistics
def test_mean_gradient_is_zero_for_targets_drawn_from_the_model():
    # E_q[d ln P(q)/dw] = 0 when q ~ P: each of 10^4 neurons (identical parameters, their
    # own random streams) supplies one sample of the teacher-forced gradient.
    rng = np.random.default_rng(4)
    n = 10_000
    neuron = en.DiscreteLIF(dt=0.5, tau_mem=8.0, tau_syn=3.0, t_ref=1.0)
    x = (rng.random((60, 3)) < 0.1).astype(float)
    w1 = np.array([0.8, 0.5, 1.1])
    W = np.repeat(w1[:, None], n, axis=1)
    q = en.simulate(x, W, 0.2, neuron=neuron, sigma_n=0.3, seed=9).spikes.astype(float)
    assert q.sum() > n                                  # the targets do contain spikes
    g = en.value_and_grad(x, q, W, np.full(n, 0.2), neuron=neuron, sigma_n=0.3)
    for sample in (g.weights[0], g.weights[1], g.weights[2], g.bias):
        se = sample.std(ddof=1) / np.sqrt(n)
        assert abs(sample.mean()) <= 3 * se


def test_first_spike_frequencies_match_p_t():
    # Before its first spike the potential is deterministic, so the first spike falls in
    # bin t with probability p_t prod_{s<t} (1 - p_s), p from the spike-free trajectory.
    n = 20_000
    neuron = en.DiscreteLIF(dt=0.5, tau_mem=8.0, tau_syn=3.0)
    x = np.zeros((30, 1))
    x[[2, 8, 15], 0] = 1.0
    W = np.full((1, n), 2.0)
    sim = en.simulate(x, W, 0.1, neuron=neuron, sigma_n=0.3, seed=1)
    quiet = en.simulate(x, W[:, :1], 0.1, neuron=neuron, sigma_n=0.3, resets=np.zeros((30, 1)))
    p = quiet.p[:, 0]
    prob = p * np.concatenate([[1.0], np.cumprod(1 - p)[:-1]])
    spiked = sim.spikes.any(axis=0)
    first = np.argmax(sim.spikes, axis=0)[spiked]
    counts = np.bincount(first, minlength=30)
    se = np.sqrt(n * prob * (1 - prob)) + 1e-12
    assert prob.sum() > 0.5
    assert (np.abs(counts - n * prob) <= 4.5 * se + 0.5).all()


def test_spike_counts_match_summed_p_t_in_free_running():
    # sum_t (s_t - p_t) is a martingale with variance sum_t p_t (1 - p_t).
    neuron, x, w, b, _ = _case(seed=6, t_ref=1.0)
    n = 5_000
    W = np.repeat(w, n, axis=1)
    r = en.simulate(x[0], W, b[0], neuron=neuron, sigma_n=0.3, seed=2)
    diff = r.spikes.sum() - r.p.sum()
    assert r.spikes.sum() > 1000
    assert abs(diff) <= 4 * np.sqrt((r.p * (1 - r.p)).sum())


def test_score_estimator_is_unbiased_for_the_expected_likelihood():
    # E_s[l(q | s)] by exhaustive enumeration of s over 7 bins; its derivative (finite
    # differences) against the mean of the score estimator over 20,000 samples.
    rng = np.random.default_rng(8)
    T = 7
    neuron = en.DiscreteLIF(dt=1.0, tau_mem=4.0, tau_syn=2.0)
    x = (rng.random((T, 2)) < 0.5).astype(float)
    q = np.zeros(T)
    q[[3, 6]] = 1.0
    sig = 0.6
    S = np.array(list(itertools.product([0.0, 1.0], repeat=T)))
    xs = np.repeat(x[None], len(S), axis=0)

    def expected(wv):
        lp = en.log_likelihood(xs, S, wv, 0.0, neuron=neuron, sigma_n=sig)    # ln P(s)
        lq = np.array([_ll_given_resets(x, q, wv, s, neuron, sig) for s in S])   # ln P(q | s)
        return float((np.exp(lp) * lq).sum())

    w = np.array([0.9, 0.6])
    exact = _fd(expected, w, h=1e-4)
    n = 20_000
    W = np.repeat(w[:, None], n, axis=1)
    g = en.value_and_grad(x, np.repeat(q[:, None], n, axis=1), W, 0.0, neuron=neuron,
                          sigma_n=sig, mode="free", estimator="score", seed=3)
    for i in range(2):
        se = g.weights[i].std(ddof=1) / np.sqrt(n)
        assert abs(g.weights[i].mean() - exact[i]) <= 4 * se


def _ll_given_resets(x, q, w, s, neuron, sig, bias=0.0):
    """ln P(q | resets s): the forward pass driven by s, scored against q."""
    r = en.simulate(x, w, bias, neuron=neuron, sigma_n=sig, resets=s)
    lp, lnp = en.log_probabilities((r.v - neuron.theta) / sig, neuron.link)
    return float(np.where(r.refractory, 0.0, q * lp + (1 - q) * lnp).sum())


# --------------------------------------------------------------------------- sigma_n -> 0
def _engine_and_discrete(trains, w, *, dt, t_ref, tau_syn, bias, T, reset="value"):
    """Spike times of the engine's multi-spike LIF and of the discrete neuron at sigma_n = 1e-10."""
    n_in = len(trains)
    neuron = en.DiscreteLIF(dt=dt, tau_mem=10.0, tau_syn=tau_syn, theta=1.0, v_reset=0.0,
                            t_ref=t_ref, reset=reset)
    net = eventsim.Network()
    src = net.add_inputs(n_in)
    pop = net.add_population(1, model="lif", multispike=True, tau_mem=10.0, tau_syn=tau_syn,
                             theta=1.0, v_reset=0.0, t_ref=t_ref, bias=bias)
    net.connect_dense(src, pop, np.asarray(w)[:, None])
    exact = eventsim.simulate(net, SpikeTrains.from_lists([trains]), t_max=T * dt).spikes.trains(0)[-1]
    r = en.simulate(en.bin_spike_times(trains, dt, T), w, bias, neuron=neuron, sigma_n=1e-10)
    return exact, np.flatnonzero(r.spikes) * dt


@pytest.mark.parametrize("t_ref,tau_syn", [(0.0, 3.0), (1.0, 3.0), (0.5, 10.0), (0.0, 10.0)])
def test_small_noise_first_spike_is_within_one_bin_of_the_engine(t_ref, tau_syn):
    rng = np.random.default_rng(1)
    dt, T, checked = 0.1, 1000, 0
    for _ in range(20):
        # Input spikes on the grid, so both deliver them at the same instants.
        trains = [np.sort(rng.choice(np.arange(1, T), size=3, replace=False)) * dt for _ in range(8)]
        w = rng.uniform(0.0, 1.5, 8)
        exact, discrete = _engine_and_discrete(trains, w, dt=dt, t_ref=t_ref, tau_syn=tau_syn,
                                               bias=0.2, T=T)
        if len(exact):
            checked += 1
            # The discrete neuron fires at the first grid point at or after the crossing.
            assert len(discrete) and 0.0 <= discrete[0] - exact[0] <= dt + 1e-9
    assert checked >= 10


@pytest.mark.parametrize("seed", [2, 3, 4, 5])
def test_small_noise_limit_matches_the_engine_spike_for_spike_in_volleys(seed):
    # Input volleys every 40 time units (4 tau_mem): every spike follows a quiet membrane,
    # so the reset on the grid (up to one bin after the engine's) does not carry over.
    # Within bursts it does: docs/escape_noise.md 5 gives the measured drift.
    rng = np.random.default_rng(seed)
    dt, T_total, n_in = 0.1, 1200.0, 10
    trains = [[] for _ in range(n_in)]
    for v in np.arange(10.0, T_total - 20, 40.0):
        for i in rng.choice(n_in, size=rng.integers(2, 8), replace=False):
            trains[i].append(v + rng.integers(0, 5))
    trains = [np.sort(np.array(t, float)) for t in trains]
    w = rng.uniform(0.3, 1.5, n_in)
    exact, discrete = _engine_and_discrete(trains, w, dt=dt, t_ref=0.0, tau_syn=3.0, bias=0.0,
                                           T=int(T_total / dt))
    assert len(exact) >= 8 and len(discrete) == len(exact)
    lag = discrete - exact
    assert (lag >= 0.0).all() and (lag <= dt + 1e-9).all()


def _volleys(rng, n_in, T_total, w_low, w_high):
    trains = [[] for _ in range(n_in)]
    for v in np.arange(10.0, T_total - 20, 40.0):
        for i in rng.choice(n_in, size=rng.integers(2, 8), replace=False):
            trains[i].append(v + rng.integers(0, 5))
    return [np.sort(np.array(t, float)) for t in trains], rng.uniform(w_low, w_high, n_in)


def test_small_noise_limit_inside_bursts_with_each_reset():
    # Strong volleys make bursts.  A reset on the grid starts the membrane up to one bin late,
    # and inside a burst that delay carries over; reset="subtract" keeps most of what the
    # late reset loses.  The measured figures, pinned here: docs/escape_noise.md 5.
    stats = {}
    for reset in ("value", "subtract"):
        n_match = n_within = n_total = 0
        worst = 0.0
        for seed in range(6):
            trains, w = _volleys(np.random.default_rng(seed), 10, 1200.0, 0.5, 3.0)
            exact, discrete = _engine_and_discrete(trains, w, dt=0.1, t_ref=0.0, tau_syn=3.0,
                                                   bias=0.0, T=12000, reset=reset)
            n_total += len(exact)
            n_match += len(discrete) == len(exact)
            lag = np.array([discrete[np.argmin(np.abs(discrete - t))] - t for t in exact])
            n_within += int((np.abs(lag) <= 0.1 + 1e-9).sum())
            worst = max(worst, np.abs(lag).max())
        stats[reset] = (n_match, n_within / n_total, worst)
    assert stats["subtract"][0] == 6 and stats["subtract"][1] >= 0.85 and stats["subtract"][2] <= 0.4
    assert stats["subtract"][1] > stats["value"][1] and stats["subtract"][2] < stats["value"][2]


# --------------------------------------------------------------------------- hidden layer
def test_hidden_layer_gradient_matches_exact_marginal_likelihood():
    rng = np.random.default_rng(1)
    T, n_in = 6, 3
    neuron = en.DiscreteLIF(dt=1.0, tau_mem=4.0, tau_syn=2.0)
    x = (rng.random((T, n_in)) < 0.5).astype(float)
    wh = rng.uniform(0.5, 1.5, (n_in, 1))
    wo = rng.uniform(0.5, 2.0, (1, 1))
    q = np.zeros((T, 1))
    q[4, 0] = 1.0
    sig = 0.5
    H = np.array(list(itertools.product([0.0, 1.0], repeat=T)))[:, :, None]

    def marginal(wh_, wo_):
        lph = en.log_likelihood(np.repeat(x[None], len(H), 0), H, wh_, 0.0, neuron=neuron, sigma_n=sig)
        lpq = en.log_likelihood(H, np.repeat(q[None], len(H), 0), wo_, 0.0, neuron=neuron, sigma_n=sig)
        return float(special.logsumexp(lph + lpq))

    g_wh = _fd(lambda p: marginal(p, wo), wh, h=1e-4)
    g_wo = _fd(lambda p: marginal(wh, p), wo, h=1e-4)
    g = en.hidden_value_and_grad(x, q, wh, wo, hidden=neuron, output=neuron, sigma_n=sig,
                                 n_samples=20_000, seed=0)
    assert abs(g.value - marginal(wh, wo)) < 0.02
    assert np.abs(g.w_hidden - g_wh).max() < 0.03 and np.abs(g.w_out - g_wo).max() < 0.03
    assert g.ess[0] > 1000


def test_hidden_layer_samples_do_not_depend_on_batch_split():
    neuron, x, w, b, q = _case(seed=4)
    wo = np.full((4, 1), 0.5)
    full = en.hidden_value_and_grad(x, q, w.repeat(4, 1), wo, sigma_n=0.3, n_samples=3,
                                    hidden=neuron, output=neuron, seed=5)
    second = en.hidden_value_and_grad(x[1:], q[1:], w.repeat(4, 1), wo, sigma_n=0.3, n_samples=3,
                                      hidden=neuron, output=neuron, seed=5, examples=[1])
    assert np.array_equal(full.hidden_spikes[1:], second.hidden_spikes)


# --------------------------------------------------------------------------- seeding
def test_mix64_is_splitmix64s_finaliser():
    # splitmix64 from state 0 outputs 0xE220A8397B1DCDAF first (Steele, Lea & Flood 2014).
    assert int(en._mix64(np.array([0], np.uint64))[0]) == 0xE220A8397B1DCDAF


def test_samples_are_bit_identical_for_any_batch_split():
    neuron, x, w, b, _ = _case(seed=1, N=3)
    x6 = np.concatenate([x, x, x])
    full = en.simulate(x6, w, b, neuron=neuron, sigma_n=0.3, seed=4)
    parts = [en.simulate(x6[i:i + 1], w[:, [j]], b[[j]], neuron=neuron, sigma_n=0.3, seed=4,
                         examples=[i], neurons=[j]).spikes[0, :, 0]
             for i in range(6) for j in range(3)]
    assert np.array_equal(np.stack(parts).reshape(6, 3, -1).transpose(0, 2, 1), full.spikes)
    other = en.simulate(x6, w, b, neuron=neuron, sigma_n=0.3, seed=5)
    assert not np.array_equal(other.spikes, full.spikes)


def test_uniforms_lie_strictly_inside_the_unit_interval():
    u = en.uniforms(0, np.arange(50), np.arange(20), 200)
    assert u.min() > 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005


# --------------------------------------------------------------------------- schedules
def test_schedules():
    cool = en.exponential_cooling(0.1, 0.5, 0.02)
    assert [cool(e) for e in range(4)] == [0.1, 0.05, 0.025, 0.02]
    st = en.steps([0.1, 0.05, 0.01], [10, 20])
    assert [st(0), st(9), st(10), st(19), st(20), st(99)] == [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]
    assert en.constant(0.03)(1000) == 0.03
    assert en.learning_rate(2.0, 0.1, scale_with_sigma2=True, sigma_ref=0.2) == pytest.approx(0.5)
    assert en.learning_rate(2.0, 0.1) == 2.0


def test_train_with_cooling_recovers_a_target_weight_from_zero():
    rng = np.random.default_rng(0)
    neuron = en.DiscreteLIF(dt=0.5, tau_mem=10.0, tau_syn=3.0)
    x = (rng.random((400, 5)) < 0.05).astype(float)
    w_star = np.array([0.9, 0.4, 1.2, 0.0, 0.7])
    q = en.simulate(x, w_star, 0.0, neuron=neuron, sigma_n=1e-9).spikes
    hist = en.train(x, q, np.zeros(5), neuron=neuron, epochs=150, lr=0.001,
                    schedule=en.exponential_cooling(0.3, 0.97, 0.03), scale_lr_with_sigma2=True,
                    sigma_ref=0.1)
    out = en.simulate(x, hist.w, 0.0, neuron=neuron, sigma_n=1e-9).spikes
    assert q.sum() >= 5
    assert abs(int(out.sum()) - int(q.sum())) <= 1
    assert hist.log_likelihood[-1] > hist.log_likelihood[0]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs,match", [
    (dict(dt=0.0), "dt"), (dict(dt=-1.0), "dt"), (dict(tau_mem=np.nan), "tau_mem"),
    (dict(v_reset=1.0), "v_reset"), (dict(t_ref=0.25, dt=0.1), "whole number"),
    (dict(link="gauss"), "link"), (dict(theta=np.inf), "theta"),
    (dict(reset="zero"), "reset"), (dict(reset="subtract", t_ref=1.0, dt=0.5), "t_ref = 0"),
])
def test_bad_neuron_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        en.DiscreteLIF(**kwargs)


def test_bad_inputs_are_refused():
    neuron, x, w, b, q = _case()
    with pytest.raises(ValueError, match="sigma_n"):
        en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=0.0)
    with pytest.raises(ValueError, match="sigma_n"):
        en.simulate(x, w, b, neuron=neuron, sigma_n=-1.0)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        en.simulate(bad, w, b, neuron=neuron, sigma_n=0.1)
    with pytest.raises(ValueError, match="w must have shape"):
        en.simulate(x, w[:-1], b, neuron=neuron, sigma_n=0.1)
    with pytest.raises(ValueError, match="q must have"):
        en.value_and_grad(x, q[:, :-1], w, b, neuron=neuron, sigma_n=0.1)
    with pytest.raises(ValueError, match="0 .*or 1"):
        en.value_and_grad(x, 0.5 * q, w, b, neuron=neuron, sigma_n=0.1)
    with pytest.raises(ValueError, match="bias"):
        en.simulate(x, w, [0.1, 0.2], neuron=neuron, sigma_n=0.1)
    with pytest.raises(ValueError, match="mode"):
        en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=0.1, mode="sample")
    with pytest.raises(ValueError, match="floor"):
        en.exponential_cooling(0.1, 0.9, 0.2)
    with pytest.raises(ValueError, match="increasing"):
        en.steps([0.1, 0.2, 0.3], [5, 5])


def test_target_spike_inside_refractory_period_is_refused():
    neuron = en.DiscreteLIF(dt=0.5, t_ref=1.0)
    q = np.zeros(10)
    q[[3, 4]] = 1.0
    with pytest.raises(ValueError, match="refractory"):
        en.value_and_grad(np.zeros((10, 1)), q, [0.0], neuron=neuron, sigma_n=0.1)


# --------------------------------------------------------------------------- example
@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ is not next to tests/")
def test_example_quick_mode_runs_and_prints_verdicts(tmp_path):
    r = subprocess.run([sys.executable, str(EXAMPLES / "escape_noise_learning.py"), "--quick",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "claim" in r.stdout and ("PASS" in r.stdout or "FAIL" in r.stdout)


# --------------------------------------------------------------------------- compiled loops
@pytest.mark.skipif(en._kernel is None, reason="the compiled kernel is not built")
@pytest.mark.parametrize("t_ref,reset", [(0.0, "value"), (1.0, "value"), (0.0, "subtract")])
def test_compiled_loops_match_the_numpy_reference(t_ref, reset):
    neuron, x, w, b, q = _case(seed=9, t_ref=t_ref, N=3, reset=reset)
    c = np.matmul(x, w)
    u = en.uniforms(0, np.arange(2), np.arange(3), x.shape[1])
    for kw in (dict(resets=q), dict(u=u)):
        fast = en._forward(c, b, neuron, 0.3, **kw)
        slow = en._forward_numpy(c, b, neuron, 0.3, **kw)
        assert np.allclose(fast[0], slow[0], rtol=0, atol=1e-13)
        for a, r in zip(fast[1:], slow[1:]):
            assert np.array_equal(a, r)
    g = np.random.default_rng(0).normal(size=c.shape)
    fast = en._backward(g, slow[1], slow[3], neuron)
    ref = en._backward_numpy(g, slow[1], slow[3], neuron)
    for a, r in zip(fast, ref):
        assert np.allclose(a, r, rtol=1e-13, atol=1e-13)
