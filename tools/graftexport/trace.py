"""One-level forward graphs.

A composite module's forward is traced with torch.fx so that every call to a
submodule stays a single ``call_module`` node: the graph is written in terms
of the module's own children (a grandchild appears, dotted, only when the
forward reaches it directly, e.g. ``self.blocks[0]`` of a ModuleList).
"""

import builtins
import dis
import inspect
import math
import operator
from contextlib import contextmanager

import torch
import torch.fx
from torch import nn

from . import leaves
from .jsonval import GraphValueError, encode_value
from .transformer import square_subsequent_mask_as_node, traced_as_computed


class TraceFailure(Exception):
    pass


__all__ = ["TraceFailure", "GraphValueError", "trace_graph", "encode_graph", "has_forward"]


# ------------------------------------------------------------ fx on 3.11
# Proxy.__iter__ finds the UNPACK_SEQUENCE of ``a, b = proxy`` by indexing
# dis.get_instructions() with f_lasti // 2, which is wrong once the bytecode
# has inline caches (Python 3.11).  Look the instruction up by its offset.

def _proxy_iter(self):
    frame = inspect.currentframe().f_back
    code = frame.f_code
    for inst in dis.get_instructions(code):
        if inst.offset == frame.f_lasti:
            if inst.opname == "UNPACK_SEQUENCE":
                return (self[i] for i in range(inst.argval))
            break
    return self.tracer.iter(self)


@contextmanager
def _patched_proxy_iter():
    old = torch.fx.Proxy.__iter__
    torch.fx.Proxy.__iter__ = _proxy_iter
    try:
        yield
    finally:
        torch.fx.Proxy.__iter__ = old


class OneLevelTracer(torch.fx.Tracer):
    """Traces one module's forward; every submodule call is a leaf."""

    def __init__(self):
        super().__init__(autowrap_modules=(math,))
        # buffers read inside forward become get_attr nodes, not constants
        self.proxy_buffer_attributes = True

    def is_leaf_module(self, m, qualname):
        return True


def has_forward(module):
    """Whether MODULE needs a forward graph (it is not a plain chain)."""
    fwd = type(module).forward
    if fwd is nn.Sequential.forward:
        return False
    if fwd is nn.Module.forward:  # ModuleList, ModuleDict, bare containers
        return False
    return True


# torch.cat(xs, 1) where xs is one Proxy (a list built outside this module,
# DenseNet's _DenseLayer) never reaches fx: the C binding rejects the Proxy
# before __torch_function__ is consulted.  Record such calls directly.
_SEQUENCE_FUNCTIONS = ("cat", "concat", "stack", "hstack", "vstack")
# torch.ones(T, T), torch.arange(x.size(1), device=x.device): sizes and
# numbers that are Proxies are refused the same way.
_CREATION_FUNCTIONS = ("zeros", "ones", "full", "empty", "arange", "eye")


def _first_proxy(v):
    if isinstance(v, torch.fx.Proxy):
        return v
    if isinstance(v, (list, tuple)):
        for x in v:
            p = _first_proxy(x)
            if p is not None:
                return p
    if isinstance(v, dict):
        return _first_proxy(list(v.values()))
    return None


def _proxy_wrapper(fn):
    def wrapper(*args, **kwargs):
        p = _first_proxy([args, kwargs])
        if p is not None:
            return p.tracer.create_proxy("call_function", fn, args, kwargs)
        return fn(*args, **kwargs)
    wrapper.__wrapped__ = fn
    return wrapper


@contextmanager
def _patched_torch_functions():
    saved = []
    for name in _SEQUENCE_FUNCTIONS + _CREATION_FUNCTIONS:
        fn = getattr(torch, name, None)
        if fn is not None:
            saved.append((torch, name, fn))
    # torchvision.ops functions (nms, ...) are graft functions: one node each
    saved += leaves.torchvision_functions()
    for space, name, fn in saved:
        setattr(space, name, _proxy_wrapper(fn))
    try:
        yield
    finally:
        for space, name, fn in reversed(saved):
            setattr(space, name, fn)


def trace_graph(module):
    tracer = OneLevelTracer()
    with _patched_proxy_iter(), _patched_torch_functions(), \
            square_subsequent_mask_as_node(tracer), traced_as_computed(module):
        graph = tracer.trace(module)
    return graph


# ------------------------------------------------------------ names

