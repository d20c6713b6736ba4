"""The module tree of the architecture JSON."""

import torch

from . import detection_onestage, detection_rcnn, fallback, leaves
from .jsonval import DTYPES
from .trace import TraceFailure, encode_graph, has_forward, trace_graph


def _tensor_entry(t):
    return {"shape": list(t.shape), "dtype": DTYPES[t.dtype]}


def own_parameters(module):
    return [(n, p) for n, p in module._parameters.items() if p is not None]


def own_buffers(module):
    return [(n, b) for n, b in module._buffers.items()
            if b is not None and n not in module._non_persistent_buffers_set]


def first_names(model):
    """{id(tensor): the first state_dict key naming it}: a tensor under
    several names (a tied weight, a module under two names) is written with
    the later names tied to the first."""
    first = {}
    for key, t in model.state_dict(keep_vars=True).items():
        first.setdefault(id(t), key)
    return first


class Exporter:
    def __init__(self, model=None, example_inputs=None):
        self.model = model
        self.example_inputs = example_inputs
        self.fallbacks = []  # (path, type, why)
        self.first = first_names(model) if model is not None else {}
        self.detection_run = {}  # the detection families' example runs, made when first needed

    def _tied(self, d, path, tensors):
        tied = {}
        for n, t in tensors:
            key = path + "." + n if path else n
            first = self.first.get(id(t), key)
            if first != key:
                tied[n] = first
        if tied:
            d["tied"] = tied

    def module(self, m, path=""):
        if isinstance(m, torch.jit.ScriptModule):
            raise TraceFailure("%s (%s): a TorchScript module (torch.jit.script or "
                               "torch.jit.trace), whose Python code graft-export cannot "
                               "read; export the model built without scripting it"
                               % (path or "<root>", m.original_name))
        reg = leaves.lookup(m)
        if reg is not None:
            name, attrs = reg
            d = {"type": name}
            try:
                d.update(attrs(m))
            except leaves.Unsupported as e:
                raise TraceFailure("%s (%s): %s" % (path or "<root>", name, e))
            self._frozen(m, d, recurse=True)
            self._tied(d, path, m.state_dict(keep_vars=True).items())
            return d
        d = {"type": type(m).__name__}
        params = own_parameters(m)
        if params:
            d["parameters"] = {n: _tensor_entry(p) for n, p in params}
        bufs = own_buffers(m)
        if bufs:
            d["buffers"] = {n: _tensor_entry(b) for n, b in bufs}
        self._frozen(m, d, recurse=False)
        self._tied(d, path, params + bufs)
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
        for family in (detection_rcnn, detection_onestage):
            written = family.written_forward(m, self.model, self.example_inputs,
                                             self.detection_run)
            if written is not None:
                return written
        try:
            graph = trace_graph(m)
        except Exception as e:  # noqa: BLE001 - whatever symbolic tracing hits
            if self.model is None or self.example_inputs is None:
                raise TraceFailure("%s (%s): %s: %s" % (path or "<root>", type(m).__name__,
                                                        type(e).__name__, e))
            why = "%s: %s" % (type(e).__name__, str(e).split("\n")[0])
            try:
                graph = fallback.concrete_trace(self.model, m, self.example_inputs)
            except Exception as e2:  # noqa: BLE001
                raise TraceFailure("%s (%s): %s; tracing with real values failed too: %s: %s"
                                   % (path or "<root>", type(m).__name__, why,
                                      type(e2).__name__, e2))
            self.fallbacks.append((path, type(m).__name__, why))
        return encode_graph(graph, m)
