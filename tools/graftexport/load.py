"""Turning a SPEC on the command line into a model."""

import importlib.util
import os

import torch

from . import inputs

DEFAULT_SHAPE = [1, 3, 224, 224]

# torchvision builders whose models need another input size than 224x224
TORCHVISION_SHAPES = {
    "inception_v3": [1, 3, 299, 299],
}


class SpecError(Exception):
    pass


def torchvision_version():
    import torchvision
    return torchvision.__version__


def load(spec, seed=None):
    """Return (model, name, source, default inputs) for SPEC.

    SPEC is ``torchvision:NAME``, ``FILE.py:FUNCTION`` or a file written by
    ``torch.save(model)``.  The model is returned in eval() mode.  The
    default inputs are inputs.Spec: a model's graft_inputs or
    graft_input_shape (inputs.of_model), else one float32 input of
    DEFAULT_SHAPE.
    """
    if seed is not None:
        torch.manual_seed(seed)
    if spec.startswith("torchvision:"):
        import torchvision
        name = spec.split(":", 1)[1]
        try:
            model = torchvision.models.get_model(name, weights=None)
        except ValueError as e:
            raise SpecError(str(e))
        source = "torchvision.models.%s (torchvision %s)" % (name, torchvision_version())
        shapes = [inputs.spec_of(TORCHVISION_SHAPES.get(name, DEFAULT_SHAPE))]
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

