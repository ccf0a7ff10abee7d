"""The component interface and registry.

A component turns a Job into a Cost. It knows nothing of models, mappings or systems.
Adding a part is one module that defines a Component subclass decorated with @register,
plus a YAML block `name: {type: <type_name>, ...}` in an arch config.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import ClassVar

from archsim.config.schema import validate
from archsim.errors import ConfigError


@dataclass(frozen=True)
class Job:
    """A unit of work for one component. Hashable: equal jobs have equal costs (memoised).

    Matrix convention: out[m, n] = A[m, k] x W[k, n], repeated `batch` times (e.g. heads).
    `kind` is one of the op kinds a component may accept: gemm, gemv, attention_qk,
    attention_av, softmax, norm, activation, rope, elementwise, embedding, transfer,
    allreduce, ... ; a component raises ConfigError for a kind it cannot run.
    `extra` carries component-specific hints as sorted (key, value) pairs.
    """

    kind: str
    m: int = 0
    n: int = 0
    k: int = 0
    batch: int = 1
    flops: float = 0.0
    bytes_read: float = 0.0
    bytes_written: float = 0.0
    dtype_w: str = "fp16"
    dtype_a: str = "fp16"
    extra: tuple = ()
    label: str = field(default="", compare=False)

    def get(self, key, default=None):
        for k, v in self.extra:
            if k == key:
                return v
        return default


@dataclass
class Cost:
    """What a job costs on a component: time, energy (pJ), bytes moved, and where it went."""

    seconds: float
    cycles: int
    energy_pj: float = 0.0
    bytes: float = 0.0
    breakdown: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.seconds < 0 or self.cycles < 0 or self.energy_pj < 0 or self.bytes < 0:
            raise ValueError(f"negative cost: {self}")


class Component:
    """Base class. Subclasses set `type_name` and `schema` and implement `cost`."""

    type_name: ClassVar[str] = ""
    schema: ClassVar[dict] = {}
    #: concurrent jobs the component serves (the scheduler's resource capacity)
    lanes: int = 1

    def __init__(self, name: str, params: dict, file=None):
        self.name = name
        self.file = file
        self.params = params

    @classmethod
    def from_config(cls, name: str, block: dict, file=None) -> "Component":
        body = {k: v for k, v in block.items() if k != "type"}
        params = validate(body, cls.schema, file, name)
        return cls(name, params, file)

    # --- what systems and mappings may ask of a component -------------------------------
    def cost(self, job: Job, fidelity: str = "cycle") -> Cost:
        raise NotImplementedError

    @property
    def clock_hz(self) -> float:
        return float(self.params.get("clock", 1e9))

    @property
    def memory_bytes(self) -> float:
        """Capacity offered for weights and KV cache (0 if the part holds none)."""
        return 0.0

    @property
    def static_power_w(self) -> float:
        """Power drawn while the system runs, whether busy or not (charged over wall time)."""
        return 0.0

    def roofs(self) -> tuple[list, list]:
        """The part's peak rates for a roofline: ([(label, bytes/s)], [(label, FLOP/s)]);
        labels name the rate (a compute roof ends with its element type)."""
        return [], []

    def cold_start(self) -> None:
        """The jobs that follow have nothing before them (`archsim op` runs one op alone):
        a part that overlaps a job with the previous one's tail stops crediting it."""

    def unsupported(self, job: Job) -> ConfigError:
        return ConfigError(f"component type {self.type_name!r} cannot run a {job.kind!r} job",
                           self.file, self.name)


_REGISTRY: dict[str, type[Component]] = {}
_LOADED = False
#: modules that failed to import: {module: one-line reason}; reported when a type is missing
IMPORT_FAILURES: dict[str, str] = {}


def register(cls: type[Component]) -> type[Component]:
    if not cls.type_name:
        raise TypeError(f"{cls.__name__} has no type_name")
    if cls.type_name in _REGISTRY and _REGISTRY[cls.type_name] is not cls:
        raise TypeError(f"component type {cls.type_name!r} registered twice")
    _REGISTRY[cls.type_name] = cls
    return cls


def import_package(pkg, failures: dict) -> None:
    """Import every module below `pkg` so that its classes register themselves.

    A module that fails to import is recorded, not raised: one broken part must not stop
    machines that do not use it; the failure is named when its type is asked for."""
    for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + ".",
                                      onerror=lambda name: failures.setdefault(name, "cannot import")):
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # noqa: BLE001 - reported with the missing type
            failures[info.name] = f"{type(exc).__name__}: {exc}"


def _load_all():
    global _LOADED
    if _LOADED:
        return
    import archsim.components as pkg
    import_package(pkg, IMPORT_FAILURES)
    _LOADED = True


def component_types() -> dict[str, type[Component]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def lookup(known: dict, name: str, what: str, failures: dict, file=None, key=None):
    """`known[name]`, or one ConfigError listing what is known and any module that failed to import."""
    if not isinstance(name, str):
        raise ConfigError(f"expected a {what} name, got {name!r}", file, key)
    if name not in known:
        broken = "; ".join(f"{m} failed to import ({why})" for m, why in failures.items())
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(known)}"
                          + (f"; {broken}" if broken else ""), file, key)
    return known[name]


def component_class(type_name: str, file=None, key=None) -> type[Component]:
    return lookup(component_types(), type_name, "component type", IMPORT_FAILURES, file, key)
