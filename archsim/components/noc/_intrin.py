"""LLVM intrinsics the NoC kernels need and Numba does not offer.

`prefetch`: the kernel knows, when it switches a flit, which VC buffer the flit will land in
a few simulated cycles later; touching that record early hides the cache miss of the arrival.
The rest serve the two-thread run (engine.worker): acquire/release accesses for the spin
barrier and the FIFO tails the threads share, the PAUSE hint, sched_yield, and a typed
pointer from an address so that the second thread can view the first one's arrays.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from llvmlite import ir


@intrinsic
def prefetch(typingctx, arr, idx):
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ary = context.make_array(aty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # write intent, high locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# ---- for the two-thread engine: the threads meet at a spin barrier on a shared int64 array,
# and the second thread reaches the first one's arrays through published addresses

def _item_ptr(context, builder, aty, arr, idx):
    ary = context.make_array(aty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, aty, ary, [idx], wraparound=False,
                                    boundscheck=False)


@intrinsic
def load_acquire(typingctx, arr, idx):
    """arr[idx], read before any later access (pairs with store_release)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = arr.dtype(arr, idx)

    def codegen(context, builder, signature, args):
        ptr = _item_ptr(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", signature.args[0].dtype.bitwidth // 8)

    return sig, codegen


@intrinsic
def store_release(typingctx, arr, idx, val):
    """arr[idx] = val, written after every earlier access is visible."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None
    sig = types.void(arr, idx, val)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        ptr = _item_ptr(context, builder, aty, args[0], args[1])
        v = context.cast(builder, args[2], signature.args[2], aty.dtype)
        builder.store_atomic(v, ptr, "release", aty.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def spin_pause(typingctx):
    """The x86 PAUSE hint inside a spin-wait loop."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.VoidType(), [])
        builder.call(cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse2.pause"), [])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def yield_cpu(typingctx):
    """sched_yield(): a spinning thread gives its core away when the other thread is late."""
    sig = types.int32()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(32), [])
        return builder.call(cgutils.get_or_insert_function(builder.module, fnty, "sched_yield"), [])

    return sig, codegen


@intrinsic
def array_at(typingctx, addr, proto):
    """A typed pointer to address `addr`, for numba.carray, with the dtype of array `proto`."""
    if not isinstance(proto, types.Array) or not isinstance(addr, types.Integer):
        return None
    pt = types.CPointer(proto.dtype)
    sig = pt(addr, proto)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pt))

    return sig, codegen
