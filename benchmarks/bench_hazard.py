#!/usr/bin/env python
"""Cost of the continuous-time escape-noise (hazard) neuron against the deterministic engine.

The same network both ways: ``--inputs`` Poisson input channels (rate ``--rate``) driving
``--neurons`` neurons through dense weights (with synaptic delays), over ``[0, --t-max]``,
``--examples`` examples, one thread:

* ``engine (multi-spike LIF)``: ``eventsim.simulate`` on ``hazard.equivalent_network``, the
  deterministic neuron that the hazard neuron becomes as ``sigma_n -> 0``;
* ``hazard, sigma_n = ...``: ``eventsim.hazard.simulate``, exact sampling by thinning, at
  several noise levels (probit link);
* ``hazard likelihood + gradients``: ``eventsim.hazard.value_and_grad`` on the sampled
  spikes (teacher forcing, adaptive quadrature per stretch), for scale.

Every timing is the median of ``--repeats`` runs after a warm-up (the likelihood: of 3 runs);
the ratio is to the engine.
``--accuracy`` also prints the accuracy figures of docs/escape_noise.md 11 (gradients against
finite differences, time-rescaling KS tests, the ``sigma_n -> 0`` limit).

Run: ``python benchmarks/bench_hazard.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import eventsim
from eventsim import SpikeTrains
from eventsim import hazard as hz


def poisson_inputs(rng, n_examples, n_in, t_max, rate):
    counts = rng.poisson(rate * t_max, (n_examples, n_in))
    times = rng.uniform(0, t_max, counts.sum())
    index = np.repeat(np.tile(np.arange(n_in), n_examples), counts.ravel())
    example = np.repeat(np.arange(n_examples), counts.sum(axis=1))
    return SpikeTrains.from_events(index, times, n_in, example=example, n_examples=n_examples)


def median_time(f, repeats, warm_up=True):
    if warm_up:
        f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def speed(args):
    rng = np.random.default_rng(0)
    x = poisson_inputs(rng, args.examples, args.inputs, args.t_max, args.rate)
    w = rng.normal(0.5, 1.0, (args.inputs, args.neurons)) * 6.0 / np.sqrt(args.inputs)
    d = rng.uniform(0.0, 2.0, (args.inputs, args.neurons))
    neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, t_ref=1.0, rho_0=1.0)
    net, ids = hz.equivalent_network(w, 0.3, d, neuron=neuron)
    ref = eventsim.simulate(net, x, t_max=args.t_max, n_threads=1)
    n_ref = int(ref.spikes.count()[:, ids].sum())
    rows = []
    t_eng = median_time(lambda: eventsim.simulate(net, x, t_max=args.t_max, n_threads=1),
                        args.repeats)
    rows.append(("engine (multi-spike LIF)", t_eng, n_ref))
    for sigma in (0.3, 0.1, 0.02):
        s = hz.simulate(x, w, 0.3, d, neuron=neuron, sigma_n=sigma, t_max=args.t_max, n_threads=1)
        t = median_time(lambda: hz.simulate(x, w, 0.3, d, neuron=neuron, sigma_n=sigma,
                                            t_max=args.t_max, n_threads=1), args.repeats)
        rows.append((f"hazard, sigma_n = {sigma}", t, s.n_spikes))
    g = lambda: hz.value_and_grad(x, s, w, 0.3, d, neuron=neuron, sigma_n=0.02,  # noqa: E731
                                  t_max=args.t_max, n_threads=1)
    # Two orders of magnitude dearer than sampling: timed 3 times, no warm-up.
    rows.append(("hazard likelihood + gradients, sigma_n = 0.02",
                 median_time(g, min(3, args.repeats), warm_up=False), s.n_spikes))
    print(f"{args.examples} examples x {args.inputs} inputs (rate {args.rate}) -> {args.neurons} "
          f"neurons, t_max = {args.t_max}, {x.n_spikes} input spikes, "
          f"{x.n_spikes * args.neurons} arrivals; medians of {args.repeats}, one thread")
    print(f"| {'run':48s} | {'ms':>9s} | {'ratio':>6s} | {'spikes':>7s} |")
    print(f"| {'-' * 48} | {'-' * 9} | {'-' * 6} | {'-' * 7} |")
    for name, t, n in rows:
        print(f"| {name:48s} | {1e3 * t:9.2f} | {t / t_eng:6.2f} | {n:7d} |")


def accuracy():
    from scipy import stats

    rng = np.random.default_rng(2)
    x = poisson_inputs(rng, 2, 5, 40.0, 0.08)
    w = rng.normal(0.4, 0.4, (5, 2))
    d = rng.uniform(0.1, 2.0, (5, 2))
    b = rng.uniform(0.2, 0.6, 2)
    worst = {}
    for link in hz.LINKS:
        for t_ref in (0.0, 0.8):
            neuron = hz.HazardLIF(tau_mem=8.0, tau_syn=3.0, t_ref=t_ref, v_reset=-0.1, link=link,
                                  rho_0=0.8, g_leak=1.3)
            q = hz.simulate(x, w, b, d, neuron=neuron, sigma_n=0.2, t_max=40.0, seed=9)
            g = hz.value_and_grad(x, q, w, b, d, neuron=neuron, sigma_n=0.2, t_max=40.0)

            def ll(ww=w, bb=b, dd=d):
                return hz.log_likelihood(x, q, ww, bb, dd, neuron=neuron, sigma_n=0.2,
                                         t_max=40.0).sum()

            def fd(f, v, h):
                return (-f(v + 2 * h) + 8 * f(v + h) - 8 * f(v - h) + f(v - 2 * h)) / (12 * h)

            for (i, n) in np.ndindex(5, 2):
                def fw(v):
                    ww = w.copy()
                    ww[i, n] = v
                    return ll(ww=ww)

                def fdl(v):
                    dd = d.copy()
                    dd[i, n] = v
                    return ll(dd=dd)

                for key, gv, f, v0, h in (("weights", g.weights[i, n], fw, w[i, n], 1e-3),
                                          ("delays", g.delays[i, n], fdl, d[i, n], 1e-5)):
                    err = abs(gv - fd(f, v0, h)) / max(1.0, abs(gv))
                    worst[key] = max(worst.get(key, 0.0), err)
            for n in range(2):
                def fb(v):
                    bb = b.copy()
                    bb[n] = v
                    return ll(bb=bb)

                err = abs(g.bias[n] - fd(fb, b[n], 1e-3)) / max(1.0, abs(g.bias[n]))
                worst["bias"] = max(worst.get("bias", 0.0), err)
    print("gradients vs 5-point finite differences, largest |g - fd| / max(1, |g|) over 3 links "
          "x 2 refractory periods:", {k: f"{v:.1e}" for k, v in worst.items()})
    rng = np.random.default_rng(11)
    x = poisson_inputs(rng, 2, 20, 3000.0, 0.05)
    w = rng.normal(0.2, 0.3, 20)
    dl = rng.uniform(0, 3, 20)
    for link in hz.LINKS:
        for sigma, t_ref in ((0.5, 0.0), (0.1, 1.0)):
            neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, t_ref=t_ref, rho_0=0.5, link=link)
            s = hz.simulate(x, w, 0.6, dl, neuron=neuron, sigma_n=sigma, t_max=3000.0, seed=5)
            lam = hz.time_rescaled_intervals(x, s, w, 0.6, dl, neuron=neuron, sigma_n=sigma,
                                             t_max=3000.0)
            print(f"time rescaling, {link:11s} sigma_n = {sigma}, t_ref = {t_ref}: "
                  f"{s.n_spikes} spikes, KS p = {stats.kstest(lam, 'expon').pvalue:.3f}")
    rng = np.random.default_rng(1)
    x = poisson_inputs(rng, 10, 30, 100.0, 0.05)
    w = rng.normal(0.3, 0.4, (30, 3))
    d = rng.uniform(0, 2, (30, 3))
    for t_ref in (0.0, 1.5):
        neuron = hz.HazardLIF(tau_mem=10.0, tau_syn=3.0, t_ref=t_ref, rho_0=1e10, v_reset=-0.2)
        net, ids = hz.equivalent_network(w, 0.3, d, neuron=neuron)
        ref = eventsim.simulate(net, x, t_max=100.0)
        s = hz.simulate(x, w, 0.3, d, neuron=neuron, sigma_n=1e-12, t_max=100.0, seed=3)
        diff, same = 0.0, True
        for e in range(10):
            a, b = ref.spikes.trains(e), s.trains(e)
            for n in range(3):
                same &= a[ids[n]].size == b[n].size
                if same and b[n].size:
                    diff = max(diff, float(np.abs(a[ids[n]] - b[n]).max()))
        print(f"sigma_n = 1e-12, rho_0 = 1e10, t_ref = {t_ref}: {s.n_spikes} spikes, counts "
              f"{'equal' if same else 'DIFFER'}, largest spike-time difference {diff:.1e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--examples", type=int, default=32)
    p.add_argument("--inputs", type=int, default=200)
    p.add_argument("--neurons", type=int, default=20)
    p.add_argument("--rate", type=float, default=0.02)
    p.add_argument("--t-max", type=float, default=500.0)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--accuracy", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.examples, args.t_max, args.repeats = 4, 100.0, 3
    speed(args)
    if args.accuracy:
        accuracy()


if __name__ == "__main__":
    main()
