"""Forwards traced in place of a module's own.

Some modules branch on their input or loop over Python lists before they
compute, which symbolic tracing cannot follow; what they compute in eval
is written as a forward fx can trace, in terms of the module's own
children: torch.nn's transformers (transformer.py), torchvision's feature
pyramid network (detection_backbone.py) and one-stage detection heads
(detection_onestage.py).
"""

from contextlib import contextmanager

from . import detection_backbone, detection_onestage, transformer

_TRACED_FORWARD = {**transformer.TRACED_FORWARD, **detection_backbone.TRACED_FORWARD,
                   **detection_onestage.TRACED_FORWARD}


def remember(model):
    """Notes what the forwards of MODEL's parts need to know of the model
    around them (an FPN's input names, a head's number of levels)."""
    detection_backbone.remember(model)
    detection_onestage.remember(model)


@contextmanager
def traced_as_computed(module):
    """While active, MODULE (when its forward is one of those written here)
    traces as the lines that compute in eval."""
    cls = type(module)
    forward = _TRACED_FORWARD.get(cls.forward)
    if forward is None:
        yield
        return
    module.__class__ = type(cls.__name__, (cls,), {"forward": forward})
    try:
        yield
    finally:
        module.__class__ = cls
