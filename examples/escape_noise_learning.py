#!/usr/bin/env python
"""Escape-noise neurons and the noise-driven learning rule (Jaltare et al.'s poster).

Checks each claim of the poster on the discrete-time neuron of ``eventsim.escape_noise`` and
prints PASS or FAIL with the numbers:

1. the gradient landscape dl/dw against w in [0, 0.5] at sigma_n = 0.015 and 0.03 has a
   stable fixed point near the optimum w* ...
2. ... and one near w = 0 (computed twice: with the exact, stable rule, and with the
   poster's form (q - p)/(p(1 - p)) phi(z)/sigma_n as it is commonly coded, p clipped);
3. learning from zero initial weights and from sparse inputs: the fraction of 20 seeds that
   reach w* with cooling, with fixed high noise and with fixed low noise;
4. the continuum: after training at each sigma_n of a sweep, the spike-count error (rate
   code) and the van Rossum timing error against sigma_n.

Every target is the spike train of the same neuron at w* without noise (sigma_n = 1e-9).
The setting (time constants, rates, schedules) is ours: the poster leaves it open; it is
written out below and in docs/escape_noise.md 7.

Run: ``python examples/escape_noise_learning.py`` (a few minutes) or ``--quick`` (< 30 s,
fewer seeds, epochs and sweep points; the verdicts then rest on less data).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

from eventsim import escape_noise as en

NEURON = en.DiscreteLIF(dt=1.0, tau_mem=10.0, tau_syn=5.0, theta=1.0, v_reset=0.0, t_ref=2.0)
DETERMINISTIC = 1e-9          # sigma_n of the noise-free neuron that makes the targets
# Step = LR * sigma_n^2 / lambda_max(sum_t xbar xbar^T) (en.stable_learning_rate at LR = 1).
# That bound assumes curvature 1 in every bin, which only bins far from threshold reach, so
# it is conservative; 5x it converged in every run we tried (a choice, not a guarantee).
LR = 5.0
SIGMA_HIGH, SIGMA_LOW = 0.3, 0.015   # fixed high noise (and the start of cooling), fixed low noise (its floor)


def target(x, w):
    """The target spike train: the neuron at w without noise."""
    return en.simulate(x, w, 0.0, neuron=NEURON, sigma_n=DETERMINISTIC).spikes


# --------------------------------------------------------------------------- 1-2 landscape
def landscape(n_bins, rng):
    """dl/dw of a shared weight w (all 20 inputs) for w in [0, 0.5], exact and naive."""
    n_in, w_star = 20, 0.25
    x = (rng.random((n_bins, n_in)) < 0.03).astype(float)
    q = target(x, np.full(n_in, w_star))
    ws = np.linspace(0.0, 0.5, 51)
    out = {}
    for sig in (0.015, 0.03):
        exact = np.array([en.value_and_grad(x, q, np.full(n_in, w), neuron=NEURON,
                                            sigma_n=sig).weights.sum() for w in ws])
        naive = np.array([en.value_and_grad(x, q, np.full(n_in, w), neuron=NEURON, sigma_n=sig,
                                            naive_clip=1e-7).weights.sum() for w in ws])
        out[sig] = (exact, naive)
    return ws, w_star, int(q.sum()), out


def plateau(ws, g, rel=1e-6):
    """The largest w such that |dl/dw| < rel * max|dl/dw| on all of [0, w], or None."""
    flat = np.abs(g) < rel * np.abs(g).max()
    if not flat[0]:
        return None
    return float(ws[np.argmin(flat) - 1]) if not flat.all() else float(ws[-1])


def stable_zero(ws, g):
    """w where g changes sign from + to - (a stable fixed point of ascent), or None."""
    idx = np.flatnonzero((g[:-1] > 0) & (g[1:] <= 0))
    if not len(idx):
        return None
    i = idx[0]
    return ws[i] + (ws[i + 1] - ws[i]) * g[i] / (g[i] - g[i + 1])


# --------------------------------------------------------------------------- 3 learning
def learn(n_seeds, n_bins, epochs, rate, naive, rng_seed):
    """Train n_seeds neurons (one per seed, each with its own inputs and w*) from w = 0.

    Returns {schedule name: (fraction reaching w*, median relative weight error)}.
    """
    n_in = 10
    rng = np.random.default_rng(rng_seed)
    xs, qs, stars = [], [], []
    for _ in range(100 * n_seeds):
        x = (rng.random((n_bins, n_in)) < rate).astype(float)
        # Sparser inputs need stronger weights for the target to fire at all.
        w_star = rng.uniform(0.1, 0.5, n_in) * 2.0 * (0.03 / rate)
        q = target(x, w_star)
        if 5 <= q.sum() <= n_bins // 10:          # a target with something to learn
            xs.append(x), qs.append(q), stars.append(w_star)
        if len(xs) == n_seeds:
            break
    else:
        raise RuntimeError(f"no targets with 5..{n_bins // 10} spikes at input rate {rate}")
    # The seeds run side by side as n_seeds neurons with block-diagonal weights.
    X = np.concatenate(xs, axis=1)
    Q = np.stack(qs, axis=1).astype(float)
    mask = np.kron(np.eye(n_seeds), np.ones((n_in, 1))).astype(bool)
    sig_hi, sig_lo = SIGMA_HIGH, SIGMA_LOW
    schedules = {
        "cooling": en.exponential_cooling(sig_hi, (sig_lo / sig_hi) ** (1.0 / (0.6 * epochs)), sig_lo),
        "fixed high": en.constant(sig_hi),
        "fixed low": en.constant(sig_lo),
    }
    # lr = sigma_n^2 / lambda_max(sum_t xbar xbar^T): the safe step of the concave
    # likelihood, i.e. the sigma_n^2 scaling with its constant (docs/escape_noise.md 3).
    base = np.array([en.stable_learning_rate(xs[s], qs[s], 1.0, NEURON) for s in range(n_seeds)])
    out = {}
    for name, sched in schedules.items():
        w = np.zeros((n_seeds * n_in, n_seeds))
        for epoch in range(epochs):
            sig = sched(epoch)
            g = en.value_and_grad(X, Q, w, 0.0, neuron=NEURON, sigma_n=sig,
                                  naive_clip=1e-7 if naive else None)
            step = LR * base * sig ** 2
            w = np.clip(w + step * np.where(mask, g.weights, 0.0), 0.0, None)
        reached, errs = 0, []
        for s in range(n_seeds):
            ws = w[s * n_in:(s + 1) * n_in, s]
            errs.append(np.linalg.norm(ws - stars[s]) / np.linalg.norm(stars[s]))
            reached += reproduces(xs[s], ws, qs[s])
        out[name] = (reached / n_seeds, float(np.median(errs)))
    return out


def reproduces(x, w, q):
    """The noise-free neuron at w fires the target's spikes, each within one bin."""
    s = np.flatnonzero(target(x, w))
    t = np.flatnonzero(q)
    return len(s) == len(t) and bool(np.all(np.abs(s - t) <= 1))


