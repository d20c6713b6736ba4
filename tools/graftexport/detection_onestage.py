"""torchvision's one-stage detectors (RetinaNet, FCOS, SSD, SSDlite) as
graphs.

Like the two-stage ones (detection_rcnn.py), they take lists of images,
branch on training, loop over the feature maps and filter boxes by their
values: torch.fx cannot trace them.  Their eval-mode forward is written
here in graft's terms, calling the model's own submodules:

- the root: ``transform`` (GeneralizedRCNNTransform: normalise, resize,
  batch), ``backbone``, ``head``, ``anchor_generator`` (AnchorGenerator;
  SSD's DefaultBoxGenerator), then the family's postprocessing as one
  graft function, ``retinanet_postprocess_detections``,
  ``fcos_postprocess_detections`` or ``ssd_postprocess_detections`` (score
  threshold, top-k candidates, box decoding, clipping, batched NMS,
  detections per image; the model's settings as keywords), and
  ``resize_boxes`` per image (the transform's postprocess); it returns a
  list with one dict per image (boxes, scores, labels);
- the classification and regression heads: their convolutions on every
  feature map (``conv``, ``cls_logits``, ``bbox_reg``, FCOS's
  ``bbox_ctrness``, SSD's ``module_list.i``), each level's predictions
  (N, A * K, H, W) as (N, H * W * A, K), concatenated over the levels.

The graphs are written for the number of images, feature maps and their
names of a run on the example input.
"""

from .detection_rcnn import (Graph, encode_anchors, encode_detections, encode_transform, record,
                             to_input_sizes, transformed_input)

import torch
from torch import nn

try:
    from torchvision.models.detection import fcos, retinanet, ssd
except ImportError:  # torchvision is optional for non-torchvision models
    retinanet = None


def _settings(m, box_weights):
    """The postprocessing's keywords: M's thresholds and counts, and its
    BoxCoder's weights when BOX_WEIGHTS."""
    kw = {"score_thresh": float(m.score_thresh), "nms_thresh": float(m.nms_thresh),
          "detections_per_img": int(m.detections_per_img),
          "topk_candidates": int(m.topk_candidates)}
    if box_weights:
        kw["box_weights"] = [float(w) for w in m.box_coder.weights]
    return kw


def _detector_graph(m, run, postprocess, with_levels, box_weights):
    """The forward of a one-stage detector in eval; POSTPROCESS is its
    function, which also takes the feature maps (for the levels' sizes)
    when WITH_LEVELS."""
    (images_in,), _ = run[id(m)]
    g = Graph()
    images, batch, sizes = transformed_input(g)
    maps = g.module("backbone", batch)
    out = run[id(m.backbone)][1]
    # a backbone with one feature map returns it as a tensor
    features = [maps] if torch.is_tensor(out) else [g.item(maps, k) for k in out.keys()]
    head = g.module("head", features)
    anchors = g.module("anchor_generator", batch, features)
    args = [head, anchors, sizes] + ([features] if with_levels else [])
    detections = g.fn(postprocess, *args, **_settings(m, box_weights))
    return g.output(to_input_sizes(g, images, sizes, detections, images_in.shape[0],
                                   ("boxes", "scores", "labels")))


def _retinanet_graph(m, run):
    return _detector_graph(m, run, "retinanet_postprocess_detections", True, True)


def _fcos_graph(m, run):
    return _detector_graph(m, run, "fcos_postprocess_detections", True, False)


def _ssd_graph(m, run):
    return _detector_graph(m, run, "ssd_postprocess_detections", False, True)


def _per_level(g, maps, predict, anchors):
    """PREDICT(map, level) on each of MAPS, (N, A * K, H, W) each with A
    the level's ANCHORS per cell, as one (N, sum of H * W * A, K).  K
    follows the predicting convolution (the classes, after 'head N')."""
    outs = []
    for i, x in enumerate(maps):
        y = predict(x, i)
        shape = g.fn("getattr", y, "shape")
        n, h, w = g.item(shape, 0), g.item(shape, 2), g.item(shape, 3)
        y = g.fn("view", y, n, anchors[i], -1, h, w)
        y = g.fn("permute", y, (0, 3, 4, 1, 2))
        outs.append(g.fn("flatten", y, 1, 3))
    return g.fn("cat", outs, dim=1)


