"""Tracing a forward that plain symbolic tracing cannot follow.

Symbolic tracing fails when a forward branches on a value it computes
(``if x.shape[-1] != 7:``), takes ``len()`` of a tensor, or turns one into a
Python int.  For such a module graft-export runs the whole model once on
the example inputs, records the module's arguments and the outputs of its
submodules, and traces the module again with every node carrying its real
value: conditions, lengths and ints then take the value they had in that
run.  The graph is exact for the example input shapes (the ones written in
the document's "inputs") and may not be for others.
"""

import inspect

import torch
import torch.fx
from torch.fx.node import map_arg

from .trace import OneLevelTracer, TraceFailure, _patched_proxy_iter, _patched_sequence_functions
from .transformer import square_subsequent_mask_as_node


def _fetch(root, dotted):
    obj = root
    for part in dotted.split("."):
        if isinstance(obj, torch.nn.Module):
            for table in (obj._parameters, obj._buffers, obj._modules):
                if part in table:
                    obj = table[part]
                    break
            else:
                obj = object.__getattribute__(obj, part)
        else:
            obj = getattr(obj, part)
    return obj


class ConcreteTracer(OneLevelTracer):
    def __init__(self, root, call_args, call_kwargs, module_outputs):
        super().__init__()
        self._root = root
        sig = inspect.signature(root.forward)
        bound = sig.bind(*call_args, **call_kwargs)
        bound.apply_defaults()
        self._bound = dict(bound.arguments)
        self._outputs = {k: list(v) for k, v in module_outputs.items()}
        self.specialised = []

    def value(self, node):
        if "graft_value" not in node.meta:
            if node.op == "get_attr":
                node.meta["graft_value"] = _fetch(self._root, node.target)
            else:
                raise TraceFailure("no recorded value for node %s" % node.name)
        return node.meta["graft_value"]

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None,
                     proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        node = proxy.node
        if kind == "placeholder":
            if target.startswith("*"):
                target = target.lstrip("*")
            node.meta["graft_value"] = self._bound[target]
        elif kind == "get_attr":
            node.meta["graft_value"] = _fetch(self._root, target)
        elif kind in ("call_function", "call_method"):
            a = map_arg(node.args, self.value)
            kw = map_arg(node.kwargs, self.value)
            if kind == "call_function":
                fn = getattr(target, "__wrapped__", target)
                node.meta["graft_value"] = fn(*a, **kw)
            else:
                node.meta["graft_value"] = getattr(a[0], target)(*a[1:], **kw)
        elif kind == "call_module":
            queue = self._outputs.get(target)
            if not queue:
                raise TraceFailure("%s was called more often than in the real run" % target)
            node.meta["graft_value"] = queue.pop(0)
        return proxy

    def concrete(self, node):
        """The real value of NODE, which the forward uses as a Python value."""
        self.specialised.append(node)
        return self.value(node)

    def to_bool(self, obj):
        return bool(self.concrete(obj.node))

    def iter(self, obj):
        return iter([obj[i] for i in range(len(self.value(obj.node)))])

    def keys(self, obj):
        return self.value(obj.node).keys()


def _record(model, module, inputs):
    """Run MODEL on INPUTS; return MODULE's first call (args, kwargs) and the
    outputs of its submodules during that call, by qualified name."""
    record = {"args": None, "kwargs": None, "inside": False}
    outputs = {}
    original = module.forward

    def forward(*args, **kwargs):
        if record["args"] is not None:
            return original(*args, **kwargs)
        record["args"], record["kwargs"] = args, kwargs
        record["inside"] = True
        try:
            return original(*args, **kwargs)
        finally:
            record["inside"] = False

    hooks = []
    for name, sub in module.named_modules():
        if not name:
            continue

        def hook(m, inp, out, name=name):
            if record["inside"]:
                outputs.setdefault(name, []).append(out)
        hooks.append(sub.register_forward_hook(hook))
    module.forward = forward
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        del module.forward
        for h in hooks:
            h.remove()
    if record["args"] is None:
        raise TraceFailure("the module is not called when the model runs")
    return record["args"], record["kwargs"], outputs


def concrete_trace(model, module, inputs):
    """Trace MODULE (a submodule of MODEL, or MODEL) one level deep with real
    values from a run of MODEL on INPUTS."""
    args, kwargs, outputs = _record(model, module, inputs)
    tracer = ConcreteTracer(module, args, kwargs, outputs)
    patches = {}

    def concrete(fn):
        def method(self, *a):
            return fn(tracer.concrete(self.node), *a)
        return method

    for dunder, fn in (("__len__", len), ("__index__", int), ("__int__", int),
                       ("__float__", float)):
        patches[dunder] = torch.fx.Proxy.__dict__.get(dunder)
        setattr(torch.fx.Proxy, dunder, concrete(fn))
    try:
        with torch.no_grad(), _patched_proxy_iter(), _patched_sequence_functions(), \
                square_subsequent_mask_as_node(tracer):
            graph = tracer.trace(module)
        graph._graft_specialised = tracer.specialised
    finally:
        for dunder, fn in patches.items():
            if fn is None:
                delattr(torch.fx.Proxy, dunder)
            else:
                setattr(torch.fx.Proxy, dunder, fn)
    return graph
