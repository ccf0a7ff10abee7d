"""Cycle-level DRAM and processing in memory.

    standards.get_standard(name)              declarative JEDEC/vendor standards (STANDARDS)
    timing.compile_standard(std)              integer timing tables in controller ticks
    controller.run_stream(std, addrs, ...)    the Numba controller kernel (Controller options)
    checker.check_log(std, log)               independent replay of a command log
    frontend.parse_trace / pattern_addresses  memory-trace and synthetic front ends
    api.achievable_bandwidth / stream_cost    bandwidth (and pJ/byte) of a stream, memoised
    api.steady_cost                           the controller's steady state (what parts cost at)
    pim.pim_gemv / gemv_tiles                 bank-level MAC units and the PIM GEMV mapping
    component: types `dram`, `pim`, `pim_asic`

See docs/dram.md.
"""

#: channels one controller simulation holds at most (each keeps ~250 KB of queues and tables)
MAX_CHANNELS = 1024
