"""Lyapunov analysis of spike-train networks: tangent dynamics, Benettin, finite perturbations.

Issue 11 asks whether a recurrent network of multi-spike LIF neurons is chaotic on short
time scales.  This module answers with three tools (docs/lyapunov.md gives the mathematics):

1. :func:`tangent` -- the state-space tangent of a run: the perturbation of every neuron's
   ``(V, J)`` (``J = I / g_leak``, the current in units of the potential) and of every spike
   time, propagated exactly between events (the same exponentials as the state) and through
   spikes, resets, refractory releases and delayed arrivals by the saltation rules of
   docs/math.md G.3.  It *replays* the run that :func:`eventsim.simulate` recorded (its
   spike-train tape), so no second simulator is involved, and it is vectorised over all
   events that do not depend on each other;
2. :func:`largest_lyapunov` -- the largest Lyapunov exponent by Benettin's method: a random
   unit tangent, renormalised every ``renorm_interval``, its log growth accumulated;
3. :func:`perturbation_growth` -- finite perturbations of the initial state, rerun with the
   same Poisson seed: the distance between the runs over time, with spike flips (spikes
   in one run but not the other) counted apart from timing shifts.

Only networks that run in the spike-train engine (a multi-spike LIF or LI population, or a
Poisson generator) can be analysed, one example at a time.  Times are in the network's
time unit (ms in the examples); exponents are per time unit, and per second assuming ms.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from . import simulation as _simulation
from .network import NEURON, Network
from .spiketrains import SpikeTrains

__all__ = ["TangentResult", "LyapunovResult", "PerturbationGrowth", "tangent",
           "largest_lyapunov", "perturbation_growth", "match_spikes"]

# Codes of the spike-train tape (cython_src/eventsim/_train_tape.pxd).
_LOG_FIRE, _LOG_RELEASE = 2, 3
_MODE_FREE, _MODE_DONE = 0, 2

# Event kinds of the replay.
_EV_SPIKE, _EV_RELEASE, _EV_CHECK, _EV_INIT = 0, 1, 2, 3


# ----------------------------------------------------------------------------- checks
def _positive_time(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def _sample_times(times, t_max, name="sample_times"):
    if times is None:
        return np.linspace(0.0, t_max, 101)[1:]
    t = np.asarray(times, np.float64).reshape(-1)
    if t.size == 0:
        raise ValueError(f"{name} is empty")
    if not (np.isfinite(t).all() and (t > 0).all() and (t <= t_max).all()):
        raise ValueError(f"{name} must lie in (0, t_max = {t_max}]")
    if (np.diff(t) <= 0).any():
        raise ValueError(f"{name} must be strictly increasing")
    return t


def _one_example(net, inputs):
    """The inputs as a one-example SpikeTrains (what the spike-train engine reads)."""
    if isinstance(inputs, SpikeTrains):
        if inputs.n_examples != 1:
            raise ValueError(f"the Lyapunov analysis runs one example at a time; inputs hold "
                             f"{inputs.n_examples} (use inputs.select([e]))")
        return inputs
    x = np.asarray(inputs, np.float64)
    if x.ndim == 2 and x.shape[0] != 1:
        raise ValueError(f"the Lyapunov analysis runs one example at a time; inputs hold "
                         f"{x.shape[0]} rows")
    if x.ndim not in (1, 2):
        raise ValueError(f"inputs must be 1-D (one example) or a SpikeTrains, got {x.ndim}-D")
    x = x.reshape(1, -1)
    if x.shape[1] != net.n_inputs:
        raise ValueError(f"inputs have {x.shape[1]} columns but the network has "
                         f"{net.n_inputs} inputs")
    if np.isnan(x).any():
        raise ValueError("inputs contain NaN (use inf for an input that does not spike)")
    return SpikeTrains.from_first_spikes(x)


def _run(net, inputs, t_max, seed, max_events=None):
    res = _simulation.simulate(net, inputs, t_max=t_max, seed=seed, record_tape=True,
                               max_events=max_events, n_threads=1)
    if not isinstance(res.tape, _simulation.TrainTape):
        raise ValueError("the Lyapunov analysis needs a network that runs in the spike-train "
                         "engine (a multi-spike LIF or LI population, or a Poisson generator)")
    return res


def _check_result(net, res, t_max):
    """A run handed in for replay must be of this network, with a tape, to this t_max."""
    if not isinstance(getattr(res, "tape", None), _simulation.TrainTape):
        raise ValueError("result must come from simulate(..., record_tape=True) of a "
                         "spike-train network")
    if res.tape._snapshot is not None:
        res.tape._snapshot.check(net, net._lower())
    if res.t_max != t_max:
        raise ValueError(f"result was simulated to t_max = {res.t_max}, not {t_max}")
    if res.tape.log_offsets.size != 2:
        raise ValueError("result must hold one example (result.select([e]))")
    return res


def _check_run_args(t_max, seed):
    if isinstance(t_max, bool) or not isinstance(t_max, numbers.Real):
        raise TypeError(f"t_max must be a number, got {t_max!r}")
    t_max = float(t_max)
    if not (np.isfinite(t_max) and t_max > 0):
        raise ValueError(f"t_max must be finite and > 0, got {t_max!r}")
    if seed is None:
        # Both runs of a finite perturbation, and a tangent and its check, must see the
        # same Poisson spikes: a seed drawn here is reported, like simulate's.
        seed = _simulation._seed(None)
    return t_max, seed


# ----------------------------------------------------------------------------- model
class _Params:
    """Per-neuron parameters over all neuron ids (sources get harmless placeholders)."""

    def __init__(self, net: Network):
        table = _simulation._train_table(net)
        pop = np.asarray(net.population_index)
        self.state = (np.asarray(net.kind) == NEURON) & (pop >= 0)
        rows = np.where(self.state[:, None], table[np.maximum(pop, 0)] if table.size
                        else np.zeros((pop.size, 9)), np.nan)
        rows[~self.state] = [0, 1.0, 0.5, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        (_, self.tm, self.ts, self.g, self.theta, self.vr, self.tref, bias,
         self.vinit) = rows.T.copy()
        self.b = bias / self.g                  # bias in units of the potential
        self.spiking = self.state & np.isfinite(self.theta)
        st = self.state
        self.uniform = bool(st.any() and all(np.all(a[st] == a[st][0])
                                             for a in (self.tm, self.ts, self.g)))

    def taus(self, q):
        """tau_mem, tau_syn of neurons ``q`` (scalars when all neurons share them)."""
        if self.uniform:
            i = int(np.flatnonzero(self.state)[0])
            return self.tm[i], self.ts[i]
        return self.tm[q], self.ts[q]


def _kappa(s, tm, ts, em, es):
    """kappa(s) of docs/math.md G.1 from e^{-s/tau_m}, e^{-s/tau_s}; the expm1 form where the
    time constants are within 5% (no cancellation), the two-exponential form elsewhere."""
    tm = np.broadcast_to(np.asarray(tm, np.float64), s.shape)
    ts = np.broadcast_to(np.asarray(ts, np.float64), s.shape)
    near = np.abs(tm - ts) < 0.05 * tm
    out = np.empty(s.shape)
    far = ~near
    if far.any():
        out[far] = ts[far] / (tm[far] - ts[far]) * (em[far] - es[far])
    if near.any():
        x = s[near] * (1.0 / tm[near] - 1.0 / ts[near])
        with np.errstate(invalid="ignore", divide="ignore"):
            phi = np.where(x == 0.0, 1.0, np.expm1(x) / np.where(x == 0.0, 1.0, x))
        out[near] = s[near] / tm[near] * phi * em[near]
    return out


# ----------------------------------------------------------------------------- replay
class _Replay:
    """The structure of one recorded run, prepared for the tangent sweep.

    Every neuron's history is cut into *segments* ending at its *events*: its spikes, its
    refractory releases and the global checkpoints (sample or renormalisation times),
    which every neuron with a membrane gets.  Each arrival of a spike from a spiking neuron
    belongs to the segment of its target in which it lands; its effect on the tangent at
    the segment's end is a fixed coefficient times the presynaptic spike's shift, so all
    coefficients are computed once.  Events are then ordered in *rounds*: the events of a
    round depend only on earlier rounds (through their own previous event and through the
    spikes whose arrivals they receive), so each round is a handful of numpy operations.
    """

    def __init__(self, net, res, checkpoints):
        P = self.P = _Params(net)
        C = self.C = np.asarray(checkpoints, np.float64)
        M = C.size
        tape = res.tape
        log = tape.log[tape.log_offsets[0]:tape.log_offsets[1]]
        own = np.flatnonzero(log["type"] >= _LOG_FIRE)     # one pass over the tape
        own_typ = log["type"][own]
        fire = own[own_typ == _LOG_FIRE]
        rel = own[own_typ == _LOG_RELEASE]
        S, R = fire.size, rel.size
        sn = np.flatnonzero(P.state)              # neurons with a membrane: slots
        Ns = sn.size
        slot = np.full(P.state.size, -1, np.int64)
        slot[sn] = np.arange(Ns)
        self.sn, self.slot, self.Ns, self.M = sn, slot, Ns, M

        # ---- own events (spikes and releases), sorted by neuron, then time
        own_t = np.concatenate([log["t"][fire], log["t"][rel]])
        own_q = np.concatenate([log["neuron"][fire], log["neuron"][rel]]).astype(np.int64)
        own_J = np.concatenate([log["J"][fire], log["J"][rel]])
        own_kind = np.concatenate([np.full(S, _EV_SPIKE), np.full(R, _EV_RELEASE)])
        # a release's spike, by its tape entry (fire is sorted, so searchsorted is exact)
        own_spk = np.concatenate([np.arange(S), np.searchsorted(fire, log["ref"][rel])])
        o = np.lexsort((own_kind, own_t, own_q))
        own_t, own_q, own_J, own_kind, own_spk = (a[o] for a in (own_t, own_q, own_J,
                                                                  own_kind, own_spk))
        n_own = S + R
        own_m = np.searchsorted(C, own_t, side="left")        # block: first checkpoint >= t
        own_slot = slot[own_q]

        # ---- rounds: block, then window of the shortest delay between spiking neurons,
        # then the neuron's own event count within the window
        pre, post, d = np.asarray(net.pre), np.asarray(net.post), net._delay_view()
        rec = P.spiking[pre] & P.spiking[post]
        dmin = float(d[rec].min()) if rec.any() else np.inf
        self.dmin = dmin
        c_prev = np.concatenate([[0.0], C])[own_m]
        if np.isinf(dmin):
            own_w = np.zeros(n_own, np.int64)
        elif dmin > 0 and C[-1] / dmin < n_own + 1:
            # 1e-9 narrower than the delay: an event and a spike it depends on can never
            # share a window, whatever the rounding of (t - c_prev) / dmin
            own_w = np.floor((own_t - c_prev) / (dmin * (1.0 - 1e-9))).astype(np.int64)
        else:
            # each distinct time its own window: exact for dmin = 0, and fewer windows
            # than the grid when the shortest delay is tiny
            own_w = np.unique(own_t, return_inverse=True)[1].astype(np.int64)
        grp_new = np.ones(n_own, bool)
        if n_own > 1:
            grp_new[1:] = ((own_q[1:] != own_q[:-1]) | (own_m[1:] != own_m[:-1])
                           | (own_w[1:] != own_w[:-1]))
        first = np.maximum.accumulate(np.where(grp_new, np.arange(n_own), 0))
        own_ord = np.arange(n_own) - first
        W = int(own_w.max(initial=0)) + 2
        O = int(own_ord.max(initial=0)) + 1
        own_key = (own_m * W + own_w) * O + own_ord
        ck_m = np.repeat(np.arange(M), Ns)
        ck_key = (ck_m * W + (W - 1)) * O

        # ---- all events, unsorted numbering: init (Ns), own (n_own), checkpoints (M Ns)
        n_ev = Ns + n_own + M * Ns
        base_own, base_ck = Ns, Ns + n_own
        key = np.concatenate([np.full(Ns, -1, np.int64), own_key, ck_key])
        # Processing order = order of key, stable.  The checkpoints are in order already
        # and close their block, so only the few own events need sorting; the rest is
        # counting (no sort over all neurons times checkpoints).
        pos = np.empty(n_ev, np.int64)
        pos[:Ns] = np.arange(Ns)
        o2 = np.argsort(own_key, kind="stable")
        pos[base_own + o2] = Ns + np.arange(n_own) + Ns * own_m[o2]
        own_upto = np.cumsum(np.bincount(own_m, minlength=M))       # own events in blocks <= m
        pos[base_ck:] = Ns + np.repeat(own_upto, Ns) + np.arange(M * Ns)
        order = np.empty(n_ev, np.int64)
        order[pos] = np.arange(n_ev)
        self.n_ev = n_ev
        ks = key[order]
        self.round_bounds = np.concatenate([[0], np.flatnonzero(ks[1:] != ks[:-1]) + 1, [n_ev]])
        self.round_of = np.repeat(np.arange(self.round_bounds.size - 1),
                                  np.diff(self.round_bounds))

        ev_t = np.concatenate([np.zeros(Ns), own_t, np.repeat(C, Ns)])
        ev_q = np.concatenate([sn, own_q, np.tile(sn, M)])
        ev_kind = np.concatenate([np.full(Ns, _EV_INIT), own_kind, np.full(M * Ns, _EV_CHECK)])

        # previous event of the same neuron
        def ck_id(m, s):
            return np.where(m < 0, s, base_ck + np.maximum(m, 0) * Ns + s)

        prev_own = np.empty(n_own, np.int64)
        same = np.zeros(n_own, bool)
        if n_own > 1:
            same[1:] = (own_q[1:] == own_q[:-1]) & (own_m[1:] == own_m[:-1])
        prev_own[same] = base_own + np.flatnonzero(same) - 1
        prev_own[~same] = ck_id(own_m[~same] - 1, own_slot[~same])
        # the last own event of each (block, slot), and counts of own events up to each block
        last_in = np.full(M * Ns, -1, np.int64)
        is_last = np.ones(n_own, bool)
        if n_own > 1:
            is_last[:-1] = ~same[1:]
        last_in[own_m[is_last] * Ns + own_slot[is_last]] = np.flatnonzero(is_last)
        prev_ck = np.where(last_in >= 0, base_own + last_in,
                           ck_id(ck_m - 1, np.tile(np.arange(Ns), M)))
        prev = np.concatenate([np.full(Ns, -1, np.int64), prev_own, prev_ck])

        # clamped after each event: a spike with t_ref > 0 clamps, a release frees, a
        # checkpoint inherits the state after the neuron's last own event before it
        tref_own = P.tref[own_q]
        clamp_own = (own_kind == _EV_SPIKE) & (tref_own > 0)
        cnt = np.zeros((M, Ns), np.int64)
        if n_own:
            np.add.at(cnt, (own_m, own_slot), 1)
        cnt = np.cumsum(cnt, axis=0).ravel()                      # own events up to block m
        own_start = np.searchsorted(own_slot, np.arange(Ns), side="left")
        last_le = np.repeat(own_start[None, :], M, 0).ravel() + cnt - 1
        has = cnt > 0
        clamp_ck = np.zeros(M * Ns, bool)
        clamp_ck[has] = clamp_own[last_le[has]]
        pend_ck = np.full(M * Ns, -1, np.int64)
        pend_ck[clamp_ck] = own_spk[last_le[clamp_ck]]
        clamp_after = np.concatenate([np.zeros(Ns, bool), clamp_own, clamp_ck])
        spk = np.concatenate([np.full(Ns, -1, np.int64), own_spk, pend_ck])
        clamp_seg = np.zeros(n_ev, bool)
        clamp_seg[Ns:] = clamp_after[prev[Ns:]]

        # ---- spikes renumbered in processing order
        spike_ev = base_own + np.flatnonzero(own_kind == _EV_SPIKE)   # own order
        sp_order = np.argsort(pos[spike_ev], kind="stable")
        rank_of_fire = np.empty(S, np.int64)
        rank_of_fire[own_spk[own_kind == _EV_SPIKE][sp_order]] = np.arange(S)
        sp_ev = spike_ev[sp_order]                   # spike rank -> event (unsorted id)
        self.fire_syn = log["syn"][fire][np.argsort(rank_of_fire)]  # rank -> engine spike pos

        # ---- per-event arrays in processing order
        perm = order
        self.t = ev_t[perm]
        self.q = ev_q[perm]
        self.kind = ev_kind[perm]
        prv = prev[perm]
        self.prev = np.where(prv >= 0, pos[np.maximum(prv, 0)], -1)
        self.clamp_seg = clamp_seg[perm]
        self.clamp_after = clamp_after[perm]
        # a neuron that never restarts (t_ref = inf) keeps no perturbation in its clamp
        self.pend_norm = self.clamp_after & np.isfinite(P.tref[ev_q[perm]])
        spk_p = spk[perm]
        self.spk = (np.where(spk_p >= 0, rank_of_fire[np.maximum(spk_p, 0)], 0) if S
                    else np.zeros(n_ev, np.int64))
        J_ev = np.concatenate([np.zeros(Ns), own_J, np.zeros(M * Ns)])[perm]
        q, kind = self.q, self.kind
        self.init_pos = pos[np.arange(Ns)]           # slot -> position of its init event
        self.sp_pos = pos[sp_ev]                     # spike rank -> position
        self.S = S

        # flow over each segment: d = t - t_prev
        d_ev = np.where(self.prev >= 0, self.t - self.t[np.maximum(self.prev, 0)], 0.0)
        tm, ts = P.taus(q)
        self.em = np.exp(d_ev * (-1.0 / tm))
        self.es = np.exp(d_ev * (-1.0 / ts))
        self.kap = self._kap(d_ev, tm, ts, self.em, self.es)
        tm = P.tm[q]
        self.free = (~self.clamp_seg).astype(np.float64)
        # After a spike with t_ref = inf (a first-spike LIF) the engine leaves the neuron
        # inert, current included: its tangent is 0 from then on.
        self.alive = (~(self.clamp_seg & ~np.isfinite(P.tref[q]))).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            vdot = (J_ev + P.b[q] - P.theta[q]) / tm            # dV/dt just before a spike
            f_reset = (J_ev + P.b[q] - P.vr[q]) / tm            # dV/dt just after the clamp
        is_spike = kind == _EV_SPIKE
        # A tangency (dV/dt = 0 at the crossing) has no derivative: its shift is set to 0
        # and counted.
        ok = is_spike & (vdot > 0)
        self.tangencies = int((is_spike & ~ok).sum())
        self.inv_vdot = np.where(ok, 1.0 / np.where(ok, vdot, 1.0), 0.0)
        self.c_spk = np.where(is_spike & (P.tref[q] == 0), -f_reset, 0.0)
        self.c_rel = np.where(kind == _EV_RELEASE, -f_reset, 0.0)
        self.is_spike = is_spike
        self.is_check = kind == _EV_CHECK
        # a clamped neuron's pending shift counts in the norm as the potential shift its
        # release will make of it (with J at the spike)
        J_sp = np.zeros(S)
        J_sp[rank_of_fire[own_spk[own_kind == _EV_SPIKE]]] = own_J[own_kind == _EV_SPIKE]
        sp_q = ev_q[sp_ev]
        self.pend_scale_sp = (J_sp + P.b[sp_q] - P.vr[sp_q]) / P.tm[sp_q]

        # ---- arrivals of spikes from spiking neurons, in spike-rank order
        indptr = np.asarray(net.indptr)
        cnt_out = indptr[sp_q + 1] - indptr[sp_q]
        src = np.repeat(np.arange(S), cnt_out)
        syn = np.repeat(indptr[sp_q] - np.cumsum(cnt_out) + cnt_out, cnt_out) + np.arange(
            int(cnt_out.sum()))
        a = np.repeat(ev_t[sp_ev], cnt_out) + d[syn]
        tgt_q = post[syn].astype(np.int64)
        w = np.asarray(net.weights)[syn]
        if not P.state[tgt_q].all():
            keep = P.state[tgt_q]
            src, syn, a, tgt_q, w = src[keep], syn[keep], a[keep], tgt_q[keep], w[keep]
            cnt_out = np.bincount(src, minlength=S)
        # Arrivals after the horizon change nothing: they land on the last checkpoint
        # with weight 0 (cheaper than removing them from every array).
        late = a > C[-1]
        if late.any():
            a = np.minimum(a, C[-1])
            w = np.where(late, 0.0, w)
        self.arr_ptr = np.concatenate([[0], np.cumsum(cnt_out)])
        self._own = (own_t, own_m, own_slot, base_own, base_ck, pos)
        # own events are sorted by neuron (so by slot), then time: those of one
        # (slot, block) are one run, starting here
        self._grp_start = np.concatenate(
            [[0], np.cumsum(np.bincount(own_slot * M + own_m, minlength=Ns * M))])
        self._grp_any = np.diff(self._grp_start) > 0
        self._ck_pos = pos[base_ck:]
        tgt = self.targets(a, tgt_q, src=src)
        self.tgt = tgt
        self.cV, self.cJ = self.coefficients(a, tgt, w, tgt_q)

    def _block(self, a):
        """Index of the first checkpoint at or after each time ``a`` (exact): a guess
        from the mean spacing, corrected step by step (checkpoints are usually evenly
        spaced, so one step at most), else a binary search."""
        C, M = self.C, self.M
        m = np.clip(np.ceil(a * (M / C[-1])).astype(np.int64) - 1, 0, M - 1)
        for _ in range(4):
            up = C[m] < a
            down = (m > 0) & (C[np.maximum(m - 1, 0)] >= a)
            if not (up.any() or down.any()):
                return m
            m = m + up - down
        return np.searchsorted(C, a, side="left")

    def targets(self, a, q, src=None):
        """Position of the event ending the segment of neuron ``q`` in which an arrival at
        time ``a`` lands: the neuron's first event at or after ``a`` (arrivals come before
        the spike or release at their time, as in the engine).  ``src``: the rank of the
        spike that sent each arrival (None: an input spike)."""
        own_t, own_m, own_slot, base_own, base_ck, pos = self._own
        Ns, M = self.Ns, self.M
        m = self._block(a)
        s = self.slot[q]
        # by default the checkpoint that closes the block; the few arrivals whose neuron
        # has spikes or releases in that block look for the first at or after them
        tgt = self._ck_pos[m * Ns + s]
        g = s * M + m
        idx = np.flatnonzero(self._grp_any[g])
        if idx.size:
            e = self._grp_start[g[idx]]
            end = self._grp_start[g[idx] + 1]
            aa = a[idx]
            active = np.ones(idx.size, bool)
            while active.any():
                j = np.flatnonzero(active)
                step = own_t[e[j]] < aa[j]
                e[j[step]] += 1
                active[j[~step]] = False
                active &= e < end
            hit = e < end
            tgt[idx[hit]] = pos[base_own + e[hit]]
        if src is not None and self.dmin == 0:
            src_pos = self.sp_pos[src]
            # A delay-0 synapse may land at the very time of an event that cannot have
            # seen it (an autapse at its own spike): move it to the neuron's next event.
            rnd = self.round_of
            bad = rnd[tgt] <= rnd[src_pos]
            if bad.any():
                nxt = np.full(self.n_ev, -1, np.int64)
                has = self.prev >= 0
                nxt[self.prev[has]] = np.flatnonzero(has)
            while bad.any():
                tgt[bad] = nxt[tgt[bad]]
                if (tgt < 0).any():
                    raise RuntimeError("an arrival has no event to land in")
                bad = rnd[tgt] <= rnd[src_pos]
        return tgt

    def coefficients(self, a, tgt, w, q):
        """Effect of a unit shift of an arrival at ``a`` on (V, J) at its segment's end
        (docs/lyapunov.md 2): the saltation jump, carried by the free flow."""
        P = self.P
        s = self.t[tgt] - a
        tm, ts = P.taus(q)
        em, es = np.exp(s * (-1.0 / tm)), np.exp(s * (-1.0 / ts))
        wj = w / (P.g[self.sn[0]] if P.uniform else P.g[q])
        cJ = wj * es * (1.0 / ts)
        # (a refractory segment ignores cV: the sweep multiplies V's sum by `free`)
        cV = wj * (self._kap(s, tm, ts, em, es) * (1.0 / ts) - em * (1.0 / tm))
        return cV, cJ

    def _kap(self, s, tm, ts, em, es):
        if self.P.uniform and abs(tm - ts) >= 0.05 * tm:
            # one set of time constants, far apart: the two-exponential form, no masks
            return (ts / (tm - ts)) * (em - es)
        return _kappa(s, tm, ts, em, es)

    def sweep(self, dv0, dj0, *, rescale, measured, input_arrivals=None):
        """Run the tangent through every round.

        Returns per checkpoint the norm before renormalisation and the tangent there (in
        the units of the interval that ends there); per spike its shift (in the units of
        its interval) and the log of the total scale applied before it.
        """
        n_ev, S, Ns, M = self.n_ev, self.S, self.Ns, self.M
        stV = np.zeros(n_ev)
        stJ = np.zeros(n_ev)
        accV = np.zeros(n_ev)
        accJ = np.zeros(n_ev)
        stV[self.init_pos] = dv0[self.sn]
        stJ[self.init_pos] = dj0[self.sn]
        if input_arrivals is not None:
            tgt, cV, cJ, val = input_arrivals
            np.add.at(accV, tgt, cV * val)
            np.add.at(accJ, tgt, cJ * val)
        dts = np.zeros(S)
        dt_out = np.zeros(S)
        log_out = np.zeros(S)
        norms = np.zeros(M)
        dv_ck = np.zeros((M, Ns))
        dj_ck = np.zeros((M, Ns))
        log_scale = 0.0
        # Accumulated arrival effects are kept in the units of the start (divided by
        # the product F of all renormalisation factors so far) and read back times F,
        # so a renormalisation need not touch the pending ones; when F strays far
        # from 1 they are converted and F restarts.
        F = 1.0
        bounds = self.round_bounds
        arr_ptr, tgt, cV, cJ = self.arr_ptr, self.tgt, self.cV, self.cJ
        counts = np.diff(arr_ptr)
        k_done = 0
        m_done = 0
        prev, em, es, kap, free = self.prev, self.em, self.es, self.kap, self.free
        alive = self.alive
        for r in range(bounds.size - 1):
            r0, r1 = bounds[r], bounds[r + 1]
            if self.kind[r0] == _EV_INIT:
                continue
            p = prev[r0:r1]
            Vp, Jp = stV[p], stJ[p]
            J = alive[r0:r1] * (es[r0:r1] * Jp + F * accJ[r0:r1])
            V = free[r0:r1] * (em[r0:r1] * Vp + kap[r0:r1] * Jp + F * accV[r0:r1])
            if self.is_check[r0]:
                m = m_done
                m_done += 1
                stV[r0:r1], stJ[r0:r1] = V, J
                pend = self.pend_norm[r0:r1]
                Vn = V.copy()
                if pend.any():
                    k = self.spk[r0:r1][pend]
                    Vn[pend] = self.pend_scale_sp[k] * dts[k]
                sq = (Vn * Vn + J * J)[measured]
                norm = float(np.sqrt(sq.sum()))
                norms[m] = norm
                dv_ck[m], dj_ck[m] = V, J
                if rescale:
                    if not (norm > 0 and np.isfinite(norm)):
                        raise FloatingPointError(
                            f"the tangent's norm is {norm} at t = {self.C[m]}; the tangent "
                            "died out or overflowed (shorten renorm_interval)")
                    f = 1.0 / norm
                    stV[r0:r1] *= f
                    stJ[r0:r1] *= f
                    dts[:k_done] *= f
                    F *= f
                    if not 1e-100 < F < 1e100:
                        accV[r1:] *= F
                        accJ[r1:] *= F
                        F = 1.0
                    log_scale += np.log(norm)
                continue
            spike = self.is_spike[r0:r1]
            dt_e = -V * self.inv_vdot[r0:r1]
            stV[r0:r1] = self.c_spk[r0:r1] * dt_e + self.c_rel[r0:r1] * dts[self.spk[r0:r1]]
            stJ[r0:r1] = J
            n_sp = int(spike.sum())
            if n_sp:
                k0, k1 = k_done, k_done + n_sp
                dts[k0:k1] = dt_e[spike]
                dt_out[k0:k1] = dts[k0:k1]
                log_out[k0:k1] = log_scale
                k_done = k1
                a0, a1 = arr_ptr[k0], arr_ptr[k1]
                if a1 > a0:
                    val = np.repeat(dts[k0:k1] * (1.0 / F), counts[k0:k1])
                    np.add.at(accV, tgt[a0:a1], cV[a0:a1] * val)
                    np.add.at(accJ, tgt[a0:a1], cJ[a0:a1] * val)
        return dict(norms=norms, dv=dv_ck, dj=dj_ck, dt=dt_out, dt_log_scale=log_out)


def _spike_map(res, rp):
    """For each spike of ``res.spikes`` (canonical order), its rank in the replay, or -1
    for a source's spike."""
    order = np.asarray(res.tape.spike_order)        # canonical -> engine spike list
    n_list = int(order.max(initial=-1)) + 1
    rank_of_pos = np.full(max(n_list, 1), -1, np.int64)
    rank_of_pos[rp.fire_syn] = np.arange(rp.S)
    return rank_of_pos[order] if order.size else np.zeros(0, np.int64)