# --------------------------------------------------------------------------- 4 continuum
def continuum(sigmas, n_bins, epochs, n_eval, rng_seed):
    """Train at each sigma_n; return count and timing errors of noisy runs at that sigma."""
    n_in, rate = 20, 0.03
    rng = np.random.default_rng(rng_seed)
    x = (rng.random((n_bins, n_in)) < rate).astype(float)
    w_star = rng.uniform(0.1, 0.4, n_in)
    q = target(x, w_star)
    t_target = np.flatnonzero(q) * NEURON.dt
    rows = []
    for sig in sigmas:
        w = np.zeros(n_in)
        lr = LR * en.stable_learning_rate(x, q, sig, NEURON)
        for epoch in range(epochs):
            g = en.value_and_grad(x, q, w, neuron=NEURON, sigma_n=sig)
            w = np.clip(w + lr * g.weights, 0.0, None)
        # n_eval noisy runs of the trained neuron, free running, as n_eval identical neurons.
        runs = en.simulate(x, np.repeat(w[:, None], n_eval, axis=1), 0.0, neuron=NEURON,
                           sigma_n=sig, seed=17).spikes
        counts = runs.sum(axis=0)
        count_err = float(np.mean(np.abs(counts - q.sum())) / q.sum())
        vr = float(np.mean([en.van_rossum(np.flatnonzero(runs[:, j]) * NEURON.dt, t_target, 10.0)
                            for j in range(n_eval)]))
        rows.append((sig, count_err, vr, float(np.linalg.norm(w - w_star) / np.linalg.norm(w_star))))
    return int(q.sum()), rows


