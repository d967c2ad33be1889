"""The continuous-time escape-noise (hazard) neuron, eventsim.hazard.

Each test can fail: the links and the quadrature against mpmath, the likelihood against an
independent mpmath implementation, every gradient against finite differences, the sampler
by the time-rescaling theorem, the small-noise limit against the deterministic engine, the
mean score under the model, thread-count independence, |z| = 40 and bad input.
"""

import math

import mpmath
import numpy as np
import pytest
from scipy import stats

import eventsim
from eventsim import SpikeTrains, _hazard
from eventsim import hazard as hz

LINKS = ("probit", "logistic", "exponential")


def poisson_inputs(rng, n_examples, n_in, t_max, rate):
    return SpikeTrains.from_lists(
        [[np.sort(rng.uniform(0, t_max, rng.poisson(rate * t_max))) for _ in range(n_in)]
         for _ in range(n_examples)], n_in)


def small_problem(seed=0, link="probit", t_ref=0.0, n_out=2, t_max=40.0, sigma=0.2):
    rng = np.random.default_rng(seed)
    x = poisson_inputs(rng, 2, 5, t_max, 0.08)
    w = rng.normal(0.4, 0.4, (5, n_out))
    d = rng.uniform(0.1, 2.0, (5, n_out))
    b = rng.uniform(0.2, 0.6, n_out)
    neuron = hz.HazardLIF(tau_mem=8.0, tau_syn=3.0, t_ref=t_ref, v_reset=-0.1, link=link,
                          rho_0=0.8, g_leak=1.3)
    q = hz.simulate(x, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max, seed=seed + 7)
    return x, q, w, b, d, neuron, sigma, t_max


# --------------------------------------------------------------------------- links
@pytest.mark.parametrize("link", range(3))
def test_links_against_mpmath_for_z_up_to_40(link):
    z = np.linspace(-40.0, 40.0, 161)
    F, dF, logF, ratio = _hazard.link_terms(z, link)
    assert np.isfinite(logF).all() and np.isfinite(ratio).all()
    with mpmath.workdps(40):          # not mp.dps =: other test modules set their own
        for k, zz in enumerate(z):
            check_link(link, zz, F[k], logF[k], ratio[k])


def check_link(link, zz, F, logF, ratio):
    """One z against mpmath (at the caller's precision)."""
    m = mpmath.mpf(float(zz))
    if link == 0:
        # 1 - Phi(-z) keeps its digits where Phi(z) rounds towards 1.
        f, df = (1 - mpmath.ncdf(-m) if m > 0 else mpmath.ncdf(m)), mpmath.npdf(m)
        logf = mpmath.log1p(-mpmath.ncdf(-m)) if m > 0 else mpmath.log(f)
    elif link == 1:
        f = 1 / (1 + mpmath.exp(-m))
        df = f / (1 + mpmath.exp(m))
        logf = -mpmath.log1p(mpmath.exp(-m))
    else:
        f = df = mpmath.exp(m)
        logf = m
    assert float(logf) == pytest.approx(logF, rel=1e-12, abs=1e-300)
    assert float(df / f) == pytest.approx(ratio, rel=1e-12, abs=1e-300)
    assert float(f) == pytest.approx(F, rel=1e-12, abs=1e-300)


