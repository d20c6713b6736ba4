"""graft-export: write a PyTorch model in graft's format."""

import argparse
import ast
import os
import sys

import torch

from . import inputs, jsonfmt, load, registry, safetensors, verify
from .trace import GraphValueError, TraceFailure
from .document import architecture
from .prepare import prepare


def _parser():
    p = argparse.ArgumentParser(
        prog="graft-export",
        description="Export a PyTorch model to graft's JSON architecture format "
                    "(and optionally its weights as safetensors).",
        epilog="SPEC is torchvision:NAME (a torchvision.models builder, built with "
               "weights=None and weights_backbone=None, or a model of graft's zoo built "
               "with its arguments, e.g. deeplabv3_resnet50_aux: tools/graftexport/zoo.py), "
               "FILE.py:FUNCTION (a function returning an nn.Module) "
               "or a file written by torch.save(model); a model with a graft_inputs "
               "attribute (a list of (name, shape, dtype)) or a graft_input_shape attribute "
               "sets its own default inputs.  OUT ending in .json writes "
               "the architecture; OUT ending in .safetensors writes a bundle: the "
               "state_dict with the architecture in __metadata__[\"graft\"].")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="OUT", required=True)
    p.add_argument("--weights", metavar="W.safetensors",
                   help="with a .json OUT, also write the state_dict to W and name it "
                        "in the document's \"weights\"")
    p.add_argument("--input", metavar="[NAME=]SHAPE[:DTYPE]", action="append",
                   help="one input of forward: its parameter name (default: the next "
                        "one), dry-run shape and dtype (default float32), e.g. "
                        "ids=1x16:int64 or mask=1x16:bool; repeat for several inputs")
    p.add_argument("--input-shape", metavar="1x3x224x224", action="append",
                   help="dry-run shape of a float32 input; repeat for several inputs "
                        "(default: the zoo's inputs for torchvision:NAME, e.g. 1x3x299x299 "
                        "for inception_v3, 1x3x520x520 for segmentation; else 1x3x224x224)")
    p.add_argument("--builder-arg", metavar="KEY=VALUE", action="append", default=[],
                   help="a keyword argument of the torchvision builder, VALUE a Python "
                        "literal (e.g. num_classes=3, box_score_thresh=0.01); repeatable; "
                        "torchvision:NAME only")
    p.add_argument("--seed", type=int, help="seed torch before building the model")
    p.add_argument("--name", help="model name in the document (default: from SPEC)")
    p.add_argument("--compact", action="store_true",
                   help="write the JSON on one line (default: one line per graph node)")
    p.add_argument("--check", action="store_true",
                   help="run the model once on zeros of the input shapes first")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="say why symbolic tracing failed where graft-export fell back to real values")
    return p


def builder_args(items):
    """{KEY: VALUE} from KEY=VALUE strings, VALUE a Python literal (a bare
    word that is not one is taken as a string)."""
    out = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.isidentifier():
            raise load.SpecError("--builder-arg %r: expected KEY=VALUE" % item)
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


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


def export(model, name, source, model_inputs, out, weights=None, compact=False, verbose=False):
    """Write MODEL to OUT (.json or .safetensors bundle), unless graft would
    refuse it.  Returns the document.  MODEL_INPUTS as
    document.architecture takes them."""
    specs = inputs.bind(model, [inputs.spec_of(x) for x in model_inputs])
    g = torch.Generator().manual_seed(0)
    bound = inputs.index_bound(model)
    examples = [inputs.example(s, bound, g) for s in specs]
    for note in prepare(model, examples):
        print("graft-export: %s" % note, file=sys.stderr)
    doc, ex = architecture(model, name, source, examples)
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
        model, name, source, specs = load.load(args.spec, args.seed,
                                               builder_args(args.builder_arg))
        if args.input and args.input_shape:
            raise load.SpecError("--input and --input-shape exclude each other")
        if args.input:
            specs = [inputs.parse(s) for s in args.input]
        elif args.input_shape:
            specs = [inputs.spec_of(inputs.parse_shape(s)) for s in args.input_shape]
        if args.check:
            specs = inputs.bind(model, specs)
            try:
                with torch.no_grad():
                    model(*[torch.zeros(s.shape, dtype=inputs.BY_NAME[s.dtype]) for s in specs])
            except Exception as e:  # noqa: BLE001 - report whatever the model raises
                raise load.SpecError("the model does not run on inputs %s: %s: %s" % (
                    ", ".join("%s=%s:%s" % (s.name, "x".join(map(str, s.shape)), s.dtype)
                              for s in specs), type(e).__name__, e))
        export(model, args.name or name, source, specs, args.output,
               weights=args.weights, compact=args.compact, verbose=args.verbose)
    except (load.SpecError, inputs.InputError, verify.Problem, TraceFailure, GraphValueError,
            OSError) as e:
        print("graft-export: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        print("graft-export: %s: %s: %s" % (args.spec, type(e).__name__, str(e).split("\n")[0]),
              file=sys.stderr)
        return 1
    return 0