def _input_arrivals(net, res, rp, input_shift):
    """Arrivals caused by shifted input spikes, as (target, cV, cJ, shift) for the sweep."""
    trains = res.input_times
    shift = np.asarray(input_shift, np.float64).reshape(-1)
    if shift.size != trains.n_spikes:
        raise ValueError(f"input_shift must have one entry per input spike "
                         f"({trains.n_spikes}), got {shift.size}")
    if not np.isfinite(shift).all():
        raise ValueError("input_shift must be finite")
    nz = np.flatnonzero(shift)
    if not nz.size:
        return None
    ids = np.asarray(net.input_ids)[trains.index[nz]]
    indptr = np.asarray(net.indptr)
    cnt = indptr[ids + 1] - indptr[ids]
    which = np.repeat(np.arange(nz.size), cnt)
    syn = np.repeat(indptr[ids] - np.cumsum(cnt) + cnt, cnt) + np.arange(int(cnt.sum()))
    a = trains.times[nz][which] + net._delay_view()[syn]
    q = np.asarray(net.post)[syn].astype(np.int64)
    keep = rp.P.state[q] & (a <= rp.C[-1])
    which, syn, a, q = which[keep], syn[keep], a[keep], q[keep]
    tgt = rp.targets(a, q)
    cV, cJ = rp.coefficients(a, tgt, np.asarray(net.weights)[syn], q)
    return tgt, cV, cJ, shift[nz][which]


