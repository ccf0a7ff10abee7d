"""List scheduling of component jobs with dependencies and per-component contention.

Tasks arrive in a topological order (every dependency precedes its dependant). Each task
runs on one resource (a component) that serves `lanes` tasks at once; a task starts when
all its dependencies have finished and a lane of its resource is free. Independent tasks
on different components overlap; tasks on one shared component queue. Time is int64
picoseconds so that schedules are exact and bit-reproducible.
"""

from __future__ import annotations

import numba
import numpy as np

PS_PER_S = 10 ** 12


@numba.njit(cache=True)
def _schedule(resource, duration, dep_ptr, dep_idx, lanes):
    n = resource.shape[0]
    start = np.zeros(n, dtype=np.int64)
    finish = np.zeros(n, dtype=np.int64)
    max_lanes = 1
    for r in range(lanes.shape[0]):
        if lanes[r] > max_lanes:
            max_lanes = lanes[r]
    lane_free = np.zeros((lanes.shape[0], max_lanes), dtype=np.int64)
    for i in range(n):
        ready = np.int64(0)
        for p in range(dep_ptr[i], dep_ptr[i + 1]):
            d = dep_idx[p]
            if finish[d] > ready:
                ready = finish[d]
        r = resource[i]
        best = 0
        for ln in range(1, lanes[r]):
            if lane_free[r, ln] < lane_free[r, best]:
                best = ln
        s = ready if ready > lane_free[r, best] else lane_free[r, best]
        start[i] = s
        finish[i] = s + duration[i]
        lane_free[r, best] = finish[i]
    return start, finish


def deps_to_csr(deps: list) -> tuple[np.ndarray, np.ndarray]:
    """A list of per-task dependency tuples as CSR arrays (dep_ptr, dep_idx)."""
    dep_ptr = np.zeros(len(deps) + 1, dtype=np.int64)
    for i, d in enumerate(deps):
        dep_ptr[i + 1] = dep_ptr[i] + len(d)
    dep_idx = np.fromiter((j for d in deps for j in d), dtype=np.int64, count=int(dep_ptr[-1]))
    return dep_ptr, dep_idx


def schedule(resource, duration_ps, deps, lanes) -> tuple[np.ndarray, np.ndarray]:
    """Start and finish times (ps) of each task.

    `deps` is a list (task -> tuple of earlier task indices) or CSR arrays (dep_ptr, dep_idx)."""
    resource = np.asarray(resource, dtype=np.int64)
    duration_ps = np.asarray(duration_ps, dtype=np.int64)
    if np.any(duration_ps < 0):
        raise ValueError("negative task duration")
    dep_ptr, dep_idx = deps_to_csr(deps) if isinstance(deps, list) else deps
    if len(dep_idx) and np.any(dep_idx >= np.repeat(np.arange(len(dep_ptr) - 1), np.diff(dep_ptr))):
        raise ValueError("a task depends on a later task: tasks must be in topological order")
    n = len(resource)
    if n and len(dep_idx) == n - 1 and np.array_equal(dep_ptr, np.maximum(np.arange(n + 1) - 1, 0)) \
            and np.array_equal(dep_idx, np.arange(n - 1)):
        # a chain (each task waits on the one before): nothing overlaps, so each starts when the
        # one before ends (no kernel, whose first call in a process costs about 0.5 s)
        finish = np.cumsum(duration_ps)
        return finish - duration_ps, finish
    return _schedule(resource, duration_ps, dep_ptr, dep_idx, np.asarray(lanes, dtype=np.int64))
