"""Mean-field predictions (eventsim.meanfield) against the engine's spikes (issue 11).

Three comparisons, printed as tables:

1. stationary rate of uncoupled LIF neurons driven by excitatory and inhibitory Poisson
   input with given mean ``mu`` and noise ``sigma`` (docs/meanfield.md 1), for
   ``tau_syn / tau_mem`` = 0.01 and 0.1: simulation, Siegert with the Fourcaud-Brunel
   correction, Siegert without it;
2. the transient of such a population: onset of a suprathreshold drive from V = 0, and a
   step between two drives from the stationary state; the PSTH over neurons and trials
   against the Fokker-Planck solution and the rate model (nrmse, correlation);
3. the Brunel network of benchmarks/bench_brunel.py at N = 2,000: stationary rate
   and the onset transient;
4. an E/I network with a context population switched on onto E: stationary rates
   before and after, the first wave after the onset, the response to the context.

Run:
    python benchmarks/bench_meanfield.py            # about a minute and a half
    python benchmarks/bench_meanfield.py --quick    # fewer neurons and trials
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
from eventsim import meanfield as mf  # noqa: E402

TM, TH, VR, TR = 10.0, 20.0, 10.0, 2.0


def driven(n, tau_syn, w, mus, rate_times=None):
    """Uncoupled neurons; E and I Poisson streams (+-w, g_leak = 1) giving (mu, sigma)."""
    rates = []
    for mu, sigma in mus:
        s, d = sigma ** 2 * TM / (tau_syn * w) ** 2, mu / (tau_syn * w)
        rates.append(((s + d) / 2, (s - d) / 2))
    net = eventsim.Network()
    net.add_inputs(0)
    e = net.add_poisson(1, [[r[0] for r in rates]], rate_times=rate_times)
    i = net.add_poisson(1, [[r[1] for r in rates]], rate_times=rate_times)
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=TM, tau_syn=tau_syn,
                             theta=TH, v_reset=VR, t_ref=TR)
    net.connect(np.full(n, e.ids[0]), pop.ids, w, 0.0)
    net.connect(np.full(n, i.ids[0]), pop.ids, -w, 0.0)
    return net, pop


def psth(net, pop, trials, t_max, bin_width, t_min=0.0, seed=1):
    res = eventsim.simulate(net, np.zeros((trials, 0)), t_max=t_max, seed=seed,
                            max_events=np.inf)
    return mf.population_rate(res.spikes, pop, t_min=t_min, t_max=t_max, bin_width=bin_width)


def stationary(args):
    print("1. Stationary rate (Hz), uncoupled neurons, tau_mem 10, theta 20, reset 10, "
          f"t_ref 2; {args.n} neurons x {args.t:g} ms after 100 ms")
    print(f"{'tau_s/tau_m':>12s}{'mu':>6s}{'sigma':>7s}{'sim':>9s}{'FB':>9s}{'white':>9s}"
          f"{'FB err':>9s}{'white err':>10s}")
    for tau_syn, w in ((0.1, 20.0), (1.0, 2.0)):
        for mu, sigma in ((15.0, 5.0), (17.0, 4.0), (19.0, 3.0), (22.0, 3.0)):
            net, pop = driven(args.n, tau_syn, w, [(mu, sigma)])
            _, r = psth(net, pop, 1, args.t + 100.0, args.t, t_min=100.0)
            model = mf.MeanFieldModel.from_network(net, [pop])
            fb, white = mf.stationary_rates(model)[0], mf.stationary_rates(model,
                                                                           colored=False)[0]
            err_fb, err_white = 100 * (fb / r[0] - 1), 100 * (white / r[0] - 1)
            print(f"{tau_syn / TM:12.2f}{mu:6.0f}{sigma:7.0f}{1e3 * r[0]:9.2f}{1e3 * fb:9.2f}"
                  f"{1e3 * white:9.2f}{err_fb:8.1f}%{err_white:9.1f}%")


def transients(args):
    print(f"\n2. Transients, tau_s/tau_m = 0.1, {args.n} neurons x {args.trials} trials, "
          "2 ms bins (nrmse: RMS error / mean simulated rate)")
    print(f"{'case':40s}{'FP nrmse':>10s}{'FP corr':>9s}{'rate nrmse':>11s}{'rate corr':>10s}"
          f"{'peak sim':>10s}{'peak FP':>9s}")
    cases = (("onset from V=0: (mu, sigma) = (25, 3)", [(25.0, 3.0)], None, 60.0, 0.0),
             ("onset from V=0: (17, 4)", [(17.0, 4.0)], None, 60.0, 0.0),
             ("step at 60: (12, 3) -> (19, 4)", [(12.0, 3.0), (19.0, 4.0)], [0.0, 60.0],
              100.0, 60.0))
    for name, mus, rate_times, t_max, t_min in cases:
        net, pop = driven(args.n, 1.0, 2.0, mus, rate_times)
        edges, sim = psth(net, pop, args.trials, t_max, 2.0, t_min=t_min)
        model = mf.MeanFieldModel.from_network(net, [pop])
        fp = mf.compare_rates(edges, sim, *_pred(model, t_max, "fokker-planck"))
        rm = mf.compare_rates(edges, sim, *_pred(model, t_max, "rate"))
        print(f"{name:40s}{fp['nrmse']:10.3f}{fp['corr']:9.3f}{rm['nrmse']:11.3f}"
              f"{rm['corr']:10.3f}{1e3 * sim.max():10.1f}{1e3 * fp['pred'].max():9.1f}")


def _pred(model, t_max, method):
    tr = mf.transient(model, t_max, method=method)
    return tr.t, tr.rate[:, 0]


def brunel(args):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_brunel
    n = 1000 if args.quick else 2000
    net, pop = bench_brunel.build(n, 1)
    model = mf.MeanFieldModel.from_network(net, [pop])
    rate = mf.stationary_rates(model)[0]
    white = mf.stationary_rates(model, colored=False)[0]
    _, sim = psth(net, pop, 1, 600.0, 500.0, t_min=100.0, seed=2)
    print(f"\n3. Brunel network (benchmarks/bench_brunel.py), N = {n}")
    print(f"stationary rate: simulation {1e3 * sim[0]:.2f} Hz (100-600 ms), mean field "
          f"{1e3 * rate:.2f} Hz (without the FB correction {1e3 * white:.2f} Hz)")
    trials = max(2, args.trials // 2)
    edges, sim = psth(net, pop, trials, 100.0, 2.0)
    fp = mf.compare_rates(edges, sim, *_pred(model, 100.0, "fokker-planck"))
    rm = mf.compare_rates(edges, sim, *_pred(model, 100.0, "rate"))
    first = slice(0, 16)    # 0-32 ms: the first wave
    print(f"onset from V=0, {trials} trials, 2 ms bins, 0-100 ms: FP nrmse {fp['nrmse']:.3f} "
          f"(corr {fp['corr']:.3f}), rate model nrmse {rm['nrmse']:.3f} (corr {rm['corr']:.3f})")
    print(f"first wave (0-32 ms), spikes per neuron: simulation {2 * sim[first].sum():.3f}, "
          f"FP {2 * fp['pred'][first].sum():.3f}, rate model {2 * rm['pred'][first].sum():.3f}; "
          f"peak bin {1e3 * sim.max():.0f} Hz at {edges[np.argmax(sim)]:g} ms (sim), "
          f"{1e3 * fp['pred'].max():.0f} Hz at {edges[np.argmax(fp['pred'])]:g} ms (FP)")


def ei_network(n, ctx_rate, t_on, seed=1):
    """E/I network (80/20, 25% connectivity, tau_syn / tau_mem = 0.1), an external drive
    onto both and a context Poisson population onto E switched on at ``t_on``."""
    rng = np.random.default_rng(seed)
    prm = dict(tau_mem=20.0, tau_syn=2.0, theta=20.0, v_reset=10.0, t_ref=2.0)
    net = eventsim.Network()
    net.add_inputs(0)
    ext = net.add_poisson(1, 5.5, name="ext")
    ctx = net.add_poisson(1, [[0.0, ctx_rate]], rate_times=[0.0, t_on], name="context")
    e = net.add_population(int(0.8 * n), model="lif", multispike=True, name="E", **prm)
    i = net.add_population(n - e.size, model="lif", multispike=True, name="I", **prm)
    for post in (e, i):
        for pre, w in ((e, 2.0), (i, -10.0)):
            k = pre.size // 4
            src = rng.integers(pre.start, pre.stop, (post.size, k))
            net.connect(src.ravel(), np.repeat(post.ids, k), w, 1.0)
        net.connect(np.full(post.size, ext.ids[0]), post.ids, 2.0, 0.5)
    net.connect(np.full(e.size, ctx.ids[0]), e.ids, 2.0, 0.5)
    return net, e, i


def context(args):
    n = 1000 if args.quick else 2000
    t_on, t_max = 200.0, 400.0
    trials = max(2, args.trials // 2)
    net, e, i = ei_network(n, 0.5, t_on)
    model = mf.MeanFieldModel.from_network(net, [e, i])
    before, after = mf.stationary_rates(model, t=100.0), mf.stationary_rates(model)
    res = eventsim.simulate(net, np.zeros((trials, 0)), t_max=t_max, seed=1, max_events=np.inf)
    fp, rm = mf.transient(model, t_max), mf.transient(model, t_max, method="rate")
    print(f"\n4. E/I network, N = {n} (E 80%, 25% connectivity, tau_s/tau_m = 0.1), a context "
          f"population onto E from {t_on:g} ms; {trials} trials")
    print(f"{'':4s}{'before: sim':>12s}{'MF':>7s}{'after: sim':>12s}{'MF':>7s}"
          f"{'onset wave: sim':>17s}{'FP':>6s}{'context 0-40 ms: FP nrmse':>27s}{'rate nrmse':>12s}")
    for k, pop in enumerate((e, i)):
        _, r0 = mf.population_rate(res.spikes, pop, t_min=80.0, t_max=t_on, bin_width=t_on - 80)
        _, r1 = mf.population_rate(res.spikes, pop, t_min=t_on + 50, t_max=t_max,
                                   bin_width=t_max - t_on - 50)
        edges, onset = mf.population_rate(res.spikes, pop, t_max=60.0, bin_width=2.0)
        wave = mf.compare_rates(edges, onset, fp.t, fp.rate[:, k])
        edges, sim = mf.population_rate(res.spikes, pop, t_min=t_on, t_max=t_on + 40,
                                        bin_width=2.0)
        c_fp = mf.compare_rates(edges, sim, fp.t, fp.rate[:, k])
        c_rm = mf.compare_rates(edges, sim, rm.t, rm.rate[:, k])
        print(f"{pop.name:4s}{1e3 * r0[0]:12.2f}{1e3 * before[k]:7.2f}{1e3 * r1[0]:12.2f}"
              f"{1e3 * after[k]:7.2f}{1e3 * onset.max():17.0f}{1e3 * wave['pred'].max():6.0f}"
              f"{c_fp['nrmse']:27.3f}{c_rm['nrmse']:12.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="neurons per uncoupled population")
    ap.add_argument("--t", type=float, default=1000.0, help="ms for the stationary rates")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.t, args.trials = 100, 500.0, 5
    t0 = time.perf_counter()
    stationary(args)
    transients(args)
    brunel(args)
    context(args)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
