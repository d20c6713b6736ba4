"""graft-export: write a PyTorch model in graft's format."""

import argparse
import os
import sys

import torch

from . import jsonfmt, load, registry, safetensors, verify
from .trace import GraphValueError, TraceFailure
from .document import architecture
from .prepare import prepare


def _parser():
    p = argparse.ArgumentParser(
        prog="graft-export",
        description="Export a PyTorch model to graft's JSON architecture format "
                    "(and optionally its weights as safetensors).",
        epilog="SPEC is torchvision:NAME (a torchvision.models builder, built with "
               "weights=None), FILE.py:FUNCTION (a function returning an nn.Module) "
               "or a file written by torch.save(model); a model with a graft_input_shape "
               "attribute sets its own default input shape.  OUT ending in .json writes "
               "the architecture; OUT ending in .safetensors writes a bundle: the "
               "state_dict with the architecture in __metadata__[\"graft\"].")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", required=True)
    p.add_argument("--weights", metavar="W.safetensors",
                   help="with a .json OUT, also write the state_dict to W and name it "
                        "in the document's \"weights\"")
    p.add_argument("--input-shape", metavar="1x3x224x224", action="append",
                   help="dry-run shape of the model's input; repeat for several inputs "
                        "(default 1x3x224x224, 1x3x299x299 for inception_v3)")
    p.add_argument("--seed", type=int, help="seed torch before building the model")
    p.add_argument("--name", help="model name in the document (default: from SPEC)")
    p.add_argument("--compact", action="store_true",
                   help="write the JSON on one line (default: one line per graph node)")
    p.add_argument("--check", action="store_true",
                   help="run the model once on zeros of the input shapes first")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="say why symbolic tracing failed where graft-export fell back to real values")
    return p


def check_registry(doc):
    """Stop unless graft has every type and function DOC uses."""
    graft = registry.find_graft()
    if graft is None:
        print("graft-export: graft not found ($GRAFT, the build beside tools/, PATH): "
              "the document is not checked against graft's registry", file=sys.stderr)
        return
    problem = registry.Registry(graft).problems(doc["module"])
    if problem:
        raise load.SpecError(problem + "; nothing written")


def export(model, name, source, shapes, out, weights=None, compact=False, verbose=False):
    """Write MODEL to OUT (.json or .safetensors bundle), unless graft would
    refuse it.  Returns the document."""
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(s, generator=g) for s in shapes]
    for note in prepare(model, inputs):
        print("graft-export: %s" % note, file=sys.stderr)
    doc, ex = architecture(model, name, source, shapes, example_inputs=inputs)
    state = model.state_dict()
    verify.check_document(doc, state)
    check_registry(doc)
    for path, typ, why in ex.fallbacks:
        print("graft-export: %s (%s): traced with real values, exact for the input "
              "shape only" % (path or "<root>", typ), file=sys.stderr)
        if verbose:
            print("    symbolic tracing: %s" % why, file=sys.stderr)
    tensors = list(state.items())
    if out.endswith(".safetensors"):
        if weights:
            raise load.SpecError("--weights is for .json output; a .safetensors OUT is a bundle")
        safetensors.write(out, tensors, {"graft": jsonfmt.compact(doc)})
    elif out.endswith(".json"):
        if weights:
            safetensors.write(weights, tensors)
            rel = os.path.relpath(os.path.abspath(weights),
                                  os.path.dirname(os.path.abspath(out)))
            doc["weights"] = rel.replace(os.sep, "/")
        text = jsonfmt.compact(doc) + "\n" if compact else jsonfmt.pretty(doc)
        with open(out, "w") as f:
            f.write(text)
    else:
        raise load.SpecError("OUT must end in .json or .safetensors: %s" % out)
    return doc


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        model, name, source, shapes = load.load(args.spec, args.seed)
        if args.input_shape:
            shapes = [load.parse_shape(s) for s in args.input_shape]
        if args.check:
            try:
                with torch.no_grad():
                    model(*[torch.zeros(s) for s in shapes])
            except Exception as e:  # noqa: BLE001 - report whatever the model raises
                raise load.SpecError("the model does not run on input shape %s: %s: %s" % (
                    ", ".join("x".join(map(str, s)) for s in shapes), type(e).__name__, e))
        export(model, args.name or name, source, shapes, args.output,
               weights=args.weights, compact=args.compact, verbose=args.verbose)
    except (load.SpecError, verify.Problem, TraceFailure, GraphValueError, OSError) as e:
        print("graft-export: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        print("graft-export: %s: %s: %s" % (args.spec, type(e).__name__, str(e).split("\n")[0]),
              file=sys.stderr)
        return 1
    return 0