def _state_vector(net, values, name):
    if values is None:
        return np.zeros(net.n_neurons)
    v = np.asarray(values, np.float64)
    if v.shape != (net.n_neurons,):
        raise ValueError(f"{name} must have shape ({net.n_neurons},) (one entry per neuron "
                         f"id), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} must be finite")
    return v


# ----------------------------------------------------------------------------- public
@dataclasses.dataclass
class TangentResult:
    """Outcome of :func:`tangent`.

    Attributes
    ----------
    times : ndarray, shape (n_times,)
        The sample times.
    dv, dj : ndarray, shape (n_times, n_neurons)
        The tangent of every neuron's ``V`` and ``J = I / g_leak`` at the sample times (at
        fixed time; 0 for sources; ``dv`` is 0 while a neuron is refractory).
    dt : ndarray, shape (n_spikes,)
        The shift of every spike of ``result.spikes`` (canonical order); for input spikes
        the ``input_shift`` given.
    result : SimulationResult
        The run that was replayed (with its tape).
    tangencies : int
        Spikes at which ``dV/dt = 0`` (no derivative; their shift is set to 0).
    """

    times: np.ndarray
    dv: np.ndarray
    dj: np.ndarray
    dt: np.ndarray
    result: object
    tangencies: int = 0


def tangent(net: Network, inputs, *, t_max, seed=None, dv0=None, dj0=None, input_shift=None,
            sample_times=None, result=None) -> TangentResult:
    """The tangent of a spike-train run: how an infinitesimal perturbation propagates.

    The perturbation of the initial state (``dv0``, ``dj0``) and of the input spike times
    (``input_shift``) is carried exactly through the run (docs/lyapunov.md 2): between
    events by the linear flow, at arrivals, spikes, resets and refractory releases by the
    saltation rules of docs/math.md G.3.  It is linear: a run perturbed by ``eps`` times
    the same perturbation differs from the original by ``eps`` times the tangent, until a
    spike appears or vanishes.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes, as for :func:`eventsim.simulate`.
    t_max : float
        Horizon (finite).
    seed : int, optional
        Seed of the Poisson generators (None: drawn; ``result.seed`` has it).
    dv0, dj0 : array_like, shape (n_neurons,), optional
        Initial perturbation of ``V`` and of ``J = I / g_leak`` per neuron id (sources are
        ignored).  Default 0.
    input_shift : array_like, shape (n_input_spikes,), optional
        Shift of each input spike (canonical order of the input SpikeTrains).
    sample_times : array_like, optional
        Increasing times in ``(0, t_max]`` at which the tangent is reported (default 100
        equally spaced, ending at ``t_max``).
    result : SimulationResult, optional
        A run of ``net`` on ``inputs`` with ``record_tape=True`` to replay instead of
        simulating again.

    Returns
    -------
    TangentResult

    Notes
    -----
    No renormalisation: over long horizons a chaotic network's tangent overflows; use
    :func:`largest_lyapunov` for growth rates.
    """
    t_max, seed = _check_run_args(t_max, seed)
    times = _sample_times(sample_times, t_max)
    if times[-1] != t_max:
        times = np.append(times, t_max)
        drop_last = True
    else:
        drop_last = False
    trains = _one_example(net, inputs)
    res = (_check_result(net, result, t_max) if result is not None
           else _run(net, trains, t_max, seed))
    dv0 = _state_vector(net, dv0, "dv0")
    dj0 = _state_vector(net, dj0, "dj0")
    rp = _Replay(net, res, times)
    extra = _input_arrivals(net, res, rp, input_shift) if input_shift is not None else None
    out = rp.sweep(dv0, dj0, rescale=False, measured=np.ones(rp.Ns, bool),
                   input_arrivals=extra)
    k = times.size - (1 if drop_last else 0)
    dv = np.zeros((k, net.n_neurons))
    dj = np.zeros((k, net.n_neurons))
    dv[:, rp.sn] = out["dv"][:k]
    dj[:, rp.sn] = out["dj"][:k]
    rank = _spike_map(res, rp)
    dt = np.where(rank >= 0, out["dt"][np.maximum(rank, 0)] if rp.S else 0.0, 0.0)
    if input_shift is not None:
        # the sources' spikes carry the shifts given, matched by input id and time
        src_sp = rank < 0
        sp_idx, sp_t = res.spikes.index[src_sp], res.spikes.times[src_sp]
        inp = res.input_times
        ids = np.asarray(net.input_ids)[inp.index]
        lookup = {(int(i), float(t)): s for i, t, s in zip(ids, inp.times,
                                                          np.asarray(input_shift, float))}
        dt[src_sp] = [lookup.get((int(i), float(t)), 0.0) for i, t in zip(sp_idx, sp_t)]
    return TangentResult(times[:k], dv, dj, dt, res, rp.tangencies)


