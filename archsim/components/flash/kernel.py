"""Event-driven, cycle-level NAND flash kernel (Numba).

Resources: channels (a shared bus: one transaction at a time), dies (one compute core each,
optional), planes (a memory array, a data register and a cache register each).
Time is int64 picoseconds.

Operations (one page each), queued per plane in the order given:
  READ     command on the channel -> array read tR (x (1 + retries)) into the data register
           -> (cache read) moved to the cache register, freeing the array for the next read
           -> data-out on the channel, whole or in slices (each slice one bus transaction).
  RC       Read-Compute: the ops of a group (one per compute core of a channel) share one
           broadcast transaction carrying the command and the input vector; each then reads
           its page (tR), the die's core consumes the page from the register (ECC check +
           MACs), and the result vector goes out on the channel. A core's buffers hold
           `core_buffer` bytes of the groups' vector slices (input + results, grp_slice_bytes
           per op; 0 = unbounded): a plane arms for a group only when its core has room for
           the slice, freed when that op's result has left. An op with op_sensed >= 0 had its page read ahead into the register (the
           data register serves the next request while the core computes): its array is
           done at max(broadcast end, op_sensed).
  PROGRAM  command + data-in on the channel -> array program tPROG.
  ERASE    command -> array erase tBERS.
Channel arbitration: of the transactions waiting for a free bus, the one ready earliest goes
first (ties: a command before data, then the lower transaction index). `rc_priority` puts a
class first: 1, the Read-Compute broadcasts and results before any page-read traffic (read
data then fills the bus's bubbles, the paper's Slice Control); 2, page-read commands and
data before Read-Compute traffic (read data sent continuously, Read-Compute waiting for a gap
in it: Cambricon-LLM without Slice Control); 0, neither. A transaction is not pre-empted, so
an unsliced 16 KB data-out holds the bus for its whole length, which is what read slicing
cures.
Host requests (a set of operations) are admitted in order, at most `queue_depth` at once
(0 = all at time 0); an operation enters its plane queue when its request is admitted.

Event queue: a binary heap of (time, sequence) over int64 arrays, so runs are exact and
deterministic.
"""

from __future__ import annotations

import numba
import numpy as np

# operation kinds
READ, RC, PROGRAM, ERASE = 0, 1, 2, 3
# event kinds
EV_PLANE, EV_TXN, EV_ARRAY, EV_CORE, EV_CHAN = 0, 1, 2, 3, 4
# transaction kinds
TX_CMD, TX_OUT, TX_RESULT, TX_BCAST, TX_DATAIN = 0, 1, 2, 3, 4
# channel arbitration (`rc_priority`): earliest ready, Read-Compute first, page reads first
BUS_EARLIEST, BUS_RC_FIRST, BUS_PAGES_FIRST = 0, 1, 2


@numba.njit(cache=True)
def _push(ht, hs, hk, hi, n, t, seq, kind, idx):
    """Push (t, seq) with payload (kind, idx) onto the heap of size n; return n + 1."""
    i = n
    ht[i] = t
    hs[i] = seq
    hk[i] = kind
    hi[i] = idx
    while i > 0:
        p = (i - 1) >> 1
        if ht[p] < ht[i] or (ht[p] == ht[i] and hs[p] < hs[i]):
            break
        ht[p], ht[i] = ht[i], ht[p]
        hs[p], hs[i] = hs[i], hs[p]
        hk[p], hk[i] = hk[i], hk[p]
        hi[p], hi[i] = hi[i], hi[p]
        i = p
    return n + 1


@numba.njit(cache=True)
def _pop(ht, hs, hk, hi, n):
    """Remove the top; return the new size (the top was at index 0 before the call)."""
    n -= 1
    ht[0] = ht[n]
    hs[0] = hs[n]
    hk[0] = hk[n]
    hi[0] = hi[n]
    i = 0
    while True:
        l = 2 * i + 1
        r = l + 1
        s = i
        if l < n and (ht[l] < ht[s] or (ht[l] == ht[s] and hs[l] < hs[s])):
            s = l
        if r < n and (ht[r] < ht[s] or (ht[r] == ht[s] and hs[r] < hs[s])):
            s = r
        if s == i:
            break
        ht[s], ht[i] = ht[i], ht[s]
        hs[s], hs[i] = hs[i], hs[s]
        hk[s], hk[i] = hk[i], hk[s]
        hi[s], hi[i] = hi[i], hi[s]
        i = s
    return n


