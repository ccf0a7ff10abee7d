"""Hardware components, one module each, registered by their YAML `type:` name."""

from archsim.components.base import Component, Cost, Job, component_class, component_types, register

__all__ = ["Component", "Cost", "Job", "component_class", "component_types", "register"]