@dataclasses.dataclass
class LyapunovResult:
    """Outcome of :func:`largest_lyapunov`.

    Attributes
    ----------
    exponent : float
        The largest Lyapunov exponent, per time unit of the network (1/ms in the examples):
        the sum of ``log_growth`` after ``transient`` over the time it spans.
    exponent_per_s : float
        ``1000 * exponent``: per second, if the time unit is ms.
    times : ndarray, shape (n_intervals,)
        End of each renormalisation interval.
    log_growth : ndarray, shape (n_intervals,)
        Log of the tangent's growth over each interval (its norm at the end, the norm
        being 1 at the start); the running estimate is ``cumsum(log_growth) / times``.
    n_spikes : int
        Spikes of the run.
    tangencies : int
        Spikes at ``dV/dt = 0`` (no derivative; their shift is set to 0).
    seed : int
        The Poisson seed of the run.
    """

    exponent: float
    exponent_per_s: float
    times: np.ndarray
    log_growth: np.ndarray
    n_spikes: int
    tangencies: int
    seed: int

    def running_estimate(self) -> np.ndarray:
        """The exponent estimated from the start to each interval's end (convergence)."""
        return np.cumsum(self.log_growth) / self.times


def largest_lyapunov(net: Network, inputs, *, t_max, seed=None, renorm_interval=1.0,
                     transient=0.0, neurons=None, tangent_seed=0,
                     result=None) -> LyapunovResult:
    """The largest Lyapunov exponent of a run, by Benettin's method on the exact tangent.

    A random unit tangent of the state (``V`` and ``J = I / g_leak`` of every neuron) is
    carried through the run by :func:`tangent`'s rules and renormalised to norm 1 every
    ``renorm_interval``; the logs of the norms before each renormalisation add up to the
    growth, and the exponent is their sum over the time after ``transient``.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes (input spikes are not perturbed).
    t_max : float
        Horizon (finite).
    seed : int, optional
        Seed of the Poisson generators (the drive is the same realisation for the
        tangent; None: drawn and reported).
    renorm_interval : float, default 1.0
        Time between renormalisations (> 0).  Short enough that the tangent neither
        overflows nor underflows (growth by at most ~e^300 per interval).
    transient : float, default 0.0
        Time from the start excluded from the exponent (the tangent aligns with the most
        unstable direction first).
    neurons : array_like of int, optional
        Neuron ids whose state is perturbed initially and measured by the norm (default:
        every neuron with a membrane).
    tangent_seed : int, default 0
        Seed of the random initial tangent.
    result : SimulationResult, optional
        A recorded run (``record_tape=True``) to analyse instead of simulating.

    Returns
    -------
    LyapunovResult

    Notes
    -----
    The norm is :math:`\\|\\delta x\\|^2 = \\sum_i \\delta V_i^2 + \\delta J_i^2` over the
    measured neurons, with a refractory neuron's :math:`\\delta V_i` counted as the
    potential shift its pending release will cause, :math:`-\\dot V_\\mathrm{release}
    \\delta t_k` (docs/lyapunov.md 3).  Spike shifts still travelling along delayed
    synapses are carried and renormalised but not measured.  Any norm gives the same
    exponent in the limit; it only shapes ``log_growth`` over short times.
    """
    t_max, seed = _check_run_args(t_max, seed)
    if isinstance(renorm_interval, bool) or not isinstance(renorm_interval, numbers.Real):
        raise TypeError(f"renorm_interval must be a number, got {renorm_interval!r}")
    h = float(renorm_interval)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"renorm_interval must be finite and > 0, got {renorm_interval!r}")
    if isinstance(transient, bool) or not isinstance(transient, numbers.Real) or not (
            np.isfinite(transient) and 0 <= transient < t_max):
        raise ValueError(f"transient must be in [0, t_max), got {transient!r}")
    n_int = int(np.ceil(t_max / h - 1e-9))
    times = np.minimum(h * np.arange(1, n_int + 1), t_max)
    times[-1] = t_max
    trains = _one_example(net, inputs)
    res = (_check_result(net, result, t_max) if result is not None
           else _run(net, trains, t_max, seed))
    rp = _Replay(net, res, times)
    if rp.Ns == 0:
        raise ValueError("the network has no neuron with a membrane")
    measured = np.zeros(rp.Ns, bool)
    if neurons is None:
        measured[:] = True
    else:
        ids = np.asarray(neurons, np.int64).reshape(-1)
        if ids.size == 0 or (ids < 0).any() or (ids >= net.n_neurons).any() or (
                rp.slot[ids] < 0).any():
            raise ValueError("neurons must be ids of neurons with a membrane (no sources)")
        measured[rp.slot[ids]] = True
    rng = np.random.default_rng(tangent_seed)
    x = rng.standard_normal((2, rp.Ns)) * measured
    x /= np.sqrt((x * x).sum())
    dv0 = np.zeros(net.n_neurons)
    dj0 = np.zeros(net.n_neurons)
    dv0[rp.sn], dj0[rp.sn] = x
    out = rp.sweep(dv0, dj0, rescale=True, measured=measured)
    growth = np.log(out["norms"])
    start = np.concatenate([[0.0], times[:-1]])
    use = start >= transient - 1e-12
    span = times[use][-1] - start[use][0] if use.any() else 0.0
    lam = float(growth[use].sum() / span) if span > 0 else np.nan
    return LyapunovResult(lam, 1000.0 * lam, times, growth, int(rp.S), rp.tangencies,
                          res.seed if res.seed is not None else seed)