# --------------------------------------------------------------------------- main
def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run (< 30 s)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds for claim 3 (default 20)")
    ap.add_argument("--out", type=pathlib.Path, default=None,
                    help="folder for escape_noise_landscape.png (needs matplotlib)")
    args = ap.parse_args(argv)
    quick = args.quick
    n_seeds = args.seeds or (8 if quick else 20)
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    results = []

    # 1-2: landscape
    ws, w_star, n_spk, land = landscape(1000, rng)
    print(f"Gradient landscape: 20 inputs (rate 0.03 per bin) sharing one weight w, target = the "
          f"noise-free neuron at w* = {w_star} ({n_spk} spikes), teacher forcing")
    print(f"{'sigma_n':>8} {'rule':>6} {'dl/dw(0)':>12} {'max|dl/dw|':>12} {'stable zero':>12} "
          f"{'flat near 0 (|g|<1e-6 max)':>28}")
    for sig, (exact, naive) in land.items():
        for name, g in (("exact", exact), ("naive", naive)):
            z = stable_zero(ws, g)
            pl = plateau(ws, g)
            print(f"{sig:8.3f} {name:>6} {g[0]:12.4g} {np.abs(g).max():12.4g} "
                  f"{(f'{z:.4f}' if z is not None else '-'):>12} "
                  f"{(f'0 <= w <= {pl:.2f}' if pl is not None else 'none'):>28}")
        results.append((f"claim 1 (sigma_n={sig}): stable fixed point near w* = {w_star} (exact rule)",
                        stable_zero(ws, exact) is not None and abs(stable_zero(ws, exact) - w_star) < 0.02,
                        f"zero crossing at w = {stable_zero(ws, exact)}"))
        mono = bool(np.all(np.diff(exact) < 0))
        results.append((f"claim 2 (sigma_n={sig}): stable fixed point near w = 0 (exact rule)",
                        exact[0] <= 0,
                        f"dl/dw(0) = {exact[0]:.4g} > 0 and dl/dw decreases monotonically on [0, 0.5]: "
                        f"{mono} (l is concave in w with teacher forcing, one fixed point only)"))
        pl = plateau(ws, naive)
        results.append((f"claim 2 (sigma_n={sig}): ... with the poster's form, p clipped to [1e-7, 1-1e-7]",
                        pl is not None,
                        f"dl/dw vanishes (< 1e-6 of its max) for w in [0, {pl}]: a plateau where "
                        f"phi(z) underflows against 1/clip, not a zero crossing"))
    if args.out is not None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
            for ax, (sig, (exact, naive)) in zip(axes, land.items()):
                ax.plot(ws, np.sign(exact) * np.log10(1 + np.abs(exact)), label="exact (stable)")
                ax.plot(ws, np.sign(naive) * np.log10(1 + np.abs(naive)), "--", label="naive, p clipped")
                ax.axvline(w_star, color="k", lw=0.5)
                ax.axhline(0, color="k", lw=0.5)
                ax.set(title=f"sigma_n = {sig}", xlabel="w", ylabel="sign(g) log10(1 + |dl/dw|)")
            axes[0].legend()
            fig.tight_layout()
            args.out.mkdir(parents=True, exist_ok=True)
            fig.savefig(args.out / "escape_noise_landscape.png", dpi=120)
            print(f"figure: {args.out / 'escape_noise_landscape.png'}")
        except ImportError:
            print("matplotlib is not installed: no figure")

    # 3: learning from zero / sparse inputs
    epochs = 300
    n_bins = 600
    print(f"\nLearning from w = 0: {n_seeds} seeds, 10 inputs, {n_bins} bins, {epochs} epochs, "
          f"lr ~ sigma_n^2; reach w* = the noise-free neuron fires the target's spikes within one bin")
    print(f"{'inputs':>14} {'rule':>6} {'cooling':>16} {'fixed high':>16} {'fixed low':>16}   "
          f"(fraction of seeds, median relative weight error; high = {SIGMA_HIGH}, "
          f"low = {SIGMA_LOW}, cooling from high to low)")
    learned = {}
    for label, rate in (("dense (0.03)", 0.03), ("sparse (0.005)", 0.005)):
        for naive in (False, True):
            r = learn(n_seeds, n_bins, epochs, rate, naive, rng_seed=1)
            learned[(label, naive)] = r
            print(f"{label:>14} {('naive' if naive else 'exact'):>6} " + " ".join(
                f"{f'{r[k][0]:.2f} (err {r[k][1]:.2f})':>16}" for k in ("cooling", "fixed high", "fixed low")))
    for label in ("dense (0.03)", "sparse (0.005)"):
        ex, nv = learned[(label, False)], learned[(label, True)]
        results.append((f"claim 3 ({label}): with cooling, learning from zero weights reaches w*",
                        ex["cooling"][0] >= 0.8 and nv["cooling"][0] >= 0.8,
                        f"{ex['cooling'][0]:.2f} of seeds (exact rule), {nv['cooling'][0]:.2f} "
                        f"(poster's form)"))
        results.append((f"claim 3 ({label}): at fixed low noise, learning from zero weights fails "
                        f"(poster's form)", nv["fixed low"][0] <= 0.2,
                        f"{nv['fixed low'][0]:.2f} of seeds reach w* (stuck on the plateau at w = 0)"))
        results.append((f"claim 3 ({label}): at fixed low noise, learning from zero weights fails "
                        f"(exact rule)", ex["fixed low"][0] <= 0.2,
                        f"{ex['fixed low'][0]:.2f} of seeds reach w*: the exact weight grows like |z| "
                        f"for a missed spike, so there is no plateau"))
        results.append((f"claim 3 ({label}): fixed high noise learns, but not the precise w*",
                        ex["fixed high"][0] < ex["cooling"][0],
                        f"fixed high {ex['fixed high'][0]:.2f} vs cooling {ex['cooling'][0]:.2f} "
                        f"of seeds (median weight error {ex['fixed high'][1]:.2f} vs "
                        f"{ex['cooling'][1]:.2f})"))

    # 4: continuum
    sigmas = [0.01, 0.02, 0.05, 0.1, 0.2] if quick else [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    n_spk, rows = continuum(sigmas, 1000, 300, 100 if quick else 200, rng_seed=2)
    print(f"\nContinuum: trained at each sigma_n from w = 0 (teacher forcing), then run free with "
          f"that noise; target {n_spk} spikes; van Rossum tau = 10")
    print(f"{'sigma_n':>8} {'count error':>12} {'van Rossum':>11} {'weight error':>13}")
    for sig, ce, vr, we in rows:
        print(f"{sig:8.3f} {ce:12.3f} {vr:11.3f} {we:13.3f}")
    vrs = np.array([r[2] for r in rows])
    ces = np.array([r[1] for r in rows])
    rho = float(np.corrcoef(np.argsort(np.argsort(sigmas)), np.argsort(np.argsort(vrs)))[0, 1])
    results.append(("claim 4: timing error grows with sigma_n (timing code at low noise)",
                    rho > 0.8 and vrs[-1] > 2 * vrs[0],
                    f"van Rossum {vrs[0]:.3f} at sigma_n = {sigmas[0]} -> {vrs[-1]:.3f} at "
                    f"{sigmas[-1]}, Spearman {rho:.2f}"))
    # A rate code at some noise: the count within 25% while the timing error is at least
    # twice the best one (the spike times are lost but the rate is kept).
    rate_rows = [r for r in rows if r[1] <= 0.25 and r[2] >= 2 * vrs.min()]
    results.append(("claim 4: at high noise the count survives while the timing is lost (rate code)",
                    bool(rate_rows),
                    (f"sigma_n = {rate_rows[-1][0]}: count error {rate_rows[-1][1]:.3f}, van Rossum "
                     f"{rate_rows[-1][2]:.3f} vs best {vrs.min():.3f}") if rate_rows else
                    f"no sigma_n with count error <= 0.25 and van Rossum >= {2 * vrs.min():.3f}"))

    print("\nVerdicts")
    for claim, ok, numbers in results:
        print(f"  {verdict(ok)}  {claim}: {numbers}")
    print(f"\n({time.perf_counter() - t0:.1f} s{', --quick' if quick else ''})")
    return results


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