_INPLACE = {
    "iadd": "add", "isub": "sub", "imul": "mul", "itruediv": "truediv",
    "ifloordiv": "floordiv", "imod": "mod", "ipow": "pow", "imatmul": "matmul",
    "iand": "and_", "ior": "or_", "ixor": "xor",
}

_NAME_CACHE = {}


def _build_name_cache():
    spaces = [torch.nn.functional, torch, math, builtins, operator]
    for ns in spaces:
        for name in dir(ns):
            if name.startswith("__"):
                continue
            try:
                obj = getattr(ns, name)
            except Exception:
                continue
            if callable(obj):
                # keyed by id; the entry keeps OBJ alive so the id stays its own.
                # The callable's own name beats an alias (torch.obj, a loop
                # variable left in torch's namespace, is zeros_like), a
                # plain name beats a _private one; the first space wins.
                old = _NAME_CACHE.get(id(obj))
                own = getattr(obj, "__name__", None)
                if old is None or (old[1] != own and name == own) or \
                        (old[1].startswith("_") and not name.startswith("_") and old[1] != own):
                    _NAME_CACHE[id(obj)] = (obj, name)


def function_name(target):
    """The bare name of a call_function target (``operator.add`` -> ``add``)."""
    if not _NAME_CACHE:
        _build_name_cache()
    entry = _NAME_CACHE.get(id(target))
    name = entry[1] if entry is not None and entry[0] is target else None
    if name is None:
        name = getattr(target, "__name__", None)
        if name is None:
            raise TraceFailure("call_function target without a name: %r" % (target,))
    return _INPLACE.get(name, name)


def _is_assert(node):
    return node.op == "call_function" and node.target is torch._assert


def _removable(n):
    if n.op == "get_attr":
        return True
    if n.op == "call_method":
        return not n.target.endswith("_")
    if n.op == "call_function":
        name = getattr(n.target, "__name__", "")
        return not name.endswith("_") and name not in _INPLACE and not _is_assert(n)
    return False


def _drop_dead_from(graph, seeds):
    """Remove SEEDS if unused, then whatever was computed only for them."""
    feeding = set()
    stack = list(seeds)
    while stack:
        n = stack.pop()
        for a in n.all_input_nodes:
            if a not in feeding:
                feeding.add(a)
                stack.append(a)
    for n in seeds:
        if not n.users:
            graph.erase_node(n)
            feeding.discard(n)
    changed = True
    while changed:
        changed = False
        for n in reversed(list(graph.nodes)):
            if n in feeding and not n.users and _removable(n):
                graph.erase_node(n)
                feeding.discard(n)
                changed = True


def _drop_asserts(graph):
    """Remove torch._assert nodes nobody uses, and the checks that fed only them."""
    _drop_dead_from(graph, [n for n in graph.nodes if _is_assert(n) and not n.users])
    # values a trace with real values turned into Python bools and ints
    alive = set(graph.nodes)
    special = dict.fromkeys(n for n in getattr(graph, "_graft_specialised", ()) if n in alive)
    _drop_dead_from(graph, [n for n in special if not n.users and _removable(n)])


_PURE_FUNCTIONS = {builtins.getattr, operator.getitem, operator.eq, operator.ne,
                   operator.lt, operator.le, operator.gt, operator.ge,
                   operator.floordiv, operator.mod, operator.mul, operator.add,
                   operator.sub}
_PURE_METHODS = {"size", "dim"}


def _drop_unused(graph):
    """Remove unused shape reads and unused tuple items.

    ``n, c, h, w = x.shape`` with ``c`` never used, the ``_`` of
    ``x, _ = attention(...)`` and the shapes formatted into assertion
    messages leave nodes without users; they compute nothing the module
    returns.  Only side-effect-free nodes are removed.
    """
    changed = True
    while changed:
        changed = False
        for n in reversed(list(graph.nodes)):
            if n.users:
                continue
            if (n.op == "call_function" and n.target in _PURE_FUNCTIONS) or \
                    (n.op == "call_method" and n.target in _PURE_METHODS):
                graph.erase_node(n)
                changed = True