# ----------------------------------------------------------------------------- finite runs
def _states_at(net, res, times):
    """V and J of every neuron at ``times`` (right-continuous), from a run's tape."""
    P = _Params(net)
    tape = res.tape
    log = tape.log[tape.log_offsets[0]:tape.log_offsets[1]]
    ent = np.flatnonzero(log["type"] != 0)               # events that change a neuron
    t = log["t"][ent]
    o = np.argsort(t, kind="stable")  # per neuron, tape order is time order: ties keep it
    ent, t = ent[o], t[o]
    q = log["neuron"][ent].astype(np.int64)
    cut = np.searchsorted(t, times, side="right")
    last = np.full(net.n_neurons, -1, np.int64)
    V = np.zeros((times.size, net.n_neurons))
    J = np.zeros((times.size, net.n_neurons))
    lo = 0
    st = P.state
    for i, (tau, hi) in enumerate(zip(times, cut)):
        if hi > lo:
            np.maximum.at(last, q[lo:hi], np.arange(lo, hi))
        lo = hi
        has = last >= 0
        e = ent[np.maximum(last, 0)]
        t0 = np.where(has, log["t"][e], 0.0)
        V0 = np.where(has, log["V"][e], P.vinit)
        J0 = np.where(has, log["J"][e], 0.0)
        mode = np.where(has, log["mode"][e], _MODE_FREE)
        free = mode == _MODE_FREE
        s = tau - t0
        em, es = np.exp(-s / P.tm), np.exp(-s / P.ts)
        Vf = P.b + (V0 - P.b) * em + J0 * _kappa(s, P.tm, P.ts, em, es)
        V[i] = np.where(st, np.where(free, Vf, V0), 0.0)
        # a neuron done for good (t_ref = inf, after its spike) is inert: no current
        J[i] = np.where(st & (mode != _MODE_DONE), J0 * es, 0.0)
    return V, J