# --------------------------------------------------------------------------- quadrature
def reference_stretch(V0, J0, h, tm, ts, u, sigma, rho0, link):
    """The four integrals of one stretch (hazard and the adjoint kernels) by QUADPACK
    (scipy.integrate.quad, 21-point Gauss-Kronrod, its own error control), on cuts graded
    towards both ends, where a sharp hazard (small sigma) sits when V is monotone."""
    from scipy import integrate, special

    def kap(s):
        return ts / (tm - ts) * (math.exp(-s / tm) - math.exp(-s / ts))

    def z(s):
        return (V0 * math.exp(-s / tm) + J0 * kap(s) - u) / sigma

    F, dF = {0: (special.ndtr, lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
             1: (special.expit, lambda x: special.expit(x) * special.expit(-x)),
             2: (math.exp, math.exp)}[link]
    fs = [lambda s: rho0 * F(z(s)), lambda s: rho0 * dF(z(s)) / sigma * math.exp(-s / tm),
          lambda s: rho0 * dF(z(s)) / sigma * kap(s), lambda s: rho0 * dF(z(s)) / sigma]
    cuts = sorted({h * k / 24 for k in range(25)} | {h * 2.0 ** -k for k in range(5, 30)}
                  | {h - h * 2.0 ** -k for k in range(5, 30)})
    return [sum(integrate.quad(f, a, b, epsabs=0.0, epsrel=2e-14, limit=200)[0]
                for a, b in zip(cuts, cuts[1:])) for f in fs]


# QUADPACK warns when rounding stops it short of 2e-14; its result is then still far inside 1e-12.
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("case", [
    (0.9, 0.5, 3.0, 0.05, 0), (0.2, 2.0, 6.0, 0.01, 0), (1.4, -1.0, 2.0, 0.2, 0),
    (0.95, 0.3, 5.0, 0.003, 0), (0.5, 1.2, 4.0, 0.1, 1), (1.2, -2.0, 3.0, 0.02, 1),
    (0.3, 1.5, 5.0, 0.05, 2), (0.99, 0.02, 1.0, 0.5, 2)])
def test_stretch_integrals_against_quadpack(case):
    V0, J0, h, sigma, link = case
    tm, ts, u, rho0 = 10.0, 3.0, 1.0, 0.7
    row = hz.HazardLIF(tau_mem=tm, tau_syn=ts)._row()
    got = _hazard.integrals(V0, J0, h, row, u, sigma, rho0, link)
    ref = reference_stretch(V0, J0, h, tm, ts, u, sigma, rho0, link)
    for g, r in zip(got, ref):
        assert g == pytest.approx(float(r), rel=1e-12, abs=1e-300)


# --------------------------------------------------------------------------- likelihood
def mp_log_likelihood(x, q, w, b, d, neuron, sigma, t_max, e, n):
    """Teacher-forced log-likelihood of one (example, neuron), written independently:
    V by superposition of the PSP kernels since the last reset, the hazard integrated
    by mpmath between consecutive events."""
    tm, ts, g = neuron.tau_mem, neuron.tau_syn, neuron.g_leak
    ci, ti = x.example(e)
    arr = sorted((float(t + d[c, n]), float(w[c, n])) for t, c in zip(ti, ci))
    cq, tq = q.example(e)
    spikes = [float(t) for t, c in zip(tq, cq) if c == n]
    bb = mpmath.mpf(b[n]) / g

    def kap(s):
        return ts / (tm - ts) * (mpmath.exp(-s / tm) - mpmath.exp(-s / ts)) if s > 0 else 0

    def V(t):
        # Last restart: 0, or the end of the refractory period of the last spike before t.
        starts = [0.0] + [s + neuron.t_ref for s in spikes if s < t]
        r = starts[-1]
        v0 = neuron.v_init if r == 0.0 else neuron.v_reset
        J_r = sum(wa / g * mpmath.exp(-(r - a) / ts) for a, wa in arr if a <= r)
        v = bb + (v0 - bb) * mpmath.exp(-(t - r) / tm) + J_r * kap(t - r)
        return v + sum(wa / g * kap(t - a) for a, wa in arr if r < a < t)

    def rho(t):
        zz = (V(t) - neuron.theta) / sigma
        F = {"probit": mpmath.ncdf, "logistic": lambda z: 1 / (1 + mpmath.exp(-z)),
             "exponential": mpmath.exp}[neuron.link]
        return neuron.rho_0 * F(zz)

    free = []          # the stretches where the neuron is not refractory
    t0 = 0.0
    for s in spikes:
        free.append((t0, s))
        t0 = s + neuron.t_ref
    if t0 < t_max:
        free.append((t0, t_max))
    ll = sum(mpmath.log(rho(s - 1e-300 if s > 0 else 0.0)) for s in spikes)
    events = sorted({a for a, _ in arr} | set(spikes))
    for a0, a1 in free:
        pts = [a0] + [ev for ev in events if a0 < ev < a1] + [a1]
        fine = []
        for p0, p1 in zip(pts, pts[1:]):
            fine += [p0 + (p1 - p0) * k / 6 for k in range(6)]
        ll -= mpmath.quad(rho, fine + [a1])
    return float(ll)


@pytest.mark.parametrize("link", LINKS)
def test_log_likelihood_against_an_independent_mpmath_reference(link):
    x, q, w, b, d, neuron, sigma, t_max = small_problem(4, link, t_ref=0.7, n_out=1,
                                                        t_max=25.0, sigma=0.5)
    ll = hz.log_likelihood(x, q, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max)
    assert q.n_spikes > 2
    for e in range(2):
        with mpmath.workdps(25):
            ref = mp_log_likelihood(x, q, w, b, d, neuron, sigma, t_max, e, 0)
        assert ll[e, 0] == pytest.approx(ref, rel=1e-11)


# --------------------------------------------------------------------------- gradients
def fd5(f, x0, h):
    return (-f(x0 + 2 * h) + 8 * f(x0 + h) - 8 * f(x0 - h) + f(x0 - 2 * h)) / (12 * h)


def assert_close(g, fd):
    assert abs(g - fd) <= 1e-8 * max(1.0, abs(g)), (g, fd)


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("t_ref", [0.0, 0.8])
def test_gradients_against_finite_differences(link, t_ref):
    x, q, w, b, d, neuron, sigma, t_max = small_problem(2, link, t_ref=t_ref)
    g = hz.value_and_grad(x, q, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max,
                          input_times=True)

    def ll(w=w, b=b, d=d, x=x, nrn=neuron):
        return hz.log_likelihood(x, q, w, b, d, neuron=nrn, sigma_n=sigma, t_max=t_max).sum()

    assert g.value == pytest.approx(ll(), rel=1e-15)
    h = 1e-3
    for (i, n) in [(0, 0), (2, 1), (4, 0), (3, 1)]:
        def fw(v, i=i, n=n):
            ww = w.copy()
            ww[i, n] = v
            return ll(w=ww)

        def fdl(v, i=i, n=n):
            dd = d.copy()
            dd[i, n] = v
            return ll(d=dd)

        assert_close(g.weights[i, n], fd5(fw, w[i, n], h))
        # Delays move arrivals; a step must not carry one across a target spike.
        assert_close(g.delays[i, n], fd5(fdl, d[i, n], 1e-5))
    for n in range(2):
        def fb(v, n=n):
            bb = b.copy()
            bb[n] = v
            return ll(b=bb)

        assert_close(g.bias[n], fd5(fb, b[n], h))
    th = neuron.theta
    ft = lambda v: ll(nrn=hz.HazardLIF(**{**neuron.__dict__, "theta": v}))  # noqa: E731
    assert_close(g.theta.sum(), fd5(ft, th, h))
    for k in [0, x.n_spikes // 2, x.n_spikes - 1]:
        def fx(v, k=k):
            t = x.times.copy()
            t[k] = v
            return ll(x=SpikeTrains(t, x.index, x.offsets, x.n_channels))

        assert_close(g.input_times[k], fd5(fx, x.times[k], 1e-5))


def test_gradients_near_determinism_and_with_zero_weights():
    # Low noise and zero weights (the poster's start): still exact.
    x, q, w, b, d, neuron, sigma, t_max = small_problem(3, "probit", sigma=0.05)
    w0 = np.zeros_like(w)
    g = hz.value_and_grad(x, q, w0, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max)
    assert np.isfinite(g.value) and (g.weights > 0).any()
    for (i, n) in [(0, 0), (1, 1)]:
        def fw(v, i=i, n=n):
            ww = w0.copy()
            ww[i, n] = v
            return hz.log_likelihood(x, q, ww, b, d, neuron=neuron, sigma_n=sigma,
                                     t_max=t_max).sum()

        assert_close(g.weights[i, n], fd5(fw, 0.0, 1e-4))


@pytest.mark.parametrize("link", LINKS)
def test_stable_at_z_40(link):
    # Targets where V is 40 sigma below u (missed spikes), and a membrane held 40 sigma
    # above u for a long time (every instant a spurious spike): finite likelihood and
    # gradients.
    rng = np.random.default_rng(4)
    x = poisson_inputs(rng, 1, 3, 50.0, 0.1)
    neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, link=link, rho_0=1.0)
    sigma = 0.025                     # v_init = 0, u = 1: z = -40 at rest
    q = SpikeTrains.from_lists([[[0.0, 5.0, 30.0]]], 1)
    for bias in (0.0, 2.0):          # 2.0: V -> 2, z -> +40
        g = hz.value_and_grad(x, q, np.full(3, 0.01), bias, neuron=neuron, sigma_n=sigma,
                              t_max=50.0)
        for v in (g.value, *g.weights.ravel(), *g.bias, *g.delays.ravel(), *g.theta):
            assert math.isfinite(v)
        if bias == 0.0 and link == "probit":
            # ln Phi(-40) ~ -804.6: the log-Phi form, not log(0).
            assert g.value < -2000


# --------------------------------------------------------------------------- the sampler
@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("sigma, t_ref", [(0.5, 0.0), (0.1, 1.0)])
def test_time_rescaled_intervals_are_exponential(link, sigma, t_ref):
    rng = np.random.default_rng(11)
    x = poisson_inputs(rng, 2, 20, 3000.0, 0.05)
    w = rng.normal(0.2, 0.3, 20)
    delays = rng.uniform(0, 3, 20)
    neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, t_ref=t_ref, rho_0=0.5, link=link)
    s = hz.simulate(x, w, 0.6, delays, neuron=neuron, sigma_n=sigma, t_max=3000.0, seed=5)
    lam = hz.time_rescaled_intervals(x, s, w, 0.6, delays, neuron=neuron, sigma_n=sigma,
                                     t_max=3000.0)
    assert s.n_spikes > 300 and lam.size == s.n_spikes
    # Long runs: leaving out each example's censored last interval biases by ~1/count.
    assert stats.kstest(lam, "expon").pvalue > 1e-3


