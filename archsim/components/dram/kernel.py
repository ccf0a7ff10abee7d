"""The cycle-level memory-controller kernel (Numba).

One call simulates C channels fed by one in-order front end. Per channel: a read queue, a
write queue (drained in write mode between watermarks), an active queue (requests whose row
was opened for them), and a maintenance queue (refresh). Scheduling is FR-FCFS: the oldest
request whose next command meets every timing rule now. Timing lives in per-node ready
tables (channel, rank/pseudo-channel, [SID], bank group, bank): issuing a command pushes
forward the earliest tick of every command it constrains. Time advances by events: when no
command can issue and the front end is blocked, the clock jumps to the next tick at which a
queued command may become legal (or a refresh falls due); an early visit issues nothing and
changes nothing.

Semantics follow the controllers that architects calibrate against: a DDR controller issues
at most one command per tick; an HBM controller one column and one row command per tick
(HBM3: column commands and ACT on rising edges only, with the PRE pairing rules of the
half-cycle row bus). A request's row-buffer outcome (hit, miss, conflict) is counted when its
first command issues; read latency runs from arrival in the queue to data return (the
column command plus CL + BL); the run ends when the front end has sent its last request.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from archsim.components.dram.standards import CMD

ACT, PRE, PREA, RD, WR, RDA, WRA, REFAB, REFPB = (CMD[c] for c in
                                                  ("ACT", "PRE", "PREA", "RD", "WR", "RDA", "WRA",
                                                   "REFab", "REFpb"))
# queue ids
QR, QW, QA, QP = 0, 1, 2, 3
# entry fields
F_ARR, F_ADDR, F_BANK, F_ROW, F_TYPE, F_STAT, F_FINAL, F_CCMD, F_CR = range(9)
NF = 9
NEVER = np.int64(2) ** 62
U1 = np.uint64(1)

# stats slots
S_HIT, S_MISS, S_CONF, S_RSERVED, S_WSERVED, S_LATSUM, S_LATN, S_RREQ, S_WREQ, S_FWD, S_COAL, \
    S_MAINT, S_VISITS = range(13)
NSTAT = 13

_cache = dict(cache=True, nogil=True, error_model="numpy")
_inl = dict(cache=True, nogil=True, inline="always")


@nb.njit(**_inl)
def _ready_time(ready, ch, cmd, bank, scope, bank_path, level_size, nlev):
    """Earliest tick at which `cmd` meets every rule on the nodes it touches."""
    r = np.int64(-1)
    if scope < 0:
        for l in range(nlev):
            v = ready[ch, bank_path[bank, l], cmd]
            if v > r:
                r = v
        return r
    for l in range(scope + 1):
        v = ready[ch, bank_path[bank, l], cmd]
        if v > r:
            r = v
    cnt = 1
    for l in range(scope + 1, nlev):
        cnt *= level_size[l]
        first = bank_path[bank, l]
        for n in range(first, first + cnt):
            v = ready[ch, n, cmd]
            if v > r:
                r = v
    return r


@nb.njit(**_inl)
def _scope_banks(bank, scope, level_size, nlev):
    """First bank and bank count of the all-bank scope containing `bank`."""
    per = 1
    for l in range(scope + 1, nlev):
        per *= level_size[l]
    return (bank // per) * per, per


@nb.njit(**_inl)
def _preq(final, bank, row, scope, open_row, ch, level_size, nlev):
    if final == REFAB:
        b0, nb_ = _scope_banks(bank, scope, level_size, nlev)
        for b in range(b0, b0 + nb_):
            if open_row[ch, b] >= 0:
                return PREA
        return REFAB
    if final == REFPB:
        return PRE if open_row[ch, bank] >= 0 else REFPB
    o = open_row[ch, bank]
    if o < 0:
        return ACT
    if o == row:
        return final
    return PRE


@nb.njit(**_inl)
def _cmd_scope(cmd, scope):
    # all-bank commands (PREA for a refresh, REFab) use the refresh scope; others one bank
    if cmd == PREA or cmd == REFAB:
        return scope
    return -1


@nb.njit(**_inl)
def _would_close(cmd, bank, scope, active_cnt, active_total, ch, level_size, nlev):
    if active_total == 0:
        return False
    if cmd == PRE or cmd == RDA or cmd == WRA:
        return active_cnt[ch, bank] > 0
    if cmd == PREA:
        b0, nb_ = _scope_banks(bank, scope, level_size, nlev)
        for b in range(b0, b0 + nb_):
            if active_cnt[ch, b] > 0:
                return True
    return False


@nb.njit(**_inl)
def _edge_ok(cmd, clk, edge_rules, pair_clk, pair_pc, pair_all, pair_bank, bank, bank_pc):
    if edge_rules == 0:
        return True
    if clk % 2 == 1:
        return True
    if cmd != PRE and cmd != PREA:
        return False
    if clk != pair_clk:
        return True
    if pair_pc != bank_pc:
        return True
    if pair_all:
        return False
    return cmd == PRE and bank != pair_bank



@nb.njit(**_inl)
def _push_maint(buf, cnt, ch, t, bank, final):
    n = cnt[ch, QP]
    buf[ch, QP, n, F_ARR] = t
    buf[ch, QP, n, F_ADDR] = -1
    buf[ch, QP, n, F_BANK] = bank
    buf[ch, QP, n, F_ROW] = -1
    buf[ch, QP, n, F_TYPE] = -1
    buf[ch, QP, n, F_STAT] = 1
    buf[ch, QP, n, F_FINAL] = final
    cnt[ch, QP] = n + 1


@nb.njit(**_inl)
def _recount_hits(buf, bmask, hits, ch, b, old, new):
    # bank b's open row goes from `old` to `new`: its read/write-queue requests on either row
    # change between row hit and not
    for qq in range(2):
        m = bmask[ch, qq, b]
        while m != 0:
            rr = buf[ch, qq, trailing_zeros(m), F_ROW]
            if rr == old:
                hits[ch, qq] -= 1
            if rr == new:
                hits[ch, qq] += 1
            m &= m - U1


@nb.njit(**_cache)
def simulate(
        # front end: one row per request
        req_ch, req_bank, req_row, req_addr, req_write, fe_per_tick,
        # organisation and rules
        nchan, nlev, level_size, level_offset, n_nodes, nbanks, bank_path, scope_level, pc_of_bank,
        c_start, c_next, c_lat, c_win, s_start, s_next, s_lat, hist_depth, has_sib, is_row, is_col,
        read_latency, refi, refresh_mode, dual_bus, edge_rules, row_policy,
        rq_cap, wq_cap, wr_low, wr_high,
        # command log (capacity 0 = off); every_tick=1 visits every tick (no event skipping)
        log, log_cap, every_tick=0):
    ncmd = is_row.shape[0]
    cap = max(rq_cap, wq_cap, nbanks, 64)
    buf = np.zeros((nchan, 4, cap, NF), dtype=np.int64)
    bflat = buf.reshape(-1)            # the same storage, flat
    cnt = np.zeros((nchan, 4), dtype=np.int64)
    ready = np.full((nchan, n_nodes, ncmd), -1, dtype=np.int64)
    hist = np.full((nchan, n_nodes, ncmd, 4), -1, dtype=np.int64)
    open_row = np.full((nchan, nbanks), -1, dtype=np.int64)
    active_cnt = np.zeros((nchan, nbanks), dtype=np.int64)
    write_mode = np.zeros(nchan, dtype=np.int64)
    stamp = np.ones(nchan, dtype=np.int64)
    memo_val = np.zeros((nchan, nbanks * ncmd), dtype=np.int64)
    bank_q = np.zeros((nchan, nbanks), dtype=np.int64)      # queued requests per bank
    memo_stamp = np.zeros((nchan, nbanks * ncmd), dtype=np.int64)
    next_evt = np.zeros(nchan, dtype=np.int64)
    next_ref = np.full(nchan, NEVER if refresh_mode == 2 else refi, dtype=np.int64)
    ref_bank = np.zeros(nchan, dtype=np.int64)
    stats = np.zeros((nchan, NSTAT), dtype=np.int64)
    ncmds = np.zeros((nchan, ncmd), dtype=np.int64)
    pcap = 1 << 14
    pend_dep = np.zeros((nchan, pcap), dtype=np.int64)
    pend_arr = np.zeros((nchan, pcap), dtype=np.int64)
    phead = np.zeros(nchan, dtype=np.int64)
    ptail = np.zeros(nchan, dtype=np.int64)
    pair_clk = np.full(nchan, -1, dtype=np.int64)
    pair_pc = np.full(nchan, -1, dtype=np.int64)
    pair_all = np.zeros(nchan, dtype=np.int64)
    pair_bank = np.full(nchan, -1, dtype=np.int64)
    nlog = 0
    scope_banks = 1
    for l in range(scope_level + 1, nlev):
        scope_banks *= level_size[l]
    n_scopes = nbanks // scope_banks
    nslots = 2 if dual_bus == 1 else 1
    # A request whose cached ready tick is still ahead cannot issue now, and that tick (a lower
    # bound) may stand for it in the next event, which then may come early (a visit that issues
    # nothing changes nothing). Where nearly every tick is visited anyway (two command buses)
    # that saves the exact look-ups; on one bus the exact next event saves more visits.
    lazy_next = dual_bus == 1
    # per-bank bit masks of queue positions (read, write, active queues) when a queue fits in
    # 64 entries: finding a bank's requests then touches only them
    use_mask = cap <= 64
    bmask = np.zeros((nchan, 3, nbanks), dtype=np.uint64)
    # read/write-queue requests that hit their bank's open row (known with the bank masks):
    # with none, a scan for the column bus has only row commands to find
    hits = np.zeros((nchan, 2), dtype=np.int64)
    if not use_mask:
        hits[:] = NEVER
    # the rules a one-bank command applies, flattened per (bank, command): node, constrained
    # command, latency, window (1: from now; w: from the w-th last such command at the node);
    # sibling rules are entries with window 1 on the sibling nodes
    plan_start = np.zeros(nbanks * ncmd + 1, dtype=np.int64)
    npl = 0
    for b in range(nbanks):
        for c in range(ncmd):
            plan_start[b * ncmd + c] = npl
            for l in range(nlev):
                npl += c_start[l * ncmd + c + 1] - c_start[l * ncmd + c]
                if l < nlev - 1 and has_sib[l + 1, c] == 1:
                    npl += (level_size[l + 1] - 1) * (s_start[(l + 1) * ncmd + c + 1] -
                                                      s_start[(l + 1) * ncmd + c])
    plan_start[nbanks * ncmd] = npl
    plan_node = np.zeros(npl, dtype=np.int64)
    plan_next = np.zeros(npl, dtype=np.int64)
    plan_lat = np.zeros(npl, dtype=np.int64)
    plan_win = np.zeros(npl, dtype=np.int64)
    npl = 0
    for b in range(nbanks):
        for c in range(ncmd):
            for l in range(nlev):
                n0 = bank_path[b, l]
                for ii in range(c_start[l * ncmd + c], c_start[l * ncmd + c + 1]):
                    plan_node[npl] = n0
                    plan_next[npl] = c_next[ii]
                    plan_lat[npl] = c_lat[ii]
                    plan_win[npl] = c_win[ii]
                    npl += 1
                if l < nlev - 1 and has_sib[l + 1, c] == 1:
                    sz = level_size[l + 1]
                    tgt = bank_path[b, l + 1]
                    f0 = level_offset[l + 1] + (n0 - level_offset[l]) * sz
                    for nn in range(f0, f0 + sz):
                        if nn != tgt:
                            for ii in range(s_start[(l + 1) * ncmd + c],
                                            s_start[(l + 1) * ncmd + c + 1]):
                                plan_node[npl] = nn
                                plan_next[npl] = s_next[ii]
                                plan_lat[npl] = s_lat[ii]
                                plan_win[npl] = 1
                                npl += 1

    nreq = req_ch.shape[0]
    idx = 0
    t = np.int64(0)          # memory ticks done
    first = True
    while idx < nreq:
        # ---- front end: its attempts before the next memory tick (arrival = t) ----
        attempts = 1 if first else fe_per_tick
        first = False
        for _a in range(attempts):
            if idx >= nreq:
                break
            ch = req_ch[idx]
            addr = req_addr[idx]
            wr = req_write[idx]
            q = -1
            inw = False
            for j in range(cnt[ch, QW]):
                if buf[ch, QW, j, F_ADDR] == addr:
                    inw = True
                    break
            if wr == 0:
                if inw:
                    # served from the write queue: data returns next tick
                    j = ptail[ch] % pcap
                    pend_dep[ch, j] = t + 1
                    pend_arr[ch, j] = t
                    ptail[ch] += 1
                    stats[ch, S_RREQ] += 1
                    stats[ch, S_FWD] += 1
                elif cnt[ch, QR] < rq_cap:
                    q = QR
                else:
                    break
            else:
                if inw:
                    stats[ch, S_WREQ] += 1
                    stats[ch, S_COAL] += 1
                elif cnt[ch, QW] < wq_cap:
                    q = QW
                else:
                    break
            if q >= 0:
                n = cnt[ch, q]
                buf[ch, q, n, F_ARR] = t
                buf[ch, q, n, F_ADDR] = addr
                buf[ch, q, n, F_BANK] = req_bank[idx]
                buf[ch, q, n, F_ROW] = req_row[idx]
                buf[ch, q, n, F_TYPE] = wr
                buf[ch, q, n, F_STAT] = 0
                buf[ch, q, n, F_FINAL] = WR if wr == 1 else RD
                buf[ch, q, n, F_CR] = -1
                cnt[ch, q] = n + 1
                bank_q[ch, req_bank[idx]] += 1
                if use_mask:
                    bmask[ch, q, req_bank[idx]] |= U1 << np.uint64(n)
                    if open_row[ch, req_bank[idx]] == req_row[idx]:
                        hits[ch, q] += 1
                stats[ch, S_WREQ if wr == 1 else S_RREQ] += 1
                # look again next tick (an arrival may also change the write mode)
                if next_evt[ch] > t + 1:
                    next_evt[ch] = t + 1
            idx += 1
        if idx >= nreq:
            break

        # ---- memory tick ----
        t += 1
        for ch in range(nchan):
            while phead[ch] < ptail[ch] and pend_dep[ch, phead[ch] % pcap] <= t:
                j = phead[ch] % pcap
                stats[ch, S_LATSUM] += pend_dep[ch, j] - pend_arr[ch, j]
                stats[ch, S_LATN] += 1
                phead[ch] += 1
            refreshed = False
            if t == next_ref[ch]:
                refreshed = True
                if refresh_mode == 0:
                    for s_ in range(n_scopes):
                        _push_maint(buf, cnt, ch, t, s_ * scope_banks, REFAB)
                        stats[ch, S_MAINT] += 1
                else:
                    _push_maint(buf, cnt, ch, t, ref_bank[ch], REFPB)
                    stats[ch, S_MAINT] += 1
                    ref_bank[ch] = (ref_bank[ch] + 1) % nbanks
                next_ref[ch] += refi
            if not refreshed and t < next_evt[ch]:
                continue
            stats[ch, S_VISITS] += 1
            issued_any = False
            fut = next_ref[ch]
            row_valid = False      # the row-bus pick, found by the column slot's scan
            row_i = -1
            row_cmd = -1
            row_q = -1
            row_st = -1
            for slot in range(nslots):
                # slot 0 of a dual-bus controller is the column bus (want 1), slot 1 the row bus
                want = 0 if dual_bus == 0 else (1 if slot == 0 else 2)
                allow = not (want == 1 and edge_rules == 1 and t % 2 == 0)
                if issued_any:
                    # the next visit is the next tick: the earliest future tick no longer matters
                    fut = t + 1
                active_total = cnt[ch, QA]
                st = stamp[ch]
                q = -1
                i = -1
                cmd = -1
                # phase 0: active queue (not on the row bus); 1: maintenance head; 2: read or write
                # queue (only with no maintenance pending). In a queue the oldest request whose
                # next command is legal now wins; the others give the earliest future tick.
                for phase in range(3):
                    if q >= 0:
                        break
                    if phase == 0:
                        if want == 2:
                            continue
                        qq = QA
                        filt = False
                    elif phase == 1:
                        if cnt[ch, QP] == 0:
                            continue
                        bank = buf[ch, QP, 0, F_BANK]
                        final = buf[ch, QP, 0, F_FINAL]
                        sc = scope_level if final == REFAB else -1
                        cp = _preq(final, bank, -1, scope_level, open_row, ch, level_size, nlev)
                        ok = not _would_close(cp, bank, sc, active_cnt, active_total, ch,
                                              level_size, nlev)
                        if ok and want == 1:
                            ok = is_col[cp] == 1
                        if ok and want == 2:
                            ok = is_row[cp] == 1
                        if ok:
                            r = _ready_time(ready, ch, cp, bank, _cmd_scope(cp, sc), bank_path,
                                            level_size, nlev)
                            if allow and r <= t and (want != 2 or _edge_ok(
                                    cp, t, edge_rules, pair_clk[ch], pair_pc[ch], pair_all[ch],
                                    pair_bank[ch], bank, pc_of_bank[bank])):
                                q = QP
                                i = 0
                                cmd = cp
                            else:
                                f = r if r > t else t + 1
                                if edge_rules == 1 and f % 2 == 0 and cp != PRE and cp != PREA:
                                    f += 1
                                if f < fut:
                                    fut = f
                        continue
                    else:
                        if cnt[ch, QP] > 0:
                            break
                        # write mode with hysteresis between the watermarks
                        if write_mode[ch] == 0:
                            if cnt[ch, QW] > wr_high * wq_cap or cnt[ch, QR] == 0:
                                write_mode[ch] = 1
                        else:
                            if cnt[ch, QW] < wr_low * wq_cap and cnt[ch, QR] != 0:
                                write_mode[ch] = 0
                        qq = QW if write_mode[ch] == 1 else QR
                        filt = True
                    if want == 2 and row_valid and row_st == stamp[ch] and row_q == qq:
                        # nothing issued on the column bus: the column slot's scan holds the answer
                        i = row_i
                        cmd = row_cmd
                        if i >= 0:
                            q = qq
                        continue
                    both = want == 1 and filt
                    if want != 0 and filt and (want == 2 or hits[ch, qq] == 0):
                        # only row commands (ACT, PRE) to find here: none can issue while the
                        # channel's rules (node 0) hold both back, e.g. the row bus busy after
                        # an ACT, and each waits at least that long
                        blk = min(ready[ch, 0, ACT], ready[ch, 0, PRE])
                        if blk > t:
                            if blk < fut:
                                fut = blk
                            if both:
                                row_valid = True
                                row_st = stamp[ch]
                                row_q = qq
                            continue
                    best_arr = NEVER
                    qbuf = buf[ch, qq]
                    for k in range(cnt[ch, qq]):
                        # the cached ready tick is a lower bound while the request's bank keeps
                        # its state (ready ticks only grow); -1: recompute; NEVER: blocked
                        r = qbuf[k, F_CR]
                        if r > t and r >= fut:
                            continue          # not ready and cannot set the next event
                        bank = qbuf[k, F_BANK]
                        if r < 0:
                            o = open_row[ch, bank]
                            if o < 0:
                                c_ = ACT
                            elif o == qbuf[k, F_ROW]:
                                c_ = qbuf[k, F_FINAL]
                            else:
                                c_ = PRE
                            qbuf[k, F_CCMD] = c_
                        else:
                            c_ = qbuf[k, F_CCMD]
                        rowc = False
                        if want == 1 and is_col[c_] == 0:
                            if not both or row_i >= 0:
                                continue      # the row bus already has its (oldest) pick
                            rowc = True       # also answer for the row bus of this tick
                        if want == 2 and is_row[c_] == 0:
                            continue
                        if filt and c_ == PRE and active_cnt[ch, bank] > 0:
                            # would close a row opened for another request: wait for it
                            qbuf[k, F_CR] = NEVER
                            continue
                        if r <= t or not lazy_next:
                            mk = bank * ncmd + c_
                            if memo_stamp[ch, mk] == st:
                                r = memo_val[ch, mk]
                            else:
                                r = np.int64(-1)
                                for l in range(nlev):
                                    v = ready[ch, bank_path[bank, l], c_]
                                    r = max(r, v)
                                    if v < -1:
                                        # never taken (ticks are >= -1); the exit keeps this
                                        # 4-5 step loop scalar: vector code here cost more
                                        break
                                memo_val[ch, mk] = r
                                memo_stamp[ch, mk] = st
                            qbuf[k, F_CR] = r
                        if rowc:
                            if r <= t and (edge_rules == 0 or t % 2 == 1 or
                                           _edge_ok(c_, t, edge_rules, pair_clk[ch], pair_pc[ch],
                                                    pair_all[ch], pair_bank[ch], bank,
                                                    pc_of_bank[bank])):
                                row_i = k
                                row_cmd = c_
                                # a command issues at this tick (this pick on the row bus if
                                # the column bus issues nothing): no future tick is needed
                                fut = t + 1
                                if hits[ch, qq] == 0:
                                    break     # and no request here has a column command
                            else:
                                f = r if r > t else t + 1
                                if edge_rules == 1 and f % 2 == 0 and c_ == ACT:
                                    f += 1
                                if f < fut:
                                    fut = f
                            continue
                        if allow and r <= t and (want != 2 or edge_rules == 0 or t % 2 == 1 or
                                                 _edge_ok(c_, t, edge_rules, pair_clk[ch],
                                                          pair_pc[ch], pair_all[ch], pair_bank[ch],
                                                          bank, pc_of_bank[bank])):
                            a_ = qbuf[k, F_ARR]
                            if a_ < best_arr:
                                best_arr = a_
                                i = k
                                cmd = c_
                                if filt:
                                    break     # read/write queues are in arrival order
                        else:
                            f = r if r > t else t + 1
                            if edge_rules == 1 and f % 2 == 0 and (is_col[c_] == 1 or c_ == ACT):
                                f += 1
                            if f < fut:
                                fut = f
                    if i >= 0:
                        q = qq
                    elif both:
                        row_valid = True
                        row_st = stamp[ch]
                        row_q = qq
                if q < 0:
                    continue
                # ---- issue ----
                bank = buf[ch, q, i, F_BANK]
                row = buf[ch, q, i, F_ROW]
                if row_policy == 1 and (cmd == RD or cmd == WR):
                    # closed-row policy: auto-precharge unless another queued request hits the row
                    other = False
                    for qq2 in range(3):
                        for j in range(cnt[ch, qq2]):
                            if (qq2 != q or j != i) and buf[ch, qq2, j, F_BANK] == bank and \
                                    buf[ch, qq2, j, F_ROW] == row:
                                other = True
                                break
                        if other:
                            break
                    if not other:
                        cmd = RDA if cmd == RD else WRA
                if buf[ch, q, i, F_STAT] == 0:
                    buf[ch, q, i, F_STAT] = 1
                    o = open_row[ch, bank]
                    if o >= 0 and o == row:
                        stats[ch, S_HIT] += 1
                    elif o >= 0:
                        stats[ch, S_CONF] += 1
                    else:
                        stats[ch, S_MISS] += 1
                sc = scope_level if (cmd == PREA or cmd == REFAB) else -1
                # timing: every node the command touches pushes forward the commands it
                # constrains (all-bank commands touch the whole subtree of their scope;
                # sibling rules reach the other children where the level has them)
                last = nlev - 1 if sc < 0 else sc
                span = 1
                if sc < 0:
                    # one bank: its command's flattened list of rules
                    for l in range(nlev):
                        node = bank_path[bank, l]
                        for kk in range(hist_depth[l, cmd] - 1, 0, -1):
                            hist[ch, node, cmd, kk] = hist[ch, node, cmd, kk - 1]
                        hist[ch, node, cmd, 0] = t
                    pk = bank * ncmd + cmd
                    for ii in range(plan_start[pk], plan_start[pk + 1]):
                        node = plan_node[ii]
                        w = plan_win[ii]
                        past = t if w == 1 else hist[ch, node, cmd, w - 1]
                        if past >= 0:
                            tt = past + plan_lat[ii]
                            nx = plan_next[ii]
                            if tt > ready[ch, node, nx]:
                                ready[ch, node, nx] = tt
                # all-bank commands: every node of the scope's subtree
                for l in range(nlev if sc >= 0 else 0):
                    n0 = bank_path[bank, l]
                    if l <= last:
                        n1 = n0 + 1
                    else:
                        span *= level_size[l]
                        n1 = n0 + span
                    d = hist_depth[l, cmd]
                    i0 = c_start[l * ncmd + cmd]
                    i1 = c_start[l * ncmd + cmd + 1]
                    for node in range(n0, n1):
                        if d > 1:
                            for kk in range(d - 1, 0, -1):
                                hist[ch, node, cmd, kk] = hist[ch, node, cmd, kk - 1]
                        hist[ch, node, cmd, 0] = t
                        for ii in range(i0, i1):
                            w = c_win[ii]
                            past = t if w == 1 else hist[ch, node, cmd, w - 1]
                            if past >= 0:
                                tt = past + c_lat[ii]
                                nx = c_next[ii]
                                if tt > ready[ch, node, nx]:
                                    ready[ch, node, nx] = tt
                    if l < last and has_sib[l + 1, cmd] == 1:
                        sz = level_size[l + 1]
                        tgt = bank_path[bank, l + 1]
                        f0 = level_offset[l + 1] + (n0 - level_offset[l]) * sz
                        j0 = s_start[(l + 1) * ncmd + cmd]
                        j1 = s_start[(l + 1) * ncmd + cmd + 1]
                        for nn in range(f0, f0 + sz):
                            if nn != tgt:
                                for ii in range(j0, j1):
                                    tt = t + s_lat[ii]
                                    nx = s_next[ii]
                                    if tt > ready[ch, nn, nx]:
                                        ready[ch, nn, nx] = tt
                stamp[ch] += 1
                b0 = bank
                nb_ = 1
                if cmd == ACT:
                    if use_mask:
                        _recount_hits(buf, bmask, hits, ch, bank, open_row[ch, bank], row)
                    open_row[ch, bank] = row
                elif cmd == PRE or cmd == RDA or cmd == WRA:
                    if use_mask:
                        _recount_hits(buf, bmask, hits, ch, bank, open_row[ch, bank], -1)
                    open_row[ch, bank] = -1
                elif cmd == PREA:
                    b0, nb_ = _scope_banks(bank, scope_level, level_size, nlev)
                    for b in range(b0, b0 + nb_):
                        if use_mask and open_row[ch, b] >= 0:
                            _recount_hits(buf, bmask, hits, ch, b, open_row[ch, b], -1)
                        open_row[ch, b] = -1
                # a bank whose state or active requests change: its requests' next commands and
                # eligibility change, so their cached ready ticks are recomputed (with the bank
                # masks only those requests are touched; otherwise stop once all of the bank's
                # queued requests were seen). A column command from the read or write queue
                # changes neither (ready ticks only grow: the cached ones stay lower bounds).
                if (cmd == RD or cmd == WR) and q < QA:
                    need = 0
                elif use_mask:
                    need = 0
                    for qq3 in range(3):
                        for b in range(b0, b0 + nb_):
                            m = bmask[ch, qq3, b]
                            while m != 0:
                                buf[ch, qq3, trailing_zeros(m), F_CR] = -1
                                m &= m - U1
                elif nb_ == 1:
                    need = bank_q[ch, bank]
                else:
                    need = 0
                    for b in range(b0, b0 + nb_):
                        need += bank_q[ch, b]
                for qq3 in range(3):
                    if need <= 0:
                        break
                    for j in range(cnt[ch, qq3]):
                        bj = buf[ch, qq3, j, F_BANK]
                        if bj >= b0 and bj < b0 + nb_:
                            buf[ch, qq3, j, F_CR] = -1
                            need -= 1
                            if need <= 0:
                                break
                ncmds[ch, cmd] += 1
                if nlog < log_cap:
                    log[nlog, 0] = t
                    log[nlog, 1] = ch
                    log[nlog, 2] = cmd
                    log[nlog, 3] = bank
                    log[nlog, 4] = sc
                    log[nlog, 5] = row
                    nlog += 1
                if edge_rules == 1 and want == 2 and t % 2 == 1:
                    pair_clk[ch] = t + (3 if cmd == ACT else 1)
                    pair_pc[ch] = pc_of_bank[bank]
                    pair_all[ch] = 1 if (cmd == PREA or cmd == REFAB) else 0
                    pair_bank[ch] = bank
                final = buf[ch, q, i, F_FINAL]
                done = cmd == final or (final == RD and cmd == RDA) or (final == WR and cmd == WRA)
                leaves = False            # the entry leaves queue q (served, or moved to QA)
                if done:
                    if q != QP:
                        bank_q[ch, bank] -= 1
                    if q == QA:
                        active_cnt[ch, bank] -= 1
                    typ = buf[ch, q, i, F_TYPE]
                    if typ == 0:
                        j = ptail[ch] % pcap
                        pend_dep[ch, j] = t + read_latency
                        pend_arr[ch, j] = buf[ch, q, i, F_ARR]
                        ptail[ch] += 1
                        stats[ch, S_RSERVED] += 1
                    elif typ == 1:
                        stats[ch, S_WSERVED] += 1
                    leaves = True
                elif cmd == ACT and q != QA and cnt[ch, QA] < nbanks:
                    n = cnt[ch, QA]
                    for f_ in range(NF):
                        buf[ch, QA, n, f_] = buf[ch, q, i, f_]
                    cnt[ch, QA] = n + 1
                    active_cnt[ch, bank] += 1
                    if use_mask:
                        bmask[ch, QA, bank] |= U1 << np.uint64(n)
                    leaves = True
                if leaves:
                    if use_mask and q < QA and row == open_row[ch, bank]:
                        hits[ch, q] -= 1
                    # close the gap: one contiguous move of the later entries
                    nq = cnt[ch, q]
                    qb = np.uint64((ch * 4 + q) * cap * NF)
                    unf = np.uint64(NF)
                    for x in range(qb + np.uint64(i) * unf, qb + np.uint64(nq - 1) * unf):
                        bflat[x] = bflat[x + unf]
                    cnt[ch, q] = nq - 1
                    if use_mask and q != QP:
                        # the removed entry's bit goes; every later position moves down one
                        low = (U1 << np.uint64(i)) - U1
                        hi = ~low
                        bm = bmask[ch, q]
                        for b in range(nbanks):
                            m = bm[b]
                            bm[b] = (m & low) | ((m >> U1) & hi)
                issued_any = True
            next_evt[ch] = t + 1 if (issued_any or every_tick == 1) else fut
        # ---- skip idle ticks while the front end is blocked ----
        ch = req_ch[idx]
        if req_write[idx] == 0:
            blocked = cnt[ch, QR] >= rq_cap
        else:
            blocked = cnt[ch, QW] >= wq_cap
        if blocked:
            for j in range(cnt[ch, QW]):
                if buf[ch, QW, j, F_ADDR] == req_addr[idx]:
                    blocked = False
                    break
        if blocked and every_tick == 0:
            tn = NEVER
            for c2 in range(nchan):
                v = next_evt[c2]
                if next_ref[c2] < v:
                    v = next_ref[c2]
                if v < tn:
                    tn = v
            if tn < NEVER and tn > t + 1:
                t = tn - 1
    # reads whose data returned by the last tick count toward latency
    for ch in range(nchan):
        while phead[ch] < ptail[ch] and pend_dep[ch, phead[ch] % pcap] <= t:
            j = phead[ch] % pcap
            stats[ch, S_LATSUM] += pend_dep[ch, j] - pend_arr[ch, j]
            stats[ch, S_LATN] += 1
            phead[ch] += 1
    return t, stats, ncmds, nlog
