"""Every component and mapping module imports cleanly and registers what it defines."""

from archsim.components import base
from archsim.components.base import component_types
from archsim.system import mapping
from archsim.system.mapping import mapping_strategies


def test_all_component_modules_import():
    types = component_types()
    assert not base.IMPORT_FAILURES, base.IMPORT_FAILURES
    assert {"gpu", "cpu"} <= set(types)


def test_all_mapping_modules_import():
    strategies = mapping_strategies()
    assert not mapping.IMPORT_FAILURES, mapping.IMPORT_FAILURES
    assert {"single_device", "tensor_parallel"} <= set(strategies)
