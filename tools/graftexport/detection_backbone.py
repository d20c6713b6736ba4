"""torchvision's feature pyramid network as a graph of its children.

FeaturePyramidNetwork takes the body's feature maps as a dict and loops
over them (``list(x.keys())``), which symbolic tracing cannot follow.  The
dict's keys are the body's return_layers (IntermediateLayerGetter), known
before the run: ``remember`` notes them, and the FPN's forward is written
with them, calling ``inner_blocks.i`` and ``layer_blocks.i`` as the
state_dict names them.  Its extra block (LastLevelMaxPool, LastLevelP6P7)
is called with the FPN's outputs and inputs and returns the levels it adds.
"""

import weakref
from collections import OrderedDict

import torch.nn.functional as F

try:
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops import feature_pyramid_network as fpn
except ImportError:  # torchvision is optional for non-torchvision models
    BackboneWithFPN = fpn = None

_NAMES = weakref.WeakKeyDictionary()


def remember(model):
    """Notes the names of the feature maps each FPN of MODEL gets from its
    body, in the body's order."""
    if fpn is None:
        return
    for m in model.modules():
        if isinstance(m, BackboneWithFPN):
            ret = m.body.return_layers
            _NAMES[m.fpn] = [ret[name] for name in m.body._modules if name in ret]


def _fpn_forward(self, x):
    names = _NAMES.get(self)
    if names is None:
        raise RuntimeError("FeaturePyramidNetwork outside BackboneWithFPN: the names of its "
                           "inputs are unknown")
    feats = [x[name] for name in names]
    last_inner = self.inner_blocks[-1](feats[-1])
    results = [self.layer_blocks[-1](last_inner)]
    for idx in range(len(feats) - 2, -1, -1):
        inner_lateral = self.inner_blocks[idx](feats[idx])
        top_down = F.interpolate(last_inner, size=inner_lateral.shape[-2:], mode="nearest")
        last_inner = inner_lateral + top_down
        results.insert(0, self.layer_blocks[idx](last_inner))
    names = list(names)
    if self.extra_blocks is not None:
        extra = self.extra_blocks(results, feats)
        added = _EXTRA_NAMES[type(self.extra_blocks)]
        results += [extra[i] for i in range(len(added))]
        names += added
    return OrderedDict(zip(names, results))


def _max_pool_forward(self, p, c):
    return [F.max_pool2d(p[-1], 1, 2, 0)]


def _p6p7_forward(self, p, c):
    p6 = self.p6(p[-1] if self.use_P5 else c[-1])
    return [p6, self.p7(F.relu(p6))]


_EXTRA_NAMES = {} if fpn is None else {
    fpn.LastLevelMaxPool: ["pool"],
    fpn.LastLevelP6P7: ["p6", "p7"],
}

TRACED_FORWARD = {} if fpn is None else {
    fpn.FeaturePyramidNetwork.forward: _fpn_forward,
    fpn.LastLevelMaxPool.forward: _max_pool_forward,
    fpn.LastLevelP6P7.forward: _p6p7_forward,
}