@pytest.mark.parametrize("t_ref", [0.0, 1.5])
def test_small_noise_limit_is_the_deterministic_engine(t_ref):
    rng = np.random.default_rng(1)
    x = poisson_inputs(rng, 10, 30, 100.0, 0.05)
    w = rng.normal(0.3, 0.4, (30, 3))
    d = rng.uniform(0, 2, (30, 3))
    bias = np.array([0.3, 0.5, 0.3])
    neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, t_ref=t_ref, rho_0=1e10, v_reset=-0.2)
    net, ids = hz.equivalent_network(w, bias, d, neuron=neuron)
    ref = eventsim.simulate(net, x, t_max=100.0)
    s = hz.simulate(x, w, bias, d, neuron=neuron, sigma_n=1e-12, t_max=100.0, seed=3)
    n_spikes = 0
    for e in range(x.n_examples):
        a, b = ref.spikes.trains(e), s.trains(e)
        for n in range(3):
            assert a[ids[n]].size == b[n].size
            if b[n].size:
                n_spikes += b[n].size
                assert np.abs(a[ids[n]] - b[n]).max() < 1e-6
    assert n_spikes > 100


def test_mean_score_is_zero_under_the_model():
    # E[d l / d theta] = 0 when the targets are drawn from the model itself.
    rng = np.random.default_rng(8)
    x1 = poisson_inputs(rng, 1, 4, 30.0, 0.1)
    E = 4000
    x = SpikeTrains(np.tile(x1.times, E), np.tile(x1.index, E),
                    np.arange(E + 1) * x1.n_spikes, 4)
    w = np.array([0.5, -0.3, 0.8, 0.2])
    d = np.array([0.5, 1.0, 0.0, 2.0])
    neuron = hz.HazardLIF(tau_mem=8.0, tau_syn=3.0, t_ref=0.5, rho_0=0.6)
    q = hz.simulate(x, w, 0.7, d, neuron=neuron, sigma_n=0.2, t_max=30.0, seed=2)
    batches = []
    for k in range(40):
        rows = np.arange(k * 100, (k + 1) * 100)
        g = hz.value_and_grad(x.select(rows), q.select(rows), w, 0.7, d, neuron=neuron,
                              sigma_n=0.2, t_max=30.0)
        batches.append(np.concatenate([g.weights[:, 0], g.delays[:, 0], g.bias, g.theta]))
    batches = np.array(batches)
    mean = batches.mean(axis=0)
    se = batches.std(axis=0, ddof=1) / math.sqrt(len(batches))
    assert (np.abs(mean) < 3 * se).all(), (mean, se)


