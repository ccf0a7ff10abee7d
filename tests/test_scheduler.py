"""The scheduler on a toy two-component system: overlap, contention, dependencies."""

import numpy as np
import pytest

from archsim.components.base import Component, Cost, Job, register
from archsim.config.schema import Field
from archsim.system.mapping import PREV_OP, Mapping, Stage, register_mapping
from archsim.system.scheduler import schedule


def test_chain_and_overlap():
    # t0 on A (5), t1 on B (3) independent, t2 on A after t1: queues behind t0 on A.
    start, finish = schedule([0, 1, 0], [5, 3, 4], [(), (), (1,)], [1, 1])
    assert list(start) == [0, 0, 5] and list(finish) == [5, 3, 9]


def test_contention_and_lanes():
    # three independent jobs on one resource: serial with 1 lane, two at a time with 2 lanes.
    _, f1 = schedule([0, 0, 0], [10, 10, 10], [(), (), ()], [1])
    _, f2 = schedule([0, 0, 0], [10, 10, 10], [(), (), ()], [2])
    assert f1.max() == 30 and f2.max() == 20


def test_rejects_bad_graph():
    with pytest.raises(ValueError):
        schedule([0, 0], [1, 1], [(1,), ()], [1])
    with pytest.raises(ValueError):
        schedule([0], [-1], [()], [1])


@register
class ToyUnit(Component):
    """A toy part: a job costs `flops / rate` seconds."""
    type_name = "toy-unit"
    schema = {"rate": Field("flops", "1 TFLOP/s"), "memory": Field("bytes", "1 GiB")}

    def cost(self, job, fidelity="cycle"):
        s = job.flops / self.params["rate"]
        return Cost(s, int(s * self.clock_hz), energy_pj=job.flops, bytes=job.bytes_read)

    @property
    def memory_bytes(self):
        return self.params["memory"]


@register_mapping
class ToyOverlap(Mapping):
    """Matmuls on `compute`; each op's weights are fetched on `loader`, free to run ahead."""
    strategy = "toy-overlap"
    schema = {"compute": Field("str"), "loader": Field("str")}
    component_refs = ("compute", "loader", "memory", "offload")

    def stages(self, op):
        fetch = Job("transfer", flops=op["bytes_w"], bytes_read=op["bytes_w"])
        work = Job("gemm", m=op["m"], n=op["n"], k=op["k"], flops=op["flops"])
        # the fetch waits for nothing; the compute waits for its fetch and the previous op
        return [Stage(self.params["loader"], fetch, after=()),
                Stage(self.params["compute"], work, after=(0, PREV_OP))]


def test_toy_system_overlaps_fetch_with_compute(tmp_path):
    from archsim.system.arch import load_arch
    from archsim.system.simulate import run_trace
    from archsim.system.system import System
    from archsim.workload.trace import Trace

    f = tmp_path / "toy.yaml"
    f.write_text("name: toy\nmapping: {strategy: toy-overlap, compute: alu, loader: dma}\n"
                 "alu: {type: toy-unit, rate: 1 TFLOP/s}\ndma: {type: toy-unit, rate: 1 TFLOP/s}\n")
    system = System(load_arch(f))
    row = {"layer": 0, "phase": "decode", "step": 0, "op": "gemm", "name": "w", "batch": 1, "m": 1,
           "n": 1, "k": 1, "heads": 1, "kv_heads": 1, "kv_len": 0, "expert": -1, "dtype_w": "fp16",
           "dtype_a": "fp16", "bytes_w": 10 ** 12, "bytes_a": 0, "bytes_kv": 0, "flops": 10 ** 12}
    rows = [dict(row, layer=i) for i in range(4)]
    cap = system.mapping.capacity(0, 0, 1, 1)
    res = run_trace(system, Trace.from_rows(rows), "toy", {"batch": 1, "input_len": 0, "output_len": 1}, cap)
    # 4 fetches of 1 s pipelined under 4 computes of 1 s: 5 s, not 8 s
    assert res.summary["decode"]["seconds"] == pytest.approx(5.0)
    assert res.summary["breakdown"]["alu"]["seconds"] == pytest.approx(4.0)
    st = res.summary["stats"]
    assert st["distinct_jobs"] == 2  # identical layers cost once
    assert st["distinct_jobs"] + st["memo_hits"] == st["jobs"]
    starts = res.timeline["start_ps"]
    assert np.all(np.diff(starts[res.timeline["component"] == "dma"]) == 10 ** 12)


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_a_chain_is_scheduled_without_the_kernel_and_alike(n, monkeypatch):
    from archsim.system.scheduler import _schedule, deps_to_csr
    rng = np.random.default_rng(n)
    res, dur = rng.integers(0, 3, n), rng.integers(0, 10 ** 9, n)
    deps = [()] + [(i - 1,) for i in range(1, n)]
    ptr, idx = deps_to_csr(deps)
    want = _schedule(res.astype(np.int64), dur.astype(np.int64), ptr, idx, np.array([1, 2, 1]))
    from archsim.system import scheduler

    def no_kernel(*a):
        raise AssertionError("a chain needs no kernel")

    monkeypatch.setattr(scheduler, "_schedule", no_kernel)
    got = schedule(res, dur, deps, [1, 2, 1])
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_the_task_graph_keeps_each_stages_own_dependencies_past_an_empty_row():
    """Rows that map to nothing (an allreduce on one device) shifted the own-stage
    dependencies of every later stage list by one; a stage may also wait for what an
    earlier row ran for its row (PREFETCHED)."""
    import types

    from archsim.system.mapping import PREFETCHED, join_job
    from archsim.workload.trace import COLUMNS, Trace

    def row(i):
        r = {c: 0 for c in COLUMNS}
        r.update(layer=i, phase="decode", step=0, op="gemv", name="x", batch=1, m=1, n=1, k=1, heads=1,
                 kv_heads=1, kv_len=1, dtype_w="fp16", dtype_a="fp16", bytes_w=2, bytes_a=2, flops=2)
        return r

    class Plan(Mapping):
        strategy = "test-plan"
        kinds = [0, 4, 1, 5]

        def __init__(self):
            self.system = types.SimpleNamespace(components={})
            self.params = {}

        def key_columns(self, trace):
            return {"kind": np.array(self.kinds)}

        def stages(self, op):
            j = join_job
            return {0: [],
                    4: [Stage("l", j("fetch"), after=(PREV_OP,), serves_ahead=2), Stage("m", j("own"), after=(PREV_OP,)),
                        Stage("c", j("c"), after=(1, PREV_OP)), Stage("c", j("w"), after=(2,))],
                    1: [Stage("c", j("a"))],
                    5: [Stage("c", j("b"), after=(PREV_OP, PREFETCHED))]}[op["kind"]]

    g = Plan().build(Trace.from_rows([row(i) for i in range(4)]))
    # tasks: row 1 -> 0 fetch, 1 own, 2 c, 3 w; row 2 -> 4; row 3 -> 5
    assert g.deps == [(), (), (1,), (2,), (3,), (4, 0)]
    assert list(g.serves_index) == [3, 1, 1, 1, 2, 3]
