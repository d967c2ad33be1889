#!/usr/bin/env python
"""Speed of the discrete-time noise-driven rule (issue 12): eventsim against numpy baselines.

One escape-noise LIF neuron with ``--inputs`` inputs (default 1,000) over ``--bins`` bins
(default 1,000), teacher forcing, probit link: the log-likelihood of a target spike train
and its gradient with respect to every weight and the bias.

* ``eventsim``: ``eventsim.escape_noise.value_and_grad`` (compiled per-bin loops, one reverse
  sweep over the bins, two products with the input matrix; docs/escape_noise.md 4 and 8).
* ``eventsim, numpy loops``: the same with the compiled kernel switched off (its fallback).
* ``baseline``: the poster's rule written out in vectorised numpy, here in this file: the PSP
  traces ``xbar_{i,t} = dV_t/dw_i`` of all inputs carried forward bin by bin (vectorised over
  the inputs), reset with the target train, and ``dl/dw = sum_t lambda_t / sigma xbar_t`` with
  the stable weight.  This is the issue's baseline.
* ``baseline, no reset``: the poster's "low firing rate" shortcut, traces without reset,
  filtered for all inputs at once by ``scipy.signal.lfilter`` (no Python loop): a different,
  approximate quantity, shown as the fastest numpy we could write.

Every timing is the median of ``--repeats`` runs after a warm-up.  The gradients of eventsim
and the baseline are compared (relative difference printed).

Run: ``python benchmarks/bench_escape_noise.py`` (``--quick`` for a smoke run;
``--accuracy`` also prints the accuracy figures of docs/escape_noise.md 9).
"""

from __future__ import annotations

import argparse
import os
import time

# One BLAS thread, like the other benchmarks' single-thread figures: on a busy 2-core machine
# a multi-threaded OpenBLAS made the two matrix-vector products of eventsim ~30x slower
# (23 ms instead of 0.7 ms).  Set OPENBLAS_NUM_THREADS yourself to measure otherwise.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)
from scipy import signal, special  # noqa: E402

from eventsim import escape_noise as en  # noqa: E402


def baseline(x, q, w, b, neuron, sigma):
    """The rule with explicit traces, vectorised over the inputs (teacher forcing, t_ref = 0)."""
    a_m, a_s, k = neuron.propagators()
    T, n = x.shape
    V, J = neuron.v_init, 0.0
    dV = np.zeros(n)            # dV/dw_i
    dJ = np.zeros(n)            # dJ/dw_i
    gw = np.zeros(n)
    gb = 0.0
    dVb = 0.0                   # dV/db
    ll = 0.0
    drive = x @ w
    for t in range(T):
        z = (V - neuron.theta) / sigma
        if q[t]:
            ll += special.log_ndtr(z)
            lam = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) / special.ndtr(z) if z >= 0 else \
                np.sqrt(2 / np.pi) / special.erfcx(-z / np.sqrt(2))
        else:
            ll += special.log_ndtr(-z)
            lam = -(np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) / special.ndtr(-z) if z <= 0 else
                    np.sqrt(2 / np.pi) / special.erfcx(z / np.sqrt(2)))
        gw += (lam / sigma) * dV
        gb += (lam / sigma) * dVb
        J += drive[t]
        dJ += x[t]
        if q[t]:
            V, dV, dVb = neuron.v_reset, np.zeros(n), 0.0
        V = b + a_m * (V - b) + k * J
        dV = a_m * dV + k * dJ
        dVb = a_m * dVb + (1 - a_m)
        J *= a_s
        dJ *= a_s
    return ll, gw, gb


def baseline_no_reset(x, q, w, b, neuron, sigma):
    """Traces without reset for all inputs at once (lfilter over time); approximate."""
    a_m, a_s, k = neuron.propagators()
    # J-trace: dJ_t = a_s dJ_{t-1} + x_t (after the bin's input); dV_{t+1} = a_m dV_t + k dJ_t.
    dJ = signal.lfilter([1.0], [1.0, -a_s], x, axis=0)
    dV = np.zeros_like(dJ)
    dV[1:] = signal.lfilter([k], [1.0, -a_m], dJ, axis=0)[:-1]
    V = dV @ w + b * (1 - a_m ** np.arange(len(q))) + neuron.v_init * a_m ** np.arange(len(q))
    z = (V - neuron.theta) / sigma
    lam = en.per_bin_weight(z, q)
    return float(np.where(q > 0, special.log_ndtr(z), special.log_ndtr(-z)).sum()), dV.T @ (lam / sigma)