def _check_inplace(graph):
    """An in-place operator written as its plain form must not be observable."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        if n.op == "call_function" and getattr(n.target, "__name__", "") in _INPLACE:
            lhs = n.args[0]
            if isinstance(lhs, torch.fx.Node):
                for u in lhs.users:
                    if order[u] > order[n]:
                        raise TraceFailure("in-place %s whose left operand is read later" % n.target.__name__)


def _computed_slices_as_nodes(graph):
    """A slice whose bounds are computed in the forward (``mask[:, :T]`` with
    ``T = x.size(1)``) becomes a call of ``slice`` before the node that uses
    it: the document's slices hold constants only, and a ``slice`` node
    computes one from the values of earlier nodes."""
    def has_node(v):
        return any(isinstance(p, torch.fx.Node) for p in (v.start, v.stop, v.step))

    for n in list(graph.nodes):
        def lift(v, n=n):
            if isinstance(v, slice) and has_node(v):
                with graph.inserting_before(n):
                    return graph.call_function(builtins.slice, (v.start, v.stop, v.step))
            if isinstance(v, (tuple, list)):
                return type(v)(lift(x) for x in v)
            return v
        n.args = lift(n.args)
        n.kwargs = {k: lift(v) for k, v in n.kwargs.items()}


def _functionalise_inplace_methods(graph):
    """``x.masked_fill_(mask, v)`` changes x: the reads of x after the call
    read the call's result (what it returns), so that a graph computing
    values, as graft's does, sees the change."""
    order = {n: i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        if n.op != "call_method" or not n.target.endswith("_") or not n.args:
            continue
        lhs = n.args[0]
        if isinstance(lhs, torch.fx.Node):
            for u in list(lhs.users):
                if order[u] > order[n]:
                    u.replace_input_with(lhs, n)


def _signature_defaults(fn):
    """Keyword defaults of a Python-level function, or {} if unknown."""
    try:
        from torch._jit_internal import boolean_dispatched
        if fn in boolean_dispatched:  # F.max_pool2d and friends
            fn = boolean_dispatched[fn]["if_false"]
    except (ImportError, TypeError):
        pass
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in sig.parameters.items()
            if p.default is not inspect.Parameter.empty}


def _drop_default_kwargs(fn, kwargs):
    """Leave out keyword arguments that only restate the function's default
    (F.softmax's ``_stacklevel=3``, ``dtype=None``)."""
    defaults = _signature_defaults(fn)
    out = {}
    for k, v in kwargs.items():
        if k in defaults and not isinstance(v, torch.fx.Node):
            d = defaults[k]
            if type(d) is type(v) and d == v:
                continue
        out[k] = v
    return out


def encode_graph(graph, module):
    """The graph as a list of [NAME, OP, TARGET, ARGS, KWARGS] rows."""
    _drop_asserts(graph)
    _drop_unused(graph)
    _check_inplace(graph)
    _functionalise_inplace_methods(graph)
    _computed_slices_as_nodes(graph)
    rows = []
    seen = set()
    for n in graph.nodes:
        if n.op == "call_function":
            target = function_name(n.target)
        elif n.op in ("call_module", "get_attr", "call_method", "placeholder", "output"):
            target = n.target
            if n.op == "get_attr":
                _check_get_attr(module, target)
        else:
            raise TraceFailure("unknown node op " + n.op)
        node_args = list(n.args)
        if n.op == "call_function" and n.target is operator.getitem and \
                len(node_args) == 2 and isinstance(node_args[1], list):
            # x[[0, 2]] indexes with a list; a list index in the graph is a
            # tuple of indices, so write it as x[([0, 2],)], the same thing
            node_args[1] = (node_args[1],)
        args = encode_value(node_args, seen)
        kw = n.kwargs
        if n.op == "call_function":
            kw = _drop_default_kwargs(n.target, kw)
        kwargs = {k: encode_value(v, seen) for k, v in kw.items()}
        rows.append([n.name, n.op, target, args, kwargs])
        seen.add(n.name)
    return rows


def _check_get_attr(module, target):
    obj = module
    parts = target.split(".")
    for p in parts[:-1]:
        obj = obj._modules.get(p)
        if obj is None:
            raise TraceFailure("get_attr %s: no such submodule" % target)
    last = parts[-1]
    if last in obj._parameters and obj._parameters[last] is not None:
        return
    if last in obj._buffers and obj._buffers[last] is not None:
        if last in obj._non_persistent_buffers_set:
            raise TraceFailure("get_attr %s: a non-persistent buffer" % target)
        return
    raise TraceFailure("get_attr %s: not a parameter or persistent buffer "
                       "(a tensor constant created in forward?)" % target)
