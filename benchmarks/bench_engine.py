#!/usr/bin/env python
"""Throughput of eventsim's engine on the MNIST network of Comsa et al.

Measures, on a 784-340-10 alpha-kernel network with 10 synchronisation pulses per
layer and MNIST inputs (about 150 input spikes per example):

* forward pass (``eventsim.simulate``) and forward + backward (``simulate`` with a
  tape, the softmax cross-entropy on ``-t`` of the outputs, ``eventsim.backward``)
  in examples per second and nanoseconds per synaptic event (one synaptic event =
  one synapse delivery: each spiking neuron counts its out-degree);
* single-threaded and with all threads;
* medians over ``--repeats`` repeats;
* the reference C++ implementation (ihmehimmeli) on the same network and inputs,
  in the same run, when its benchmark driver is available (``--reference-bin`` or
  ``EVENTSIM_REFERENCE_BIN``; see ``benchmarks/README.md``), interleaved repeat by
  repeat with eventsim so that both see the same machine load;
* exactness: eventsim is bit-identical across runs and thread counts, matches the
  pure-Python engine (``eventsim.pyengine``) to 1e-12 on a few examples, and agrees
  with the reference's output spike times and accuracy.

The published network (``--network`` or ``$EVENTSIM_SLOW_NETWORK``: the file
``tempcoding/networks/slow_network`` of the reference repository) and the MNIST test
images (``--mnist`` or ``$EVENTSIM_MNIST``) are used when given; otherwise a synthetic
network and inputs with the same statistics.

Run: ``python benchmarks/bench_engine.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import eventsim  # noqa: E402
from eventsim import datasets, io  # noqa: E402
from eventsim.simulation import resolve_threads  # noqa: E402

DECAY = 0.181769  # decay constant of the published MNIST networks (Table 1)
THRESHOLD = 1.16732
# Training hyper-parameters of the published network (Table 1 / reference README).
CLIP_DERIVATIVE = 539.69973904211679
PENALTY_NO_SPIKE = 48.374830659132556
TARGET_SPEEDUP = 4.0


# ----------------------------------------------------------------------------- data
def synthetic_network(seed=0):
    """A 784-340-10 network, 10 pulses per layer, weights drawn like Comsa et al.'s
    initialisation (pulse weights with a large positive mean) so that hidden and
    output neurons mostly spike."""
    return eventsim.feedforward(784, [340], 10, n_pulses=10, pulses="per_layer", tau=DECAY,
                                theta=THRESHOLD, pulse_init_multiplier=7.8391245503824578,
                                nonpulse_init_multiplier=-0.2754188425913906, rng=seed)


def synthetic_inputs(n, seed=0):
    """MNIST-like inputs: about 150 of 784 inputs spike per example, at
    ``1 - p / 256`` with intensities ``p`` skewed to bright pixels like MNIST's."""
    rng = np.random.default_rng(seed)
    x = np.full((n, 784), np.inf)
    for e in range(n):
        k = int(rng.integers(100, 200))
        idx = rng.choice(784, size=k, replace=False)
        bright = rng.random(k) < 0.5
        p = np.where(bright, rng.integers(250, 256, k), rng.integers(1, 250, k))
        x[e, idx] = 1.0 - p / 256.0
    labels = rng.integers(0, 10, n).astype(np.uint8)
    return x, labels


def load_problem(args):
    network = args.network or os.environ.get("EVENTSIM_SLOW_NETWORK")
    if network:
        net_path = pathlib.Path(network)
        if not net_path.is_file():
            sys.exit(f"network file {net_path} not found (--network or EVENTSIM_SLOW_NETWORK)")
        net = io.load_ihmehimmeli(net_path, args.decay)
        net_desc = f"published network {net_path}"
    else:
        net, net_path = synthetic_network(), None
        net_desc = "synthetic 784-340-10 network (no --network given)"
    folder = args.mnist or os.environ.get("EVENTSIM_MNIST")
    n_needed = max(args.n_examples, args.n_train)
    if folder:
        try:
            images, labels = datasets.load_mnist(folder, "test")
        except (FileNotFoundError, ValueError) as exc:
            sys.exit(f"cannot read the MNIST test set (--mnist or EVENTSIM_MNIST): {exc}")
        x = datasets.encode_spike_times(images[:n_needed])
        labels = labels[:n_needed]
        data_desc = f"MNIST test images from {folder}"
    else:
        x, labels = synthetic_inputs(n_needed)
        data_desc = "synthetic MNIST-like inputs (no --mnist given)"
    return net, net_path, x, labels, net_desc, data_desc