def match_spikes(a, b, tol):
    """Pair the spikes of two runs of one neuron: timing shifts vs flips.

    Parameters
    ----------
    a, b : array_like
        Sorted spike times of the neuron in the two runs.
    tol : float
        Two spikes are the same spike, shifted, if they are each other's nearest and less
        than ``tol`` apart.

    Returns
    -------
    pairs : ndarray, shape (n_pairs, 2), int
        Indices into ``a`` and ``b`` of the matched spikes.
    unmatched_a, unmatched_b : ndarray of int
        Spikes present in one run only (flips).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == b.size and (a.size == 0 or np.abs(a - b).max() < tol):
        i = np.arange(a.size)
        return np.stack([i, i], 1), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if a.size == 0 or b.size == 0:
        return np.zeros((0, 2), np.int64), np.arange(a.size), np.arange(b.size)

    def nearest(x, y):
        j = np.clip(np.searchsorted(y, x), 1, y.size - 1) if y.size > 1 else np.zeros(
            x.size, np.int64)
        if y.size > 1:
            j = np.where(np.abs(y[j - 1] - x) <= np.abs(y[j] - x), j - 1, j)
        return j

    ja = nearest(a, b)
    jb = nearest(b, a)
    mutual = (jb[ja] == np.arange(a.size)) & (np.abs(b[ja] - a) < tol)
    ia = np.flatnonzero(mutual)
    pairs = np.stack([ia, ja[ia]], 1)
    ua = np.setdiff1d(np.arange(a.size), ia)
    ub = np.setdiff1d(np.arange(b.size), ja[ia])
    return pairs, ua, ub


@dataclasses.dataclass
class PerturbationGrowth:
    """Outcome of :func:`perturbation_growth`.

    Attributes
    ----------
    eps : ndarray, shape (n_eps,)
        The perturbation sizes.
    times : ndarray, shape (n_times,)
        Sample times.
    dist_v : ndarray, shape (n_eps, n_times)
        Euclidean distance of the membrane potentials of all neurons at each time.
    dist_state : ndarray, shape (n_eps, n_times)
        The same over ``V`` and ``J = I / g_leak``.
    dist_timing : ndarray, shape (n_eps, n_times)
        Euclidean norm of the shifts of the matched spikes up to each time.
    n_flips : ndarray of int, shape (n_eps, n_times)
        Spikes up to each time present in one run only (the unmatched ones of
        :func:`match_spikes`).
    first_flip : ndarray, shape (n_eps,)
        Time of the first flipped spike (inf: none).
    seed : int
        The Poisson seed both runs used.
    """

    eps: np.ndarray
    times: np.ndarray
    dist_v: np.ndarray
    dist_state: np.ndarray
    dist_timing: np.ndarray
    n_flips: np.ndarray
    first_flip: np.ndarray
    seed: int


def _perturbed_network(net, inputs, kind, target, eps):
    """The network and inputs of a run perturbed by ``eps`` (``eps = 0``: the reference
    with exactly the same structure, so Poisson streams agree)."""
    if kind == "v_init":
        pert = net.copy()
        pop = int(net.population_index[target])
        v = np.array(pert.v_init, np.float64)
        v[pop] += eps
        pert.v_init = v
        return pert, inputs
    if kind == "current":
        # J(0) of one neuron kicked by an input spike at t = 0 of weight eps g_leak; the
        # new input gets the largest id, so no existing synapse or stream is renumbered
        pert = net.copy()
        kick = pert.add_inputs(1, name="__lyapunov_kick__")
        g = float(net.g_leak[int(net.population_index[target])])
        pert.connect(kick.ids, np.array([target]), np.array([eps * g]), 0.0)
        x = inputs
        new = SpikeTrains(np.concatenate([x.times, [0.0]]),
                          np.concatenate([x.index, [net.n_inputs]]),
                          np.array([0, x.n_spikes + 1]), net.n_inputs + 1)
        return pert, new
    raise ValueError(f"kind must be 'current' or 'v_init', got {kind!r}")


def perturbation_growth(net: Network, inputs, *, eps, t_max, seed=None, kind="current",
                        neuron=None, sample_times=None, match_tol=1.0,
                        max_events=None) -> PerturbationGrowth:
    """Growth of finite perturbations of the initial state, from pairs of exact runs.

    The network runs once unperturbed and once per ``eps`` with the initial state
    perturbed, all with the same Poisson seed (the same drive).  Reported against time:
    the distance of the membrane potentials, of the whole state, of the matched spike
    times, and the number of spike flips, counted apart from timing shifts.

    Parameters
    ----------
    net : Network
        A network that runs in the spike-train engine.
    inputs : array_like or SpikeTrains
        One example's input spikes.
    eps : float or array_like
        Perturbation sizes (finite, nonzero; e.g. ``[1e-6, 1e-5, 1e-4, 1e-3]``).
    t_max : float
        Horizon (finite).
    seed : int, optional
        Poisson seed shared by all runs (None: drawn and reported).
    kind : {"current", "v_init"}
        ``"current"``: ``J = I / g_leak`` of ``neuron`` at ``t = 0`` is raised by ``eps``
        (an input spike at 0 onto it); ``"v_init"``: ``V(0)`` of every neuron of
        ``neuron``'s population is raised by ``eps``.
    neuron : int, optional
        The perturbed neuron (default: the first neuron with a membrane).
    sample_times : array_like, optional
        Increasing times in ``(0, t_max]`` (default 100 equally spaced).
    match_tol : float, default 1.0
        Spikes of the two runs less than this apart (and each other's nearest) are one
        spike shifted; others are flips.
    max_events : int, optional
        Event budget of each run (:func:`eventsim.simulate`).

    Returns
    -------
    PerturbationGrowth
    """
    t_max, seed = _check_run_args(t_max, seed)
    times = _sample_times(sample_times, t_max)
    eps = np.atleast_1d(np.asarray(eps, np.float64)).reshape(-1)
    if eps.size == 0 or not np.isfinite(eps).all() or (eps == 0).any():
        raise ValueError(f"eps must be finite and nonzero, got {eps!r}")
    match_tol = _positive_time("match_tol", match_tol)
    trains = _one_example(net, inputs)
    P = _Params(net)
    if neuron is None:
        cand = np.flatnonzero(P.state)
        if not cand.size:
            raise ValueError("the network has no neuron with a membrane")
        neuron = int(cand[0])
    neuron = int(neuron)
    if not (0 <= neuron < net.n_neurons and P.state[neuron]):
        raise ValueError(f"neuron {neuron} is not a neuron with a membrane")
    ref_net, ref_in = _perturbed_network(net, trains, kind, neuron, 0.0)
    ref = _run(ref_net, ref_in, t_max, seed, max_events)
    n = net.n_neurons
    V0, J0 = _states_at(ref_net, ref, times)
    tr0 = ref.spikes.trains(0)[:n]
    dist_v = np.zeros((eps.size, times.size))
    dist_s = np.zeros_like(dist_v)
    dist_t = np.zeros_like(dist_v)
    flips = np.zeros((eps.size, times.size), np.int64)
    first = np.full(eps.size, np.inf)
    st = P.state
    for i, e in enumerate(eps):
        pn, pin = _perturbed_network(net, trains, kind, neuron, float(e))
        run = _run(pn, pin, t_max, seed, max_events)
        V1, J1 = _states_at(pn, run, times)
        dV = (V1 - V0)[:, :n][:, st]
        dJ = (J1 - J0)[:, :n][:, st]
        dist_v[i] = np.sqrt((dV * dV).sum(1))
        dist_s[i] = np.sqrt((dV * dV + dJ * dJ).sum(1))
        tr1 = run.spikes.trains(0)[:n]
        shift_t, shift_v, flip_t = [], [], []
        for q in np.flatnonzero(P.spiking):
            pairs, ua, ub = match_spikes(tr0[q], tr1[q], match_tol)
            if pairs.size:
                ta, tb = tr0[q][pairs[:, 0]], tr1[q][pairs[:, 1]]
                shift_t.append(np.maximum(ta, tb))
                shift_v.append(tb - ta)
            flip_t.append(tr0[q][ua])
            flip_t.append(tr1[q][ub])
        if shift_t:
            ts_, dv_ = np.concatenate(shift_t), np.concatenate(shift_v)
            o = np.argsort(ts_)
            c = np.concatenate([[0.0], np.cumsum(dv_[o] ** 2)])
            dist_t[i] = np.sqrt(c[np.searchsorted(ts_[o], times, side="right")])
        ft = np.sort(np.concatenate(flip_t)) if flip_t else np.zeros(0)
        flips[i] = np.searchsorted(ft, times, side="right")
        first[i] = ft[0] if ft.size else np.inf
    return PerturbationGrowth(eps, times, dist_v, dist_s, dist_t, flips, first,
                              ref.seed if ref.seed is not None else seed)
