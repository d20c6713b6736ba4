"""The user-model suite: small models of the kinds PyTorch users write
themselves, one file per family, each defining MODELS (a list of
base.UserModel). tools/make-user-fixtures records PyTorch's results for
them in tests/data/user/, and graft's tests check graft against those."""

import importlib
import pkgutil


def all_models():
    """Every family file's MODELS, by name, families in file-name order."""
    models = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base":
            continue
        family = importlib.import_module(__name__ + "." + info.name)
        for um in family.MODELS:
            if um.name in models:
                raise ValueError("two user models named %s" % um.name)
            models[um.name] = um
    return models
