"""The tangent of a spike-train run by the vectorised numpy replay: a second implementation.

eventsim.lyapunov replays the tape entry by entry in compiled code (_tangent.pyx).  This
is the numpy version it replaced, kept for the tests: the same saltation rules
(docs/lyapunov.md 2) by a different algorithm (the run cut into per-neuron segments, the
events grouped in rounds that depend only on earlier rounds, every arrival's effect a
precomputed coefficient), so the two can only agree by both being right.
"""

import numpy as np

from eventsim.lyapunov import (_LOG_FIRE, _LOG_RELEASE, _Params, _kappa, _one_example, _run,
                                _sample_times)

# Event kinds of the replay.
_EV_SPIKE, _EV_RELEASE, _EV_CHECK, _EV_INIT = 0, 1, 2, 3


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
    shift = np.asarray(input_shift, np.float64).reshape(-1)     # checked by the caller
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



def tangent_vectorised(net, inputs, *, t_max, seed, dv0=None, dj0=None, input_shift=None,
                       sample_times=None):
    """(times, dv, dj, dt, tangencies) as eventsim.lyapunov.tangent returns them."""
    times = _sample_times(sample_times, t_max)
    res = _run(net, _one_example(net, inputs), t_max, seed)
    n = net.n_neurons
    dv0 = np.zeros(n) if dv0 is None else np.asarray(dv0, float)
    dj0 = np.zeros(n) if dj0 is None else np.asarray(dj0, float)
    if times[-1] != t_max:
        times = np.append(times, t_max)
    rp = _Replay(net, res, times)
    extra = _input_arrivals(net, res, rp, input_shift) if input_shift is not None else None
    out = rp.sweep(dv0, dj0, rescale=False, measured=np.ones(rp.Ns, bool),
                   input_arrivals=extra)
    dv = np.zeros((times.size, n))
    dj = np.zeros((times.size, n))
    dv[:, rp.sn] = out["dv"]
    dj[:, rp.sn] = out["dj"]
    rank = _spike_map(res, rp)
    dt = np.where(rank >= 0, out["dt"][np.maximum(rank, 0)] if rp.S else 0.0, 0.0)
    return times, dv, dj, dt, rp.tangencies


def log_growth_vectorised(net, inputs, *, t_max, seed, times, dv0, dj0, measured=None):
    """Benettin's log growth per interval ending at ``times`` (the last must be t_max),
    from the initial tangent (dv0, dj0) per neuron id; ``measured``: neuron ids."""
    res = _run(net, _one_example(net, inputs), t_max, seed)
    rp = _Replay(net, res, np.asarray(times, float))
    m = np.ones(rp.Ns, bool) if measured is None else np.isin(rp.sn, measured)
    out = rp.sweep(np.asarray(dv0, float), np.asarray(dj0, float), rescale=True, measured=m)
    return np.log(out["norms"])
