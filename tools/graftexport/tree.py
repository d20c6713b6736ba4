"""The module tree of the architecture JSON."""

import torch

from . import leaves
from .jsonval import DTYPES
from .trace import TraceFailure, encode_graph, has_forward, trace_graph
from . import rules


def _tensor_entry(t):
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype]}


def own_parameters(module):
    return [(n, p) for n, p in module._parameters.items() if p is not None]


def own_buffers(module):
    return [(n, b) for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set]


class Exporter:
    def __init__(self, log=None):
        self.log = log or (lambda msg: None)
        self.fallbacks = []  # (path, type, how)

    def module(self, m, path=""):
        reg = leaves.lookup(m)
        if reg is not None:
            name, attrs = reg
            d = {"type": name}
            d.update(attrs(m))
            self._frozen(m, d, recurse=True)
            return d
        d = {"type": type(m).__name__}
        params = own_parameters(m)
        if params:
            d["parameters"] = {n: _tensor_entry(p) for n, p in params}
        bufs = own_buffers(m)
        if bufs:
            d["buffers"] = {n: _tensor_entry(b) for n, b in bufs}
        self._frozen(m, d, recurse=False)
        children = {}
        for name, child in m._modules.items():
            if child is None:
                continue
            children[name] = self.module(child, path + "." + name if path else name)
        if children:
            d["children"] = children
        if has_forward(m):
            d["forward"] = self.forward(m, path)
        return d

    def _frozen(self, m, d, recurse):
        if recurse:
            items = [(n, p) for n, p in m.named_parameters()]
        else:
            items = own_parameters(m)
        frozen = [n for n, p in items if not p.requires_grad]
        if frozen:
            d["frozen"] = frozen

    def forward(self, m, path):
        rule = rules.lookup(m)
        if rule is not None:
            rows, how = rule(m)
            self.fallbacks.append((path, type(m).__name__, how))
            return rows
        try:
            graph = trace_graph(m)
            return encode_graph(graph, m)
        except Exception as e:  # noqa: BLE001 - any fx failure
            first = e
        rows, how = rules.fallback(m, first)
        self.fallbacks.append((path, type(m).__name__, how))
        return rows
