"""torchvision's one-stage detectors as graphs of their children.

RetinaNet, FCOS and SSD (SSDlite) branch on their inputs, loop over the
lists of feature maps and postprocess in Python: symbolic tracing cannot
follow them.  What they compute in eval is written here as forwards fx can
trace, in terms of the models' own submodules (so the graphs call
``backbone``, ``head.classification_head.cls_logits``... as the state_dict
names them) and of graft's detection types and functions:

- the transform (GeneralizedRCNNTransform) and the anchor generator
  (AnchorGenerator, DefaultBoxGenerator) are graft module types;
- each head loops over the feature levels, one per FPN output (RetinaNet,
  FCOS) or per SSD feature map, and concatenates the levels' predictions
  as (N, HWA, K);
- the decoding and postprocessing (score threshold and top-k candidates per
  level, box decoding, clipping, batched NMS, detections per image) is one
  graft function per family, ``retinanet_postprocess_detections``,
  ``fcos_postprocess_detections``, ``ssd_postprocess_detections``, with the
  model's thresholds as keywords; the transform's postprocess
  (``detection_transform_postprocess``) rescales the boxes to the input
  images' sizes.

How many feature levels a head sees is fixed by the model around it (the
anchor generator's sizes); ``remember`` notes it before tracing.
"""

import weakref

import torch
import torch.nn.functional as F

try:
    from torchvision.models.detection import fcos, retinanet, ssd
except ImportError:  # torchvision is optional for non-torchvision models
    fcos = retinanet = ssd = None


def _levels(head):
    """The number of feature levels HEAD predicts for (remember)."""
    n = _LEVELS.get(head)
    if n is None:
        raise RuntimeError("%s outside a detection model: its number of feature levels is "
                           "unknown" % type(head).__name__)
    return n


_LEVELS = weakref.WeakKeyDictionary()


def remember(model):
    """Notes, for every RetinaNet and FCOS head in MODEL, how many feature
    levels the model gives it (one per anchor size)."""
    if retinanet is None:
        return
    for m in model.modules():
        if isinstance(m, (retinanet.RetinaNet, fcos.FCOS)):
            n = len(m.anchor_generator.sizes)
            for part in m.head.children():
                _LEVELS[part] = n


def _per_level(x, levels, predict, columns):
    """PREDICT(x[i]) for each level, (N, A * COLUMNS, H, W) each, as one
    (N, sum of H * W * A, COLUMNS) tensor."""
    out = []
    for i in range(levels):
        y = predict(x[i], i)
        n, _, h, w = y.shape
        y = y.view(n, -1, columns, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, columns)
        out.append(y)
    return torch.cat(out, dim=1)


def _retinanet_classification_forward(self, x):
    return _per_level(x, _levels(self), lambda f, i: self.cls_logits(self.conv(f)),
                      self.num_classes)


def _retinanet_regression_forward(self, x):
    return _per_level(x, _levels(self), lambda f, i: self.bbox_reg(self.conv(f)), 4)


def _fcos_classification_forward(self, x):
    return _per_level(x, _levels(self), lambda f, i: self.cls_logits(self.conv(f)),
                      self.num_classes)


def _fcos_regression_forward(self, x):
    levels = _levels(self)
    features = [self.conv(x[i]) for i in range(levels)]
    boxes = _per_level(features, levels, lambda f, i: F.relu(self.bbox_reg(f)), 4)
    ctrness = _per_level(features, levels, lambda f, i: self.bbox_ctrness(f), 1)
    return boxes, ctrness


def _ssd_scoring_forward(self, x):
    return _per_level(x, len(self.module_list), lambda f, i: self.module_list[i](f),
                      self.num_columns)


TRACED_FORWARD = {} if retinanet is None else {
    retinanet.RetinaNetClassificationHead.forward: _retinanet_classification_forward,
    retinanet.RetinaNetRegressionHead.forward: _retinanet_regression_forward,
    fcos.FCOSClassificationHead.forward: _fcos_classification_forward,
    fcos.FCOSRegressionHead.forward: _fcos_regression_forward,
    ssd.SSDScoringHead.forward: _ssd_scoring_forward,
}
