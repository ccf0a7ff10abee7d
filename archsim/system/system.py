"""A System: the components of an arch, its mapping, and memoised job costs."""

from __future__ import annotations

from archsim.components.base import Component, Cost, Job, component_class
from archsim.system.arch import ArchSpec
from archsim.system.mapping import mapping_class


class System:
    def __init__(self, arch: ArchSpec, fidelity: str = "cycle"):
        if fidelity not in ("cycle", "analytic"):
            raise ValueError(f"unknown fidelity {fidelity!r}")
        self.arch = arch
        self.fidelity = fidelity
        self.components: dict[str, Component] = {}
        for name, params in arch.components.items():
            cls = component_class(params["type"], arch.file, name)
            body = {k: v for k, v in params.items() if k != "type"}
            self.components[name] = cls(name, body, arch.file)
        self.mapping = mapping_class(arch.mapping["strategy"])(self, arch.mapping)
        self._memo: dict = {}

    def cost(self, component: str, job: Job) -> Cost:
        """Cost of `job` on `component`, computed once per distinct job signature."""
        key = (component, job)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        c = self.components[component].cost(job, self.fidelity)
        self._memo[key] = c
        return c
