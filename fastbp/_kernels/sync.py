"""Atomic counters and waiting, for threads that share one parallel region.

The epoch kernel (``calls.py``) runs a whole epoch in one parallel loop: its
threads claim the tasks of each phase of a batch (one slot per task, set
with ``compare_exchange``) and wait, between phases, for a counter of
finished tasks. These are the only operations they share:

- ``fetch_add(counters, i, v)``: add v to counters[i], return the old value
  (sequentially consistent, so every write before it is seen by a thread
  that reads the new value);
- ``load(counters, i)``: counters[i], sequentially consistent;
- ``compare_exchange(counters, i, expected, new)``: set counters[i] to new if
  it holds expected, atomically; True if it did (one thread of many wins);
- ``pause()``: the CPU's spin-wait hint (x86 ``pause``; nothing elsewhere);
- ``yield_thread()``: give the core to another runnable thread
  (``sched_yield``, or ``SwitchToThread`` on Windows), so that a waiting
  thread does not starve the one it waits for on a busy machine.

``counters`` is a C-contiguous int64 array; each counter should sit on a
cache line of its own (index multiples of 8).
"""

import ctypes
import ctypes.util
import platform
import sys

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_YIELD_SYMBOL = "fastbp_yield_thread"
_bound = []


def bind():
    """Bind ``fastbp_yield_thread`` (called by name by ``yield_thread``), once per process."""
    if _bound:
        return
    if sys.platform == "win32":
        function = ctypes.windll.kernel32.SwitchToThread
    else:
        function = ctypes.CDLL(ctypes.util.find_library("c") or None).sched_yield
    llvm.add_symbol(_YIELD_SYMBOL, ctypes.cast(function, ctypes.c_void_p).value)
    _bound.append(True)


bind()

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _is_counters(counters):
    return isinstance(counters, types.Array) and counters.dtype == types.int64


def _counter_pointer(context, builder, signature, args):
    """Pointer to counters[index] of an intrinsic called as (counters, index, …)."""
    array_type, index_type = signature.args[0], signature.args[1]
    ary = context.make_array(array_type)(context, builder, args[0])
    i = context.cast(builder, args[1], index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [i], wraparound=False)


@intrinsic
def fetch_add(typingctx, counters, index, value):
    """Atomically counters[index] += value; returns the value before."""
    if not _is_counters(counters):
        return None

    def codegen(context, builder, signature, args):
        pointer = _counter_pointer(context, builder, signature, args)
        amount = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", pointer, amount, "seq_cst")

    return types.int64(counters, index, value), codegen


@intrinsic
def load(typingctx, counters, index):
    """counters[index], read atomically."""
    if not _is_counters(counters):
        return None

    def codegen(context, builder, signature, args):
        pointer = _counter_pointer(context, builder, signature, args)
        return builder.load_atomic(pointer, "seq_cst", 8)

    return types.int64(counters, index), codegen


@intrinsic
def compare_exchange(typingctx, counters, index, expected, new):
    """Atomically: if counters[index] == expected, set it to new; True if it was set."""
    if not _is_counters(counters):
        return None

    def codegen(context, builder, signature, args):
        pointer = _counter_pointer(context, builder, signature, args)
        old = context.cast(builder, args[2], signature.args[2], types.int64)
        value = context.cast(builder, args[3], signature.args[3], types.int64)
        outcome = builder.cmpxchg(pointer, old, value, "seq_cst", "seq_cst")
        return builder.extract_value(outcome, 1)

    return types.boolean(counters, index, expected, new), codegen


@intrinsic
def pause(typingctx):
    """The spin-wait hint: x86 ``pause`` (lets the sibling hyper-thread run)."""

    def codegen(context, builder, signature, args):
        if _X86:
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def yield_thread(typingctx):
    """Give up the core to another runnable thread (sched_yield)."""

    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), _YIELD_SYMBOL)
        builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen
