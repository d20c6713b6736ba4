"""Turning a SPEC on the command line into a model."""

import importlib.util
import os

import torch

from . import inputs, zoo

DEFAULT_SHAPE = zoo.DEFAULT_SHAPE


class SpecError(Exception):
    pass


def torchvision_version():
    import torchvision
    return torchvision.__version__


def load(spec, seed=None, builder_args=None):
    """Return (model, name, source, default inputs) for SPEC.

    SPEC is ``torchvision:NAME``, ``FILE.py:FUNCTION`` or a file written by
    ``torch.save(model)``.  NAME is a model of the zoo (zoo.py), built as
    the zoo builds it, BUILDER_ARGS (a dict, e.g. num_classes) overriding
    its builder's arguments; they are for torchvision:NAME only.  The model
    is returned in eval() mode.  The default inputs are inputs.Spec: the
    zoo's for NAME, else a model's graft_inputs or graft_input_shape
    (inputs.of_model), else one float32 input of DEFAULT_SHAPE.
    """
    if builder_args and not spec.startswith("torchvision:"):
        raise SpecError("builder arguments are for torchvision:NAME only")
    if seed is not None:
        torch.manual_seed(seed)
    if spec.startswith("torchvision:"):
        import torchvision
        name = spec.split(":", 1)[1]
        try:
            model = zoo.build(name, **(builder_args or {}))
        except (ValueError, TypeError) as e:
            raise SpecError("torchvision:%s: %s" % (name, e))
        builder, kwargs = zoo.builder_kwargs(name, builder_args)
        args = ", ".join("%s=%r" % (k, v) for k, v in kwargs.items() if v is not None)
        source = "torchvision.models.%s%s (torchvision %s)" % (
            builder, "(%s)" % args if args else "", torchvision_version())
        shapes = [inputs.spec_of(x) for x in zoo.default_inputs(name)]
    elif ".py:" in spec:
        path, func = spec.rsplit(":", 1)
        if not os.path.isfile(path):
            raise SpecError("%s: no such file" % path)
        modname = "graft_user_" + os.path.splitext(os.path.basename(path))[0]
        mspec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(mod)
        if not hasattr(mod, func):
            raise SpecError("%s has no function %s" % (path, func))
        model = getattr(mod, func)()
        name = func
        source = "%s:%s" % (os.path.basename(path), func)
        shapes = None
    elif os.path.isfile(spec):
        model = _unpickle(spec)
        name = os.path.splitext(os.path.basename(spec))[0]
        source = "torch.save file %s" % os.path.basename(spec)
        shapes = None
    else:
        raise SpecError("%s: not torchvision:NAME, FILE.py:FUNCTION or a torch.save file" % spec)
    if not isinstance(model, torch.nn.Module):
        raise SpecError("%s did not give an nn.Module (got %s)" % (spec, type(model).__name__))
    model.eval()
    return model, name, source, shapes or inputs.of_model(model, DEFAULT_SHAPE)


def _unpickle(path):
    """The object torch.save wrote to PATH; a class its pickle names that
    cannot be imported is one line saying so."""
    try:
        return torch.load(path, map_location="cpu")
    except (AttributeError, ModuleNotFoundError, ImportError) as e:
        raise SpecError("%s: torch.load needs the code of the model's class, which cannot "
                        "be imported here (%s); run graft-export where that code is "
                        "importable (PYTHONPATH), or give FILE.py:FUNCTION building the "
                        "model" % (path, str(e).split("\n")[0]))

