"""The architecture document."""

import inspect

import torch

from .packed import refuse_packed_sequences
from .tree import Exporter

FORMAT_VERSION = 1


def _input_names(model, doc_module, n):
    rows = doc_module.get("forward")
    if rows:
        names = [r[2] for r in rows if r[1] == "placeholder"]
    else:
        names = [p.name for p in inspect.signature(model.forward).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < n:
        raise ValueError("%d input shapes given, but forward takes %d inputs" % (n, len(names)))
    return names[:n]


def architecture(model, name, source, input_shapes, seed=0, example_inputs=None):
    """Return (document, exporter) for MODEL (in eval mode).

    Modules whose forward symbolic tracing cannot follow are traced again
    with real values from a run on EXAMPLE_INPUTS, whose dtypes the
    document's inputs take; without them, on random float32 inputs of
    INPUT_SHAPES."""
    if example_inputs is None:
        g = torch.Generator().manual_seed(seed)
        example_inputs = [torch.randn(s, generator=g) for s in input_shapes]
    inputs = list(example_inputs)
    refuse_packed_sequences(model, inputs)
    ex = Exporter(model, inputs)
    module = ex.module(model)
    names = _input_names(model, module, len(input_shapes))
    doc = {"graft": FORMAT_VERSION, "name": name}
    if source:
        doc["source"] = source
    doc["inputs"] = [{"name": nm, "shape": list(x.shape),
                      "dtype": str(x.dtype).replace("torch.", "")}
                     for nm, x in zip(names, inputs)]
    doc["module"] = module
    return doc, ex