@numba.njit(cache=True)
def _grow(a):
    b = np.zeros(2 * a.shape[0], dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@numba.njit(cache=True, inline="always")
def _op_done(r, now, req_left, req_finish, admitted, req_submit, rptr, rops, op_plane,
             next_req, n_req, outstanding, qd, ht, hs, hk, hi, hn, seq):
    """An op of request r finished: if it was the request's last, the request completes and
    the queue admits the next ones (their ops wake their planes)."""
    req_left[r] -= 1
    if req_left[r] == 0:
        req_finish[r] = now
        outstanding -= 1
        while next_req < n_req and outstanding < qd:
            admitted[next_req] = True
            req_submit[next_req] = now
            next_req += 1
            outstanding += 1
            for j in range(rptr[next_req - 1], rptr[next_req]):
                if hn + 2 >= ht.shape[0]:
                    ht = _grow(ht)
                    hs = _grow(hs)
                    hk = _grow(hk)
                    hi = _grow(hi)
                hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, op_plane[rops[j]])
                seq += 1
    return next_req, outstanding, ht, hs, hk, hi, hn, seq


@numba.njit(cache=True, inline="always")
def _queue_slice(o, nb, now, ch, slice_bytes, t_xfer_over, ps_per_byte_x1024, u, tx_kind, tx_idx,
                 tx_dur, tx_left, tx_ready, pend, pend_n):
    """Queue transfer u: the next slice (all of it when unsliced) of the nb bytes op o still has
    to send, on channel ch's bus from `now`. Returns the next free transfer index."""
    sb = nb if slice_bytes <= 0 or nb < slice_bytes else slice_bytes
    tx_kind[u] = TX_OUT
    tx_idx[u] = o
    tx_dur[u] = t_xfer_over + (sb * ps_per_byte_x1024 + 1023) // 1024
    tx_left[u] = nb - sb
    tx_ready[u] = now
    pend[ch, pend_n[ch]] = u
    pend_n[ch] += 1
    return u + 1


