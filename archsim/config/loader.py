"""Safe YAML reading, `base:` inheritance and `--set dotted.path=value` overrides."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from archsim.errors import ConfigError

class _SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (the C one when present: the same safe subset of YAML, parsed faster)
    that refuses a key given twice in one mapping, which YAML would let the last one win."""


def _unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":     # `<<: *anchor`: merged, not given
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:       # an unhashable key: the constructor below says so
            continue
        if first != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (lines {first} and "
                f"{key_node.start_mark.line + 1})", key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_SafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
_SAFE_LOADER = _SafeLoader


def load_yaml(path) -> dict:
    """Read a YAML mapping with safe loading; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path) from None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", path, where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", path)
    return data


def find_config(name_or_path, directory: Path, what: str) -> Path:
    """A bundled name ('a100') from `directory`, or a path to a YAML file."""
    p = Path(str(name_or_path))
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise ConfigError(f"no such {what} file", p)
        return p
    candidate = directory / f"{name_or_path}.yaml"
    if candidate.is_file():
        return candidate
    known = sorted(f.stem for f in directory.glob("*.yaml"))
    import difflib
    close = difflib.get_close_matches(str(name_or_path), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = {"arch": "; see `archsim list arch`", "model": "; see `archsim list models`"}.get(what, "")
    raise ConfigError(f"unknown {what} {name_or_path!r}{hint}{listing}", directory)


def deep_merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`; nested mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_with_base(path: Path, directory: Path, what: str, _seen=None) -> dict:
    """Load `path`, resolving a `base:` (bundled name or path relative to the file) recursively."""
    path = Path(path)
    seen = set() if _seen is None else _seen
    key = str(path.resolve())
    if key in seen:
        raise ConfigError("`base:` inheritance forms a cycle", path, "base")
    seen.add(key)
    data = load_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError("expected the name or path of a base config", path, "base")
    rel = path.parent / base
    try:
        base_path = rel if rel.suffix in (".yaml", ".yml") and rel.is_file() else find_config(base, directory, what)
    except ConfigError as exc:
        # name the file whose `base:` it is
        raise ConfigError(exc.reason, path, "base") from None
    return deep_merge(load_with_base(base_path, directory, what, seen), data)


def parse_set(item: str, source: str = "--set") -> tuple[list[str], object]:
    """'mesh.decode_grid=420x420' -> (['mesh', 'decode_grid'], '420x420'); values are YAML scalars."""
    if "=" not in item:
        raise ConfigError(f"expected dotted.path=value, got {item!r}", source)
    path, _, raw = item.partition("=")
    keys = [k for k in path.strip().split(".")]
    if not all(keys):
        raise ConfigError(f"empty key in {path!r}", source)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return keys, value


def apply_sets(data: dict, sets, source: str = "--set") -> dict:
    """Apply overrides (strings 'a.b=v' or a mapping {'a.b': v}) to a copy of `data`."""
    out = copy.deepcopy(data)
    items = []
    if isinstance(sets, dict):
        items = [(str(k).split("."), v) for k, v in sets.items()]
    else:
        items = [parse_set(s, source) for s in (sets or [])]
    for keys, value in items:
        node = out
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{'.'.join(keys[: i + 1])} is a value, not a block", source, ".".join(keys))
            node = nxt
        node[keys[-1]] = value
    return out
