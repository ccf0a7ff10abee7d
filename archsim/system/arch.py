"""Arch configs: `arch_configs/NAME.yaml` -> ArchSpec (validated components and mapping).

Layout of an arch YAML:
    name: a100
    description: ...
    mapping: {strategy: single_device, device: gpu, ...}   # how ops become component jobs
    gpu: {type: gpu, ...}                                   # every other key is a component
Dotted `--set` paths address this tree directly: `--set gpu.memory_bandwidth="1.5 TB/s"`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from archsim.components.base import component_class
from archsim.config.loader import apply_sets, find_config, load_with_base
from archsim.errors import ConfigError
from archsim.paths import ARCH_DIR

RESERVED = ("name", "description", "mapping", "sources")


@dataclass
class ArchSpec:
    name: str
    file: str
    description: str
    components: dict            # name -> validated params (including 'type')
    mapping: dict               # validated mapping params (including 'strategy')
    raw: dict = field(default_factory=dict)   # merged YAML after base and --set (provenance)

    def resolved(self) -> dict:
        """The fully resolved config: every default filled in, units in base SI."""
        out = {"name": self.name, "description": self.description, "mapping": self.mapping}
        out.update(self.components)
        return copy.deepcopy(out)


def load_arch(name_or_path, sets=()) -> ArchSpec:
    from archsim.system.mapping import mapping_class

    path = find_config(name_or_path, ARCH_DIR, "arch")
    base = load_with_base(path, ARCH_DIR, "arch")
    data = apply_sets(base, sets)
    file = str(path)
    for key, block in base.items():
        # a component's keys belong to its type: --set changes them, not the block or the type
        if key in RESERVED or not isinstance(block, dict) or "type" not in block:
            continue
        new = data.get(key)
        if not isinstance(new, dict) or "type" not in new:
            raise ConfigError(f"is a component block ({block['type']}); --set changes its keys "
                              f"({key}.<key>=value), not the whole block", "--set", key)
        if new.get("type") != block["type"]:
            raise ConfigError(f"a component's type is not changed by --set ({block['type']} to "
                              f"{new.get('type')!r}: its keys are the type's); write an arch file "
                              "with `base:` instead", "--set", f"{key}.type")
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise ConfigError("expected a string", file, "name")
    mapping_block = data.get("mapping")
    if not isinstance(mapping_block, dict) or "strategy" not in mapping_block:
        raise ConfigError("a `mapping:` block with a `strategy:` is required", file, "mapping")
    components = {}
    for key, block in data.items():
        if key in RESERVED:
            continue
        if not isinstance(block, dict) or "type" not in block:
            raise ConfigError("unknown key: expected a component block with a `type:` "
                              f"or one of {', '.join(RESERVED)}", file, key)
        cls = component_class(block["type"], file, f"{key}.type")
        params = cls.from_config(key, block, file).params
        components[key] = {"type": block["type"], **params}
    if not components:
        raise ConfigError("no components: an arch needs at least one `name: {type: ...}` block", file)
    mcls = mapping_class(mapping_block["strategy"], file, "mapping.strategy")
    mparams = mcls.validate_params(mapping_block, file)
    for ref_key in mcls.component_refs:
        ref = mparams.get(ref_key)
        refs = ref if isinstance(ref, list) else [ref]
        for r in refs:
            if r is not None and r not in components:
                raise ConfigError(f"names component {r!r}, which this arch does not define "
                                  f"(it has {', '.join(components)})", file, f"mapping.{ref_key}")
            allowed = mcls.component_types.get(ref_key)
            if r is not None and allowed and components[r]["type"] not in allowed:
                raise ConfigError(f"names {r!r}, a {components[r]['type']}; the {mcls.strategy} "
                                  f"mapping's {ref_key} must be a {' or '.join(allowed)}", file,
                                  f"mapping.{ref_key}")
    return ArchSpec(name, file, str(data.get("description", "")), components, mparams, data)
