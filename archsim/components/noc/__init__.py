"""Cycle-level 2-D mesh network-on-chip engine (Numba), usable alone like BookSim.

Model
-----
Input-queued virtual-channel routers on a ``rows x cols`` mesh (node id = ``r * cols + c``),
credit-based flow control, wormhole switching, dimension-order routing (XY: columns first,
then rows; or YX per flow) and static per-colour routes (a WSE "colour" is a VC pinned to a
flow, with a fixed XY/YX path). Router pipeline: routing, VC allocation, switch allocation,
switch traversal, link traversal, each with a configurable delay; credits return after
``credit_delay``. Separable iSLIP-like (round-robin) VC and switch allocators. Injection and
ejection queues at every node (source queues are unbounded). Time advances only over active
routers (state lives in flat int arrays; an idle router costs nothing).

Public API (stable; other components code against it)
-----------------------------------------------------
``RouterConfig(vcs=16, vc_buf=8, routing_delay=0, vc_alloc_delay=1, sw_alloc_delay=1,
               st_delay=1, link_latency=1, credit_delay=2, wait_for_tail_credit=True,
               alloc_iters=1)``
    Frozen dataclass; defaults reproduce BookSim2's "iq" router as the peers note configures
    it (zero-load 4 cycles per hop). ``alloc_iters`` is 1 because BookSim2's iq router runs
    one iSLIP iteration whatever ``alloc_iters`` says (it builds its allocators without the
    configuration). Per hop at zero load: routing + vc_alloc + sw_alloc + st + link
    (``.hop_cycles``); a source reaches its router in link_latency + 1 (``.inject_cycles``).
    A flit is what one link moves per cycle: convert bytes with ceil(bytes / link_bytes).
    ``RouterConfig.wse(colors=24, vc_buf=4)``: a WSE-2-like fabric router (one cycle per hop,
    colours as VCs, VCs released at the tail).

``simulate_traffic(mesh=(rows, cols), pattern="uniform", rate=0.1, packet_flits=1,
                   router=None, seed=1, *, warmup_periods=3, sample_period=1000,
                   max_samples=10, latency_threshold=500.0, cycles=None,
                   hotspot_nodes=None, hotspot_fraction=0.5, max_cycles=200_000) -> NocStats``
    Open-loop synthetic traffic measured as BookSim's latency mode does: Bernoulli injection
    of ``rate`` flits/node/cycle (a packet with probability rate/packet_flits per node per
    cycle), unbounded source queues, latency from creation to tail ejection (queueing
    included). Sample periods of ``sample_period`` cycles: ``warmup_periods`` of warm-up,
    then measured periods until latency and accepted rate change by <= 5% three times in a
    row, then the packets created in the measured window drain (the rest of the network
    empties, as BookSim's "cycles" counts). Saturated (``saturated=True``) when the mean
    latency of delivered and in-flight flits passes ``latency_threshold``.
    ``cycles`` (if given) replaces the protocol with one fixed run: warm-up cycles // 4, the
    rest measured. ``pattern``: "uniform" (any node, the source included, as BookSim),
    "transpose" ((r,c)->(c,r), square), "hotspot" (``hotspot_fraction`` of packets to
    ``hotspot_nodes``, default the centre node; the rest uniform), "neighbour" ((r+1, c+1)
    wrapping, BookSim's "neighbor"), "tornado", "bitcomp", "bitrev", "shuffle", or an (N,)
    int array giving each node's destination.

``simulate_flows(mesh=(rows, cols), src, dst, flits, inject_cycle=None, color=None,
                 order=None, router=None, *, max_cycles=None, packet_flits=None,
                 stall_limit=100_000) -> NocStats``
    Trace/flow mode (deterministic, no randomness). Flow i is ``flits[i]`` flits from node
    ``src[i]`` to node ``dst[i]``, offered at ``inject_cycle[i]`` (default 0), sent as packets
    of ``packet_flits[i]`` flits (scalar or array; default: the whole flow is one worm).
    ``color[i]`` pins the flow to VC ``color[i] % router.vcs`` at every hop (a WSE colour);
    -1 or None lets the VC allocator choose. ``order[i]``: 0 = XY (columns first, default),
    1 = YX. A source sends its flows one after another in (inject_cycle, index) order, one
    flit per cycle. Arrays may be any integer dtype; scalars broadcast. A mesh of shape
    (1, n) or (n, 1) simulates one row or column alone (simulate one of a set of identical
    rows and reuse it). DOR with free VCs never deadlocks; mixing XY and YX flows on shared
    VCs can: ``deadlocked=True`` when no flit moved for ``stall_limit`` cycles.
    ``max_cycles`` stops the run early (``saturated=True``; undelivered flows keep -1).
    A packet is at most ``max_packet_flits(router)`` flits: 65535 with wait_for_tail_credit
    (a VC counts its one packet's front flit in 16 bits), else 2**31 - 1.

``NocStats`` (dataclass) fields:
    rows, cols, cycles (simulated cycles; flows: the last tail delivery), packets, flits
    (delivered), avg_packet_latency_cycles (NaN if none measured), max_packet_latency_cycles,
    avg_network_latency_cycles (head entering the network to tail delivery),
    avg_fragmentation (cycles a packet's tail lags its head beyond packet_flits - 1),
    accepted_flit_rate (flits/node/cycle over the measured window), offered_flit_rate,
    avg_hops (routers traversed per packet, = Manhattan distance + 1, BookSim's count),
    flit_hops (router traversals by all flits in the whole run), saturated, deadlocked,
    wall_s (the simulation alone), compile_s (JIT compile or cache load, first call in the
    process, else 0), flit_hops_per_wall_s (property),
    flow_done_cycle (int64[F]: cycle flow i's last tail reached dst; -1 if never),
    flow_head_cycle (int64[F]: cycle flow i's first head reached dst), flow_start_cycle
    (int64[F]: cycle its first head left the source), link_flits (int64[rows, cols, 5]: flits
    sent out of each router towards 0 = east (+col), 1 = west, 2 = south (+row), 3 = north,
    4 = its own node (ejected)), ``to_dict()`` -> the CLI's JSON keys.

``zero_load_latency(mesh, src, dst, packet_flits=1, router=None) -> int or array``
    Closed form for one packet in an empty mesh: inject_cycles + (hops + 1) * hop_cycles +
    packet_flits - 1 (the engine's analytic twin; a test holds them together).

``mesh_hops(mesh, src, dst)`` -> Manhattan distance (arrays).

Fidelity: on traces of BookSim2's own packets (4x4 and 8x8 meshes, 1- and 4-flit packets,
near saturation) every packet's latency equals BookSim2's to the cycle.

Command line: ``archsim noc --mesh 16x16 --traffic uniform --rate 0.1 --packet-flits 1
[--vcs 16 --vc-buf 8] [--cycles N] [--seed S] --format json``. There ``--cycles`` must be at
least ``min_fixed_cycles`` (4x the longest zero-load path, so that the quarter of warm-up
fills the network), a trace's colours must be below ``--vcs`` (the API takes them modulo the
VC count), and a run that ends deadlocked prints its result and exits with status 3.
"""

from archsim.components.noc.config import RouterConfig
from archsim.components.noc.stats import NocStats
from archsim.components.noc.api import (simulate_traffic, simulate_flows, zero_load_latency,
                                        mesh_hops)

__all__ = ["RouterConfig", "NocStats", "simulate_traffic", "simulate_flows",
           "zero_load_latency", "mesh_hops"]
