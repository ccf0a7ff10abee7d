"""The unsigned-index build step shared by the NoC and DRAM kernels."""

import numpy as np

from archsim.components import unsigned_index

SRC = '''
import numba

@numba.njit(cache=True)
def kernel(a, b, i):
    a[i + 1] = a[:2].sum() + b[i, 0]
    return b[i, 1:]

def plain(a, i):
    return a[i]
'''


def test_rewrites_every_index_of_the_named_functions_and_leaves_slices():
    out = unsigned_index.transform(SRC, funcs=("kernel",))
    assert "a[_U(i + 1)]" in out and "a[:2]" in out
    assert "b[_U(i), _U(0)]" in out and "b[_U(i), 1:]" in out
    assert "return a[i]" in out          # not named: untouched


def test_none_selects_the_njit_functions_only():
    out = unsigned_index.transform(SRC, funcs=None)
    assert "b[_U(i), _U(0)]" in out and "return a[i]" in out
    ns = {}
    # source run from memory has no file for Numba's on-disk cache
    exec(compile(out.replace("cache=True", "cache=False"), "<generated>", "exec"), ns)
    a = np.arange(4.0)
    b = np.arange(6.0).reshape(3, 2)
    ns["kernel"](a, b, 1)
    assert a[2] == 0.0 + 1.0 + 2.0        # a[:2].sum() + b[1, 0]


def test_plain_kernels_on_request(monkeypatch):
    from archsim.components.dram import kernel
    monkeypatch.setenv("ARCHSIM_PLAIN_KERNELS", "1")
    assert unsigned_index.load(kernel, funcs=None) is kernel.simulate


def test_a_built_kernel_is_named_by_the_modules_it_imports_too(tmp_path, monkeypatch):
    """Numba freezes imported constants (the DRAM command codes from standards.py) into the
    machine code and caches by one file's stamp: a change to an imported module must give a
    new build (and a new stream-cache tag), not the old machine code."""
    from pathlib import Path
    from archsim.components import unsigned_index
    pkg = tmp_path / "archsim" / "components"
    pkg.mkdir(parents=True)
    (pkg / "consts.py").write_text("A = 1\n")
    (pkg / "kern.py").write_text("from archsim.components.consts import A\n")
    monkeypatch.setattr(unsigned_index, "__file__", str(pkg / "unsigned_index.py"))
    (pkg / "unsigned_index.py").write_text("# transform\n")
    text = (pkg / "kern.py").read_text()
    before = unsigned_index.build_tag(pkg / "kern.py", text)
    (pkg / "consts.py").write_text("A = 2\n")
    assert unsigned_index.build_tag(pkg / "kern.py", text) != before
    (pkg / "consts.py").write_text("A = 1\n")
    assert unsigned_index.build_tag(pkg / "kern.py", text) == before
    (pkg / "unsigned_index.py").write_text("# another transform\n")
    assert unsigned_index.build_tag(pkg / "kern.py", text) != before


def test_the_stream_cache_tag_follows_what_the_dram_kernel_imports(monkeypatch):
    from archsim.components import unsigned_index
    from archsim.components.dram import stream_cache
    stream_cache._source_tag.cache_clear()
    before = stream_cache._source_tag()
    monkeypatch.setattr(unsigned_index, "dependency_sources", lambda path: b"changed")
    stream_cache._source_tag.cache_clear()
    assert stream_cache._source_tag() != before
    monkeypatch.undo()
    stream_cache._source_tag.cache_clear()
    assert stream_cache._source_tag() == before
