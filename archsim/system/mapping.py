"""Mappings: the strategy that turns each trace op into jobs on the system's components.

A mapping is registered by its `strategy` name (the arch YAML's `mapping.strategy`). It
implements `stages(op)`: the jobs one op becomes, each on a named component, with their
order inside the op. `build` chains ops in trace order into a task graph for the
scheduler; stage lists are cached by op signature, so identical layers cost one call.

Stage.after:
  None      -> after the previous stage of this op (the first stage: after the previous op)
  (i, j..)  -> after stages i, j of this op; PREV_OP in the tuple means "after the previous op",
               PREFETCHED "after the stages an earlier op ran for this one" (serves_ahead)
  ()        -> no dependency (e.g. a prefetch that may overlap earlier ops)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from archsim.components.base import Job, lookup
from archsim.config.schema import Field, validate
from archsim.errors import CapacityError, ConfigError
from archsim.units import format_quantity

PREV_OP = -1
PREFETCHED = -2

COMMON_SCHEMA = {
    "strategy": Field("str", doc="mapping strategy name"),
    "memory": Field("list", None, "components whose memory holds weights and KV cache where the "
                    "strategy does not say which holds which (default: every component that has "
                    "memory)", item=Field("str"), nullable=True),
    "precision": Field("str", None, "precision the machine's software runs a model at when the "
                       "scenario names none (null: the model's default_precision)", nullable=True),
}


def run_precision(named: str | None, mapping: dict, fallback: str) -> str:
    """The precision of a run: the one it names, else the machine's `mapping.precision`, else
    `fallback` (the model's default_precision, or fp16 for a single op)."""
    return named or mapping.get("precision") or fallback


@dataclass(frozen=True)
class Stage:
    component: str
    job: Job
    after: tuple | None = None
    #: the stage does the work of the op this many rows later (a prefetch of the next op's
    #: weights): the per-op tables name that op; the schedule still runs it with this one
    serves_ahead: int = 0


def join_job(label: str) -> Job:
    """A zero-work step that waits for several stages (a join point in a stage list)."""
    return Job(kind="elementwise", label=label)


@dataclass
class Capacity:
    weights_bytes: float
    kv_bytes_per_token: float
    memory_bytes: float
    needed_bytes: float
    max_decode_tokens: int
    kv_stored_bytes_per_token: float | None = None    # where the machine stores more than the model's

    def as_dict(self) -> dict:
        d = {"weights_bytes": int(self.weights_bytes), "kv_bytes_per_token": int(self.kv_bytes_per_token),
             "max_decode_tokens": int(self.max_decode_tokens)}
        if self.kv_stored_bytes_per_token is not None:
            d["kv_stored_bytes_per_token"] = int(self.kv_stored_bytes_per_token)
        return d


@dataclass
class TaskGraph:
    """Tasks in topological order: each runs one distinct (component, Job) pair.

    Dependencies are CSR arrays: the tasks that task t waits on are
    dep_idx[dep_ptr[t]:dep_ptr[t + 1]]."""

    pairs: list               # distinct (component name, Job) pairs
    pair_index: np.ndarray    # task -> index into pairs
    op_index: np.ndarray      # task -> trace row
    dep_ptr: np.ndarray
    dep_idx: np.ndarray
    serves_index: np.ndarray | None = None   # task -> trace row whose op it works for

    def __post_init__(self):
        if self.serves_index is None:
            self.serves_index = self.op_index

    def __len__(self) -> int:
        return len(self.pair_index)

    @property
    def components(self) -> list:
        return [self.pairs[p][0] for p in self.pair_index.tolist()]

    @property
    def jobs(self) -> list:
        return [self.pairs[p][1] for p in self.pair_index.tolist()]

    @property
    def deps(self) -> list:
        ptr, idx = self.dep_ptr.tolist(), self.dep_idx.tolist()
        return [tuple(idx[ptr[t]:ptr[t + 1]]) for t in range(len(self))]


class Mapping:
    strategy: ClassVar[str] = ""
    schema: ClassVar[dict] = {}
    #: params naming components (checked against the arch when it loads)
    component_refs: ClassVar[tuple] = ("memory",)
    #: the component types a reference may name (refs not listed take any type)
    component_types: ClassVar[dict] = {}
    #: trace columns that do not change how an op maps (the default stage key omits them)
    KEY_OMITS: ClassVar[tuple] = ("layer", "step")
    #: the param that `device:`, inherited from a single-device base arch, fills in (None:
    #: the strategy takes no `device:`)
    device_param: ClassVar[str | None] = None
    #: whether the strategy splits each job over a component's `count` identical devices
    #: (only then may a GPU have count > 1: elsewhere its memory and energy would be counted
    #: count times while every job still ran whole on one)
    shards_over_count: ClassVar[bool] = False

    def __init__(self, system, params: dict):
        self.system = system
        self.params = params
        if not self.shards_over_count:
            for name, comp in system.components.items():
                count = getattr(comp, "count", 1)
                if count != 1:
                    raise ConfigError(f"count = {count}: only the tensor_parallel mapping splits "
                                      f"the work over several devices (this machine maps with "
                                      f"{self.strategy})", system.arch.file, f"{name}.count")

    @classmethod
    def validate_params(cls, block: dict, file=None) -> dict:
        if cls.device_param is not None and "device" in block:
            block = dict(block)
            block.setdefault(cls.device_param, block.pop("device"))
        params = validate(block, {**COMMON_SCHEMA, **cls.schema}, file, "mapping")
        if params.get("precision") is not None:
            from archsim.workload.precision import parse_precision
            try:
                parse_precision(params["precision"])
            except ConfigError as exc:
                raise ConfigError(exc.reason, file, "mapping.precision") from None
        return params

    # --- what a strategy implements ----------------------------------------------------
    def stages(self, op: dict) -> list[Stage]:
        raise NotImplementedError

    def key_columns(self, trace) -> dict:
        """Per-row values, beyond the trace's own columns, that change how a row maps (one
        array per name, in row order). Rows equal in these and in every column but
        KEY_OMITS map to equal stages; `stages` finds them in its op as well."""
        return {}

    @staticmethod
    def per_distinct(trace, columns: tuple, fn) -> np.ndarray:
        """fn(op) for every row, called once per distinct combination of `columns` (the op
        holds just those): a per-row key part computed without a loop over rows."""
        group, first = group_rows({c: trace.columns[c] for c in columns})
        values = {c: trace.columns[c][first].tolist() for c in columns}
        out = np.empty(len(first), dtype=object)
        for i, v in enumerate(zip(*values.values())):
            out[i] = fn(dict(zip(columns, v)))
        return out[group]

    # --- shared machinery --------------------------------------------------------------
    def build(self, trace) -> TaskGraph:
        """Chain the ops of `trace` into a task graph; stage lists are made once per distinct
        key (identical layers and steps cost one call), the keys grouped without a loop over rows."""
        from archsim.workload.trace import COLUMNS
        names = list(COLUMNS)
        extra = self.key_columns(trace)
        row_entry, first = group_rows({**{c: trace.columns[c] for c in names if c not in self.KEY_OMITS},
                                       **{f"_key.{k}": v for k, v in extra.items()}})
        firsts = {c: trace.columns[c][first].tolist() for c in names}
        firsts.update({k: np.asarray(v)[first].tolist() for k, v in extra.items()})
        keys = list(firsts)
        entries: list = []        # (pair ids, dependency spec per stage)
        pair_ids: dict = {}
        for values in zip(*firsts.values()):
            stages = list(self.stages(dict(zip(keys, values))))
            ids = [pair_ids.setdefault((st.component, st.job), len(pair_ids)) for st in stages]
            entries.append((ids, [_dep_spec(s_i, st.after) for s_i, st in enumerate(stages)],
                            [st.serves_ahead for st in stages]))
        return _assemble(entries, row_entry, list(pair_ids))

    def memory_components(self) -> list[str]:
        names = self.params.get("memory")
        if names:
            return list(names)
        return [n for n, c in self.system.components.items() if c.memory_bytes > 0]

    def weight_components(self) -> list[str]:
        """Components whose memory holds the weights (default: the shared pool)."""
        return self.memory_components()

    def kv_components(self) -> list[str]:
        """Components whose memory holds the KV cache (default: the shared pool)."""
        return self.memory_components()

    def kv_stored_per_token(self, kv_bytes_per_token: float, kv_heads: int | None = None) -> float:
        """Bytes the KV tier stores for a token of `kv_bytes_per_token` in `kv_heads` cached
        heads (None: not known) (more where the strategy keeps extra copies)."""
        return kv_bytes_per_token

    def capacity(self, weights_bytes: float, kv_bytes_per_token: float, batch: int, context: int,
                 kv_heads: int | None = None) -> Capacity:
        """Check that the weights fit where the strategy keeps them, the KV cache of `batch` x
        `context` tokens where it keeps that, and both together where the two share memory.
        `kv_heads`: the heads the cache holds (MLA's latent: 1), where the strategy splits them."""
        comps = self.system.components
        wn, kn = self.weight_components(), self.kv_components()

        def mem(names):
            return sum(comps[n].memory_bytes for n in dict.fromkeys(names))

        w_mem, kv_mem, memory = mem(wn), mem(kn), mem(wn + kn)
        stored = self.kv_stored_per_token(kv_bytes_per_token, kv_heads)
        kv_bytes = stored * batch * context
        needed = weights_bytes + kv_bytes
        # the KV cache has its own tier's memory, less what weights sharing it take
        free = min(kv_mem, memory - weights_bytes)
        per_token = stored * max(batch, 1)
        max_tokens = int(max(free, 0) // per_token) if per_token > 0 else 0
        def q(b: float) -> str:     # bytes in the unit that shows them (a KiB short, not 0.00 GiB)
            return f"{b:.0f} B" if abs(b) < 1024 else format_quantity(b, "B", binary=True)

        for what, size, room, names in (("the weights need", weights_bytes, w_mem, wn),
                                        ("the KV cache needs", kv_bytes, kv_mem, kn),
                                        ("weights and KV cache need", needed, memory, wn + kn)):
            if size > room:
                where = " + ".join(dict.fromkeys(names))
                raise CapacityError(
                    f"the workload does not fit: {what} {q(size)} (weights {q(weights_bytes)} + "
                    f"KV cache {q(kv_bytes)}), the memory that holds them ({where}) has {q(room)} "
                    f"(short by {q(size - room)}); use a smaller model, batch or context, or a "
                    "machine that keeps them in a larger tier (the flexgen strategy's `weights` and "
                    "`kv`)", self.system.arch.file, "mapping.memory")
        return Capacity(weights_bytes, kv_bytes_per_token, memory, needed, max_tokens,
                        stored if stored != kv_bytes_per_token else None)


def group_rows(columns: dict) -> tuple[np.ndarray, np.ndarray]:
    """(group of each row, first row of each group): rows equal in every column share a group,
    numbered 0, 1, .. in order of first appearance, as a walk over the rows would number them."""
    import pandas as pd

    n = len(next(iter(columns.values()))) if columns else 0
    if not n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    group = pd.DataFrame(columns).groupby(list(columns), sort=False, dropna=False).ngroup().to_numpy(np.int64)
    # each group's first row is where the running maximum steps up (one pass, no sort)
    top = np.maximum.accumulate(group)
    return group, np.flatnonzero(np.concatenate(([True], top[1:] > top[:-1])))


def _dep_spec(s_i: int, after) -> tuple[tuple, bool, bool]:
    """(stages of this op waited on, waits on the previous op, waits on what earlier ops
    ran for this one) for stage `s_i`."""
    if after is None:
        return ((s_i - 1,), False, False) if s_i else ((), True, False)
    return (tuple(sorted({a for a in after if a >= 0})), PREV_OP in after, PREFETCHED in after)


def _assemble(entries: list, row_entry: np.ndarray, pairs: list) -> TaskGraph:
    """Lay the cached stage lists of every row out as task arrays (vectorised over rows)."""
    n_rows = len(row_entry)
    lengths = np.array([len(ids) for ids, _, _ in entries], dtype=np.int64)
    row_len = lengths[row_entry] if n_rows else np.zeros(0, dtype=np.int64)
    row_base = np.concatenate(([0], np.cumsum(row_len)[:-1])) if n_rows else row_len
    # the last task of the nearest earlier row that has tasks (-1: none)
    last = np.where(row_len > 0, row_base + row_len - 1, -1)
    prev_last = np.concatenate(([-1], np.maximum.accumulate(last)[:-1])) if n_rows else last
    # per entry, flattened per stage: pair id, own-deps count, waits-on-previous-op flag
    e_pairs = [np.array(ids, dtype=np.int64) for ids, _, _ in entries]
    e_own = [np.array([len(rel) for rel, _, _ in spec], dtype=np.int64) for _, spec, _ in entries]
    e_prev = [np.array([p for _, p, _ in spec], dtype=bool) for _, spec, _ in entries]
    e_pf = [np.array([f for _, _, f in spec], dtype=bool) for _, spec, _ in entries]
    e_rel = [np.array([r for rel, _, _ in spec for r in rel], dtype=np.int64) for _, spec, _ in entries]
    e_ahead = [np.array(ahead, dtype=np.int64) for _, _, ahead in entries]
    order = np.repeat(np.arange(n_rows), row_len)
    task_entry = row_entry[order]
    stage_pos = np.arange(len(order)) - row_base[order]
    flat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    offs = np.concatenate(([0], np.cumsum(lengths)[:-1])) if len(lengths) else lengths
    pick = offs[task_entry] + stage_pos
    pair_index = flat(e_pairs, np.int64)[pick]
    own = flat(e_own, np.int64)[pick]
    waits_prev = flat(e_prev, bool)[pick] & (prev_last[order] >= 0)
    # tasks that earlier rows ran for a later row (prefetches), by the row they serve
    ahead = flat(e_ahead, np.int64)[pick]
    fetch = np.flatnonzero(ahead > 0)
    fetch = fetch[np.argsort(order[fetch] + ahead[fetch], kind="stable")]
    fetch_row = order[fetch] + ahead[fetch]
    lo = np.searchsorted(fetch_row, order, "left")
    n_pf = np.where(flat(e_pf, bool)[pick], np.searchsorted(fetch_row, order, "right") - lo, 0)
    counts = own + waits_prev + n_pf
    dep_ptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    dep_idx = np.empty(int(dep_ptr[-1]), dtype=np.int64)
    # own-stage deps: base of the task's row + relative stage index
    rel_offs_e = [np.cumsum(o) - o for o in e_own]       # (an entry with no stages has none)
    rel_start = flat([ro + off for ro, off in zip(rel_offs_e, np.cumsum([0] + [len(r) for r in e_rel[:-1]]))],
                     np.int64)[pick] if len(order) else np.zeros(0, dtype=np.int64)
    rel_all = flat(e_rel, np.int64)
    task_with_own = np.repeat(np.arange(len(order)), own)
    k = np.arange(len(task_with_own)) - np.repeat(np.cumsum(own) - own, own)
    dep_idx_pos = dep_ptr[task_with_own] + k
    dep_idx[dep_idx_pos] = row_base[order][task_with_own] + rel_all[rel_start[task_with_own] + k]
    prev_tasks = np.nonzero(waits_prev)[0]
    dep_idx[dep_ptr[prev_tasks] + own[prev_tasks]] = prev_last[order][prev_tasks]
    pf_tasks = np.repeat(np.arange(len(order)), n_pf)
    k = np.arange(len(pf_tasks)) - np.repeat(np.cumsum(n_pf) - n_pf, n_pf)
    base = dep_ptr[pf_tasks] + own[pf_tasks] + waits_prev[pf_tasks]
    dep_idx[base + k] = fetch[lo[pf_tasks] + k]
    serves = np.minimum(order + ahead, max(n_rows - 1, 0))
    return TaskGraph(pairs, pair_index, order.astype(np.int64), dep_ptr, dep_idx, serves.astype(np.int64))


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
    return lookup(mapping_strategies(), strategy, "mapping strategy", IMPORT_FAILURES, file, key)