# ----------------------------------------------------------------------------- eventsim
def softmax_xent_grad(out_times, labels):
    """dL/dt of the cross-entropy on softmax(-t) (docs/math.md D.1): y - p.  Silent
    outputs get p = 0 (all silent: uniform), as in the reference."""
    big = np.finfo(np.float64).max
    t = np.where(np.isfinite(out_times), out_times, big)
    z = -(t - t.min(axis=1, keepdims=True))
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    y = np.zeros_like(p)
    y[np.arange(len(labels)), labels] = 1.0
    return y - p


def _timed(fn):
    """(wall seconds, process CPU seconds) of fn()."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def eventsim_forward(net, x, threads):
    return _timed(lambda: eventsim.simulate(net, x, n_threads=threads))


def eventsim_train(net, x, labels, threads, batch_size):
    out = net["output"].ids

    def run():
        for b in range(0, len(x), batch_size):
            res = eventsim.simulate(net, x[b:b + batch_size], record_tape=True, n_threads=threads)
            g = softmax_xent_grad(res.times[:, out], labels[b:b + batch_size])
            eventsim.backward(net, res, g, outputs=out, clip_derivative=CLIP_DERIVATIVE,
                              penalty_no_spike=PENALTY_NO_SPIKE, n_threads=threads)

    return _timed(run)


def synaptic_events(net, times):
    """Synapse deliveries per example: the out-degree of every neuron that spiked."""
    outdeg = np.diff(net.indptr).astype(np.float64)
    return np.isfinite(times).astype(np.float64) @ outdeg


def accuracy_count(out_times, labels):
    first = out_times.min(axis=1)
    unique = (out_times == first[:, None]).sum(axis=1) == 1
    return int((np.isfinite(first) & unique & (out_times.argmin(axis=1) == labels)).sum())


# ----------------------------------------------------------------------------- reference
class Reference:
    """Runs the reference benchmark driver (see benchmarks/README.md)."""

    def __init__(self, binary, net, net_path, x, labels, decay, tmpdir):
        self.binary = binary
        self.tmpdir = pathlib.Path(tmpdir)
        if net_path is None:  # synthetic network: write it in the reference's format
            net_path = self.tmpdir / "network"
            io.save_ihmehimmeli(net, net_path)
        self.net_path = str(net_path)
        self.decay = decay
        self.inputs = {}
        self.x, self.labels = x, labels

    def _inputs(self, n):
        if n not in self.inputs:
            path = self.tmpdir / f"inputs{n}.bin"
            with open(path, "wb") as f:
                np.array([n, self.x.shape[1]], np.int32).tofile(f)
                np.ascontiguousarray(self.x[:n], np.float64).tofile(f)
                self.labels[:n].astype(np.int32).tofile(f)
            self.inputs[n] = str(path)
        return self.inputs[n]

    def _run(self, n, threads, modes, out_times="-"):
        cmd = [self.binary, self.net_path, repr(self.decay), self._inputs(n), "1", str(threads),
               repr(CLIP_DERIVATIVE), repr(PENALTY_NO_SPIKE), out_times, modes]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"reference driver failed ({proc.returncode}): {proc.stderr[-2000:]}")
        rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("RESULT")]
        return {r[1]: (float(r[4]), int(r[6]), float(r[7])) for r in rows}

    def time(self, mode, n, threads):
        """(wall seconds, process CPU seconds) of one repeat."""
        wall, _, cpu = self._run(n, threads, mode)[mode]
        return wall, cpu

    def outputs(self, n):
        """Output-layer spike times of the first n examples, and forward accuracy."""
        path = self.tmpdir / "ref_out.bin"
        res = self._run(n, 1, "forward", out_times=str(path))
        return np.fromfile(path, np.float64).reshape(n, -1), res["forward"][1]


def find_reference(args):
    binary = args.reference_bin or os.environ.get("EVENTSIM_REFERENCE_BIN")
    if args.no_reference or not binary:
        return None, "not run (give --reference-bin or EVENTSIM_REFERENCE_BIN)"
    path = shutil.which(binary) or binary
    if not os.access(path, os.X_OK):
        return None, f"not run: {binary} is not an executable"
    return path, path


# ----------------------------------------------------------------------------- main
def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", help="reference-format network file, e.g. the published "
                    "slow_network (default: $EVENTSIM_SLOW_NETWORK, else a synthetic network)")
    ap.add_argument("--mnist", help="folder with the MNIST IDX files (default: $EVENTSIM_MNIST, "
                    "else synthetic inputs)")
    ap.add_argument("--decay", type=float, default=DECAY, help="decay constant (default %(default)s)")
    ap.add_argument("--n-examples", type=int, default=2000,
                    help="examples per forward repeat (default %(default)s)")
    ap.add_argument("--n-train", type=int, default=500,
                    help="examples per forward+backward repeat (default %(default)s)")
    ap.add_argument("--batch-size", type=int, default=32,
                    help="batch size of the forward+backward (training) step (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats; medians are reported")
    ap.add_argument("--threads", default=None,
                    help="comma-separated thread counts (default: 1 and all cores)")
    ap.add_argument("--reference-bin", help="the reference benchmark driver (benchmarks/README.md)")
    ap.add_argument("--no-reference", action="store_true", help="do not run the reference")
    ap.add_argument("--check-examples", type=int, default=3,
                    help="examples compared with the pure-Python engine (0: skip)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes for a smoke test (200/50 examples, 2 repeats)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_examples, args.n_train, args.repeats = 200, 50, 2
        args.check_examples = min(args.check_examples, 1)

    all_threads = resolve_threads(None)
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else sorted({1, all_threads}))
    net, net_path, x_all, labels_all, net_desc, data_desc = load_problem(args)
    x, labels = x_all[:args.n_examples], labels_all[:args.n_examples]
    x_tr, labels_tr = x_all[:args.n_train], labels_all[:args.n_train]
    ref_bin, ref_desc = find_reference(args)

    print(f"network:   {net_desc}")
    print(f"           {net!r}")
    print(f"inputs:    {data_desc}; {len(x)} examples (forward), {len(x_tr)} "
          f"(forward+backward, batches of {args.batch_size})")
    print(f"machine:   {os.cpu_count()} CPUs, {all_threads} usable; eventsim {eventsim.__version__}, "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    print(f"reference: {ref_desc}")

    # Statistics of the workload.
    warm = eventsim.simulate(net, x, n_threads=all_threads)
    times = warm.times
    ev = synaptic_events(net, times)
    ev_tr = synaptic_events(net, times[:len(x_tr)]) if len(x_tr) <= len(x) else \
        synaptic_events(net, eventsim.simulate(net, x_tr).times)
    spk = lambda name: np.isfinite(times[:, net[name].ids]).mean()  # noqa: E731
    hidden = [p.name for p in net.populations if p.name.startswith("hidden")]
    print(f"workload:  {np.isfinite(times[:, net['input'].ids]).sum(1).mean():.1f} input spikes/example; "
          + ", ".join(f"{h} {spk(h):.1%} spiking" for h in hidden)
          + f", output {spk('output'):.1%} spiking; {ev.mean():,.0f} synaptic events/example; "
          f"engine n_events {warm.n_events.mean():,.0f}/example")
    n_correct = accuracy_count(times[:, net["output"].ids], labels)
    print(f"accuracy:  {n_correct}/{len(x)} = {n_correct / len(x):.2%} (first output spike; "
          "ties and silence wrong)")

    # ------------------------------------------------------------------ timing
    rows = []
    with tempfile.TemporaryDirectory(prefix="eventsim-bench-") as tmp:
        ref = Reference(ref_bin, net, net_path, x_all, labels_all, args.decay, tmp) if ref_bin else None
        for mode in ("forward", "train"):
            for k in threads:
                es, rf = [], []
                for _ in range(args.repeats):
                    if mode == "forward":
                        es.append(eventsim_forward(net, x, k))
                    else:
                        es.append(eventsim_train(net, x_tr, labels_tr, k, args.batch_size))
                    if ref is not None:
                        rf.append(ref.time(mode, len(x) if mode == "forward" else len(x_tr), k))
                n = len(x) if mode == "forward" else len(x_tr)
                events = ev.sum() if mode == "forward" else ev_tr.sum()
                rows.append(dict(mode=mode, k=k, n=n, events=events, es=es, rf=rf))

        # -------------------------------------------------------------- exactness
        checks = []
        again = eventsim.simulate(net, x, n_threads=1).times
        checks.append(("eventsim: same spike times on a second run, 1 vs "
                       f"{all_threads} threads (bitwise)", np.array_equal(again, times)))
        if args.check_examples > 0:
            try:
                from eventsim import pyengine
            except ImportError as exc:  # pragma: no cover
                checks.append((f"pure-Python engine unavailable ({exc})", None))
            else:
                m = min(args.check_examples, len(x))
                t0 = time.perf_counter()
                py = pyengine.simulate(net, x[:m]).times
                dt = time.perf_counter() - t0
                same_inf = np.array_equal(np.isinf(py), np.isinf(times[:m]))
                fin = np.isfinite(py)
                err = float(np.max(np.abs(py[fin] - times[:m][fin]))) if fin.any() else 0.0
                checks.append((f"eventsim vs pure-Python engine, {m} examples ({dt:.1f} s): "
                               f"same silent neurons, max |dt| = {err:.2e} (<= 1e-12)",
                               same_inf and err <= 1e-12))
        if ref is not None:
            m = min(len(x), 1000)
            ref_out, _ = ref.outputs(len(x))
            es_out = times[:, net["output"].ids]
            same_inf = np.array_equal(np.isinf(ref_out[:m]), np.isinf(es_out[:m]))
            fin = np.isfinite(ref_out[:m]) & np.isfinite(es_out[:m])
            err = float(np.max(np.abs(ref_out[:m][fin] - es_out[:m][fin]))) if fin.any() else 0.0
            ref_correct = accuracy_count(ref_out, labels)
            checks.append((f"eventsim vs reference output spike times, {m} examples: same silent "
                           f"outputs: {same_inf}, max |dt| = {err:.2e}", same_inf and err < 1e-6))
            checks.append((f"accuracy on {len(x)} examples: eventsim {n_correct}, reference "
                           f"{ref_correct}", n_correct == ref_correct))

    # ------------------------------------------------------------------ report
    print()
    hdr = (f"{'pass':<18}{'threads':>8}{'examples':>9}{'eventsim ex/s':>15}{'ns/event':>10}"
           f"{'ref ex/s':>10}{'ns/event':>10}{'speedup':>9}{'CPU-time speedup':>18}")
    print(hdr)
    print("-" * len(hdr))
    summary = []
    for r in rows:
        name = "forward" if r["mode"] == "forward" else "forward+backward"
        n, events = r["n"], r["events"]
        es_wall = median([w for w, _ in r["es"]])
        es_cpu = median([c for _, c in r["es"]])
        line = f"{name:<18}{r['k']:>8}{n:>9}{n / es_wall:>15,.0f}{1e9 * es_wall / events:>10.2f}"
        if r["rf"]:
            rf_wall = median([w for w, _ in r["rf"]])
            rf_cpu = median([c for _, c in r["rf"]])
            line += (f"{n / rf_wall:>10,.0f}{1e9 * rf_wall / events:>10.2f}{rf_wall / es_wall:>8.2f}x"
                     f"{rf_cpu / es_cpu:>17.2f}x")
            if r["k"] == 1:
                best = min(c for _, c in r["rf"]) / min(c for _, c in r["es"])
                summary.append((name, rf_wall / es_wall, rf_cpu / es_cpu, n / es_cpu, n / rf_cpu,
                                best))
        print(line)
    print(f"\nmedians of {args.repeats} repeats; ns/event: wall time per synaptic event (synapse "
          f"delivery; {ev.mean():,.0f} per example) at that thread count; speedup: reference wall "
          "time / eventsim wall time; CPU-time speedup: the same with process CPU time (less "
          "sensitive to other load on the machine)")
    for name, s_wall, s_cpu, es_rate, rf_rate, s_best in summary:
        verdict = "meets" if min(s_wall, s_cpu) >= TARGET_SPEEDUP else (
            "MISSES" if max(s_wall, s_cpu) < TARGET_SPEEDUP else "is borderline for")
        print(f"single-thread {name}: eventsim is {s_wall:.2f}x the reference in wall time, "
              f"{s_cpu:.2f}x in CPU time ({es_rate:,.0f} vs {rf_rate:,.0f} examples per CPU-second; "
              f"{s_best:.2f}x best CPU time against best); "
              f"{verdict} the >= {TARGET_SPEEDUP:g}x target")
    print("\nexactness:")
    ok_all = True
    for text, ok in checks:
        flag = "skip" if ok is None else ("ok" if ok else "FAIL")
        ok_all &= ok is not False
        print(f"  [{flag}] {text}")
    print("\nraw timings, wall/CPU seconds:")
    fmt = lambda xs: " ".join(f"{w:.3f}/{c:.3f}" for w, c in xs)  # noqa: E731
    for r in rows:
        print(f"  {r['mode']:<8} threads={r['k']}: eventsim {fmt(r['es'])}"
              + (f"; reference {fmt(r['rf'])}" if r["rf"] else ""))
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
