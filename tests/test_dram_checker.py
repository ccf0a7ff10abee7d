"""The independent checker: each timing rule catches a command issued one tick early, the
controller's logs are clean, refresh and bank-state rules hold."""

import numpy as np
import pytest

from archsim.components.dram.checker import check_log, rules_list
from archsim.components.dram.controller import Controller, run_stream
from archsim.components.dram.frontend import pattern_addresses
from archsim.components.dram.standards import CMD, STANDARDS, get_standard
from archsim.components.dram.timing import compiled

NEEDS_OPEN = {"RD", "WR", "RDA", "WRA"}
NEEDS_CLOSED = {"ACT", "REFpb"}
CLOSES = {"PRE", "RDA", "WRA", "PREA"}
ALL_BANK = {"PREA", "REFab"}
G = 6000          # spacing of set-up commands: longer than any rule


def _geom(std):
    sizes = [1] + [std.sizes[lv] for lv in std.levels[1:]]
    below = [1] * len(sizes)
    for l in range(len(sizes) - 2, -1, -1):
        below[l] = below[l + 1] * sizes[l + 1]
    return sizes, below


def _bank_with(std, base, level, diff=False):
    """A bank sharing `base`'s node at `level` but differing one level below (diff=False), or a
    bank in a sibling node at `level` (diff=True)."""
    sizes, below = _geom(std)
    li = std.levels.index(level)
    if diff:
        if sizes[li] < 2:
            return None
        return (base + below[li]) % below[li - 1] + (base // below[li - 1]) * below[li - 1]
    if li == len(sizes) - 1:
        return base
    return (base + below[li + 1]) % below[li] + (base // below[li]) * below[li]


def _scope_first(std, bank):
    _, below = _geom(std)
    s = std.levels.index(std.refresh_scope)
    return (bank // below[s]) * below[s], s


def _cmd_row(std, cmd, bank, t, row=7):
    if cmd in ALL_BANK:
        first, s = _scope_first(std, bank)
        return (t, 0, CMD[cmd], first, s, -1)
    return (t, 0, CMD[cmd], bank, -1, row)


def _sequence(std, rule, early):
    level, p, f, lat, window, sibling = rule
    sizes, below = _geom(std)
    t0 = 20 * G + 1                     # odd: a rising edge for HBM3
    a = 0
    log = []
    if window == 4:
        banks = []
        b = 0
        li = std.levels.index(level)
        # five banks in the same node at `level`, spread over the lower levels
        step = max(1, below[li] // 5)
        for k in range(5):
            banks.append((k * step) % below[li])
        if len(set(banks)) < 5:
            return None
        gap = 2 * std.tick_mult * max(1, std.timing.get("nRRDL", std.timing.get("nRRDS", 4)))
        gap += gap % 2
        for k in range(4):
            log.append(_cmd_row(std, p, banks[k], t0 + k * gap))
        tf = t0 + lat - (1 if early else 0)
        log.append(_cmd_row(std, f, banks[4], tf))
        return log
    if sibling:
        b = _bank_with(std, a, level, diff=True)
    elif p in ALL_BANK or f in ALL_BANK:
        b = a
    else:
        b = a
        conflict = (p in CLOSES and f in NEEDS_OPEN) or (p == "ACT" and f in NEEDS_CLOSED)
        if conflict and level != "bank":
            b = _bank_with(std, a, level)
    if b is None:
        return None
    # set-up: bring the banks into the state each command needs
    setup = []
    if p in NEEDS_OPEN:
        setup.append(("ACT", a))
    if f in NEEDS_OPEN and not (b == a and (p in NEEDS_OPEN or p == "ACT")):
        setup.append(("ACT", b))
    for k, (c, bank) in enumerate(setup):
        log.append(_cmd_row(std, c, bank, t0 - (len(setup) - k) * G))
    log.append(_cmd_row(std, p, a, t0))
    tf = t0 + lat - (1 if early else 0)
    # a command between them when p leaves the bank in the wrong state for f
    mid = None
    if b == a and p == "ACT" and (f in NEEDS_CLOSED or f == "REFab"):
        mid = "PRE"
    elif b != a and f == "REFab":
        mid = None
    if p == "ACT" and f == "REFab":
        mid = "PRE"
    if mid:
        from archsim.components.dram.checker import rule_tables
        lat_t, _, _ = rule_tables(std)
        gap = int(lat_t[len(sizes) - 1, CMD["ACT"], CMD["PRE"]])
        tm = t0 + gap
        if tm >= tf:
            return None
        log.append(_cmd_row(std, "PRE", a, tm))
    log.append(_cmd_row(std, f, b, tf))
    return log


CASES = []
for _name in ("ddr4-2400", "ddr5-4800", "lpddr5-6400", "gddr6-16000", "hbm2-2000", "hbm3-6400"):
    _std = get_standard(_name)
    for _rule in rules_list(_std):
        CASES.append((_name, _rule))
_ddr4_2r = get_standard("ddr4-2400").with_overrides({"org.rank": 2})
for _rule in rules_list(_ddr4_2r):
    if _rule[5]:
        CASES.append(("ddr4-2400/2-rank", _rule))


def _std_for(name):
    return _ddr4_2r if name == "ddr4-2400/2-rank" else get_standard(name)


@pytest.mark.parametrize("name,rule", CASES, ids=[f"{n}:{r[0]}:{r[1]}->{r[2]}"
                                                  f"{':w4' if r[4] == 4 else ''}{':sib' if r[5] else ''}"
                                                  for n, r in CASES])
def test_one_tick_early_is_caught(name, rule):
    std = _std_for(name)
    level, p, f, lat, window, sibling = rule
    if lat <= 0:
        pytest.skip("rule never binds (latency <= 0)")
    on_time = _sequence(std, rule, early=False)
    if on_time is None:
        pytest.skip("no legal sequence isolates this rule in this organisation")
    early = _sequence(std, rule, early=True)

    def hits(log):
        return [v for v in check_log(std, np.array(log)) if v.kind == "timing" and v.level == level
                and v.prev == p and v.cmd == f and v.window == window and v.sibling == sibling]
    assert hits(early), f"{name} {rule}: one tick early not caught"
    assert not hits(on_time), f"{name} {rule}: on-time command flagged"


def test_every_rule_of_the_peer_standards_is_exercised():
    tested = {(n, r) for n, r in CASES}
    for name in ("ddr4-2400", "hbm2-2000", "hbm3-6400"):
        rules = rules_list(get_standard(name))
        assert len(rules) > 20
        assert all((name, r) in tested for r in rules)


@pytest.mark.parametrize("name", list(STANDARDS))
def test_controller_log_is_clean_random_mixed(name):
    std = STANDARDS[name]
    c = compiled(std)
    a, w = pattern_addresses("random", 6000, c.tx_bytes, write_ratio=0.3)
    for ctl in (Controller(), Controller(row_policy="closed",
                                         refresh="per-bank" if std.has_refpb else "all-bank")):
        r = run_stream(c, a, w, ctl=ctl, log_cap=100_000)
        log = r["_detail"]["log"]
        assert len(log) >= 6000
        v = check_log(std, log)
        assert v == [], f"{name}: {v[:3]}"


def test_state_and_bus_violations_are_reported():
    std = get_standard("ddr4-2400")
    log = np.array([(100, 0, CMD["ACT"], 0, -1, 5), (20000, 0, CMD["ACT"], 0, -1, 6)])
    assert any(v.kind == "state" for v in check_log(std, log))          # ACT to an open bank
    log = np.array([(100, 0, CMD["RD"], 0, -1, 5)])
    assert any(v.kind == "state" for v in check_log(std, log))          # read of a closed bank
    log = np.array([(100, 0, CMD["ACT"], 0, -1, 5), (100, 0, CMD["ACT"], 4, -1, 5)])
    assert any(v.kind == "bus" for v in check_log(std, log))            # two commands, one tick
    log = np.array([(100, 0, CMD["ACT"], 0, -1, 5), (20000, 0, CMD["REFab"], 0, 1, -1)])
    assert any(v.kind == "state" for v in check_log(std, log))          # refresh with a row open


def test_shifting_a_logged_command_earlier_is_caught():
    std = get_standard("hbm2-2000")
    c = compiled(std)
    a, w = pattern_addresses("random", 3000, c.tx_bytes)
    log = run_stream(c, a, w, log_cap=50_000)["_detail"]["log"].copy()
    caught = 0
    rng = np.random.default_rng(1)
    for i in rng.choice(np.arange(50, len(log)), 40, replace=False):
        bad = log.copy()
        if bad[i, 0] - 1 <= bad[i - 1, 0]:
            continue
        bad[i, 0] -= 1
        caught += bool(check_log(std, bad))
    assert caught >= 10


def test_all_bank_refresh_every_trefi():
    std = get_standard("ddr4-2400")
    c = compiled(std)
    a, w = pattern_addresses("random", 20000, c.tx_bytes)
    r = run_stream(c, a, w, log_cap=200_000)
    log = r["_detail"]["log"]
    refs = log[log[:, 2] == CMD["REFab"]]
    expected = r["cycles"] // c.refi
    assert abs(len(refs) - expected) <= 1
    gaps = np.diff(refs[:, 0])
    # each refresh issues once its due time passed and the rank drained; never early
    assert (refs[:, 0] >= c.refi * np.arange(1, len(refs) + 1)).all()
    assert gaps.min() >= c.timing_ticks["nRFC"]


def test_hbm_refresh_per_pseudochannel_and_per_bank_rotation():
    std = get_standard("hbm2-2000")
    c = compiled(std)
    a, w = pattern_addresses("random", 20000, c.tx_bytes)
    log = run_stream(c, a, w, log_cap=200_000)["_detail"]["log"]
    refs = log[log[:, 2] == CMD["REFab"]]
    pcs = refs[:, 3] // (c.nbanks // 2)
    assert set(pcs.tolist()) == {0, 1}
    r = run_stream(c, a, w, ctl=Controller(refresh="per-bank"), log_cap=200_000)
    log = r["_detail"]["log"]
    refpb = log[log[:, 2] == CMD["REFpb"]]
    assert len(refpb) >= c.nbanks
    assert list(refpb[: c.nbanks, 3]) == list(range(c.nbanks))
    assert check_log(std, log) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STANDARDS))
def test_million_random_mixed_zero_violations(name):
    std = STANDARDS[name]
    c = compiled(std)
    a, w = pattern_addresses("random", 1_000_000, c.tx_bytes, write_ratio=0.3)
    r = run_stream(c, a, w, log_cap=5_000_000)
    log = r["_detail"]["log"]
    assert len(log) < 5_000_000
    assert check_log(std, log) == []


def test_a_log_from_another_organisation_is_refused():
    # the replay has no bounds checks: a channel, command or bank past the tables is an error
    from archsim.errors import ConfigError
    std = get_standard("ddr4-2400")
    comp = compiled(std)
    a, w = pattern_addresses("random", 2000, comp.tx_bytes, write_ratio=0.3)
    log = run_stream(comp, a, w, channels=2, log_cap=20000)["_detail"]["log"]
    assert check_log(std, log, channels=2) == []
    with pytest.raises(ConfigError, match="channel 1 is outside 0..0"):
        check_log(std, log, channels=1)
    bad = log.copy()
    bad[5, 3] = 10_000
    with pytest.raises(ConfigError, match="row 5: bank 10000"):
        check_log(std, bad, channels=2)
