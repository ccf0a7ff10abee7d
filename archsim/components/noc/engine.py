"""The Numba kernel of the mesh NoC: `simulate` advances all routers cycle by cycle.

Layout (N routers, P = 5 ports: 0 east (+col), 1 west, 2 south (+row), 3 north, 4 local;
V VCs, B flits per VC buffer):
  input VC  iv = (r * P + p) << vb | v      one record of 2**rwb int32 words per input VC at
            vr[iv << rwb]: [0] ring head (or front flit index) | count << 16, [1] state
            word, [2] front packet, [3] its size, [4:] ring of flit codes. With wait-for-tail
            -credit a VC buffer only ever holds one packet, so the ring is left out and the
            record is 16 bytes (the whole 16x16 mesh's VCs then fit in L2)
  output VC ov = (r * Q + o) << vb | w, Q = 5: credit counters for the VC buffers downstream
            of output o (the sources' view of their injection ports is kept apart, s_*).
  (vb, bb: bits for V and B, so that no index is split by a runtime division.)
  flit code = packet_slot * 4 + 2 * is_head + is_tail (a VC holds whole packets in order).
Events travel through FIFOs with a constant delay each, so every FIFO stays ordered by due
time and nothing needs a heap. Routers only see events due now, and everything a router emits
is due later, so routers of one cycle are independent and only active ones are visited.
Each phase of a cycle is its own function over explicit state (`_eject`, `_arrive`, `_credit`,
`_visit_routers` for the routers visit[k0:k1]); `simulate` holds the state, the sources and
BookSim's measurement protocol, and calls a phase only when something is due.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from numba import carray

from archsim.components.noc._intrin import (array_at, load_acquire, prefetch, spin_pause,
                                            store_release, yield_cpu)

P = 5
Q = 5
LOCAL = 4

# indices into the float64 stats vector the kernel fills
S_CYCLES = 0
S_PLAT_SUM = 1
S_PLAT_CNT = 2
S_PLAT_MAX = 3
S_NLAT_SUM = 4
S_HOPS_SUM = 5
S_ACC_FLITS = 6
S_ACC_CYCLES = 7
S_FLIT_HOPS = 8
S_SATURATED = 9
S_DEADLOCK = 10
S_PKTS_DONE = 11
S_FLITS_DONE = 12
S_PHASES = 13
S_FRAG_SUM = 14
S_EVENTS_MAX = 15
N_STATS = 16

# indices into the kernel's float64 running sums (acc); all hold integers, so their sums are
# exact in any order
A_PLAT_SUM = 0
A_PLAT_CNT = 1
A_PLAT_MAX = 2
A_NLAT_SUM = 3
A_HOPS_SUM = 4
A_FRAG_SUM = 5
A_ACC_FLITS = 6
A_FL_DONE = 7
A_INFL_FLITS = 8
A_INFL_CT_SUM = 9
A_MEAS_INFL = 10
A_PK_DONE = 11
A_FLOWS_LEFT = 12
N_ACC = 13

# event FIFOs, by kind, then by the partition that consumes them and the one that fills
# them (see _fifo): flits to routers, credits to routers, flits from sources, credits to
# sources, credits from sinks, flits to sinks
FQ = 0
CQ = 1
IQ = 2
SQ = 3
EQ = 4
XQ = 5
NQ = 24

# simulation states (BookSim's latency-mode protocol)
WARMUP = 0
RUNNING = 1
DRAINING = 2
EMPTYING = 3    # measured packets are out: stop creating packets, let the rest drain


@njit(cache=True, inline="always")
def _rng_next(s):
    # xorshift64* (state in s[0]); deterministic across platforms and Numba versions
    x = s[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    s[0] = x
    return x * np.uint64(2685821657736338717)


@njit(cache=True, inline="always")
def _rng_float(s):
    return np.float64(_rng_next(s) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _rng_int(s, n):
    return np.int64(_rng_float(s) * n)


@njit(cache=True, inline="always")
def _geom(s, p, lq):
    """Cycles to the next Bernoulli(p) success, >= 1 (one trial per cycle, as BookSim);
    lq = log1p(-p), computed once per run."""
    if p >= 1.0:
        return 1
    u = 1.0 - _rng_float(s)  # (0, 1]
    # at a tiny p the gap passes int64: cap it at 2**61 cycles, which is never
    return 1 + np.int64(min(np.floor(np.log(u) / lq), 2305843009213693952.0))


@njit(cache=True, inline="always")
def _heap_push(h_key, h_val, nh, key, val):
    """Push (key, val) onto the binary min-heap of nh entries; returns the new size."""
    i = nh
    while i > 0:
        par = (i - 1) >> 1
        if h_key[par] <= key:
            break
        h_key[i] = h_key[par]; h_val[i] = h_val[par]
        i = par
    h_key[i] = key; h_val[i] = val
    return nh + 1


@njit(cache=True, inline="always")
def _first_from(mask, k):
    """Index of the first set bit of mask at or after bit k, wrapping round (mask != 0)."""
    hi = mask & ~((np.int64(1) << k) - 1)
    # no branch: which half holds the answer is unpredictable
    return trailing_zeros(hi | (mask & -np.int64(hi == 0)))


@njit(cache=True, inline="always")
def _fifo(kind, dest, src):
    """Row of the FIFO arrays for events of `kind` that partition `src` pushes and partition
    `dest` pops. Routers are split into partitions that each own their routers' state, so
    that every FIFO has one writer and one reader."""
    return kind * 4 + dest * 2 + src


@njit(cache=True)
def _q_room_all(QT, QE, QS, need, rows):
    """Make room for `need` more events in every FIFO (rows of due times QT and events QE;
    QS[k] = [head, tail], positions that only grow, taken modulo the shared capacity),
    keeping the oldest first. Growing only between phases (never inside the router loop)
    keeps the hot loop free of array rebinding, which Numba makes expensive. Only the rows
    in use (rows) are looked at; all are copied."""
    cap = QT.shape[1]
    most = 0
    for k in rows:
        n = QS[k, 1] - QS[k, 0]
        if n > most:
            most = n
    if cap - most >= need:
        return QT, QE
    ncap = cap * 2
    while ncap - most < need:
        ncap *= 2
    nt = np.empty((QT.shape[0], ncap), np.int64)
    ne = np.empty((QT.shape[0], ncap), np.int64)
    for k in range(QT.shape[0]):
        h = QS[k, 0]
        n = QS[k, 1] - h
        for i in range(n):
            j = (h + i) & (cap - 1)
            nt[k, i] = QT[k, j]
            ne[k, i] = QE[k, j]
        QS[k, 0] = 0
        QS[k, 1] = n
    return nt, ne


@njit(cache=True, inline="always")
def _q_fits(QT, QS, need, rows, nrow):
    """Whether every FIFO has room for `need` more events (see _q_room_all); checked inline
    first, since a call that hands the FIFO arrays back costs reference counting."""
    most = 0
    for i in range(nrow):
        k = rows[i]
        n = QS[k, 1] - QS[k, 0]
        if n > most:
            most = n
    return QT.shape[1] - most >= need


@njit(cache=True, inline="always")
def _q_next(qt, qs):
    """Due time of a FIFO's oldest event, or 2**62 if it is empty. (A FIFO's tail is read
    with acquire and written with release: another thread may be pushing to it.)"""
    if load_acquire(qs, 1) > qs[0]:
        return qt[qs[0] & (qt.shape[0] - 1)]
    return np.int64(1) << 62


@njit(cache=True)
def _grow(a, n):
    b = np.empty(n, a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, inline="always")
def _route_bf(rr, rc, dr, dc, order):
    """_route without branches (random destinations make its branches unpredictable)."""
    xp = np.int64(dc > rc)
    xn = np.int64(dc < rc)
    yp = np.int64(dr > rr)
    yn = np.int64(dr < rr)
    xz = 1 - xp - xn
    yz = 1 - yp - yn
    oxy = xn + xz * (2 * yp + 3 * yn + 4 * yz)
    oyx = 2 * yp + 3 * yn + yz * (xn + 4 * xz)
    return oxy + (oyx - oxy) * order


@njit(cache=True, inline="always")
def _route(rr, rc, dr, dc, order):
    """Output port at router (rr, rc) toward (dr, dc): XY (order 0, columns first) or YX."""
    if rr == dr and rc == dc:
        return 4
    if order == 0:
        if dc > rc:
            return 0
        if dc < rc:
            return 1
        return 2 if dr > rr else 3
    if dr > rr:
        return 2
    if dr < rr:
        return 3
    return 0 if dc > rc else 1


@njit(cache=True, inline="always")
def _layout(V, B, wait_tail, rd, vad, sad):
    """Bit widths of the VC and buffer-slot fields (padded to powers of two so that indices
    split by shifts), the input-VC record size (log2 words), and the kernel's modes: ring
    (VC buffers may hold several packets), chk (per-VC ready times: some stage takes more
    than a cycle), fast (neither: the branch-free paths)."""
    vb = 0
    while (1 << vb) < V:
        vb += 1
    bb = 0
    while (1 << bb) < B:
        bb += 1
    ring = not wait_tail
    rwb = 2
    if ring:
        while (1 << rwb) < 4 + (1 << bb):
            rwb += 1
    chk = not (rd == 0 and vad <= 1 and sad <= 1)
    fast = not ring and not chk
    return vb, bb, rwb, ring, chk, fast


@njit(cache=True, error_model="numpy", nogil=True)
def _eject(t, qt, qe, qs, acc, sim_state, mode, pk_ct, pk_rec, pk_hat, pk_it, pk_src, pk_dst,
           pk_size, pk_flow, r_row, r_col, flow_done, flow_head, free, nfree):
    """Flits delivered to sinks by cycle t (FIFO qt/qe/qs): statistics into acc (see A_*),
    finished packets' slots pushed onto free at nfree[0]."""
    qm = qt.shape[0] - 1
    qh = qs[0]
    qend = load_acquire(qs, 1)
    while qh < qend and qt[qh & qm] <= t:
        j = qh & qm
        e = qe[j]
        qh += 1
        code = e & 0xFFFFFFFF
        pk = code >> 2
        if sim_state < DRAINING:
            acc[A_ACC_FLITS] += 1.0
        acc[A_FL_DONE] += 1.0
        acc[A_INFL_FLITS] -= 1.0
        acc[A_INFL_CT_SUM] -= pk_ct[pk]
        if pk_rec[pk] != 0:
            acc[A_MEAS_INFL] -= 1
        if code & 2:
            pk_hat[pk] = t
            if mode == 1:
                f = pk_flow[pk]
                if flow_head[f] < 0:
                    flow_head[f] = t
        if code & 1:
            lat = np.float64(t - pk_ct[pk])
            if sim_state == WARMUP or pk_rec[pk] != 0:
                acc[A_PLAT_SUM] += lat
                acc[A_PLAT_CNT] += 1.0
                acc[A_NLAT_SUM] += np.float64(t - pk_it[pk])
                sn = pk_src[pk]
                dn = pk_dst[pk]
                # minimal routes: hops are the Manhattan distance plus the last router
                acc[A_HOPS_SUM] += 1 + abs(r_row[sn] - r_row[dn]) + abs(r_col[sn] - r_col[dn])
                acc[A_FRAG_SUM] += np.float64(t - pk_hat[pk] - pk_size[pk] + 1)
                if lat > acc[A_PLAT_MAX]:
                    acc[A_PLAT_MAX] = lat
            acc[A_PK_DONE] += 1.0
            if mode == 1:
                f = pk_flow[pk]
                flow_done[f] += 1          # counted up from -packets
                if flow_done[f] == 0:
                    flow_done[f] = t
                    acc[A_FLOWS_LEFT] -= 1
            free[nfree[0]] = pk
            nfree[0] += 1
    qs[0] = qh


