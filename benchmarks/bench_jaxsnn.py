#!/usr/bin/env python
"""Forward-pass throughput of jaxsnn (event-based LIF) on a 784-340-10 network.

An *optional comparison* for ``bench_lif.py``: it times the forward pass of the JAX
library jaxsnn (PyPI ``jaxsnn`` 0.3.0, module ``jaxsnn.event``) on the same kind of
network and inputs that eventsim's LIF benchmark uses, single thread, batch 64, so
that both can be measured on the same machine in the same session.  jaxsnn is **not**
a dependency of eventsim, nothing here is imported by eventsim, and no jaxsnn code
is copied: this driver only calls jaxsnn's public API (``Topology``, ``Source``,
``LIF``, ``LIFParameters``, ``Linear`` and ``jaxsnn.event.types.Spike``).

Setup (outside the repository's environment; ``$JAXENV`` is a folder of your choice)::

    python -m venv $JAXENV
    $JAXENV/bin/pip install jaxsnn          # pulls jax/jaxlib (CPU), optax, ...

Run from the repository root (``python benchmarks/bench_lif.py --jaxsnn-python
$JAXENV/bin/python`` does all of this and alternates with eventsim's timings)::

    python -c "import sys; sys.path.insert(0,'benchmarks'); from bench_lif import \\
        mnist_inputs; import numpy as np; x,y=mnist_inputs(640); np.save('mnist_in.npy', x)"
    $JAXENV/bin/python benchmarks/bench_jaxsnn.py --inputs mnist_in.npy \\
        [--batch 64] [--repeats 5]

What it measures
----------------
``--inputs`` is a ``.npy`` array ``(n_examples, 784)`` of input spike times in units
of ``tau_syn`` (``inf``: no spike), e.g. ``1 - p/256`` for MNIST pixels ``p > 0``.
Times are converted to jaxsnn's units (seconds, ``tau_syn = 5e-3``).  jaxsnn needs a
fixed-size, time-sorted input event list per example: the finite entries of each row
are sorted by time and padded to the largest count in the file with jaxsnn's empty
event (``time = inf, idx = -1, internal = False``, i.e. ``Spike.empty``).

The network is the one of jaxsnn's own event-based examples
(``jaxsnn/examples/event/yinyang_analytical.py``), scaled up to 784-340-10:
``Source(784) -> Linear -> LIF(340) -> Linear -> LIF(10)`` in a ``Topology`` with the
default ``backprop_method="analytical"``, i.e. the closed-form time-to-first-spike
solver ``jaxsnn.event.solver.ttfs_solver`` (the one ``LIF`` uses; it only supports
``tau_mem / tau_syn`` = 1 or 2, and jaxsnn's examples use 2: ``tau_syn = 5 ms``,
``tau_mem = 10 ms``), ``v_th = 1``, ``v_reset = -1000`` (at most one spike per
neuron, as in the examples) and ``t_max = 4 tau_syn`` (as in the examples).
Weights are drawn by jaxsnn's ``Linear`` (normal, ``mean``, ``std``) with the
modified Glorot initialisation ``bench_lif.py`` uses for eventsim
(``std = sqrt(2 / (fan_in + fan_out))``, ``mean = 2 std``), which makes (almost)
every hidden and output neuron spike; the script reports the fractions.

Event buffers: jaxsnn simulates each layer with a ``lax.scan`` of ``n_steps`` steps,
one event per step, where an event is either an input spike arriving at the layer
or a spike of the layer, and it records both in the layer's buffer.  So the hidden
layer needs ``n_steps >= (max input spikes) + 340`` and the output layer
``n_steps >= 340 + 10`` for nothing to be dropped (each neuron spikes at most once);
those are the defaults (``--hidden-steps``/``--output-steps`` override them).  After
the run the script checks that every input spike before ``t_max`` reached the hidden
layer and every hidden spike the output layer, that no neuron spiked twice, and that
no buffer was full while events could still have been cut off (a full buffer is
harmless once all inputs were consumed and all the layer's neurons spiked); it exits
with status 1 if a check fails.

Precision: jax's default float32, as in jaxsnn's examples (``--x64`` switches to
float64, about 2.5x slower here).  In float32 jaxsnn misses a few hidden spikes (about
0.1%): when a neuron's threshold crossing lies within float32 rounding of another
event, its voltage is already above threshold at that event and the analytical solver
then reports no crossing.  With ``--x64`` the spiking sets matched eventsim's on the
same weights (checked once on 64 MNIST examples: spike times within 2e-8 tau_syn).

Timing: the batched forward pass (``apply_fn`` from ``Topology.done()``, which is
already ``vmap``-ed over the batch) is ``jax.jit``-compiled and run once before
timing (compile time is reported separately); then ``--repeats`` passes over all
examples in batches of ``--batch`` are timed with ``block_until_ready`` after each
batch.  The inputs are converted to device arrays beforehand.  A last partial batch
is filled up with copies of the first examples (so the shape, hence the compiled
program, stays the same) and only the real examples are counted.

Single thread: before jax is imported the script sets
``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"``,
``OMP_NUM_THREADS=1`` and ``JAX_PLATFORMS=cpu`` and pins the process (and hence
every thread XLA creates later) to one core with ``os.sched_setaffinity(0, {CPU})``
(``--cpu``, default 0; Linux only, skipped elsewhere).

Output: human-readable lines, then one machine-readable line::

    JAXSNN_FORWARD ex_per_s=<median> batch=<b> n=<n> hidden_active=<frac> \\
        output_active=<frac> solver=<name> max_events=<hidden>,<output>
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# ---- single-thread CPU execution: must happen before jax is imported
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                           " intra_op_parallelism_threads=1").strip()
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["JAX_PLATFORMS"] = "cpu"
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True,
                    help=".npy array (n_examples, n_inputs) of spike times in tau_syn units, inf = none")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-hidden", type=int, default=340)
    ap.add_argument("--n-out", type=int, default=10)
    ap.add_argument("--tau-syn", type=float, default=5e-3, help="seconds (jaxsnn examples: 5e-3)")
    ap.add_argument("--ratio", type=float, default=2.0,
                    help="tau_mem / tau_syn; jaxsnn's analytical solver supports 1 or 2 (examples: 2)")
    ap.add_argument("--v-th", type=float, default=1.0)
    ap.add_argument("--t-max", type=float, default=4.0, help="in units of tau_syn (examples: 4)")
    ap.add_argument("--multiplier", type=float, default=2.0,
                    help="weight mean in Glorot std units (bench_lif.py: 2 for ratio >= 1)")
    ap.add_argument("--hidden-steps", type=int, default=0,
                    help="event buffer of the hidden layer (0: max input spikes + n_hidden)")
    ap.add_argument("--output-steps", type=int, default=0,
                    help="event buffer of the output layer (0: n_hidden + n_out)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    ap.add_argument("--x64", action="store_true",
                    help="enable jax_enable_x64 (float64); default float32 as in jaxsnn's examples")
    return ap.parse_args(argv)


def main(argv=None):
    args = _parse_args(argv)
    if args.x64:
        os.environ["JAX_ENABLE_X64"] = "1"
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    pinned = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "n/a"

    import numpy as np
    import jax
    import jax.numpy as jnp
    import jaxsnn
    from jaxsnn.event.modules import LIF, LIFParameters, Linear, Source
    from jaxsnn.event.topology import Topology
    from jaxsnn.event.types import Spike
    try:
        from importlib.metadata import version
        jaxsnn_version = version("jaxsnn")
    except Exception:  # pragma: no cover
        jaxsnn_version = getattr(jaxsnn, "__version__", "?")

    # ---- inputs: sorted, padded event lists, in seconds
    x = np.load(args.inputs).astype(np.float64)
    n, n_in = x.shape
    tau_syn = args.tau_syn
    finite = np.isfinite(x)
    counts = finite.sum(1)
    max_in = int(counts.max())
    times = np.full((n, max_in), np.inf)
    idx = np.full((n, max_in), -1, dtype=np.int32)
    internal = np.zeros((n, max_in), dtype=bool)
    for e in range(n):
        cols = np.flatnonzero(finite[e])
        order = np.argsort(x[e, cols], kind="stable")
        k = len(cols)
        times[e, :k] = x[e, cols[order]] * tau_syn
        idx[e, :k] = cols[order]
        internal[e, :k] = True

    n_hidden, n_out = args.n_hidden, args.n_out
    hidden_steps = args.hidden_steps or max_in + n_hidden
    output_steps = args.output_steps or n_hidden + n_out

    # ---- network (as in jaxsnn/examples/event/yinyang_analytical.py)
    params = LIFParameters(v_reset=-1000.0, v_th=args.v_th, tau_syn=tau_syn,
                           tau_mem=args.ratio * tau_syn)
    t_max = args.t_max * tau_syn
    std1 = np.sqrt(2.0 / (n_in + n_hidden))
    std2 = np.sqrt(2.0 / (n_hidden + n_out))
    topo = Topology(t_max=t_max)
    topo.add({
        "inp": Source(n_in),
        "lif1": LIF(n_hidden, hidden_steps, params),
        "lif2": LIF(n_out, output_steps, params),
        "syn1": Linear(mean=args.multiplier * std1, std=std1, min_delay=0.0),
        "syn2": Linear(mean=args.multiplier * std2, std=std2, min_delay=0.0),
    })
    topo.connect([("inp", "syn1"), ("syn1", "lif1"), ("lif1", "syn2"), ("syn2", "lif2")])
    init_fn, apply_fn = topo.done()
    weights = init_fn(jax.random.PRNGKey(args.seed))
    forward = jax.jit(apply_fn)

    # ---- batches (a last partial batch is filled with the first examples)
    b = args.batch
    n_batches = -(-n // b)
    fill = np.r_[np.arange(n), np.arange(n_batches * b - n) % n]

    def make_batch(rows):
        return {"inp": Spike(
            time=jnp.asarray(times[rows]),                 # float32 unless --x64
            idx=jnp.asarray(idx[rows]),
            current=jnp.zeros((len(rows), max_in)),
            layer_idx=jnp.zeros((len(rows), max_in), dtype=jnp.int32),
            internal=jnp.asarray(internal[rows]),
        )}

    batches = [make_batch(fill[i * b:(i + 1) * b]) for i in range(n_batches)]
    jax.block_until_ready(batches)

    t0 = time.perf_counter()
    out = forward(batches[0], weights)
    jax.block_until_ready(out)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(forward(batches[0], weights))
    one_batch_s = time.perf_counter() - t0

    # ---- activity and buffer checks over all examples (untimed)
    h_idx, h_int, o_idx, o_int, in_used = [], [], [], [], []
    for bt in batches:
        ev = forward(bt, weights)
        h, o = ev["lif1"], ev["lif2"]
        h_idx.append(np.asarray(h.idx)); h_int.append(np.asarray(h.internal))
        o_idx.append(np.asarray(o.idx)); o_int.append(np.asarray(o.internal))
    h_idx, h_int = np.concatenate(h_idx)[:n], np.concatenate(h_int)[:n]
    o_idx, o_int = np.concatenate(o_idx)[:n], np.concatenate(o_int)[:n]

    def spiking(ids, internal_flags, size):
        cnt = np.zeros((len(ids), size), dtype=np.int64)
        for e in range(len(ids)):
            np.add.at(cnt[e], ids[e][internal_flags[e]], 1)
        return cnt

    h_cnt = spiking(h_idx, h_int, n_hidden)
    o_cnt = spiking(o_idx, o_int, n_out)
    hidden_active = float((h_cnt > 0).mean())
    output_active = float((o_cnt > 0).mean())
    in_consumed = ((h_idx >= 0) & ~h_int).sum(1)            # input events seen by lif1
    n_in_before_tmax = (np.isfinite(times) & (times < t_max)).sum(1)
    h_events = (h_idx >= 0).sum(1)
    o_events = (o_idx >= 0).sum(1)
    h_full = h_idx[:, -1] >= 0                              # last slot used
    o_full = o_idx[:, -1] >= 0
    h_in_consumed_out = ((o_idx >= 0) & ~o_int).sum(1)      # hidden spikes seen by lif2
    # A full buffer can only have cut events off if some input was not consumed yet
    # or some neuron had not spiked yet (with v_reset = -1000 none spikes twice).
    h_drop = int((h_full & ((in_consumed < n_in_before_tmax) | (h_cnt.min(1) == 0))).sum())
    o_drop = int((o_full & ((h_in_consumed_out < h_cnt.sum(1)) | (o_cnt.min(1) == 0))).sum())
    h_full, o_full = int(h_full.sum()), int(o_full.sum())
    ok = (h_drop == 0 and o_drop == 0 and np.array_equal(in_consumed, n_in_before_tmax)
          and np.array_equal(h_in_consumed_out, h_cnt.sum(1))
          and h_cnt.max() <= 1 and o_cnt.max() <= 1)

    # ---- timing
    reps = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for bt in batches:
            jax.block_until_ready(forward(bt, weights))
        reps.append(time.perf_counter() - t0)
    rates = [n / s for s in reps]
    med = float(np.median(rates))

    print(f"jaxsnn {jaxsnn_version}, jax {jax.__version__}, jaxlib "
          f"{getattr(jax.lib, '__version__', '?')}, devices {jax.devices()}, "
          f"dtype {jnp.zeros(()).dtype}, affinity {pinned}, XLA_FLAGS={os.environ['XLA_FLAGS']!r}")
    print(f"inputs: {args.inputs}: {n} examples x {n_in}, input spikes per example "
          f"mean {counts.mean():.1f} / min {counts.min()} / max {max_in} "
          f"(padded to {max_in})")
    print(f"network {n_in}-{n_hidden}-{n_out}, LIF tau_syn={tau_syn:g}s "
          f"tau_mem={args.ratio * tau_syn:g}s (ratio {args.ratio:g}), v_th={args.v_th:g}, "
          f"v_reset=-1000, t_max={args.t_max:g} tau_syn, solver ttfs_solver (analytical), "
          f"weights Linear(mean={args.multiplier:g} std, std=Glorot) "
          f"std1={std1:.4f} std2={std2:.4f}")
    print(f"event buffers (scan steps): hidden {hidden_steps}, output {output_steps}; "
          f"events used per example: hidden mean {h_events.mean():.1f} max {h_events.max()}, "
          f"output mean {o_events.mean():.1f} max {o_events.max()}; "
          f"examples with full buffer: hidden {h_full}, output {o_full} (of which possibly "
          f"dropping events: {h_drop}, {o_drop}); "
          f"all inputs consumed: {np.array_equal(in_consumed, n_in_before_tmax)}; "
          f"max spikes per neuron: hidden {h_cnt.max()}, output {o_cnt.max()}; "
          f"checks {'OK' if ok else 'FAILED'}")
    print(f"activity: hidden {hidden_active:.4f} (mean {h_cnt.sum(1).mean():.1f} spikes/ex), "
          f"output {output_active:.4f} (mean {o_cnt.sum(1).mean():.2f} spikes/ex)")
    print(f"compile+first batch {compile_s:.2f} s, second batch {one_batch_s * 1e3:.1f} ms")
    print(f"repeats: {', '.join(f'{s:.3f} s ({r:.1f} ex/s)' for s, r in zip(reps, rates))}")
    print(f"JAXSNN_FORWARD ex_per_s={med:.1f} batch={b} n={n} hidden_active={hidden_active:.4f} "
          f"output_active={output_active:.4f} solver=ttfs_solver_ratio{args.ratio:g} "
          f"dtype={jnp.zeros(()).dtype} "
          f"max_events={hidden_steps},{output_steps}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
