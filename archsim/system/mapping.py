"""Mappings: the strategy that turns each trace op into jobs on the system's components.

A mapping is registered by its `strategy` name (the arch YAML's `mapping.strategy`). It
implements `stages(op)`: the jobs one op becomes, each on a named component, with their
order inside the op. `build` chains ops in trace order into a task graph for the
scheduler; stage lists are cached by op signature, so identical layers cost one call.

Stage.after:
  None      -> after the previous stage of this op (the first stage: after the previous op)
  (i, j..)  -> after stages i, j of this op; PREV_OP in the tuple means "after the previous op"
  ()        -> no dependency (e.g. a prefetch that may overlap earlier ops)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from archsim.components.base import Job
from archsim.config.schema import Field, validate
from archsim.errors import CapacityError, ConfigError

PREV_OP = -1

COMMON_SCHEMA = {
    "strategy": Field("str", doc="mapping strategy name"),
    "memory": Field("list", None, "components whose memory holds weights and KV cache "
                    "(default: every component that has memory)", item=Field("str"), nullable=True),
    "offload": Field("str", None, "component that holds what does not fit (weights stream from it)",
                     nullable=True),
}


@dataclass(frozen=True)
class Stage:
    component: str
    job: Job
    after: tuple | None = None


@dataclass
class Capacity:
    weights_bytes: float
    kv_bytes_per_token: float
    memory_bytes: float
    needed_bytes: float
    max_decode_tokens: int
    offload: str | None = None

    def as_dict(self) -> dict:
        return {"weights_bytes": int(self.weights_bytes), "kv_bytes_per_token": int(self.kv_bytes_per_token),
                "max_decode_tokens": int(self.max_decode_tokens)}


@dataclass
class TaskGraph:
    components: list          # task -> component name
    jobs: list                # task -> Job
    deps: list                # task -> tuple of earlier task indices
    op_index: list            # task -> trace row


class Mapping:
    strategy: ClassVar[str] = ""
    schema: ClassVar[dict] = {}
    #: params naming components (checked against the arch when it loads)
    component_refs: ClassVar[tuple] = ("memory", "offload")

    def __init__(self, system, params: dict):
        self.system = system
        self.params = params

    @classmethod
    def validate_params(cls, block: dict, file=None) -> dict:
        return validate(block, {**COMMON_SCHEMA, **cls.schema}, file, "mapping")

    # --- what a strategy implements ----------------------------------------------------
    def stages(self, op: dict) -> list[Stage]:
        raise NotImplementedError

    def stage_key(self, op: dict):
        """Ops with equal keys map to equal stages (default: all but layer and step)."""
        return tuple(v for c, v in op.items() if c not in ("layer", "step"))

    # --- shared machinery --------------------------------------------------------------
    def build(self, trace) -> TaskGraph:
        from archsim.workload.trace import COLUMNS
        cols = [trace.columns[c] for c in COLUMNS]
        names = list(COLUMNS)
        cache: dict = {}
        g = TaskGraph([], [], [], [])
        prev_last: tuple = ()
        for i in range(len(trace)):
            op = {c: (col[i].item() if hasattr(col[i], "item") else col[i]) for c, col in zip(names, cols)}
            key = self.stage_key(op)
            stages = cache.get(key)
            if stages is None:
                stages = cache[key] = list(self.stages(op))
            base = len(g.jobs)
            for s_i, st in enumerate(stages):
                if st.after is None:
                    deps = (base + s_i - 1,) if s_i else prev_last
                else:
                    deps = tuple(sorted({d for a in st.after
                                         for d in (prev_last if a == PREV_OP else (base + a,))}))
                g.components.append(st.component)
                g.jobs.append(st.job)
                g.deps.append(deps)
                g.op_index.append(i)
            if stages:
                prev_last = (len(g.jobs) - 1,)
        return g

    def memory_components(self) -> list[str]:
        names = self.params.get("memory")
        if names:
            return list(names)
        return [n for n, c in self.system.components.items() if c.memory_bytes > 0]

    def capacity(self, weights_bytes: float, kv_bytes_per_token: float, batch: int, context: int) -> Capacity:
        """Check that weights plus the KV cache of `batch` x `context` tokens fit."""
        memory = sum(self.system.components[n].memory_bytes for n in self.memory_components())
        needed = weights_bytes + kv_bytes_per_token * batch * context
        offload = self.params.get("offload")
        free = memory - weights_bytes
        per_token = kv_bytes_per_token * max(batch, 1)
        max_tokens = int(max(free, 0) // per_token) if per_token > 0 else 0
        if needed > memory and not offload:
            gib = 2.0 ** 30
            raise CapacityError(
                f"the workload does not fit: it needs {needed / gib:.2f} GiB (weights {weights_bytes / gib:.2f} GiB"
                f" + KV cache {(needed - weights_bytes) / gib:.2f} GiB), the machine has {memory / gib:.2f} GiB"
                f" (short by {(needed - memory) / gib:.2f} GiB); name an offload tier in `mapping.offload`"
                " or use a smaller batch or context", self.system.arch.file, "mapping.memory")
        return Capacity(weights_bytes, kv_bytes_per_token, memory, needed, max_tokens, offload)


_MAPPINGS: dict[str, type[Mapping]] = {}
_LOADED = False
IMPORT_FAILURES: dict[str, str] = {}


def register_mapping(cls: type[Mapping]) -> type[Mapping]:
    if not cls.strategy:
        raise TypeError(f"{cls.__name__} has no strategy name")
    _MAPPINGS[cls.strategy] = cls
    return cls


def mapping_strategies() -> dict[str, type[Mapping]]:
    global _LOADED
    if not _LOADED:
        import archsim.mappings as pkg
        from archsim.components.base import import_package
        import_package(pkg, IMPORT_FAILURES)
        _LOADED = True
    return dict(sorted(_MAPPINGS.items()))


def mapping_class(strategy: str, file=None, key=None) -> type[Mapping]:
    known = mapping_strategies()
    if strategy not in known:
        broken = "; ".join(f"{m} failed to import ({why})" for m, why in IMPORT_FAILURES.items())
        raise ConfigError(f"unknown mapping strategy {strategy!r}; known: {', '.join(known)}"
                          + (f"; {broken}" if broken else ""), file, key)
    return known[strategy]


def ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b)) if b else 0