@njit(cache=True, error_model="numpy", nogil=True)
def _arrive(t, qt, qe, qs, vr, rs, ready, amap, asum, pk_size, pk_info, r_row, r_col,
            V, B, wait_tail, rd, vad, sad):
    """Flits reaching router input VCs by cycle t (events iv << 32 | flit code, from
    neighbours or from sources): buffer them, route heads, mark the routers active.
    Returns the number of routers that became active."""
    vb, bb, rwb, ring, chk, fast = _layout(V, B, wait_tail, rd, vad, sad)
    VM = (1 << vb) - 1
    BM = (1 << bb) - 1
    na = 0
    qm = qt.shape[0] - 1
    qh = qs[0]
    qend = load_acquire(qs, 1)
    while qh < qend and qt[qh & qm] <= t:
        j = qh & qm
        e = qe[j]
        qh += 1
        a = e >> 32
        code = e & 0xFFFFFFFF
        pk = code >> 2
        iv = a
        rp = iv >> vb
        r = rp // P
        b0 = iv << rwb
        hc = vr[b0]
        c = hc >> 16
        rs[(r << 5) + 30] += 1
        wb = np.int64(1) << (r & 63)
        if amap[r >> 6] & wb == 0:
            if amap[r >> 6] == 0:
                asum[r >> 12] |= np.int64(1) << ((r >> 6) & 63)
            amap[r >> 6] |= wb
            na += 1
        if fast:
            # one packet per VC: a head finds the VC empty and idle and is routed; a body
            # flit finds its packet recorded and the VC active. (A branch on the flit kind
            # measured faster than computing both: body flits skip the packet's loads.)
            rS0 = (r << 5) + rp - r * P
            if code & 2:
                vr[b0 + 2] = pk
                vr[b0 + 3] = pk_size[pk]
                vr[b0] = 65536
                pi = pk_info[pk]
                o = _route_bf(r_row[r], r_col[r], pi & 0xFFFF, (pi >> 16) & 0xFFFF,
                              (pi >> 32) & 1)
                vr[b0 + 1] = 1 | (o << 2) | (((pi >> 33) & 0xFF) << 10)
                rs[rS0 + 10] |= np.int64(1) << (iv & VM)
            else:
                vr[b0] = hc + 65536
                rs[rS0] |= np.int64(c == 0) << (iv & VM)
            continue
        if ring:
            vr[b0 + 4 + (((hc & 0xFFFF) + c) & BM)] = code
        elif c == 0:
            # a new packet (or more of the one in front, which stays recorded)
            if code & 2:
                vr[b0 + 2] = pk
                vr[b0 + 3] = pk_size[pk]
                hc = 0
        vr[b0] = hc + 65536
        if c == 0:
            sov = vr[b0 + 1]
            if sov & 3 == 0:
                pi = pk_info[pk]
                o = _route(r_row[r], r_col[r], pi & 0xFFFF, (pi >> 16) & 0xFFFF, (pi >> 32) & 1)
                vr[b0 + 1] = 1 | (o << 2) | (((pi >> 33) & 0xFF) << 10)
                if chk:
                    ready[iv] = t + rd
                rs[(r << 5) + 10 + rp - r * P] |= np.int64(1) << (iv & VM)
            elif sov & 3 == 2:
                if chk:
                    ready[iv] = t
                rs[(r << 5) + rp - r * P] |= np.int64(1) << (iv & VM)
    qs[0] = qh
    return na


