"""Spike-train engine throughput on a Brunel-style network, optionally against NEST.

The network (Brunel 2000, as in the spike-train issue): N neurons, 80% excitatory, each
with a fixed in-degree of 800 excitatory and 200 inhibitory presynaptic neurons drawn at
random (repeats allowed, as NEST's ``fixed_indegree``), LIF with exponential current
synapses (``tau_m`` 20 ms, ``tau_syn`` 0.5 ms, C 250 pF, E_L 0, V_th 20 mV, V_reset 10 mV,
``t_ref`` 2 ms, V(0) = 0), weights 40 pA (E) and -200 pA (I), delay 1.5 ms, and an
independent 16 kHz Poisson drive of 40 pA per neuron (delay 1.5 ms).

eventsim runs it with ``model="lif", multispike=True`` and one Poisson generator
connected to every neuron (one independent stream per synapse).  With ``--nest PYTHON``
(a Python of a separate virtual environment with ``pip install nest-simulator``; NEST
is never imported here) the same network runs in NEST's precise ``iaf_psc_exp_ps``,
single-threaded, in a subprocess, alternating with eventsim ``--repeats`` times, and the
table shows both, their ratio per repeat, and the firing statistics of both (rate, CV of
the interspike intervals, a two-sample KS test of the ISI distributions).

Run:
    python benchmarks/bench_brunel.py                           # N = 10,000, 1 s, eventsim only
    python benchmarks/bench_brunel.py --n 2000 --t 200 --quick  # seconds
    python benchmarks/bench_brunel.py --nest $NESTENV/bin/python --repeats 3

Reported: wall time (median), spikes, rate, CV, synaptic events (recurrent spikes times
their out-degree plus Poisson arrivals), ns per synaptic event, the bytes the network
holds per synapse (``Network.nbytes``, after lowering it for a run) and how much the
peak resident memory of the process grew while the network was built.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import eventsim  # noqa: E402

C_M, TAU_M, TAU_SYN = 250.0, 20.0, 0.5
THETA, V_RESET, T_REF = 20.0, 10.0, 2.0
W_E, W_I, DELAY, RATE_EXT, W_EXT = 40.0, -200.0, 1.5, 16.0, 40.0   # RATE_EXT per ms
C_E, C_I = 800, 200


def connectivity(n, seed):
    """Presynaptic ids (0-based) per neuron: C_E excitatory then C_I inhibitory."""
    rng = np.random.default_rng(seed)
    n_e = int(0.8 * n)
    pre = np.concatenate([rng.integers(0, n_e, (n, C_E)), rng.integers(n_e, n, (n, C_I))], axis=1)
    return pre, n_e


def build(n, seed):
    pre, n_e = connectivity(n, seed)
    net = eventsim.Network()
    net.add_inputs(0)
    drive = net.add_poisson(1, RATE_EXT, name="drive")
    pop = net.add_population(n, model="lif", multispike=True, tau_mem=TAU_M, tau_syn=TAU_SYN,
                             g_leak=C_M / TAU_M, theta=THETA, v_reset=V_RESET, t_ref=T_REF,
                             name="brunel")
    w = np.where(pre < n_e, W_E, W_I).ravel()
    net.connect(pop.ids[0] + pre.ravel(), np.repeat(pop.ids, C_E + C_I), w, DELAY)
    net.connect(np.full(n, drive.ids[0]), pop.ids, W_EXT, DELAY)
    return net, pop


def bytes_per_synapse(net):
    net._lower()        # the arrays a run derives and caches count too
    return net.nbytes / net.n_synapses


def peak_rss_mib():
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stats(spikes_by_neuron, n, t_ms):
    counts = np.array([s.size for s in spikes_by_neuron])
    isi = np.concatenate([np.diff(s) for s in spikes_by_neuron if s.size > 2] or [np.zeros(0)])
    cv = [np.std(np.diff(s)) / np.mean(np.diff(s)) for s in spikes_by_neuron if s.size > 3]
    return dict(spikes=int(counts.sum()), rate=counts.sum() / n / (t_ms / 1000.0),
                cv=float(np.mean(cv)) if cv else float("nan"), isi=isi)


def run_eventsim(net, pop, t_ms, seed, threads):
    t0, c0 = time.perf_counter(), time.process_time()
    res = eventsim.simulate(net, np.zeros((1, 0)), t_max=t_ms, seed=seed, n_threads=threads,
                            max_events=np.inf)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    trains = res.spikes.trains(0)[pop.ids[0]:pop.ids[-1] + 1]
    return secs, cpu, trains, int(res.n_events[0])


NEST_SCRIPT = r"""
import json, sys, time
import numpy as np
import nest
cfg = json.load(open(sys.argv[1]))
pre = np.load(cfg["pre"])
n = pre.shape[0]
nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.SetKernelStatus({"local_num_threads": 1, "resolution": 0.1, "rng_seed": cfg["seed"] + 1})
pop = nest.Create("iaf_psc_exp_ps", n, params=dict(
    C_m=cfg["C_M"], tau_m=cfg["TAU_M"], tau_syn_ex=cfg["TAU_SYN"], tau_syn_in=cfg["TAU_SYN"],
    E_L=0.0, V_th=cfg["THETA"], V_reset=cfg["V_RESET"], t_ref=cfg["T_REF"], V_m=0.0))