def test_bit_identical_for_any_thread_count_and_batching():
    x, q, w, b, d, neuron, sigma, t_max = small_problem(5, n_out=3)
    runs = [hz.simulate(x, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max, seed=9,
                        n_threads=k) for k in (1, 2, 3)]
    assert runs[0] == runs[1] == runs[2]
    one = hz.simulate(x.select([1]), w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max,
                      seed=9, examples=[1])
    assert np.array_equal(one.times, runs[0].select([1]).times)
    grads = [hz.value_and_grad(x, runs[0], w, b, d, neuron=neuron, sigma_n=sigma,
                               t_max=t_max, n_threads=k) for k in (1, 2, 3)]
    for g in grads[1:]:
        for f in ("per_example", "weights", "delays", "bias", "theta"):
            assert np.array_equal(getattr(g, f), getattr(grads[0], f))


def test_seed_changes_the_sample():
    x, q, w, b, d, neuron, sigma, t_max = small_problem(6)
    a = hz.simulate(x, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max, seed=1)
    c = hz.simulate(x, w, b, d, neuron=neuron, sigma_n=sigma, t_max=t_max, seed=2)
    assert a != c


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    x, q, w, b, d, neuron, sigma, t_max = small_problem(7)
    kw = dict(neuron=neuron, sigma_n=sigma, t_max=t_max)
    with pytest.raises(ValueError, match="w contains NaN"):
        hz.simulate(x, np.full_like(w, np.nan), **kw)
    with pytest.raises(ValueError, match="delays must be >= 0"):
        hz.simulate(x, w, b, -d, **kw)
    with pytest.raises(ValueError, match="rows but the inputs have"):
        hz.simulate(x, w[:3], **kw)
    with pytest.raises(ValueError, match="bias must be"):
        hz.simulate(x, w, np.zeros(5), **kw)
    with pytest.raises(ValueError, match="delays must broadcast"):
        hz.simulate(x, w, b, np.zeros((2, 2)), **kw)
    with pytest.raises(ValueError, match="link must be one of"):
        hz.HazardLIF(link="tanh")
    with pytest.raises(ValueError, match="sigma_n"):
        hz.simulate(x, w, b, d, neuron=neuron, sigma_n=0.0, t_max=t_max)
    with pytest.raises(ValueError, match="t_max"):
        hz.simulate(x, w, b, d, neuron=neuron, sigma_n=sigma, t_max=np.inf)
    with pytest.raises(ValueError, match="rho_0"):
        hz.HazardLIF(rho_0=-1.0)
    with pytest.raises(TypeError, match="SpikeTrains"):
        hz.simulate(np.zeros((3, 5)), w, **kw)
    neg = SpikeTrains([-1.0], [0], [0, 1], 5)
    with pytest.raises(ValueError, match="< 0"):
        hz.simulate(neg, w, **kw)
    with pytest.raises(ValueError, match="channels but there are 2 neurons"):
        hz.log_likelihood(x, SpikeTrains([1.0, 2.0], [0, 0], [0, 2, 2], 3), w, b, d, **kw)
    with pytest.raises(ValueError, match="> t_max"):
        hz.log_likelihood(x, SpikeTrains([t_max + 1], [0], [0, 1, 1], 2), w, b, d, **kw)
    with pytest.raises(ValueError, match="examples but the inputs"):
        hz.log_likelihood(x, SpikeTrains([1.0], [0], [0, 1], 2), w, b, d, **kw)
    ref = hz.HazardLIF(t_ref=2.0)
    close = SpikeTrains([1.0, 2.0], [1, 1], [0, 2, 2], 2)
    with pytest.raises(ValueError, match="refractory period"):
        hz.log_likelihood(x, close, w, b, d, neuron=ref, sigma_n=sigma, t_max=t_max)