def accuracy():
    """Print the accuracy figures of docs/escape_noise.md 9 (they need mpmath)."""
    import mpmath
    z = np.linspace(-40.0, 40.0, 1601)
    with mpmath.workdps(60):
        for link in ("probit", "exponential"):
            worst = 0.0
            for q in (0.0, 1.0):
                got = en.per_bin_weight(z, q, link)
                ref = []
                for v in z:
                    m = mpmath.mpf(v)
                    if link == "probit":
                        ref.append(float(mpmath.npdf(m) / mpmath.ncdf(m) if q else
                                         -mpmath.npdf(m) / mpmath.ncdf(-m)))
                    else:
                        e = mpmath.exp(m)
                        ref.append(float(e / mpmath.expm1(e) if q else -e))
                ref = np.array(ref)
                ok = np.abs(ref) > 1e-300            # below that the double is subnormal or 0
                worst = max(worst, float((np.abs(got - ref)[ok] / np.abs(ref[ok])).max()))
                assert np.isfinite(got).all()
            print(f"per-bin weight, {link:<11} |z| <= 40, 1601 points x q in {{0, 1}}: "
                  f"largest relative error vs mpmath (60 digits) {worst:.2e}, all finite")
    lg = max(float(np.abs(en.per_bin_weight(z, q, "logistic") - (q - special.expit(z))).max())
             for q in (0.0, 1.0))
    print(f"per-bin weight, logistic: largest |lambda - (q - p)| = {lg:.1e}")
    with np.errstate(all="ignore"):
        p = special.ndtr(z)
        bad = 0
        for q in (0.0, 1.0):
            naive = (q - p) / (p * (1 - p)) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
            ref = en.per_bin_weight(z, q)
            bad += int((~np.isfinite(naive) | (np.abs(naive - ref) > 1e-6 * np.abs(ref))).sum())
    print(f"naive (q - p)/(p(1 - p)) phi: NaN, inf or > 1e-6 off at {bad} of 3202 points")
    rng = np.random.default_rng(0)
    for link in en.LINKS:
        for t_ref in (0.0, 1.5):
            neuron = en.DiscreteLIF(dt=0.5, tau_mem=8.0, tau_syn=3.0, v_reset=-0.2, t_ref=t_ref,
                                    link=link, v_init=0.1)
            x = (rng.random((2, 120, 4)) < 0.08).astype(float)
            w = rng.uniform(0.3, 1.2, (4, 2))
            b = rng.uniform(0.0, 0.3, 2)
            q = en.simulate(x, 2 * w, b, neuron=neuron, sigma_n=0.3, seed=3).spikes.astype(float)
            g = en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=0.25)
            f = lambda ww, bb: en.value_and_grad(x, q, ww, bb, neuron=neuron, sigma_n=0.25).value
            h, err = 1e-3, 0.0
            for idx in np.ndindex(w.shape):
                e = np.zeros(w.shape)
                e[idx] = h
                fd = (-f(w + 2 * e, b) + 8 * f(w + e, b) - 8 * f(w - e, b) + f(w - 2 * e, b)) / (12 * h)
                err = max(err, abs(fd - g.weights[idx]) / max(1.0, abs(g.weights).max()))
            for j in range(2):
                e = np.zeros(2)
                e[j] = h
                fd = (-f(w, b + 2 * e) + 8 * f(w, b + e) - 8 * f(w, b - e) + f(w, b - 2 * e)) / (12 * h)
                err = max(err, abs(fd - g.bias[j]) / max(1.0, abs(g.weights).max()))
            print(f"gradient vs 5-point finite differences (h = 1e-3), {link:<11} t_ref = {t_ref}: "
                  f"largest error {err:.1e} (relative to max(1, |dl/dw|))")


def timeit(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=1000)
    ap.add_argument("--bins", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0.02, help="input spike probability per bin")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--accuracy", action="store_true",
                    help="also print the accuracy figures (mpmath, finite differences)")
    args = ap.parse_args(argv)
    if args.accuracy:
        accuracy()
    if args.quick:
        args.inputs, args.bins, args.repeats = 200, 200, 3
    rng = np.random.default_rng(0)
    neuron = en.DiscreteLIF(dt=1.0, tau_mem=10.0, tau_syn=5.0, theta=1.0, v_reset=0.0)
    x = (rng.random((args.bins, args.inputs)) < args.rate).astype(float)
    w = rng.normal(0.0, 1.0, args.inputs) / np.sqrt(args.inputs * args.rate * 5.0) + 0.02
    b, sigma = 0.1, 0.1
    q = en.simulate(x, w, b, neuron=neuron, sigma_n=sigma, seed=1).spikes.astype(float)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print(f"one neuron, {args.inputs} inputs (rate {args.rate} per bin), {args.bins} bins, "
          f"{int(q.sum())} target spikes, teacher forcing, probit, sigma_n = {sigma}; "
          f"medians of {args.repeats}")

    g = en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sigma)
    ll_ref, gw_ref, gb_ref = baseline(x, q, w, b, neuron, sigma)
    diff = max(np.abs(g.weights - gw_ref).max() / np.abs(gw_ref).max(), abs(g.bias - gb_ref) / abs(gb_ref),
               abs(g.value - ll_ref) / abs(ll_ref))
    print(f"eventsim vs baseline: largest relative difference {diff:.2e} "
          f"(log-likelihood, weight and bias gradients)")

    t_es = timeit(lambda: en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sigma), args.repeats)
    kernel, en._kernel = en._kernel, None
    try:
        t_np = timeit(lambda: en.value_and_grad(x, q, w, b, neuron=neuron, sigma_n=sigma), args.repeats)
    finally:
        en._kernel = kernel
    t_bl = timeit(lambda: baseline(x, q, w, b, neuron, sigma), args.repeats)
    t_nr = timeit(lambda: baseline_no_reset(x, q, w, b, neuron, sigma), args.repeats)
    print(f"{'implementation':<34} {'ms per call':>12} {'eventsim speed-up':>18}")
    for name, t in (("eventsim (compiled loops)", t_es), ("eventsim, numpy loops (fallback)", t_np),
                    ("baseline: numpy traces, with reset", t_bl),
                    ("baseline, no reset (lfilter)", t_nr)):
        print(f"{name:<34} {1e3 * t:12.3f} {t / t_es:17.1f}x")
    if kernel is None:
        print("note: the compiled kernel is not built; the first row ran the numpy loops")
    return t_bl / t_es


if __name__ == "__main__":
    main()