@njit(cache=True, error_model="numpy", nogil=True)
def _credit(t, qt, qe, qs, oc_cred, owner, rs, tailm, busy, vr, V, B, wait_tail, rd, vad, sad):
    """Credits reaching output VCs by cycle t (events: the output-VC index). vr and the
    layout parameters serve the owner check of the fast mode."""
    vb, bb, rwb, ring, chk, fast = _layout(V, B, wait_tail, rd, vad, sad)
    VM = (1 << vb) - 1
    qm = qt.shape[0] - 1
    qh = qs[0]
    qend = load_acquire(qs, 1)
    while qh < qend and qt[qh & qm] <= t:
        j = qh & qm
        ov = qe[j]
        qh += 1
        cr = oc_cred[ov] + 1
        oc_cred[ov] = cr
        if cr == 1:
            ow = owner[ov]
            if fast and ow >= 0:
                # in fast mode a tail leaves its owner in place (saving the switch a write
                # per flit): it still owns the VC only if its record still holds it
                bq = ov >> vb
                want = 2 | ((bq - (bq // Q) * Q) << 2) | ((ov & VM) << 5)
                if vr[(np.int64(ow) << rwb) + 1] & 1023 != want:
                    ow = -1
            if ow >= 0:
                orp = ow >> vb
                orr = orp // P
                rs[(orr << 5) + 5 + orp - orr * P] &= ~(np.int64(1) << (ow & VM))
        # a buffer drained after its tail frees the VC (no branch: drains are frequent)
        bit = tailm[ov >> vb] & (np.int64(cr == B) << (ov & VM))
        tailm[ov >> vb] &= ~bit
        busy[ov >> vb] &= ~bit
    qs[0] = qh


@njit(cache=True, inline="always")
def _take_vc(vr, rs, owner, oc_cred, busy, tailm, rS, p, v, iv, b0, bq, o, w, vb):
    """Input VC iv (VC v of input port p of the router whose state starts at rS; record at b0)
    takes output VC w of output o (bq: that router output): the output VC is busy and owned by
    iv, and iv moves from waiting for a VC to switch allocation (blocked if the output VC has
    no credit). Returns iv's bit in its port's masks."""
    busy[bq] |= np.int64(1) << w
    tailm[bq] &= ~(np.int64(1) << w)
    vr[b0 + 1] = 2 | (o << 2) | (w << 5) | (vr[b0 + 1] & ~1023)
    bit = np.int64(1) << v
    rs[rS + 10 + p] &= ~bit
    ovw = (bq << vb) | w
    owner[ovw] = iv
    if oc_cred[ovw] <= 0:
        rs[rS + 5 + p] |= bit
    return bit


@njit(cache=True, error_model="numpy", nogil=True)
def _visit_routers(t, k0, k1, visit, vr, rs, owner, oc_cred, tailm, busy, ready, va_gptr,
                   va_aptr, amap, asum, link_flits, pk_info, r_row, r_col, nb_iv, nb_ov,
                   QT, QE, part, ivsplit, ovsplit, qw, scratch,
                   V, B, wait_tail, rd, vad, sad, st, L, cd, iters):
    """One cycle of the routers visit[k0:k1]: VC allocation, switch allocation, traversal.
    These routers belong to partition `part`; each event goes to the FIFO of the partition
    that owns its target (flits to input VCs below ivsplit and credits to output VCs below
    ovsplit belong to partition 0), rows of QT/QE (see _fifo), pushed at the write positions
    qw ([flits to 0, to 1, credits to 0, to 1, source credits, sink credits, sink flits]),
    advanced in place. Returns (routers that went idle, whether any flit moved)."""
    vb, bb, rwb, ring, chk, fast = _layout(V, B, wait_tail, rd, vad, sad)
    VM = (1 << vb) - 1
    BM = (1 << bb) - 1
    PV = P << vb
    full = (np.int64(1) << V) - 1
    d_flit = sad + st + L
    d_cred = sad + L + cd
    d_scred = sad + L
    d_ecred = d_flit + 1 + L + cd
    (req_vc, reqm, col, gmask, match_o, va_lst, va_m, va_col, va_g, gr_iv, gr_w, va_cnt,
     sa_new) = scratch
    fq_t = QT[_fifo(FQ, 0, part)]
    fq_e = QE[_fifo(FQ, 0, part)]
    fh_t = QT[_fifo(FQ, 1, part)]
    fh_e = QE[_fifo(FQ, 1, part)]
    cq_t = QT[_fifo(CQ, 0, part)]
    cq_e = QE[_fifo(CQ, 0, part)]
    ch_t = QT[_fifo(CQ, 1, part)]
    ch_e = QE[_fifo(CQ, 1, part)]
    sq_t = QT[_fifo(SQ, 0, part)]
    sq_e = QE[_fifo(SQ, 0, part)]
    eq_t = QT[_fifo(EQ, part, part)]
    eq_e = QE[_fifo(EQ, part, part)]
    xq_t = QT[_fifo(XQ, part, part)]
    xq_e = QE[_fifo(XQ, part, part)]
    fqw = qw[0]
    fhw = qw[1]
    cqw = qw[2]
    chw = qw[3]
    sqw = qw[4]
    eqw = qw[5]
    xqw = qw[6]
    qm = QT.shape[1] - 1
    idle = 0
    moved = False
    for k in range(k0, k1):
        r = visit[k]
        rP = r * P
        rQ = r * Q
        rS = r << 5
        # ---- VC allocation: iSLIP between input VCs and the free VCs of each output
        #      (every input VC asks for one output port, so ports are independent) ----
        anyva = (rs[rS + 10] | rs[rS + 11] | rs[rS + 12] | rs[rS + 13] | rs[rS + 14]) != 0
        multi = False
        sa1p = 0
        sa1b = np.int64(0)
        if anyva:
            nzp = 0
            for p in range(P):
                nzp |= np.int64(rs[rS + 10 + p] != 0) << p
            p1 = trailing_zeros(nzp)
            m1 = rs[rS + 10 + p1]
            multi = chk or nzp & (nzp - 1) != 0 or m1 & (m1 - 1) != 0
        if anyva and not multi:
            # one VC asks (the usual case): every free VC of its output grants it and it
            # accepts per its pointer, so no request lists are needed
            v = trailing_zeros(m1)
            iv = ((rP + p1) << vb) | v
            o = (vr[(iv << rwb) + 1] >> 2) & 7
            bq = rQ + o
            fr = full & ~busy[bq]
            if fr != 0:
                ob = o << vb
                b0 = iv << rwb
                sov = vr[b0 + 1]
                colr = ((sov >> 10) & 0xFF) - 1
                ok = True
                if colr >= 0:
                    w = colr % V
                    ok = (fr >> w) & 1 != 0
                else:
                    x = va_aptr[iv] - ob
                    w = _first_from(fr, x if 0 <= x < V else 0)
                if ok:
                    pv = (p1 << vb) | v
                    va_gptr[(bq << vb) | w] = pv + 1 if pv + 1 < PV else 0
                    va_aptr[iv] = ob + w + 1 if ob + w + 1 < PV else 0
                    bit = _take_vc(vr, rs, owner, oc_cred, busy, tailm, rS, p1, v, iv, b0, bq, o,
                                   w, vb)
                    if vad == 0:
                        rs[rS + p1] |= bit
                    else:
                        sa1p = p1
                        sa1b = bit
        elif anyva:
            ng = 0
            for p in range(P):
                sa_new[p] = 0
            # requesters per output port, listed in input order; vom: outputs asked
            vom = 0
            while nzp != 0:
                p = trailing_zeros(nzp)
                nzp &= nzp - 1
                m = rs[rS + 10 + p]
                while m != 0:
                    v = trailing_zeros(m)
                    m &= m - 1
                    iv = ((rP + p) << vb) | v
                    if not chk or ready[iv] <= t:
                        o = (vr[(iv << rwb) + 1] >> 2) & 7
                        if (vom >> o) & 1 == 0:
                            vom |= 1 << o
                            va_cnt[o] = 0
                        va_lst[o * PV + va_cnt[o]] = (p << vb) | v
                        va_cnt[o] += 1
            while vom != 0:
                o = trailing_zeros(vom)
                vom &= vom - 1
                nr = va_cnt[o]
                bq = rQ + o
                fr = full & ~busy[bq]
                if fr == 0:
                    continue
                lb = o * PV
                ob = o << vb
                if nr == 1:
                    # one requester: every free VC grants it; it accepts per its pointer
                    pv = va_lst[lb]
                    iv = (rP << vb) + pv
                    colr = ((vr[(iv << rwb) + 1] >> 10) & 0xFF) - 1
                    if colr >= 0:
                        w = colr % V
                        if (fr >> w) & 1 == 0:
                            continue
                    else:
                        x = va_aptr[iv] - ob
                        w = _first_from(fr, x if 0 <= x < V else 0)
                    gr_iv[ng] = iv
                    gr_w[ng] = ob | w
                    ng += 1
                    va_gptr[(bq << vb) | w] = pv + 1 if pv + 1 < PV else 0
                    va_aptr[iv] = ob + w + 1 if ob + w + 1 < PV else 0
                    continue
                for i in range(nr):
                    va_m[i] = 0
                    va_col[i] = ((vr[(((rP << vb) + va_lst[lb + i]) << rwb) + 1] >> 10)
                                 & 0xFF) - 1
                outm = np.int64(0)
                for it in range(iters):
                    anyg = False
                    for i in range(nr):
                        va_g[i] = 0
                    fm = fr & ~outm
                    while fm != 0:
                        w = trailing_zeros(fm)
                        fm &= fm - 1
                        gp = va_gptr[(bq << vb) | w]
                        best = -1
                        first = -1
                        for i in range(nr):
                            if va_m[i] != 0 or (va_col[i] >= 0 and va_col[i] % V != w):
                                continue
                            if first < 0:
                                first = i
                            if va_lst[lb + i] >= gp:
                                best = i
                                break
                        if best < 0:
                            best = first
                        if best >= 0:
                            va_g[best] |= np.int64(1) << w
                            anyg = True
                    if not anyg:
                        break
                    for i in range(nr):
                        gm = va_g[i]
                        if gm == 0:
                            continue
                        pv = va_lst[lb + i]
                        iv = (rP << vb) + pv
                        x = va_aptr[iv] - ob
                        w = _first_from(gm, x if 0 <= x < V else 0)
                        va_m[i] = 1
                        outm |= np.int64(1) << w
                        gr_iv[ng] = iv
                        gr_w[ng] = ob | w
                        ng += 1
                        if it == 0:
                            va_gptr[(bq << vb) | w] = pv + 1 if pv + 1 < PV else 0
                            va_aptr[iv] = ob + w + 1 if ob + w + 1 < PV else 0
            # apply the grants
            for gi in range(ng):
                iv = gr_iv[gi]
                o = gr_w[gi] >> vb
                w = gr_w[gi] & VM
                p = (iv >> vb) - rP
                v = iv & VM
                bit = _take_vc(vr, rs, owner, oc_cred, busy, tailm, rS, p, v, iv, iv << rwb,
                               rQ + o, o, w, vb)
                if chk:
                    ready[iv] = t + vad
                if vad == 0:
                    rs[rS + p] |= bit
                else:
                    sa_new[p] |= bit
        # ---- switch allocation: per input the round-robin-first VC for each output
        #      (with a credit), then iSLIP over the 5x5 port matrix ----
        inreq = 0
        # inputs with a VC that may bid (computed without a branch per port)
        nzp = 0
        for p in range(P):
            nzp |= np.int64((rs[rS + p] & ~rs[rS + 5 + p]) != 0) << p
        # outputs asked by two inputs (then iSLIP must arbitrate)
        asked = 0
        dup = 0
        while nzp != 0:
            p = trailing_zeros(nzp)
            nzp &= nzp - 1
            m = rs[rS + p] & ~rs[rS + 5 + p]
            ivb = (rP + p) << vb
            rq = 0
            if m & (m - 1) == 0 and not chk:
                # one VC bids (the usual case): no round-robin scan
                v = trailing_zeros(m)
                o = (vr[((ivb | v) << rwb) + 1] >> 2) & 7
                rq = 1 << o
                req_vc[p * P + o] = v
            else:
                # VCs in round-robin order from the offset; the first per output asks
                off = rs[rS + 15 + p]
                lo = m & ((np.int64(1) << off) - 1)
                mm = m ^ lo
                while True:
                    if mm == 0:
                        if lo == 0:
                            break
                        mm = lo
                        lo = 0
                    v = trailing_zeros(mm)
                    mm &= mm - 1
                    o = (vr[((ivb | v) << rwb) + 1] >> 2) & 7
                    if (rq >> o) & 1:
                        continue
                    if chk and ready[ivb | v] > t:
                        # still in an earlier pipeline stage
                        continue
                    rq |= 1 << o
                    req_vc[p * P + o] = v
            if rq != 0:
                reqm[p] = rq
                inreq |= 1 << p
                dup |= asked & rq
                asked |= rq
        if inreq != 0:
            if dup == 0:
                # no output is asked twice: each output grants its one requester, and each
                # input accepts per its pointer (what iSLIP gives, without the matrix; done
                # in the traversal loop below)
                inm = inreq
            else:
                for o in range(P):
                    col[o] = 0
                mm = inreq
                while mm != 0:
                    p = trailing_zeros(mm)
                    mm &= mm - 1
                    rq = reqm[p]
                    while rq != 0:
                        o = trailing_zeros(rq)
                        rq &= rq - 1
                        col[o] |= 1 << p
                inm = 0
                outm = 0
                for it in range(iters):
                    gany = 0
                    for o in range(P):
                        if (outm >> o) & 1:
                            continue
                        cm = col[o] & ~inm
                        if cm == 0:
                            continue
                        p = _first_from(cm, rs[rS + 20 + o])
                        if (gany >> p) & 1 == 0:
                            gmask[p] = 0
                            gany |= 1 << p
                        gmask[p] |= 1 << o
                    if gany == 0:
                        break
                    while gany != 0:
                        p = trailing_zeros(gany)
                        gany &= gany - 1
                        o = _first_from(gmask[p], rs[rS + 25 + p])
                        inm |= 1 << p
                        outm |= 1 << o
                        match_o[p] = o
                        if it == 0:
                            rs[rS + 20 + o] = p + 1 if p + 1 < P else 0
                            rs[rS + 25 + p] = o + 1 if o + 1 < P else 0
            # ---- traverse: move each granted flit ----
            while inm != 0:
                p = trailing_zeros(inm)
                inm &= inm - 1
                if dup == 0:
                    o = _first_from(reqm[p], rs[rS + 25 + p])
                    rs[rS + 20 + o] = p + 1 if p + 1 < P else 0
                    rs[rS + 25 + p] = o + 1 if o + 1 < P else 0
                else:
                    o = match_o[p]
                v = req_vc[p * P + o]
                iv = ((rP + p) << vb) | v
                b0 = iv << rwb
                hc = vr[b0]
                h = hc & 0xFFFF
                c = (hc >> 16) - 1
                if ring:
                    code = vr[b0 + 4 + h]
                    vr[b0] = ((h + 1) & BM) | (c << 16)
                else:
                    # front flit h of the recorded packet
                    code = (vr[b0 + 2] << 2) | (2 if h == 0 else 0) | \
                        (1 if h == vr[b0 + 3] - 1 else 0)
                    vr[b0] = (h + 1) | (c << 16)
                rs[rS + 30] -= 1
                sov = vr[b0 + 1]
                w = (sov >> 5) & 31
                ov = ((rQ + o) << vb) | w
                cr = oc_cred[ov] - 1
                oc_cred[ov] = cr
                tail = code & 1
                bit = np.int64(1) << v
                if fast:
                    # no branches on the flit kind (unpredictable); with one packet per VC
                    # a tail leaves the VC empty: forget its output VC and go idle
                    x = rs[rS + 5 + p]
                    rs[rS + 5 + p] = (x | ((np.int64(cr <= 0) & (tail ^ 1)) << v)) & ~(tail << v)
                    tailm[rQ + o] |= tail << w
                    # (owner[ov] stays: _credit checks the owner's record instead)
                    rs[rS + p] &= ~(np.int64(c == 0) << v)
                    vr[b0 + 1] = sov & (tail - 1)
                else:
                    if cr <= 0 and tail == 0:
                        rs[rS + 5 + p] |= bit
                    if tail:
                        if wait_tail:
                            tailm[rQ + o] |= np.int64(1) << w
                        else:
                            busy[rQ + o] &= ~(np.int64(1) << w)
                        # this VC's packet has left: forget its output VC
                        rs[rS + 5 + p] &= ~bit
                        owner[ov] = -1
                    # input VC state
                    if c == 0:
                        rs[rS + p] &= ~bit
                        if tail:
                            vr[b0 + 1] = 0
                    elif tail:
                        # the next packet's head is at the front
                        rs[rS + p] &= ~bit
                        rs[rS + 10 + p] |= bit
                        pi = pk_info[vr[b0 + 4 + ((h + 1) & BM)] >> 2]
                        o2 = _route(r_row[r], r_col[r], pi & 0xFFFF, (pi >> 16) & 0xFFFF,
                                    (pi >> 32) & 1)
                        vr[b0 + 1] = 1 | (o2 << 2) | (((pi >> 33) & 0xFF) << 10)
                        if chk:
                            ready[iv] = t + 1 + rd
                    elif chk:
                        ready[iv] = t + sad
                link_flits[rP + o] += 1
                rs[rS + 15 + p] = v + 1 if v + 1 < V else 0
                # downstream
                if o == LOCAL:
                    j = eqw & qm
                    eq_t[j] = t + d_ecred
                    eq_e[j] = ov
                    eqw += 1
                    j = xqw & qm
                    xq_t[j] = t + d_flit
                    xq_e[j] = code
                    xqw += 1
                else:
                    dst_a = nb_iv[r * 4 + o] | w
                    prefetch(vr, dst_a << rwb)
                    # the head will be routed on arrival: fetch its packet early
                    prefetch(pk_info, code >> 2)
                    if dst_a < ivsplit:
                        j = fqw & qm
                        fq_t[j] = t + d_flit
                        fq_e[j] = (dst_a << 32) | code
                        fqw += 1
                    else:
                        j = fhw & qm
                        fh_t[j] = t + d_flit
                        fh_e[j] = (dst_a << 32) | code
                        fhw += 1
                # credit upstream
                if p == LOCAL:
                    j = sqw & qm
                    sq_t[j] = t + d_scred
                    sq_e[j] = (r << vb) | v
                    sqw += 1
                else:
                    ovu = nb_ov[r * 4 + p] | v
                    prefetch(oc_cred, ovu)
                    if ovu < ovsplit:
                        j = cqw & qm
                        cq_t[j] = t + d_cred
                        cq_e[j] = ovu
                        cqw += 1
                    else:
                        j = chw & qm
                        ch_t[j] = t + d_cred
                        ch_e[j] = ovu
                        chw += 1
            moved = True
        if multi:
            for p in range(P):
                rs[rS + p] |= sa_new[p]
        else:
            rs[rS + sa1p] |= sa1b
        if rs[rS + 30] == 0:
            wi = r >> 6
            amap[wi] &= ~(np.int64(1) << (r & 63))
            if amap[wi] == 0:
                asum[wi >> 6] &= ~(np.int64(1) << (wi & 63))
            idle += 1

    qw[0] = fqw
    qw[1] = fhw
    qw[2] = cqw
    qw[3] = chw
    qw[4] = sqw
    qw[5] = eqw
    qw[6] = xqw
    return idle, moved


@njit(cache=True, error_model="numpy", nogil=True)
def _phase_in(t, X, nparts, QT, QE, QS, acc, sim_state, mode, pk_ct, pk_rec, pk_hat, pk_it,
              pk_src, pk_dst, pk_size, pk_flow, pk_info, r_row, r_col, flow_done, flow_head, free,
              nfree, vr, rs, ready, amap, asum, oc_cred, owner, tailm, busy, V, B,
              wait_tail, rd, vad, sad):
    """What partition X receives by cycle t: its sinks' flits, flits reaching its routers
    (from each partition and from the sources), credits to its routers. Returns the number
    of its routers that became active."""
    na = 0
    k = _fifo(XQ, X, X)
    if _q_next(QT[k], QS[k]) <= t:
        _eject(t, QT[k], QE[k], QS[k], acc, sim_state, mode, pk_ct, pk_rec, pk_hat, pk_it,
               pk_src, pk_dst, pk_size, pk_flow, r_row, r_col, flow_done, flow_head, free,
               nfree)
    for kk in range(nparts + 1):
        k = _fifo(FQ, X, kk) if kk < nparts else _fifo(IQ, X, 0)
        if _q_next(QT[k], QS[k]) <= t:
            na += _arrive(t, QT[k], QE[k], QS[k], vr, rs, ready, amap, asum, pk_size,
                          pk_info, r_row, r_col, V, B, wait_tail, rd, vad, sad)
    for kk in range(nparts + 1):
        k = _fifo(CQ, X, kk) if kk < nparts else _fifo(EQ, X, X)
        if _q_next(QT[k], QS[k]) <= t:
            _credit(t, QT[k], QE[k], QS[k], oc_cred, owner, rs, tailm, busy, vr, V, B,
                    wait_tail, rd, vad, sad)
    return na


@njit(cache=True, error_model="numpy", nogil=True)
def _phase_routers(t, X, QT, QE, QS, amap, asum, visit, vr, rs, owner, oc_cred, tailm, busy,
                   ready, va_gptr, va_aptr, link_flits, pk_info, r_row, r_col, nb_iv, nb_ov,
                   ivsplit, ovsplit, qw, scratch, V, B, wait_tail, rd, vad, sad, st, L, cd, iters):
    """One cycle of partition X's active routers (listed into visit in index order), pushing
    into the FIFOs it fills. Returns (routers that went idle, whether any flit moved)."""
    nv = 0
    for si in range(asum.shape[0]):
        sm = asum[si]
        while sm != 0:
            wi = (si << 6) + trailing_zeros(sm)
            sm &= sm - 1
            wm = amap[wi]
            while wm != 0:
                visit[nv] = (wi << 6) + trailing_zeros(wm)
                wm &= wm - 1
                nv += 1
    if nv == 0:
        return 0, False
    # FIFO write positions, advanced by the routers' pushes
    qw[0] = QS[_fifo(FQ, 0, X), 1]
    qw[1] = QS[_fifo(FQ, 1, X), 1]
    qw[2] = QS[_fifo(CQ, 0, X), 1]
    qw[3] = QS[_fifo(CQ, 1, X), 1]
    qw[4] = QS[_fifo(SQ, 0, X), 1]
    qw[5] = QS[_fifo(EQ, X, X), 1]
    qw[6] = QS[_fifo(XQ, X, X), 1]
    idle, moved = _visit_routers(t, 0, nv, visit, vr, rs, owner, oc_cred, tailm, busy,
                                 ready, va_gptr, va_aptr, amap, asum, link_flits, pk_info,
                                 r_row, r_col, nb_iv, nb_ov, QT, QE, X, ivsplit, ovsplit,
                                 qw, scratch, V, B, wait_tail, rd, vad, sad, st, L, cd,
                                 iters)
    store_release(QS[_fifo(FQ, 0, X)], 1, qw[0])
    store_release(QS[_fifo(FQ, 1, X)], 1, qw[1])
    store_release(QS[_fifo(CQ, 0, X)], 1, qw[2])
    store_release(QS[_fifo(CQ, 1, X)], 1, qw[3])
    store_release(QS[_fifo(SQ, 0, X)], 1, qw[4])
    store_release(QS[_fifo(EQ, X, X)], 1, qw[5])
    store_release(QS[_fifo(XQ, X, X)], 1, qw[6])
    return idle, moved


@njit(cache=True)
def _scratch(vb):
    """Per-cycle scratch of the allocators (one set per thread)."""
    PV = P << vb
    return (np.empty(P * P, np.int64), np.zeros(P, np.int64), np.zeros(P, np.int64),
            np.zeros(P, np.int64), np.zeros(P, np.int64), np.empty(P * PV, np.int64),
            np.zeros(PV, np.int8), np.zeros(PV, np.int64), np.zeros(PV, np.int64),
            np.zeros(PV, np.int64), np.zeros(PV, np.int64), np.zeros(P, np.int64),
            np.zeros(P, np.int64))


@njit(cache=True)
def _fold(acc, acc1, free, nfree, free1, nfree1):
    """Partition 1's sums and freed packet slots into partition 0's (exact: the sums hold
    integers)."""
    for a in range(N_ACC):
        if a == A_PLAT_MAX:
            acc[a] = max(acc[a], acc1[a])
        else:
            acc[a] += acc1[a]
        acc1[a] = 0.0
    for q in range(nfree1[0]):
        free[nfree[0]] = free1[q]
        nfree[0] += 1
    nfree1[0] = 0


# ---- two threads: partition 1 runs on a second thread (`worker`), which meets `simulate`
# once a cycle through the int64 array ctl: simulate publishes the cycle (and, when they move,
# the parameters and the address and shape of every array partition 1 touches), then bumps
# ctl[C_GO]; the worker runs partition 1's inputs and routers and answers in ctl[C_DONE]. Everything one partition
# sends the other is due at least two cycles later, so the two never wait on each other
# inside a cycle; each FIFO has one writer and one reader.
SPLIT_PCT = 45
MIN_SPLIT = 128       # fewer routers do too little a cycle to pay for the barrier
C_GO = 0
C_GEN = 1             # bumped when the arrays below are published again (after growing)
C_DONE = 8            # its own cache line: written by the worker, read by simulate
C_MOVED = 9
C_THREADS = 16
C_T = 17
C_STATE = 18
C_MODE = 19
C_PAR = 20            # V, B, wait_tail, rd, vad, sad, st, L, cd, iters, ivsplit, ovsplit
C_ARR = 32            # three words per array: address, shape[0], shape[1]
N_CTL = C_ARR + 3 * 35


@njit(cache=True, inline="always")
def _raw(a):
    """`a` without its reference count: a view to pass to the per-cycle kernels, which would
    otherwise take and drop a reference (an atomic instruction) on each of their dozens of
    array arguments every call. Made at the call, so a reallocated array is never missed;
    `a` itself keeps the memory alive, so a view must not outlive the call it is made for
    (Numba frees an array after the last use of its variable)."""
    return carray(array_at(np.int64(a.ctypes.data), a), a.shape)


@njit(cache=True, inline="always")
def _raw_all(scratch):
    """_raw of each array of an allocator scratch set (see _scratch)."""
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12) = scratch
    return (_raw(s0), _raw(s1), _raw(s2), _raw(s3), _raw(s4), _raw(s5), _raw(s6), _raw(s7),
            _raw(s8), _raw(s9), _raw(s10), _raw(s11), _raw(s12))


@njit(cache=True, inline="always")
def _put(ctl, i, a):
    ctl[C_ARR + 3 * i] = np.int64(a.ctypes.data)
    ctl[C_ARR + 3 * i + 1] = a.shape[0]
    ctl[C_ARR + 3 * i + 2] = a.shape[1] if a.ndim == 2 else 1


@njit(cache=True, inline="always")
def _get1(ctl, i, proto):
    return carray(array_at(ctl[C_ARR + 3 * i], proto), ctl[C_ARR + 3 * i + 1])


@njit(cache=True, inline="always")
def _get2(ctl, i, proto):
    return carray(array_at(ctl[C_ARR + 3 * i], proto),
                  (ctl[C_ARR + 3 * i + 1], ctl[C_ARR + 3 * i + 2]))


@njit(cache=True, inline="always")
def _spin(ctl, i, value, equal):
    """Spin until ctl[i] == value (equal) or != value (not equal), giving the core away if
    the other thread is slow; returns ctl[i]."""
    spins = 0
    v = load_acquire(ctl, i)
    while (v == value) != equal:
        spins += 1
        if spins < 4096:
            spin_pause()
        else:
            yield_cpu()
        v = load_acquire(ctl, i)
    return v


@njit(cache=True, error_model="numpy", nogil=True)
def worker(ctl, p8, p16, p32, p64, pf):
    """Partition 1 of a two-thread run (see C_GO); returns when ctl[C_GO] turns negative."""
    last = np.int64(0)
    scratch = _scratch(0)
    qw = np.zeros(7, np.int64)
    vb0 = -1
    gen = np.int64(-1)
    z64 = np.zeros((1, 1), np.int64)
    QT, QE, QS, amaps, asums, visits = z64, z64, z64, z64, z64, z64
    accs = np.zeros((1, 1), np.float64)
    vr, owner, pk_size, pk_src, pk_dst, r_row, r_col = (p32, p32, p32, p32, p32, p32, p32)
    pk_rec = p8
    oc_cred, va_gptr, va_aptr = p16, p16, p16
    (rs, ready, tailm, busy, link_flits, pk_info, pk_ct, pk_hat, pk_it, pk_flow, nb_iv, nb_ov,
     flow_done, flow_head, free1, nfree1, nap) = (p64, p64, p64, p64, p64, p64, p64, p64, p64,
                                                 p64, p64, p64, p64, p64, p64, p64, p64)
    mode = V = B = rd = vad = sad = st = L = cd = iters = ivsplit = ovsplit = np.int64(0)
    wait_tail = False
    while True:
        g = _spin(ctl, C_GO, last, False)
        if g < 0:
            return 0
        last = g
        t = ctl[C_T]
        sim_state = ctl[C_STATE]
        if ctl[C_GEN] != gen:
            gen = ctl[C_GEN]
            mode = ctl[C_MODE]
            V = ctl[C_PAR]
            B = ctl[C_PAR + 1]
            wait_tail = ctl[C_PAR + 2] != 0
            rd = ctl[C_PAR + 3]
            vad = ctl[C_PAR + 4]
            sad = ctl[C_PAR + 5]
            st = ctl[C_PAR + 6]
            L = ctl[C_PAR + 7]
            cd = ctl[C_PAR + 8]
            iters = ctl[C_PAR + 9]
            ivsplit = ctl[C_PAR + 10]
            ovsplit = ctl[C_PAR + 11]
            vb, _, _, _, _, _ = _layout(V, B, wait_tail, rd, vad, sad)
            if vb != vb0:
                scratch = _scratch(vb)
                vb0 = vb
            QT = _get2(ctl, 0, p64)
            QE = _get2(ctl, 1, p64)
            QS = _get2(ctl, 2, p64)
            amaps = _get2(ctl, 3, p64)
            asums = _get2(ctl, 4, p64)
            visits = _get2(ctl, 5, p64)
            accs = _get2(ctl, 6, pf)
            vr = _get1(ctl, 7, p32)
            rs = _get1(ctl, 8, p64)
            ready = _get1(ctl, 9, p64)
            owner = _get1(ctl, 10, p32)
            oc_cred = _get1(ctl, 11, p16)
            tailm = _get1(ctl, 12, p64)
            busy = _get1(ctl, 13, p64)
            va_gptr = _get1(ctl, 14, p16)
            va_aptr = _get1(ctl, 15, p16)
            link_flits = _get1(ctl, 16, p64)
            pk_info = _get1(ctl, 17, p64)
            pk_size = _get1(ctl, 18, p32)
            pk_ct = _get1(ctl, 19, p64)
            pk_rec = _get1(ctl, 20, p8)
            pk_hat = _get1(ctl, 21, p64)
            pk_it = _get1(ctl, 22, p64)
            pk_src = _get1(ctl, 23, p32)
            pk_dst = _get1(ctl, 24, p32)
            pk_flow = _get1(ctl, 25, p64)
            r_row = _get1(ctl, 26, p32)
            r_col = _get1(ctl, 27, p32)
            nb_iv = _get1(ctl, 28, p64)
            nb_ov = _get1(ctl, 29, p64)
            flow_done = _get1(ctl, 30, p64)
            flow_head = _get1(ctl, 31, p64)
            free1 = _get1(ctl, 32, p64)
            nfree1 = _get1(ctl, 33, p64)
            nap = _get1(ctl, 34, p64)
        nap[1] += _phase_in(t, 1, 2, QT, QE, QS, accs[1], sim_state, mode, pk_ct, pk_rec, pk_hat,
                            pk_it, pk_src, pk_dst, pk_size, pk_flow, pk_info, r_row, r_col,
                            flow_done, flow_head, free1, nfree1, vr, rs, ready, amaps[1],
                            asums[1], oc_cred, owner, tailm, busy, V, B, wait_tail, rd, vad, sad)
        idle, moved = _phase_routers(t, 1, QT, QE, QS, amaps[1], asums[1], visits[1], vr, rs,
                                     owner, oc_cred, tailm, busy, ready, va_gptr, va_aptr,
                                     link_flits, pk_info, r_row, r_col, nb_iv, nb_ov, ivsplit,
                                     ovsplit, _raw(qw), _raw_all(scratch), V, B, wait_tail, rd, vad, sad, st, L,
                                     cd, iters)
        nap[1] -= idle
        ctl[C_MOVED] = 1 if moved else 0
        store_release(ctl, C_DONE, g)


# error_model="numpy": no divisor in the kernel can be zero, so integer // and % need no
# zero test (a float 0/0 would give nan where the Python model raised)
@njit(cache=True, error_model="numpy", nogil=True)
def simulate(rows, cols, V, B, rd, vad, sad, st, L, cd, wait_tail, iters,
             mode, rate_pkt, pkt_size, pattern, pat_dest, hot_nodes, hot_frac, seed,
             warmup_periods, sample_period, max_samples, lat_thres, warm_thres, stop_thres,
             fixed_warmup, fixed_sample, max_cycles,
             f_src, f_dst, f_flits, f_t0, f_color, f_order, f_pkt, src_ptr, src_flows,
             stall_limit, stats, flow_done, flow_start, flow_head, link_flits, nparts, ctl):
    """Run one simulation. mode 0: synthetic traffic (BookSim latency protocol, or fixed
    warm-up/sample lengths if fixed_sample > 0); mode 1: flows (run until all delivered).
    nparts 2 splits the routers into two partitions (the first nsplit, the rest), each with its
    own FIFOs, active set and sums, run in turn, or partition 1 on a second thread (`worker`)
    if ctl[C_THREADS] is 2; the results are those of nparts 1 either way."""
    N = rows * cols
    vb, bb, rwb, ring, chk, fast = _layout(V, B, wait_tail, rd, vad, sad)
    NIV = (N * P) << vb
    NOV = (N * Q) << vb
    r_row = np.empty(N, np.int32)
    r_col = np.empty(N, np.int32)
    for r in range(N):
        r_row[r] = r // cols
        r_col[r] = r % cols
    # per (router, mesh port 0-3): the neighbour's facing input VC base (flits go there) and
    # its output-VC base toward this router (credits go there); a table, not a branch per flit
    nb_iv = np.zeros(N * 4, np.int64)
    nb_ov = np.zeros(N * 4, np.int64)
    for r in range(N):
        for o in range(4):
            if o == 0:
                r2 = r + 1 if r_col[r] + 1 < cols else -1
            elif o == 1:
                r2 = r - 1 if r_col[r] > 0 else -1
            elif o == 2:
                r2 = r + cols if r_row[r] + 1 < rows else -1
            else:
                r2 = r - cols if r_row[r] > 0 else -1
            if r2 >= 0:
                nb_iv[r * 4 + o] = (r2 * P + (o ^ 1)) << vb
                nb_ov[r * 4 + o] = (r2 * Q + (o ^ 1)) << vb

    # partition 0 owns routers [0, nsplit), partition 1 the rest; partition 0 also runs all the
    # sources, so it takes fewer routers (SPLIT_PCT of them)
    nsplit = N
    if nparts > 1:
        nsplit = (N * SPLIT_PCT) // 100
        if N < MIN_SPLIT:
            nparts = 1
            nsplit = N
    threaded = nparts > 1 and ctl[C_THREADS] > 1
    go = np.int64(0)
    ctl[C_MODE] = mode
    ctl[C_PAR] = V
    ctl[C_PAR + 1] = B
    ctl[C_PAR + 2] = 1 if wait_tail else 0
    ctl[C_PAR + 3] = rd
    ctl[C_PAR + 4] = vad
    ctl[C_PAR + 5] = sad
    ctl[C_PAR + 6] = st
    ctl[C_PAR + 7] = L
    ctl[C_PAR + 8] = cd
    ctl[C_PAR + 9] = iters
    ivsplit = (nsplit * P) << vb
    ovsplit = (nsplit * Q) << vb
    ctl[C_PAR + 10] = ivsplit
    ctl[C_PAR + 11] = ovsplit
    d_inj = L + 1                  # source to its router's injection buffer (for the other
                                   # delays, from the switch-allocation cycle, see _visit_routers)

    # ---------------- state arrays ----------------
    # input VC records (see the module doc): [0] ring head or front flit index | count << 16;
    # [1] state | out port << 2 | out VC << 5 | colour + 1 << 10 (state 0 idle, 1 waiting for
    # VC allocation, 2 active); [2] front packet, [3] its size; [4:] ring (when kept)
    vr = np.zeros(NIV << rwb, np.int32)
    # with single-cycle stages no per-VC ready time needs checking (masks say it all)
    ready = np.zeros(NIV if chk else 1, np.int64)
    # per router, one record of 32 words (four cache lines): per input port the VCs holding
    # flits and active (SA, [0:5]), whose next buffer is full (NOCRED, [5:10]), waiting for VC
    # allocation (VA, [10:15]); the switch arbiters' round-robin offsets ([15:20]), iSLIP
    # grant pointers per output ([20:25]) and accept pointers per input ([25:30]); the flits
    # held ([30])
    rs = np.zeros(N << 5, np.int64)
    # input VC holding each output VC (for NOCRED; in fast mode left in place after the tail,
    # see _credit)
    owner = np.full(NOV, -1, np.int32)
    oc_cred = np.full(NOV, B, np.int16)
    tailm = np.zeros(N * Q, np.int64)     # output VCs whose tail has gone (wait for credits)
    busy = np.zeros(N * Q, np.int64)      # allocated output VCs per (router, output)
    # active routers (holding flits) as a two-level bitmap, visited in index order so that
    # memory is walked forwards; idle routers cost nothing
    NW = (N + 63) >> 6
    NS = (NW + 63) >> 6
    # one row per partition, each padded past a cache line so that the two threads never
    # write the same line (the partitions' bitmaps are views of the rows' used part)
    amaps = np.zeros((nparts, NW + 8), np.int64)
    asums = np.zeros((nparts, NS + 8), np.int64)
    visits = np.empty((nparts, N), np.int64)
    nap = np.zeros(nparts, np.int64)     # active routers per partition
    na = 0

    # packets (slots recycled through a free stack)
    cap = 1024 + 4 * N
    pk_dst = np.empty(cap, np.int32)
    pk_info = np.empty(cap, np.int64)     # dest row | dest col << 16 | order << 32 | colour+1 << 33
    pk_hat = np.empty(cap, np.int64)
    pk_src = np.empty(cap, np.int32)
    pk_size = np.empty(cap, np.int32)
    pk_ct = np.empty(cap, np.int64)
    pk_it = np.empty(cap, np.int64)
    pk_flow = np.empty(cap, np.int64)
    pk_rec = np.empty(cap, np.int8)
    free = np.arange(cap - 1, -1, -1).astype(np.int64)
    nfree = np.full(1, cap, np.int64)
    free1 = np.empty(cap, np.int64)       # slots partition 1 freed, folded into free each cycle
    nfree1 = np.zeros(1, np.int64)

    # event FIFOs: flits to routers, injected flits, credits to routers, to sources, from
    # sinks, flits to sinks
    # (flit events pack target << 32 | flit code, or just the code for a sink; credit events
    # are the output-VC index)
    qcap = 1024
    while qcap < 4 * N:
        qcap *= 2
    # (rows: see _fifo; QS[k] = [head, tail])
    QT = np.empty((NQ, qcap), np.int64)
    QE = np.empty((NQ, qcap), np.int64)
    QS = np.zeros((NQ, 2), np.int64)
    # the rows in use: with one partition, only those from partition 0 to partition 0
    nrow = 0
    qrows = np.empty(NQ, np.int64)
    for kind in range(6):
        for dst in range(nparts):
            for src in range(nparts):
                qrows[nrow] = _fifo(kind, dst, src)
                nrow += 1
    qrows = qrows[:nrow]

    # sources: current packet, flits sent of it, its VC; idle sources wait in a heap keyed by
    # the cycle their next packet appears
    s_pk = np.full(N, -1, np.int64)
    # each source's view of its router's injection port: credits per VC, VCs in use, VCs whose
    # tail has gone (apart from the routers' output VCs, so that the thread running the
    # sources never writes a cache line of the other partition's routers)
    s_cred = np.full(N << vb, B, np.int16)
    s_busy = np.zeros(N, np.int64)
    s_tailm = np.zeros(N, np.int64)
    s_owner = np.full(N << vb, -1, np.int32)
    s_sent = np.zeros(N, np.int32)
    s_vc = np.zeros(N, np.int16)
    s_last = np.full(N, V - 1, np.int16)
    s_next = np.zeros(N, np.int64)        # traffic: creation cycle of the next packet
    s_fptr = np.zeros(N, np.int64)        # flows: next flow index into src_flows
    s_fpk = np.zeros(N, np.int64)         # flows: packets of the current flow issued
    slist = np.empty(N, np.int64)
    insl = np.zeros(N, np.bool_)
    ns = 0
    h_key = np.empty(N + 1, np.int64)
    h_val = np.empty(N + 1, np.int64)
    nh = 0

    rng = np.zeros(1, np.uint64)
    rng[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x2545F4914F6CDD1D)
    if rng[0] == 0:
        rng[0] = np.uint64(88172645463325252)
    for _ in range(4):
        _rng_next(rng)

    va_gptr = np.zeros(NOV, np.int16)    # iSLIP grant pointer of each output VC
    va_aptr = np.zeros(NIV, np.int16)    # iSLIP accept pointer of each input VC
    scratch = _scratch(vb)
    qw = np.zeros(7, np.int64)

    # ---------------- initial sources ----------------
    lq_rate = np.log1p(-rate_pkt) if rate_pkt < 1.0 else -1.0
    if mode == 0:
        for n in range(N):
            first = _geom(rng, rate_pkt, lq_rate) - 1 if rate_pkt > 0 else np.int64(1) << 60
            s_next[n] = first
            nh = _heap_push(h_key, h_val, nh, first, n)
    else:
        for n in range(N):
            if src_ptr[n] < src_ptr[n + 1]:
                s_fptr[n] = src_ptr[n]
                first = f_t0[src_flows[src_ptr[n]]]
                nh = _heap_push(h_key, h_val, nh, first, n)

    # ---------------- statistics / protocol ----------------
    sim_state = WARMUP if mode == 0 else RUNNING
    # running sums (see A_*): BookSim's in-flight set is the flits created and not yet
    # ejected; recorded flits in flight are what the drain waits for
    accs = np.zeros((nparts, N_ACC + 8), np.float64)
    acc = accs[0]                         # partition 1's sums are folded in each cycle
    reset_time = np.int64(0)
    saturated = False
    deadlock = False
    if mode == 1:
        acc[A_FLOWS_LEFT] = f_src.shape[0]
        for f in range(f_src.shape[0]):
            if f_flits[f] <= 0:
                flow_done[f] = f_t0[f]
                flow_start[f] = f_t0[f]
                acc[A_FLOWS_LEFT] -= 1
    total_phases = 0
    converged = 0
    clear_last = False
    prev_lat = 0.0
    prev_acc = 0.0
    drain_time = np.int64(1) << 62
    if mode == 0:
        if fixed_sample > 0:
            checkpoint = np.int64(fixed_warmup)
        else:
            checkpoint = np.int64(sample_period)
    else:
        checkpoint = np.int64(1) << 62
    last_progress = np.int64(0)
    acc_cycles = 0.0
    events_max = 0

    t = np.int64(0)
    while True:
        # ======== protocol checkpoints (traffic mode) ========
        if mode == 0 and t >= checkpoint and sim_state != DRAINING:
            if fixed_sample > 0:
                if sim_state == WARMUP:
                    # clear stats and start the sample window
                    acc[A_PLAT_SUM] = 0.0; acc[A_PLAT_CNT] = 0.0; acc[A_PLAT_MAX] = 0.0; acc[A_NLAT_SUM] = 0.0
                    acc[A_HOPS_SUM] = 0.0; acc[A_FRAG_SUM] = 0.0; acc[A_ACC_FLITS] = 0.0; reset_time = t
                    sim_state = RUNNING
                    checkpoint = t + fixed_sample
                else:
                    acc_cycles = np.float64(t - reset_time)
                    sim_state = DRAINING
                    drain_time = t
                    checkpoint = np.int64(1) << 62
            else:
                # one sample period has ended
                cur_lat = acc[A_PLAT_SUM] / acc[A_PLAT_CNT] if acc[A_PLAT_CNT] > 0 else np.nan
                cur_acc = acc[A_ACC_FLITS] / np.float64(t - reset_time) / N
                lat_change = abs((cur_lat - prev_lat) / cur_lat)
                acc_change = abs((cur_acc - prev_acc) / cur_acc)
                prev_lat = cur_lat
                prev_acc = cur_acc
                est = (acc[A_PLAT_SUM] + t * acc[A_INFL_FLITS] - acc[A_INFL_CT_SUM]) / (acc[A_PLAT_CNT] + acc[A_INFL_FLITS])
                if lat_thres >= 0 and est > lat_thres:
                    saturated = True
                    acc_cycles = np.float64(t - reset_time)
                    break
                if sim_state == WARMUP:
                    # a fixed number of warm-up periods, or (0) until both settle
                    if (total_phases + 1 >= warmup_periods if warmup_periods > 0 else
                            not (lat_change > warm_thres) and not (acc_change > warm_thres)):
                        clear_last = True
                        sim_state = RUNNING
                else:
                    if not (lat_change > stop_thres) and not (acc_change > stop_thres):
                        converged += 1
                    else:
                        converged = 0
                total_phases += 1
                if total_phases >= max_samples or (sim_state == RUNNING and converged >= 3):
                    if sim_state == RUNNING:
                        acc_cycles = np.float64(t - reset_time)
                        sim_state = DRAINING
                        drain_time = t
                        checkpoint = np.int64(1) << 62
                    else:
                        acc_cycles = np.float64(t - reset_time)
                        break
                else:
                    if clear_last or (sim_state == WARMUP and total_phases % 2 == 0):
                        clear_last = False
                        acc[A_PLAT_SUM] = 0.0; acc[A_PLAT_CNT] = 0.0; acc[A_PLAT_MAX] = 0.0; acc[A_NLAT_SUM] = 0.0
                        acc[A_HOPS_SUM] = 0.0; acc[A_FRAG_SUM] = 0.0; acc[A_ACC_FLITS] = 0.0; reset_time = t
                    checkpoint = t + sample_period
        if mode == 0 and sim_state == DRAINING and acc[A_MEAS_INFL] == 0:
            # all recorded packets delivered; sources have passed the drain time?
            pending = False
            for n in range(N):
                if s_pk[n] >= 0 and pk_rec[s_pk[n]] != 0:
                    pending = True
                    break
                if s_next[n] < drain_time:
                    pending = True
                    break
            if not pending:
                sim_state = EMPTYING
        if mode == 0 and sim_state == EMPTYING:
            left = 0
            for k in qrows:
                left += QS[k, 1] - QS[k, 0]
            if acc[A_INFL_FLITS] == 0 and left == 0:
                break
        if mode == 0 and sim_state == DRAINING and lat_thres >= 0 and (t - drain_time) % 1000 == 999:
            est = (acc[A_PLAT_SUM] + t * acc[A_INFL_FLITS] - acc[A_INFL_CT_SUM]) / (acc[A_PLAT_CNT] + acc[A_INFL_FLITS])
            if est > lat_thres:
                saturated = True
                break
        if mode == 1 and acc[A_FLOWS_LEFT] == 0:
            break
        if max_cycles > 0 and t >= max_cycles:
            saturated = True
            break

        # a packet slot for every source that may start one this cycle (partition 1 reads the
        # packet arrays while the sources run, so they are grown first)
        if nfree[0] < N + 1:
            ncap = cap * 2
            while ncap - cap + nfree[0] < N + 1:
                ncap *= 2
            pk_dst = _grow(pk_dst, ncap)
            pk_info = _grow(pk_info, ncap)
            pk_hat = _grow(pk_hat, ncap)
            pk_src = _grow(pk_src, ncap)
            pk_size = _grow(pk_size, ncap)
            pk_ct = _grow(pk_ct, ncap)
            pk_it = _grow(pk_it, ncap)
            pk_flow = _grow(pk_flow, ncap)
            pk_rec = _grow(pk_rec, ncap)
            free = _grow(free, ncap)
            free1 = _grow(free1, ncap)
            for q in range(ncap - cap):
                free[nfree[0] + q] = ncap - 1 - q
            nfree[0] += ncap - cap
            cap = ncap
        if threaded:
            # room for a whole cycle's pushes, made before partition 1 starts; then go
            if not _q_fits(QT, QS, P * N + N, qrows, nrow):
                QT, QE = _q_room_all(QT, QE, QS, P * N + N, qrows)
            ctl[C_T] = t
            ctl[C_STATE] = sim_state
            if QT.ctypes.data != ctl[C_ARR] or pk_info.ctypes.data != ctl[C_ARR + 3 * 17] \
                    or free1.ctypes.data != ctl[C_ARR + 3 * 32] or go == 0:
                _put(ctl, 0, QT)
                _put(ctl, 1, QE)
                _put(ctl, 2, QS)
                _put(ctl, 3, amaps)
                _put(ctl, 4, asums)
                _put(ctl, 5, visits)
                _put(ctl, 6, accs)
                _put(ctl, 7, vr)
                _put(ctl, 8, rs)
                _put(ctl, 9, ready)
                _put(ctl, 10, owner)
                _put(ctl, 11, oc_cred)
                _put(ctl, 12, tailm)
                _put(ctl, 13, busy)
                _put(ctl, 14, va_gptr)
                _put(ctl, 15, va_aptr)
                _put(ctl, 16, link_flits)
                _put(ctl, 17, pk_info)
                _put(ctl, 18, pk_size)
                _put(ctl, 19, pk_ct)
                _put(ctl, 20, pk_rec)
                _put(ctl, 21, pk_hat)
                _put(ctl, 22, pk_it)
                _put(ctl, 23, pk_src)
                _put(ctl, 24, pk_dst)
                _put(ctl, 25, pk_flow)
                _put(ctl, 26, r_row)
                _put(ctl, 27, r_col)
                _put(ctl, 28, nb_iv)
                _put(ctl, 29, nb_ov)
                _put(ctl, 30, flow_done)
                _put(ctl, 31, flow_head)
                _put(ctl, 32, free1)
                _put(ctl, 33, nfree1)
                _put(ctl, 34, nap)
                ctl[C_GEN] += 1
            go += 1
            store_release(ctl, C_GO, go)
        nrun = 1 if threaded else nparts
        # ======== 1-3. flits ejected at sinks, flits arriving at routers (from neighbours
        #          and from sources), credits; each partition pops its own FIFOs ========
        for X in range(nrun):
            fr = free if X == 0 else free1
            nfr = nfree if X == 0 else nfree1
            nap[X] += _phase_in(t, X, nparts, _raw(QT), _raw(QE), _raw(QS), _raw(accs)[X],
                                sim_state, mode, _raw(pk_ct), _raw(pk_rec), _raw(pk_hat),
                                _raw(pk_it), _raw(pk_src), _raw(pk_dst), _raw(pk_size),
                                _raw(pk_flow), _raw(pk_info), _raw(r_row), _raw(r_col),
                                _raw(flow_done), _raw(flow_head), _raw(fr), _raw(nfr), _raw(vr),
                                _raw(rs), _raw(ready), _raw(amaps)[X],
                                _raw(asums)[X], _raw(oc_cred), _raw(owner), _raw(tailm),
                                _raw(busy), V, B, wait_tail, rd, vad, sad)
        # the sources' credits, whichever partition sent them: the sources are partition 0's
        for Y in range(nparts):
            k = _fifo(SQ, 0, Y)
            if _q_next(_raw(QT)[k], _raw(QS)[k]) <= t:
                _credit(t, _raw(QT)[k], _raw(QE)[k], _raw(QS)[k], _raw(s_cred), _raw(s_owner),
                        _raw(rs), _raw(s_tailm), _raw(s_busy), _raw(vr), V, B, wait_tail, rd,
                        vad, sad)
        if nparts > 1 and not threaded:
            _fold(acc, accs[1], free, nfree, free1, nfree1)
        na = 0
        for X in range(nrun):
            na += nap[X]

        # ======== 4. sources ========
        while nh > 0 and h_key[0] <= t:
            n = h_val[0]
            # pop heap
            nh -= 1
            lk = h_key[nh]; lv = h_val[nh]
            i = 0
            while True:
                ch = 2 * i + 1
                if ch >= nh:
                    break
                if ch + 1 < nh and h_key[ch + 1] < h_key[ch]:
                    ch += 1
                if h_key[ch] >= lk:
                    break
                h_key[i] = h_key[ch]; h_val[i] = h_val[ch]
                i = ch
            if nh > 0:
                h_key[i] = lk; h_val[i] = lv
            if not insl[n]:
                insl[n] = True
                slist[ns] = n
                ns += 1
        # room for this cycle's injected flits (see _q_room_all)
        if not threaded:
            if not _q_fits(QT, QS, ns, qrows, nrow):
                QT, QE = _q_room_all(QT, QE, QS, ns, qrows)
        k = 0
        while k < ns:
            n = slist[k]
            if s_pk[n] < 0:
                # create the next packet of this source, if it is due
                due = False
                if mode == 0:
                    due = s_next[n] <= t and sim_state != EMPTYING
                else:
                    due = s_fptr[n] < src_ptr[n + 1] and f_t0[src_flows[s_fptr[n]]] <= t
                if due:
                    nfree[0] -= 1
                    pk = free[nfree[0]]
                    pk_src[pk] = n
                    if mode == 0:
                        ct = s_next[n]
                        s_next[n] = ct + _geom(rng, rate_pkt, lq_rate)
                        if pattern == 0:
                            d = _rng_int(rng, N)
                        elif pattern == 1:
                            d = pat_dest[n]
                        else:
                            if _rng_float(rng) < hot_frac:
                                d = hot_nodes[_rng_int(rng, hot_nodes.shape[0])]
                            else:
                                d = _rng_int(rng, N)
                        pk_dst[pk] = d
                        pk_info[pk] = r_row[d] | (np.int64(r_col[d]) << 16)
                        pk_size[pk] = pkt_size
                        pk_ct[pk] = ct
                        pk_flow[pk] = -1
                        rec = 0
                        if sim_state == RUNNING or (sim_state == DRAINING and ct < drain_time):
                            rec = 1
                        pk_rec[pk] = rec
                    else:
                        f = src_flows[s_fptr[n]]
                        fl = f_flits[f]
                        per = f_pkt[f]
                        npk = (fl + per - 1) // per
                        i0 = s_fpk[n]
                        sz = per if i0 < npk - 1 else fl - per * (npk - 1)
                        if i0 == 0:
                            flow_done[f] = -npk
                        s_fpk[n] = i0 + 1
                        if i0 + 1 == npk:
                            s_fpk[n] = 0
                            s_fptr[n] += 1
                            # skip empty flows
                            while s_fptr[n] < src_ptr[n + 1] and f_flits[src_flows[s_fptr[n]]] <= 0:
                                s_fptr[n] += 1
                        d = f_dst[f]
                        pk_dst[pk] = d
                        pk_info[pk] = (r_row[d] | (np.int64(r_col[d]) << 16)
                                       | (np.int64(f_order[f]) << 32)
                                       | (np.int64(f_color[f] + 1) << 33))
                        pk_size[pk] = sz
                        pk_ct[pk] = f_t0[f]
                        pk_flow[pk] = f
                        pk_rec[pk] = 1
                    s_pk[n] = pk
                    s_sent[n] = 0
                    acc[A_INFL_FLITS] += pk_size[pk]
                    acc[A_INFL_CT_SUM] += np.float64(pk_size[pk]) * pk_ct[pk]
                    if pk_rec[pk] != 0:
                        acc[A_MEAS_INFL] += pk_size[pk]
                else:
                    # nothing due: park the source in the heap
                    if mode == 0:
                        key = s_next[n] if sim_state != EMPTYING else -1
                    elif s_fptr[n] < src_ptr[n + 1]:
                        key = f_t0[src_flows[s_fptr[n]]]
                    else:
                        key = -1
                    insl[n] = False
                    ns -= 1
                    slist[k] = slist[ns]
                    if key >= 0:
                        nh = _heap_push(h_key, h_val, nh, key, n)
                    continue
            pk = s_pk[n]
            ovb = n << vb
            sent = s_sent[n]
            ok = False
            w = 0
            if sent == 0:
                # pick an injection VC: free and with a credit
                bm = s_busy[n]
                colr = (pk_info[pk] >> 33) - 1
                if colr >= 0:
                    w = colr % V
                    if (bm >> w) & 1 == 0 and s_cred[ovb + w] > 0:
                        ok = True
                else:
                    w = s_last[n]
                    for i in range(V):
                        w += 1
                        if w == V:
                            w = 0
                        if (bm >> w) & 1 == 0 and s_cred[ovb + w] > 0:
                            ok = True
                            break
                if ok:
                    s_busy[n] = bm | (np.int64(1) << w)
                    s_tailm[n] &= ~(np.int64(1) << w)
                    s_vc[n] = w
                    s_last[n] = w
                    pk_it[pk] = t
                    if mode == 1:
                        f = pk_flow[pk]
                        if flow_start[f] < 0:
                            flow_start[f] = t
            else:
                w = s_vc[n]
                ok = s_cred[ovb + w] > 0
            if ok:
                size = pk_size[pk]
                tail = 1 if sent == size - 1 else 0
                code = pk * 4 + (2 if sent == 0 else 0) + tail
                s_cred[ovb + w] -= 1
                if tail:
                    if wait_tail:
                        s_tailm[n] |= np.int64(1) << w
                    else:
                        s_busy[n] &= ~(np.int64(1) << w)
                kq = _fifo(IQ, 0 if n < nsplit else 1, 0)
                j = QS[kq, 1] & (QT.shape[1] - 1)
                QT[kq, j] = t + d_inj
                QE[kq, j] = ((((n * P + LOCAL) << vb) | w) << 32) | code
                store_release(QS[kq], 1, QS[kq, 1] + 1)
                last_progress = t
                if tail:
                    s_pk[n] = -1
                else:
                    s_sent[n] = sent + 1
            k += 1

        # ======== 5. routers ========
        # each active router switches at most P flits and returns at most P credits
        if not threaded:
            if not _q_fits(QT, QS, P * na, qrows, nrow):
                QT, QE = _q_room_all(QT, QE, QS, P * na, qrows)
        for X in range(nrun):
            idle, moved = _phase_routers(t, X, _raw(QT), _raw(QE), _raw(QS), _raw(amaps)[X],
                                         _raw(asums)[X], _raw(visits)[X], _raw(vr), _raw(rs),
                                         _raw(owner), _raw(oc_cred), _raw(tailm),
                                         _raw(busy), _raw(ready), _raw(va_gptr), _raw(va_aptr),
                                         _raw(link_flits), _raw(pk_info), _raw(r_row),
                                         _raw(r_col), _raw(nb_iv), _raw(nb_ov), ivsplit, ovsplit,
                                         _raw(qw), _raw_all(scratch), V, B, wait_tail, rd, vad, sad, st,
                                         L, cd, iters)
            nap[X] -= idle
            if moved:
                last_progress = t
        if threaded:
            _spin(ctl, C_DONE, go, True)
            if ctl[C_MOVED] != 0:
                last_progress = t
            _fold(acc, accs[1], free, nfree, free1, nfree1)
        na = 0
        for X in range(nparts):
            na += nap[X]
        ev = 0
        for i in range(nrow):
            k = qrows[i]
            ev += QS[k, 1] - QS[k, 0]
        if ev > events_max:
            events_max = ev
        # ======== 6. advance time: skip cycles where nothing can happen ========
        if na > 0 or ns > 0 or (mode == 0 and sim_state == EMPTYING):
            t += 1
        else:
            nt = np.int64(1) << 62
            for i in range(nrow):
                k = qrows[i]
                qn = _q_next(_raw(QT)[k], _raw(QS)[k])
                if qn < nt:
                    nt = qn
            if nh > 0 and h_key[0] < nt:
                nt = h_key[0]
            if mode == 0 and sim_state != DRAINING and checkpoint < nt:
                nt = checkpoint
            if max_cycles > 0 and max_cycles < nt:
                nt = max_cycles
            if nt >= (np.int64(1) << 62):
                # nothing left anywhere
                t += 1
                if mode == 1 and acc[A_FLOWS_LEFT] > 0:
                    deadlock = True
                break
            t = nt if nt > t else t + 1
        if mode == 1 and stall_limit > 0 and na > 0 and t - last_progress > stall_limit:
            deadlock = True
            break

    if ctl[C_THREADS] > 1:
        store_release(ctl, C_GO, -1)        # the worker returns
    stats[S_CYCLES] = t
    stats[S_PLAT_SUM] = acc[A_PLAT_SUM]
    stats[S_PLAT_CNT] = acc[A_PLAT_CNT]
    stats[S_PLAT_MAX] = acc[A_PLAT_MAX]
    stats[S_NLAT_SUM] = acc[A_NLAT_SUM]
    stats[S_HOPS_SUM] = acc[A_HOPS_SUM]
    stats[S_ACC_FLITS] = acc[A_ACC_FLITS]
    stats[S_ACC_CYCLES] = acc_cycles if acc_cycles > 0 else np.float64(t - reset_time)
    stats[S_FLIT_HOPS] = np.float64(link_flits.sum())
    stats[S_SATURATED] = 1.0 if saturated else 0.0
    stats[S_DEADLOCK] = 1.0 if deadlock else 0.0
    stats[S_PKTS_DONE] = acc[A_PK_DONE]
    stats[S_FLITS_DONE] = acc[A_FL_DONE]
    stats[S_PHASES] = total_phases
    stats[S_EVENTS_MAX] = events_max
    stats[S_FRAG_SUM] = acc[A_FRAG_SUM]
    return 0
