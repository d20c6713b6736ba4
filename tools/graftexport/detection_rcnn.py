"""torchvision's two-stage detectors (Faster R-CNN and its kin) as graphs.

GeneralizedRCNN and its parts take lists of images, branch on training,
loop over feature maps and filter boxes by their values: torch.fx cannot
trace them.  Their eval-mode forward is written here instead, in graft's
terms, with the model's own submodules as the children called (so the
state_dict names are torchvision's):

- the root: ``transform`` (GeneralizedRCNNTransform: normalise, resize,
  batch; returns the images and their sizes), ``backbone``, ``rpn``,
  ``roi_heads``, then ``resize_boxes`` (and ``paste_masks_in_image``,
  ``resize_keypoints``) per image (the transform's postprocess); it returns
  a list with one dict per image;
- FeaturePyramidNetwork: ``inner_blocks``, nearest upsampling and the
  top-down sum, ``layer_blocks``, ``extra_blocks`` (LastLevelMaxPool,
  LastLevelP6P7);
- RegionProposalNetwork: ``head`` (RPNHead: ``conv``, ``cls_logits``,
  ``bbox_pred`` per level), ``anchor_generator``, then ``filter_proposals``;
- RoIHeads: ``box_roi_pool``, ``box_head``, ``box_predictor``, then
  ``postprocess_detections``; with masks, ``mask_roi_pool``, ``mask_head``,
  ``mask_predictor`` on the detected boxes, then ``maskrcnn_inference``;
  with keypoints, ``keypoint_roi_pool``, ``keypoint_head``,
  ``keypoint_predictor``, then ``keypointrcnn_inference``;
- FastRCNNPredictor: ``cls_score`` and ``bbox_pred`` on the flattened
  features (its check that pooled features are 1x1 left out).

Images are one batched tensor [N, C, H, W]; the graphs are written for the
number of images and the feature-map names of a run on the example input.
"""

import math

import torch
from torch import nn

try:
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
    from torchvision.models.detection.roi_heads import RoIHeads
    from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
    from torchvision.ops.feature_pyramid_network import (FeaturePyramidNetwork,
                                                         LastLevelMaxPool, LastLevelP6P7)
except ImportError:  # torchvision is optional for non-torchvision models
    GeneralizedRCNN = None


class _Ref:
    def __init__(self, name):
        self.name = name