@numba.njit(cache=True)
def simulate(n_channels, planes_per_die, dies_per_channel,
             t_read, t_prog, t_erase, t_cmd, t_xfer_over, ps_per_byte_x1024,
             slice_bytes, cache_read,
             op_kind, op_plane, op_bytes, op_out_bytes, op_group, op_req, op_retries, op_compute,
             grp_in_bytes, grp_members,
             n_req, queue_depth, rc_priority, core_buffer, grp_slice_bytes, op_sensed):
    """Run the operations; return per-op finish times, per-request submit/finish times and
    per-channel busy time.

    Plane ids: plane = (channel * dies_per_channel + die) * planes_per_die + p.
    ps_per_byte_x1024: bus picoseconds per byte, times 1024 (fixed point).
    op_compute: core picoseconds for an RC op (ECC + MACs). grp_members: ops per group.
    """
    n_ops = op_kind.shape[0]
    n_dies = n_channels * dies_per_channel
    n_planes = n_dies * planes_per_die
    # --- per-plane queues (CSR by plane, in op order) -------------------------------------
    cnt = np.zeros(n_planes + 1, dtype=np.int64)
    for i in range(n_ops):
        cnt[op_plane[i] + 1] += 1
    ptr = np.zeros(n_planes + 1, dtype=np.int64)
    for p in range(n_planes):
        ptr[p + 1] = ptr[p] + cnt[p + 1]
    fill = ptr[:-1].copy()
    pq = np.empty(n_ops, dtype=np.int64)
    for i in range(n_ops):
        pq[fill[op_plane[i]]] = i
        fill[op_plane[i]] += 1
    head = ptr[:-1].copy()
    # --- state -----------------------------------------------------------------------------
    array_busy = np.zeros(n_planes, dtype=np.bool_)
    data_reg = np.full(n_planes, -1, dtype=np.int64)
    cache_reg = np.full(n_planes, -1, dtype=np.int64)
    waiting_grp = np.full(n_planes, -1, dtype=np.int64)   # plane armed for an RC group
    core_busy = np.zeros(n_dies, dtype=np.bool_)
    core_q = np.full((n_dies, planes_per_die), -1, dtype=np.int64)   # FIFO of ops for the core
    core_qn = np.zeros(n_dies, dtype=np.int64)
    buf_free = np.full(n_dies, core_buffer, dtype=np.int64)
    n_grp = grp_in_bytes.shape[0]
    grp_ready = np.zeros(n_grp, dtype=np.int64)
    # group members (CSR) for the broadcast release
    gcnt = np.zeros(n_grp + 1, dtype=np.int64)
    for i in range(n_ops):
        if op_kind[i] == RC:
            gcnt[op_group[i] + 1] += 1
    gptr = np.zeros(n_grp + 1, dtype=np.int64)
    for g in range(n_grp):
        gptr[g + 1] = gptr[g] + gcnt[g + 1]
    gfill = gptr[:-1].copy()
    gops = np.empty(gptr[n_grp], dtype=np.int64)
    for i in range(n_ops):
        if op_kind[i] == RC:
            gops[gfill[op_group[i]]] = i
            gfill[op_group[i]] += 1
    # transactions: a pool; pending lists per channel
    max_slices = 1
    for i in range(n_ops):
        if slice_bytes > 0:
            ns = (op_bytes[i] + slice_bytes - 1) // slice_bytes
            if ns > max_slices:
                max_slices = ns
    max_tx = (3 + max_slices) * n_ops + n_grp + 16
    tx_kind = np.zeros(max_tx, dtype=np.int64)
    tx_idx = np.zeros(max_tx, dtype=np.int64)       # op (or group for BCAST)
    tx_dur = np.zeros(max_tx, dtype=np.int64)
    tx_ready = np.zeros(max_tx, dtype=np.int64)
    tx_left = np.zeros(max_tx, dtype=np.int64)      # bytes left after this slice (TX_OUT)
    n_tx = 0
    cap = 4 * dies_per_channel * planes_per_die + 8
    pend = np.full((n_channels, cap), -1, dtype=np.int64)
    pend_n = np.zeros(n_channels, dtype=np.int64)
    chan_busy = np.zeros(n_channels, dtype=np.bool_)
    chan_busy_ps = np.zeros(n_channels, dtype=np.int64)
    # requests
    req_submit = np.full(n_req, -1, dtype=np.int64)
    req_finish = np.zeros(n_req, dtype=np.int64)
    req_left = np.zeros(n_req, dtype=np.int64)
    for i in range(n_ops):
        req_left[op_req[i]] += 1
    admitted = np.zeros(n_req, dtype=np.bool_)
    rptr = np.zeros(n_req + 1, dtype=np.int64)
    for i in range(n_ops):
        rptr[op_req[i] + 1] += 1
    for r in range(n_req):
        rptr[r + 1] += rptr[r]
    rfill = rptr[:-1].copy()
    rops = np.empty(n_ops, dtype=np.int64)
    for i in range(n_ops):
        rops[rfill[op_req[i]]] = i
        rfill[op_req[i]] += 1
    op_finish = np.full(n_ops, -1, dtype=np.int64)
    # event heap
    hmax = 4 * n_planes + 2 * n_channels + 1024
    ht = np.zeros(hmax, dtype=np.int64)
    hs = np.zeros(hmax, dtype=np.int64)
    hk = np.zeros(hmax, dtype=np.int64)
    hi = np.zeros(hmax, dtype=np.int64)
    hn = 0
    seq = 0
    # admission
    qd = queue_depth if queue_depth > 0 else n_req
    next_req = 0
    outstanding = 0
    while next_req < n_req and outstanding < qd:
        admitted[next_req] = True
        req_submit[next_req] = 0
        next_req += 1
        outstanding += 1
    for p in range(n_planes):
        hn = _push(ht, hs, hk, hi, hn, 0, seq, EV_PLANE, p)
        seq += 1
    now = np.int64(0)
    burst = 64
    for g in range(n_grp):
        if gptr[g + 1] - gptr[g] + 64 > burst:
            burst = gptr[g + 1] - gptr[g] + 64
    while hn > 0:
        if hn + burst >= ht.shape[0]:
            ht = _grow(ht)
            hs = _grow(hs)
            hk = _grow(hk)
            hi = _grow(hi)
        now = ht[0]
        kind = hk[0]
        idx = hi[0]
        hn = _pop(ht, hs, hk, hi, hn)
        if kind == EV_PLANE:
            p = idx
            if array_busy[p] or data_reg[p] >= 0 or waiting_grp[p] >= 0 or head[p] >= ptr[p + 1]:
                continue
            o = pq[head[p]]
            if not admitted[op_req[o]]:
                continue
            # without cache read the array waits for the page to leave the data register
            if cache_read == 0 and cache_reg[p] >= 0:
                continue
            ch = p // (dies_per_channel * planes_per_die)
            if op_kind[o] == RC:
                g = op_group[o]
                if core_buffer > 0:
                    d = p // planes_per_die
                    if buf_free[d] < grp_slice_bytes[g]:
                        continue        # re-armed when a result frees the core's buffer
                    buf_free[d] -= grp_slice_bytes[g]
                waiting_grp[p] = g
                head[p] += 1
                grp_ready[g] += 1
                if grp_ready[g] == grp_members[g]:
                    t = n_tx
                    n_tx += 1
                    tx_kind[t] = TX_BCAST
                    tx_idx[t] = g
                    tx_left[t] = ch
                    tx_dur[t] = t_cmd + (grp_in_bytes[g] * ps_per_byte_x1024 + 1023) // 1024
                    tx_ready[t] = now
                    pend[ch, pend_n[ch]] = t
                    pend_n[ch] += 1
                    hn = _push(ht, hs, hk, hi, hn, now, seq, EV_CHAN, ch)
                    seq += 1
                continue
            head[p] += 1
            array_busy[p] = True        # reserved: the command is on its way
            t = n_tx
            n_tx += 1
            if op_kind[o] == PROGRAM:
                tx_kind[t] = TX_DATAIN
                tx_dur[t] = t_cmd + (op_bytes[o] * ps_per_byte_x1024 + 1023) // 1024
            else:
                tx_kind[t] = TX_CMD
                tx_dur[t] = t_cmd
            tx_idx[t] = o
            tx_ready[t] = now
            pend[ch, pend_n[ch]] = t
            pend_n[ch] += 1
            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_CHAN, ch)
            seq += 1
        elif kind == EV_CHAN:
            ch = idx
            if chan_busy[ch] or pend_n[ch] == 0:
                continue
            best = 0
            for j in range(1, pend_n[ch]):
                a = pend[ch, j]
                b = pend[ch, best]
                if rc_priority != 0:
                    pa = 0 if (tx_kind[a] == TX_BCAST or tx_kind[a] == TX_RESULT) else 1
                    pb = 0 if (tx_kind[b] == TX_BCAST or tx_kind[b] == TX_RESULT) else 1
                    if rc_priority == BUS_PAGES_FIRST:
                        # page reads first: the classes swap
                        pa = 1 - pa
                        pb = 1 - pb
                    if pa != pb:
                        if pa < pb:
                            best = j
                        continue
                if tx_ready[a] < tx_ready[b]:
                    best = j
                elif tx_ready[a] == tx_ready[b]:
                    # a command (it starts an array) goes before data ready at the same time
                    ca = 0 if tx_kind[a] == TX_CMD else 1
                    cb = 0 if tx_kind[b] == TX_CMD else 1
                    if ca < cb or (ca == cb and a < b):
                        best = j
            t = pend[ch, best]
            pend_n[ch] -= 1
            pend[ch, best] = pend[ch, pend_n[ch]]
            chan_busy[ch] = True
            chan_busy_ps[ch] += tx_dur[t]
            hn = _push(ht, hs, hk, hi, hn, now + tx_dur[t], seq, EV_TXN, t)
            seq += 1
        elif kind == EV_TXN:
            t = idx
            tk = tx_kind[t]
            o = tx_idx[t]
            if tk == TX_BCAST:
                ch = tx_left[t]
                for j in range(gptr[o], gptr[o + 1]):
                    q = gops[j]
                    p = op_plane[q]
                    waiting_grp[p] = -1
                    array_busy[p] = True
                    done = now + t_read * (1 + op_retries[q])
                    if op_sensed[q] >= 0:
                        done = op_sensed[q] if op_sensed[q] > now else now
                    hn = _push(ht, hs, hk, hi, hn, done, seq, EV_ARRAY, q)
                    seq += 1
            else:
                p = op_plane[o]
                ch = p // (dies_per_channel * planes_per_die)
                if tk == TX_CMD:
                    dur = t_erase if op_kind[o] == ERASE else t_read * (1 + op_retries[o])
                    hn = _push(ht, hs, hk, hi, hn, now + dur, seq, EV_ARRAY, o)
                    seq += 1
                elif tk == TX_DATAIN:
                    hn = _push(ht, hs, hk, hi, hn, now + t_prog, seq, EV_ARRAY, o)
                    seq += 1
                elif tk == TX_OUT:
                    if tx_left[t] > 0:
                        # the next slice competes for the bus again
                        n_tx = _queue_slice(o, tx_left[t], now, ch, slice_bytes, t_xfer_over,
                                            ps_per_byte_x1024, n_tx, tx_kind, tx_idx, tx_dur,
                                            tx_left, tx_ready, pend, pend_n)
                    else:
                        # the page has left: free its register
                        if cache_reg[p] == o:
                            cache_reg[p] = -1
                            if data_reg[p] >= 0:
                                q = data_reg[p]
                                data_reg[p] = -1
                                cache_reg[p] = q
                                n_tx = _queue_slice(q, op_bytes[q], now, ch, slice_bytes,
                                                    t_xfer_over, ps_per_byte_x1024, n_tx, tx_kind,
                                                    tx_idx, tx_dur, tx_left, tx_ready, pend, pend_n)
                        elif data_reg[p] == o:
                            data_reg[p] = -1
                        op_finish[o] = now
                        hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, p)
                        seq += 1
                elif tk == TX_RESULT:
                    op_finish[o] = now
                    if core_buffer > 0:
                        d = p // planes_per_die
                        buf_free[d] += grp_slice_bytes[op_group[o]]
                        for pp in range(d * planes_per_die, (d + 1) * planes_per_die):
                            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, pp)
                            seq += 1
            chan_busy[ch] = False
            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_CHAN, ch)
            seq += 1
            # request completion and admission of the next
            if tk != TX_BCAST and (tk == TX_RESULT or (tk == TX_OUT and tx_left[t] == 0)):
                next_req, outstanding, ht, hs, hk, hi, hn, seq = _op_done(
                    op_req[o], now, req_left, req_finish, admitted, req_submit, rptr, rops,
                    op_plane, next_req, n_req, outstanding, qd, ht, hs, hk, hi, hn, seq)
        elif kind == EV_ARRAY:
            o = idx
            p = op_plane[o]
            ch = p // (dies_per_channel * planes_per_die)
            array_busy[p] = False
            k = op_kind[o]
            if k == PROGRAM or k == ERASE:
                op_finish[o] = now
                next_req, outstanding, ht, hs, hk, hi, hn, seq = _op_done(
                    op_req[o], now, req_left, req_finish, admitted, req_submit, rptr, rops,
                    op_plane, next_req, n_req, outstanding, qd, ht, hs, hk, hi, hn, seq)
                hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, p)
                seq += 1
                continue
            # page sensed into the data register
            if cache_reg[p] < 0 and cache_read != 0:
                cache_reg[p] = o
                moved = True
            elif cache_read == 0:
                data_reg[p] = -1
                cache_reg[p] = o        # without cache read the one register is "cache"
                moved = True
            else:
                data_reg[p] = o
                moved = False
            # the plane may take its next command now (cache read): queue it before the data
            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, p)
            seq += 1
            if moved:
                if k == READ:
                    n_tx = _queue_slice(o, op_bytes[o], now, ch, slice_bytes, t_xfer_over,
                                        ps_per_byte_x1024, n_tx, tx_kind, tx_idx, tx_dur, tx_left,
                                        tx_ready, pend, pend_n)
                    hn = _push(ht, hs, hk, hi, hn, now, seq, EV_CHAN, ch)
                    seq += 1
                else:
                    d = p // planes_per_die
                    core_q[d, core_qn[d]] = o
                    core_qn[d] += 1
                    if not core_busy[d]:
                        core_busy[d] = True
                        hn = _push(ht, hs, hk, hi, hn, now + op_compute[core_q[d, 0]], seq, EV_CORE, d)
                        seq += 1
        elif kind == EV_CORE:
            d = idx
            o = core_q[d, 0]
            for j in range(1, core_qn[d]):
                core_q[d, j - 1] = core_q[d, j]
            core_qn[d] -= 1
            core_q[d, core_qn[d]] = -1
            p = op_plane[o]
            ch = p // (dies_per_channel * planes_per_die)
            # the page is consumed: free the register, move a waiting page up
            cache_reg[p] = -1
            if data_reg[p] >= 0:
                q = data_reg[p]
                data_reg[p] = -1
                cache_reg[p] = q
                core_q[d, core_qn[d]] = q
                core_qn[d] += 1
            # result vector out
            u = n_tx
            n_tx += 1
            tx_kind[u] = TX_RESULT
            tx_idx[u] = o
            tx_dur[u] = t_xfer_over + (op_out_bytes[o] * ps_per_byte_x1024 + 1023) // 1024
            tx_ready[u] = now
            pend[ch, pend_n[ch]] = u
            pend_n[ch] += 1
            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_CHAN, ch)
            seq += 1
            if core_qn[d] > 0:
                hn = _push(ht, hs, hk, hi, hn, now + op_compute[core_q[d, 0]], seq, EV_CORE, d)
                seq += 1
            else:
                core_busy[d] = False
            hn = _push(ht, hs, hk, hi, hn, now, seq, EV_PLANE, p)
            seq += 1
    return op_finish, req_submit, req_finish, chan_busy_ps
