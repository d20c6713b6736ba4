"""The architecture document."""

import torch

from . import inputs as inputs_mod
from .packed import refuse_packed_sequences
from .tree import Exporter

FORMAT_VERSION = 1


def architecture(model, name, source, inputs, seed=0, example_inputs=None):
    """Return (document, exporter) for MODEL (in eval mode).

    INPUTS are the forward's inputs, each a shape (float32), an
    inputs.Spec or an example tensor (inputs.spec_of); EXAMPLE_INPUTS,
    when given, are tensors that take their place.  Modules whose forward
    symbolic tracing cannot follow are traced again with real values from
    a run on the example tensors, or on random ones of the inputs' shapes
    and dtypes (inputs.example)."""
    if example_inputs is not None:
        inputs = list(example_inputs)
    specs = inputs_mod.bind(model, [inputs_mod.spec_of(x) for x in inputs])
    g = torch.Generator().manual_seed(seed)
    bound = inputs_mod.index_bound(model)
    examples = [inputs_mod.example(s, bound, g) for s in specs]
    refuse_packed_sequences(model, examples)
    ex = Exporter(model, examples)
    module = ex.module(model)
    doc = {"graft": FORMAT_VERSION, "name": name}
    if source:
        doc["source"] = source
    doc["inputs"] = [{"name": s.name, "shape": list(s.shape), "dtype": s.dtype} for s in specs]
    doc["module"] = module
    return doc, ex
