"""Cost of the tangent run of eventsim.lyapunov against the plain simulation.

The network: a recurrent E/I network of ``--n`` multi-spike LIF neurons (80% excitatory),
each with ``--k`` presynaptic neurons drawn at random (80% excitatory, weight ``--w``;
20% inhibitory, weight ``-g w``), delay ``--delay``, ``tau_mem`` 20, ``tau_syn`` 5,
threshold 1, reset 0, ``t_ref`` 2, and an independent Poisson drive per neuron (rate
``--rate`` per ms, weight 0.1).  Times are in ms.

Measured in CPU time, each as the median of ``--repeats`` interleaved repeats,
single-threaded:

* ``simulate``: ``eventsim.simulate`` (what the ratio is taken against);
* ``simulate + tape``: the same with ``record_tape=True`` (the replay reads the tape);
* ``replay``: ``largest_lyapunov(..., result=...)`` on that run: the compiled replay of
  the tape (docs/lyapunov.md 2.1), the norm measured every ``--renorm`` ms;

and the ratio of the tangent run (simulate + tape + replay) to the plain simulation.
It also prints the exponent and checks the tangent against a finite perturbation
(eps 1e-7) of one neuron's current.

Run:
    python benchmarks/bench_lyapunov.py                    # N = 1,000, 50 ms
    python benchmarks/bench_lyapunov.py --n 4000 --t 100
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import eventsim  # noqa: E402
from eventsim import lyapunov  # noqa: E402


def build(n, k, w, g, rate, delay, seed):
    rng = np.random.default_rng(seed)
    n_e, k_e = int(0.8 * n), int(0.8 * k)
    net = eventsim.Network()
    net.add_inputs(0)
    drive = net.add_poisson(1, rate, name="drive")
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=20.0, tau_syn=5.0,
                             theta=1.0, v_reset=0.0, t_ref=2.0, name="ei")
    pre = np.concatenate([rng.integers(0, n_e, (n, k_e)), rng.integers(n_e, n, (n, k - k_e))], 1)
    net.connect(pop.ids[pre.ravel()], np.repeat(pop.ids, k),
                np.where(pre < n_e, w, -g * w).ravel(), delay)
    net.connect(np.full(n, drive.ids[0]), pop.ids, 0.1, 0.0)
    return net, pop


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--w", type=float, default=0.15)
    ap.add_argument("--g", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=4.0)
    ap.add_argument("--delay", type=float, default=1.5)
    ap.add_argument("--t", type=float, default=50.0)
    ap.add_argument("--renorm", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    net, pop = build(args.n, args.k, args.w, args.g, args.rate, args.delay, args.seed)
    x = np.zeros(0)
    sim = lambda tape: eventsim.simulate(net, x, t_max=args.t, seed=args.seed,  # noqa: E731
                                         record_tape=tape, n_threads=1)
    res = sim(True)
    # CPU time of this process (single-threaded runs): less disturbed than wall time
    # when other jobs share the machine
    clock = time.process_time
    t_sim, t_tape, t_rep = [], [], []
    for _ in range(args.repeats):
        t0 = clock()
        sim(False)
        t_sim.append(clock() - t0)
        t0 = clock()
        res = sim(True)
        t_tape.append(clock() - t0)
        t0 = clock()
        ly = lyapunov.largest_lyapunov(net, x, t_max=args.t, seed=args.seed,
                                       renorm_interval=args.renorm, result=res)
        t_rep.append(clock() - t0)
    s, tp, rp = (float(np.median(v)) for v in (t_sim, t_tape, t_rep))
    n_sp = res.spikes.n_spikes
    print(f"network: {args.n} neurons, in-degree {args.k}, {args.t:g} ms, {n_sp} spikes "
          f"({n_sp / args.n / args.t * 1000:.1f} Hz), {n_sp * args.k} recurrent arrivals")
    print(f"simulate          {s * 1e3:8.1f} ms")
    print(f"simulate + tape   {tp * 1e3:8.1f} ms   ({tp / s:.2f}x)")
    print(f"replay            {rp * 1e3:8.1f} ms   ({rp / s:.2f}x)")
    print(f"tangent run       {(tp + rp) * 1e3:8.1f} ms   ({(tp + rp) / s:.2f}x simulate)")
    print(f"largest Lyapunov exponent: {ly.exponent:.4g} per ms = {ly.exponent_per_s:.4g} per s "
          f"(renormalised every {args.renorm:g} ms)")
    # tangent against a finite perturbation of one neuron's current, eps = 1e-7
    eps, q = 1e-7, int(pop.ids[0])
    times = np.linspace(args.t / 10, args.t, 10)
    gr = lyapunov.perturbation_growth(net, x, eps=eps, t_max=args.t, seed=args.seed,
                                      neuron=q, sample_times=times)
    ref_net, ref_in = lyapunov._perturbed_network(net, lyapunov._one_example(net, x),
                                                  "current", q, 0.0)
    dj0 = np.zeros(ref_net.n_neurons)
    dj0[q] = 1.0
    tg = lyapunov.tangent(ref_net, ref_in, t_max=args.t, seed=args.seed, dj0=dj0,
                          sample_times=times)
    st = lyapunov._Params(ref_net).state
    norm = np.sqrt((tg.dv[:, st] ** 2 + tg.dj[:, st] ** 2).sum(1))
    rel = np.abs(norm - gr.dist_state[0] / eps) / norm
    print(f"tangent vs eps = 1e-7: largest relative difference of the state distance "
          f"{rel.max():.2e} over {times.size} times, {int(gr.n_flips[0, -1])} spike flips")


if __name__ == "__main__":
    main()
