"""Models calling torchvision.ops box operations: box filtering whose
output size depends on the data (nms keeps some boxes) feeding ordinary
layers, and region pooling over feature maps."""

import torch
import torchvision
from torch import nn

from .base import Input, UserModel


def _boxes(raw, scale=8.0):
    """Valid boxes (x1, y1, x2, y2) from 4 free numbers per row: corners in
    a small square so that many overlap."""
    xy = raw[:, :2] * scale
    wh = raw[:, 2:].abs() * scale + 1.0
    return torch.cat([xy, xy + wh], 1)


class _Proposals(nn.Module):
    """A box, a score and class logits from each row of features."""

    def __init__(self, feat=8, classes=3):
        super().__init__()
        self.box = nn.Linear(feat, 4)
        self.score = nn.Linear(feat, 1)
        self.cls = nn.Linear(feat, classes)

    def scored_boxes(self, x):
        return _boxes(self.box(x)), torch.sigmoid(self.score(x)).squeeze(1)


class NmsHead(_Proposals):
    """Proposals from features, nms, then a classifier on the kept rows:
    the kept count flows through index_select, a Linear and cat."""

    def forward(self, x):
        boxes, scores = self.scored_boxes(x)
        keep = torchvision.ops.nms(boxes, scores, 0.3)
        kept = torch.index_select(x, 0, keep)
        logits = self.cls(kept)
        detections = torch.cat([torch.index_select(boxes, 0, keep),
                                torch.index_select(scores, 0, keep).unsqueeze(1)], 1)
        return logits, detections.flatten(), keep


class BoxFilter(_Proposals):
    """Clipping, small-box removal and per-class nms, then the IoU of the
    kept boxes with all boxes: degenerate boxes (clipped to zero area) and
    several classes."""

    def forward(self, x):
        boxes, scores = self.scored_boxes(x)
        boxes = torchvision.ops.clip_boxes_to_image(boxes, (12, 14))
        labels = self.cls(x).argmax(1)
        big = torchvision.ops.remove_small_boxes(boxes, 1.5)
        boxes = torch.index_select(boxes, 0, big)
        scores = torch.index_select(scores, 0, big)
        labels = torch.index_select(labels, 0, big)
        keep = torchvision.ops.batched_nms(boxes, scores, labels, 0.4)
        kept = torch.index_select(boxes, 0, keep)
        iou = torchvision.ops.box_iou(kept, boxes)
        return kept, iou, torch.index_select(labels, 0, keep), big


class RoiPooling(nn.Module):
    """Region pooling over a small feature pyramid: roi_align (adaptive and
    fixed sampling, aligned or not, boxes as a list or as [K, 5]), roi_pool,
    the RoIAlign and RoIPool modules, and MultiScaleRoIAlign mapping boxes
    of several sizes to three levels, then a Linear."""

    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.align = torchvision.ops.RoIAlign((3, 3), spatial_scale=0.5, sampling_ratio=-1,
                                              aligned=True)
        self.pool = torchvision.ops.RoIPool(2, 0.25)
        self.multi = torchvision.ops.MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2,
                                                        canonical_scale=4, canonical_level=1)
        self.fc = nn.Linear(4 * 9, 5)

    def forward(self, x, raw):
        f1 = self.body(x)
        f2 = self.down(f1)
        f3 = self.down2(f2)
        boxes = _boxes(raw, 6.0) + 10.0
        per_image = [boxes[:4], boxes[4:]]
        rois = torch.cat([raw[:, :1].abs().floor().clamp(max=1), boxes], 1)
        a = torchvision.ops.roi_align(f1, per_image, 2, 1.0, -1, False)
        b = torchvision.ops.roi_align(f2, rois, (3, 2), spatial_scale=0.5, sampling_ratio=2,
                                      aligned=True)
        c = torchvision.ops.roi_pool(f3, per_image, 2, 0.25)
        d = self.align(f2, per_image)
        e = self.pool(f1, rois)
        m = self.multi({"p2": f1, "p3": f2, "p4": f3}, per_image, [(32, 32), (32, 30)])
        return a, b, c, d, e, m, self.fc(m.flatten(1))


class ScoreSelect(nn.Module):
    """Selection by the data: the rows whose score passes a threshold
    (nonzero), the best of them (topk), and sort and argsort of the
    scores."""

    def __init__(self, feat=6):
        super().__init__()
        self.score = nn.Linear(feat, 2)
        self.emb = nn.Linear(feat, 3)

    def forward(self, x):
        s = self.score(x)
        idx = torch.nonzero(s[:, 0] > -0.2).squeeze(1)
        top, at = torch.index_select(s[:, 0], 0, idx).topk(3)
        best = torch.index_select(self.emb(x), 0, torch.index_select(idx, 0, at))
        order = torch.argsort(s[:, 1], descending=True)
        values, positions = torch.sort(s, dim=0)
        return top, best, order, values, positions, idx


MODELS = [
    UserModel("nms_head", NmsHead, [Input("x", [40, 8])],
              edit="replace cls Linear out_features=5"),
    UserModel("box_filter", BoxFilter, [Input("x", [48, 8])],
              edit="replace cls Linear out_features=4"),
    UserModel("roi_pooling", RoiPooling, [Input("x", [2, 3, 32, 32]), Input("raw", [8, 4])],
              edit="replace fc Linear out_features=2"),
    UserModel("score_select", ScoreSelect, [Input("x", [20, 6])],
              edit="replace emb Linear out_features=4"),
]