def _anchors(conv, columns, levels):
    """The anchors per cell of a head whose CONV predicts COLUMNS numbers
    per anchor, the same on LEVELS levels."""
    return [conv.out_channels // columns] * levels


def _head_graph(m, run, write):
    """A head's forward: WRITE(g, maps) on the feature maps it gets."""
    (x_in,), _ = run[id(m)]
    g = Graph()
    x = g.placeholder("x")
    return g.output(write(g, [g.item(x, i) for i in range(len(x_in))]))


def _classification_graph(m, run):
    """RetinaNet's and FCOS's classification head."""
    return _head_graph(m, run, lambda g, maps: _per_level(
        g, maps, lambda x, i: g.module("cls_logits", g.module("conv", x)),
        [m.num_anchors] * len(maps)))


def _retinanet_regression_graph(m, run):
    return _head_graph(m, run, lambda g, maps: _per_level(
        g, maps, lambda x, i: g.module("bbox_reg", g.module("conv", x)),
        _anchors(m.bbox_reg, 4, len(maps))))


def _fcos_regression_graph(m, run):
    """FCOS's regression head: the tower once per level, then the boxes
    (through a ReLU) and the centerness."""
    def write(g, maps):
        towers = [g.module("conv", x) for x in maps]
        boxes = _per_level(g, towers, lambda x, i: g.fn("relu", g.module("bbox_reg", x)),
                           _anchors(m.bbox_reg, 4, len(maps)))
        ctrness = _per_level(g, towers, lambda x, i: g.module("bbox_ctrness", x),
                             _anchors(m.bbox_ctrness, 1, len(maps)))
        return (boxes, ctrness)
    return _head_graph(m, run, write)


def _ssd_scoring_graph(m, run):
    """SSD's and SSDlite's scoring heads: one module per level, whose last
    convolution predicts its anchors' numbers."""
    convs = [[c for c in level.modules() if isinstance(c, nn.Conv2d)][-1]
             for level in m.module_list]
    return _head_graph(m, run, lambda g, maps: _per_level(
        g, maps, lambda x, i: g.module("module_list.%d" % i, x),
        [c.out_channels // m.num_columns for c in convs]))


def _detections_bound(m, head_out, features):
    """The most detections M's postprocess_detections keeps per image, as
    graft bounds them: the top-k candidates of each level (RetinaNet, FCOS)
    or each class but the background (SSD), at most detections_per_img."""
    anchors, classes = head_out["cls_logits"].shape[1:]
    if isinstance(m, ssd.SSD):
        n = (classes - 1) * min(m.topk_candidates, anchors)
    else:
        cells = [f.shape[-2] * f.shape[-1] for f in features]
        per_cell = anchors // sum(cells)
        n = sum(min(m.topk_candidates, c * per_cell * classes) for c in cells)
    return min(m.detections_per_img, n)


def fixture_encoders(model):
    """{module: encode(inputs, output)} for the modules of MODEL whose graph
    here returns something else than torchvision's forward (as
    detection_rcnn.fixture_encoders): the transform, the anchors, and the
    detections with their bound."""
    if retinanet is None or not isinstance(model, (retinanet.RetinaNet, fcos.FCOS, ssd.SSD)):
        return {}
    head = {}

    def remember(inputs, out):
        head["features"], head["out"] = inputs[0], out
        return {"keys": list(out.keys()), "values": [{"shape": list(v.shape)}
                                                     for v in out.values()]}

    def root(inputs, out):
        return encode_detections(out, _detections_bound(model, head["out"], head["features"]))

    return {model.transform: encode_transform, model.anchor_generator: encode_anchors,
            model.head: remember, model: root}


def _writers():
    if retinanet is None:
        return []
    return [(retinanet.RetinaNet, _retinanet_graph), (fcos.FCOS, _fcos_graph),
            (ssd.SSD, _ssd_graph),
            (retinanet.RetinaNetClassificationHead, _classification_graph),
            (fcos.FCOSClassificationHead, _classification_graph),
            (retinanet.RetinaNetRegressionHead, _retinanet_regression_graph),
            (fcos.FCOSRegressionHead, _fcos_regression_graph),
            (ssd.SSDScoringHead, _ssd_scoring_graph)]


def written_forward(module, model, example_inputs, cache):
    """The forward graph (encoded) of MODULE when it is one of the modules
    written here, else None.  CACHE (a dict kept by the caller) holds the
    example run of MODEL on EXAMPLE_INPUTS, made when first needed."""
    writers = _writers()
    for cls, write in writers:
        if isinstance(module, cls):
            if "onestage_run" not in cache:
                cache["onestage_run"] = record(model, example_inputs,
                                               tuple(c for c, _ in writers))
            return write(module, cache["onestage_run"])
    return None
