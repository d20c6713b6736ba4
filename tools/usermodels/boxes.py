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


class NmsHead(nn.Module):
    """Proposals from features, nms, then a classifier on the kept rows:
    the kept count flows through index_select, a Linear and cat."""

    def __init__(self, feat=8, classes=3):
        super().__init__()
        self.box = nn.Linear(feat, 4)
        self.score = nn.Linear(feat, 1)
        self.cls = nn.Linear(feat, classes)

    def forward(self, x):
        boxes = _boxes(self.box(x))
        scores = torch.sigmoid(self.score(x)).squeeze(1)
        keep = torchvision.ops.nms(boxes, scores, 0.3)
        kept = torch.index_select(x, 0, keep)
        logits = self.cls(kept)
        detections = torch.cat([torch.index_select(boxes, 0, keep),
                                torch.index_select(scores, 0, keep).unsqueeze(1)], 1)
        return logits, detections.flatten(), keep


MODELS = [
    UserModel("nms_head", NmsHead, [Input("x", [40, 8])],
              edit="replace cls Linear out_features=5"),
]