def _encode(v):
    if isinstance(v, _Ref):
        return {"ref": v.name}
    if isinstance(v, dict):
        return {"dict": {k: _encode(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, slice):
        return {"slice": [v.start, v.stop, v.step]}
    if isinstance(v, float) and not math.isfinite(v):
        return {"float": str(v)}
    return v


class Graph:
    """A forward graph being written: nodes in order, unique names."""

    def __init__(self):
        self.nodes = []
        self._used = set()

    def _name(self, base):
        base = base.replace(".", "_")
        name, i = base, 0
        while name in self._used:
            i += 1
            name = "%s_%d" % (base, i)
        self._used.add(name)
        return name

    def _add(self, base, op, target, args, kwargs):
        name = self._name(base)
        self.nodes.append([name, op, target, _encode(list(args)),
                           {k: _encode(v) for k, v in kwargs.items()}])
        return _Ref(name)

    def placeholder(self, name):
        return self._add(name, "placeholder", name, [], {})

    def module(self, target, *args, **kwargs):
        return self._add(target, "call_module", target, args, kwargs)

    def fn(self, target, *args, **kwargs):
        return self._add(target, "call_function", target, args, kwargs)

    def item(self, v, index):
        return self.fn("getitem", v, index)

    def output(self, v):
        self._add("output", "output", "output", [v], {})
        return self.nodes


# ------------------------------------------------------------ the example run

def record(model, example_inputs, kinds):
    """{id(module): (args, output)} of one eval run of MODEL, for its
    modules of KINDS and the backbones of those that have one (the
    detectors)."""
    seen, hooks = {}, []

    def hook(m, args, out):
        seen.setdefault(id(m), (args, out))

    for m in model.modules():
        if isinstance(m, kinds):
            hooks.append(m.register_forward_hook(hook))
        if isinstance(m, kinds) and isinstance(getattr(m, "backbone", None), nn.Module):
            hooks.append(m.backbone.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(*example_inputs)
    finally:
        for h in hooks:
            h.remove()
    return seen


# ------------------------------------------------------------ the graphs

def _rcnn_graph(m, run):
    """GeneralizedRCNN.forward in eval, the transform's postprocess as
    resize_boxes per image."""
    (images_in,), _ = run[id(m)]
    n = images_in.shape[0]
    g = Graph()
    images, batch, sizes = transformed_input(g)
    features = g.module("backbone", batch)
    if torch.is_tensor(run[id(m.backbone)][1]):
        features = {"0": features}  # a backbone with one feature map
    proposals = g.module("rpn", batch, sizes, features)
    detections = g.module("roi_heads", features, proposals, sizes)
    keys = list(run[id(m)][1][0].keys())
    return g.output(to_input_sizes(g, images, sizes, detections, n, keys))


def transformed_input(g):
    """A detector's input in G and what its transform makes of it: (the
    images, the batch resized and padded, the images' sizes in it)."""
    images = g.placeholder("images")
    transformed = g.module("transform", images)
    return images, g.item(transformed, 0), g.item(transformed, 1)


def to_input_sizes(g, images, sizes, detections, n, keys):
    """The transform's postprocess in G: the boxes of each of the N
    images' DETECTIONS (dicts of KEYS, "boxes" first) from its resized
    size (SIZES) back to the input's (IMAGES) by resize_boxes, masks pasted
    and keypoints resized likewise; a list of one dict per image."""
    shape = g.fn("getattr", images, "shape")
    original = [g.item(shape, 2), g.item(shape, 3)]
    result = []
    for i in range(n):
        det = g.item(detections, i)
        out = {"boxes": g.fn("resize_boxes", g.item(det, "boxes"), g.item(sizes, i), original)}
        for key in keys[1:]:
            out[key] = g.item(det, key)
        if "masks" in out:
            out["masks"] = g.fn("paste_masks_in_image", out["masks"], out["boxes"], original)
        if "keypoints" in out:
            out["keypoints"] = g.fn("resize_keypoints", out["keypoints"], g.item(sizes, i),
                                    original)
        result.append(out)
    return result


def _fpn_graph(m, run):
    """FeaturePyramidNetwork.forward: the top-down pathway, then the extra
    blocks' maps."""
    (x_in,), out = run[id(m)]
    names, out_names = list(x_in.keys()), list(out.keys())
    g = Graph()
    x = g.placeholder("x")
    xs = [g.item(x, k) for k in names]
    last = len(xs) - 1
    inner = g.module("inner_blocks.%d" % last, xs[last])
    results = [g.module("layer_blocks.%d" % last, inner)]
    for idx in range(last - 1, -1, -1):
        lateral = g.module("inner_blocks.%d" % idx, xs[idx])
        size = g.item(g.fn("getattr", lateral, "shape"), slice(-2, None, None))
        top_down = g.fn("interpolate", inner, size=size, mode="nearest")
        inner = g.fn("add", lateral, top_down)
        results.insert(0, g.module("layer_blocks.%d" % idx, inner))
    if m.extra_blocks is not None:
        extra = g.module("extra_blocks", results, xs)
        results += [g.item(extra, i) for i in range(len(out_names) - len(names))]
    return g.output(dict(zip(out_names, results)))


def _last_level_max_pool_graph(m, run):
    g = Graph()
    results = g.placeholder("results")
    g.placeholder("x")
    pool = g.fn("max_pool2d", g.item(results, -1), 1, 2, 0)
    return g.output((pool,))


def _last_level_p6p7_graph(m, run):
    g = Graph()
    results = g.placeholder("results")
    x = g.placeholder("x")
    x5 = g.item(results if m.use_P5 else x, -1)
    p6 = g.module("p6", x5)
    p7 = g.module("p7", g.fn("relu", p6))
    return g.output((p6, p7))


def _rpn_head_graph(m, run):
    (x_in,), _ = run[id(m)]
    g = Graph()
    x = g.placeholder("x")
    logits, deltas = [], []
    for i in range(len(x_in)):
        t = g.module("conv", g.item(x, i))
        logits.append(g.module("cls_logits", t))
        deltas.append(g.module("bbox_pred", t))
    return g.output((logits, deltas))


def _rpn_graph(m, run):
    """RegionProposalNetwork.forward in eval: the head and the anchors on
    every feature map, then the proposals."""
    args, _ = run[id(m)]
    features_in = args[1]
    g = Graph()
    images = g.placeholder("images")
    sizes = g.placeholder("image_sizes")
    features = g.placeholder("features")
    maps = [g.item(features, k) for k in features_in.keys()]
    head = g.module("head", maps)
    anchors = g.module("anchor_generator", images, maps)
    filtered = g.fn("filter_proposals", g.item(head, 0), g.item(head, 1), anchors, sizes,
                    pre_nms_top_n=m._pre_nms_top_n["testing"],
                    post_nms_top_n=m._post_nms_top_n["testing"],
                    nms_thresh=float(m.nms_thresh), score_thresh=float(m.score_thresh),
                    min_size=float(m.min_size))
    return g.output(g.item(filtered, 0))


def _roi_heads_graph(m, run):
    """RoIHeads.forward in eval for box detection: pool, box head and
    predictor, then the detections per image."""
    args, _ = run[id(m)]
    n = len(args[1])
    g = Graph()
    features = g.placeholder("features")
    proposals = g.placeholder("proposals")
    shapes = g.placeholder("image_shapes")
    pooled = g.module("box_roi_pool", features, proposals, shapes)
    head = g.module("box_head", pooled)
    pred = g.module("box_predictor", head)
    post = g.fn("postprocess_detections", g.item(pred, 0), g.item(pred, 1), proposals, shapes,
                score_thresh=float(m.score_thresh), nms_thresh=float(m.nms_thresh),
                detections_per_img=int(m.detections_per_img),
                weights=[float(w) for w in m.box_coder.weights])
    boxes, scores, labels = (g.item(post, i) for i in range(3))
    result = [{"boxes": g.item(boxes, i), "labels": g.item(labels, i),
               "scores": g.item(scores, i)} for i in range(n)]
    if m.has_mask():
        pooled = g.module("mask_roi_pool", features, boxes, shapes)
        logits = g.module("mask_predictor", g.module("mask_head", pooled))
        masks = g.fn("maskrcnn_inference", logits, labels)
        for i in range(n):
            result[i]["masks"] = g.item(masks, i)
    if m.has_keypoint():
        pooled = g.module("keypoint_roi_pool", features, boxes, shapes)
        logits = g.module("keypoint_predictor", g.module("keypoint_head", pooled))
        found = g.fn("keypointrcnn_inference", logits, boxes)
        points, point_scores = g.item(found, 0), g.item(found, 1)
        for i in range(n):
            result[i]["keypoints"] = g.item(points, i)
            result[i]["keypoints_scores"] = g.item(point_scores, i)
    return g.output(result)


def _predictor_graph(m, run):
    """FastRCNNPredictor.forward without its check of pooled 1x1 input."""
    g = Graph()
    x = g.fn("flatten", g.placeholder("x"), start_dim=1)
    return g.output((g.module("cls_score", x), g.module("bbox_pred", x)))


_KINDS = () if GeneralizedRCNN is None else (
    GeneralizedRCNN, FeaturePyramidNetwork, RegionProposalNetwork, RPNHead, RoIHeads,
    LastLevelMaxPool, LastLevelP6P7)


def _writers():
    if GeneralizedRCNN is None:
        return []
    return [(GeneralizedRCNN, _rcnn_graph), (FeaturePyramidNetwork, _fpn_graph),
            (LastLevelMaxPool, _last_level_max_pool_graph),
            (LastLevelP6P7, _last_level_p6p7_graph), (RPNHead, _rpn_head_graph),
            (RegionProposalNetwork, _rpn_graph), (RoIHeads, _roi_heads_graph),
            (FastRCNNPredictor, _predictor_graph)]


def written_forward(module, model, example_inputs, cache):
    """The forward graph (encoded) of MODULE when it is one of the modules
    written here, else None.  CACHE (a dict kept by the caller) holds the
    example run of MODEL on EXAMPLE_INPUTS, made when first needed."""
    for cls, write in _writers():
        if isinstance(module, cls):
            if "run" not in cache:
                cache["run"] = record(model, example_inputs, _KINDS)
            return write(module, cache["run"])
    return None


# ------------------------------------------------------------ shape fixtures

def _bounded(n):
    return "≤%d" % n


def encode_transform(inputs, out):
    """GeneralizedRCNNTransform's output as graft's returns it: the
    batched images and their sizes."""
    images, _ = out
    return [{"shape": list(images.tensors.shape)}, [list(s) for s in images.image_sizes]]


def encode_anchors(inputs, out):
    """An anchor generator's output as graft's returns it: one tensor, the
    same for every image."""
    return {"shape": list(out[0].shape)}


def _proposal_bound(rpn, features):
    """The proposals per image filter_proposals can keep: post_nms_top_n,
    or fewer when the levels have fewer than pre_nms_top_n anchors."""
    per_cell = rpn.anchor_generator.num_anchors_per_location()
    pre = rpn._pre_nms_top_n["testing"]
    kept = sum(min(pre, a * f.shape[-2] * f.shape[-1]) for a, f in zip(per_cell, features))
    return min(rpn._post_nms_top_n["testing"], kept)


def encode_detections(result, bound):
    """The per-image dicts of RESULT with their first dims as the bound
    (boxes [≤D, 4], labels and scores [≤D], masks [≤D, 1, H, W])."""
    return [{"keys": list(d.keys()),
             "values": [{"shape": [_bounded(bound)] + list(v.shape[1:])} for v in d.values()]}
            for d in result]


def _extra_block_encoders(model):
    """The FPN extra blocks of MODEL, whose graphs return only the maps
    they add (torchvision's return every map and the names)."""
    def extra_maps(inputs, out):
        # the maps appended to the results (the list itself grows in place)
        return [{"shape": list(t.shape)} for t in out[0][len(inputs[1]):]]

    return {m: extra_maps for m in model.modules()
            if isinstance(m, (LastLevelMaxPool, LastLevelP6P7))}


def fixture_encoders(model):
    """{module: encode(inputs, output)} for the modules of MODEL whose graph
    here returns something else than torchvision's forward: their PyTorch
    output as graft's shape pass gives it, a data-dependent size as the
    bound of torchvision's code ("≤1000": the filter keeps at most
    post_nms_top_n proposals, the detector detections_per_img boxes)."""
    if GeneralizedRCNN is None:
        return {}
    encoders = _extra_block_encoders(model)
    if not isinstance(model, GeneralizedRCNN):
        return encoders
    rpn, heads = model.rpn, model.roi_heads
    last = {}

    def proposals(inputs, out):
        last["proposals"] = _proposal_bound(rpn, list(inputs[1].values()))
        return [{"shape": [_bounded(last["proposals"]), 4]} for _ in out[0]]

    def detection_bound():
        classes = heads.box_predictor.cls_score.out_features
        return min(heads.detections_per_img, last["proposals"] * (classes - 1))

    def detections(inputs, out):
        return encode_detections(out[0], detection_bound())

    def root(inputs, out):
        return encode_detections(out, detection_bound())

    encoders.update({model.transform: encode_transform, rpn.anchor_generator: encode_anchors,
                     rpn: proposals, heads: detections, model: root})
    return encoders