ids = np.asarray(pop.tolist())
w = np.where(pre < cfg["n_e"], cfg["W_E"], cfg["W_I"])
nest.Connect(ids[pre.ravel()], np.repeat(ids, pre.shape[1]), "one_to_one",
             {"weight": w.ravel().astype(float), "delay": np.full(pre.size, cfg["DELAY"])})
noise = nest.Create("poisson_generator", params={"rate": cfg["RATE_EXT"] * 1000.0})
nest.Connect(noise, pop, syn_spec={"weight": cfg["W_EXT"], "delay": cfg["DELAY"]})
rec = nest.Create("spike_recorder")
nest.Connect(pop, rec)
t0, c0 = time.perf_counter(), time.process_time()
nest.Simulate(cfg["t"])
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
ev = rec.get("events")
json.dump({"secs": secs, "cpu": cpu, "senders": (np.asarray(ev["senders"]) - ids[0]).tolist(),
           "times": np.asarray(ev["times"]).tolist()}, open(cfg["out"], "w"))
"""


def run_nest(python, n, t_ms, seed, tmp):
    pre, n_e = connectivity(n, seed)
    np.save(os.path.join(tmp, "pre.npy"), pre)
    cfg = dict(pre=os.path.join(tmp, "pre.npy"), n_e=n_e, t=t_ms, seed=seed,
               out=os.path.join(tmp, "nest.json"), C_M=C_M, TAU_M=TAU_M, TAU_SYN=TAU_SYN,
               THETA=THETA, V_RESET=V_RESET, T_REF=T_REF, W_E=W_E, W_I=W_I, DELAY=DELAY,
               RATE_EXT=RATE_EXT, W_EXT=W_EXT)
    with open(os.path.join(tmp, "cfg.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(tmp, "run_nest.py"), "w") as f:
        f.write(NEST_SCRIPT)
    subprocess.run([python, os.path.join(tmp, "run_nest.py"), os.path.join(tmp, "cfg.json")],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    out = json.load(open(cfg["out"]))
    senders, times = np.asarray(out["senders"], int), np.asarray(out["times"])
    trains = [np.sort(times[senders == i]) for i in range(n)]
    return out["secs"], out["cpu"], trains


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000, help="neurons (default 10,000)")
    ap.add_argument("--t", type=float, default=1000.0, help="simulated time in ms (default 1,000)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--nest", default=os.environ.get("EVENTSIM_NEST_PYTHON"),
                    help="a Python with nest-simulator installed (or $EVENTSIM_NEST_PYTHON)")
    ap.add_argument("--quick", action="store_true", help="N = 1,000, 100 ms")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.t = 1000, 100.0
    t0, rss0 = time.perf_counter(), peak_rss_mib()
    net, pop = build(args.n, args.seed)
    net.n_synapses      # the synapses are merged and sorted on first use
    build_secs, build_rss = time.perf_counter() - t0, peak_rss_mib() - rss0
    per_syn = bytes_per_synapse(net)
    print(f"Brunel network: {args.n} neurons, {net.n_synapses:,} synapses, {args.t:g} ms "
          f"(built in {build_secs:.1f} s; the network holds {per_syn:.1f} bytes per synapse)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            secs, cpu, trains, n_events = run_eventsim(net, pop, args.t, args.seed + r,
                                                       args.threads)
            row = dict(eventsim=secs, eventsim_cpu=cpu, es=stats(trains, args.n, args.t),
                       events=n_events)
            if args.nest:
                nsecs, ncpu, ntrains = run_nest(args.nest, args.n, args.t, args.seed + r, tmp)
                row.update(nest=nsecs, nest_cpu=ncpu, ns=stats(ntrains, args.n, args.t))
            rows.append(row)
            print(f"repeat {r}: eventsim {secs:.2f} s" + (f", NEST {row['nest']:.2f} s "
                  f"(ratio {row['nest'] / secs:.2f})" if args.nest else ""), flush=True)
    es_secs = np.median([r["eventsim"] for r in rows])
    st = rows[-1]["es"]
    syn_events = st["spikes"] * (C_E + C_I) + args.n * RATE_EXT * args.t
    print()
    print(f"{'':24s}{'eventsim':>14s}" + (f"{'NEST':>14s}" if args.nest else ""))
    line = lambda name, a, b=None, fmt="{:14.3f}": print(  # noqa: E731
        f"{name:24s}" + fmt.format(a) + (fmt.format(b) if b is not None else ""))
    nst = rows[-1].get("ns")
    line("wall time (s, median)", es_secs, np.median([r["nest"] for r in rows]) if nst else None)
    line("CPU time (s, median)", np.median([r["eventsim_cpu"] for r in rows]),
         np.median([r["nest_cpu"] for r in rows]) if nst else None)
    line("spikes", st["spikes"], nst["spikes"] if nst else None, "{:14,d}")
    line("rate (Hz)", st["rate"], nst["rate"] if nst else None)
    line("CV of ISIs", st["cv"], nst["cv"] if nst else None)
    line("ns per synaptic event", es_secs / syn_events * 1e9,
         np.median([r["nest"] for r in rows]) / syn_events * 1e9 if nst else None, "{:14.1f}")
    line("network bytes/synapse", per_syn, fmt="{:14.1f}")
    line("build peak RSS (MiB)", build_rss, fmt="{:14.1f}")
    if nst:
        from scipy.stats import ks_2samp
        ratios = [r["nest"] / r["eventsim"] for r in rows]
        print(f"speed-up (NEST / eventsim), per repeat: {', '.join(f'{x:.2f}' for x in ratios)}; "
              f"median {np.median(ratios):.2f}")
        # On a shared machine wall times inflate with other jobs' load; CPU times
        # (both single-threaded) much less.
        cratios = [r["nest_cpu"] / r["eventsim_cpu"] for r in rows]
        print(f"speed-up in CPU time, per repeat: {', '.join(f'{x:.2f}' for x in cratios)}; "
              f"median {np.median(cratios):.2f}")
        ks = ks_2samp(st["isi"], nst["isi"])
        print(f"ISI distributions: KS statistic {ks.statistic:.4f} (p = {ks.pvalue:.3g}); "
              f"rate difference {100 * (st['rate'] / nst['rate'] - 1):+.1f}%")


if __name__ == "__main__":
    main()
