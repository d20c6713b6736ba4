"""One-stage detectors users build from torchvision's classes for their own
data: RetinaNet, FCOS and SSD on a small backbone with few classes and
small images, as in fine-tuning tutorials.  Their heads' weights are drawn
so that the untrained scores pass the thresholds, so the comparison has
boxes."""

from collections import OrderedDict

import torch
from torch import nn

from .base import Input, UserModel


def _body():
    return nn.Sequential(OrderedDict([
        ("stem", nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU())),
        ("layer1", nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())),
        ("layer2", nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU()))]))


def _fpn_backbone(channels=16):
    """A two-stage body with an FPN of CHANNELS and P6/P7, as RetinaNet and
    FCOS use."""
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    return BackboneWithFPN(_body(), {"layer1": "0", "layer2": "1"}, [16, 16], channels,
                           extra_blocks=LastLevelP6P7(channels, channels))


def _confident(head, classifier):
    """Head weights drawn wider than torchvision's (std 0.01) and a class
    prior of sigmoid(-2): untrained scores that spread, boxes that stay
    near their anchors."""
    for name, p in head.named_parameters():
        if name.endswith("weight"):
            nn.init.normal_(p, std=0.08)
    with torch.no_grad():
        classifier.bias.fill_(-2.0)


def tiny_retinanet():
    """RetinaNet(backbone, num_classes=3) on a small FPN backbone: four
    levels of three anchors per cell."""
    from torchvision.models.detection import RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    anchors = AnchorGenerator(tuple((s,) for s in (8, 16, 32, 64)), ((0.5, 1.0, 2.0),) * 4)
    model = RetinaNet(_fpn_backbone(), num_classes=3, min_size=64, max_size=96,
                      anchor_generator=anchors, detections_per_img=20, topk_candidates=50)
    _confident(model.head, model.head.classification_head.cls_logits)
    return model


def tiny_fcos():
    """FCOS(backbone, num_classes=3) on a small FPN backbone: four levels,
    one anchor per cell; the head's one-conv towers use GroupNorm(32, 32)."""
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.fcos import FCOSHead
    anchors = AnchorGenerator(tuple((s,) for s in (8, 16, 32, 64)), ((1.0,),) * 4)
    model = FCOS(_fpn_backbone(32), num_classes=3, min_size=64, max_size=96,
                 anchor_generator=anchors, head=FCOSHead(32, 1, 3, num_convs=1),
                 detections_per_img=20, topk_candidates=50)
    _confident(model.head, model.head.classification_head.cls_logits)
    return model


class TinySSDFeatures(nn.Module):
    """An SSD feature extractor: three feature maps of a small conv stack,
    as a dict keyed "0", "1", "2" (as torchvision's extractors return)."""

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
                                    nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.stage2 = nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU())
        self.stage3 = nn.Sequential(nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU())

    def forward(self, x):
        a = self.stage1(x)
        b = self.stage2(a)
        c = self.stage3(b)
        return OrderedDict([("0", a), ("1", b), ("2", c)])


def tiny_ssd():
    """SSD(backbone, DefaultBoxGenerator, size=(64, 64), num_classes=3):
    fixed-size resize, default boxes with steps (4, 6 and 6 per cell, as
    ssd300_vgg16's first levels), SSDHead."""
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    boxes = DefaultBoxGenerator([[2], [2, 3], [2, 3]], steps=[4, 8, 16])
    return SSD(TinySSDFeatures(), boxes, (64, 64), num_classes=3, detections_per_img=20,
               topk_candidates=30)


def tiny_ssdlite():
    """SSD with an SSDLiteHead (depthwise and pointwise convolutions, a
    norm, ReLU6) and default boxes whose scales come from min_ratio and
    max_ratio, as ssdlite320_mobilenet_v3_large builds them; the norm is
    FrozenBatchNorm2d, as when fine-tuning (a detector cannot run in
    training mode without targets to calibrate a BatchNorm2d)."""
    from functools import partial
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.ssd import SSD
    from torchvision.models.detection.ssdlite import SSDLiteHead
    from torchvision.ops.misc import FrozenBatchNorm2d
    boxes = DefaultBoxGenerator([[2, 3]] * 3, min_ratio=0.2, max_ratio=0.95)
    norm = partial(FrozenBatchNorm2d, eps=0.001)
    head = SSDLiteHead([16, 16, 16], boxes.num_anchors_per_location(), 3, norm)
    return SSD(TinySSDFeatures(), boxes, (64, 64), num_classes=3, head=head,
               detections_per_img=20, topk_candidates=30)


MODELS = [
    UserModel("tiny_fcos", tiny_fcos, [Input("images", [1, 3, 48, 64])],
              edit="replace-all ReLU SiLU"),
    UserModel("tiny_retinanet", tiny_retinanet, [Input("images", [1, 3, 48, 64])],
              edit="head 5"),
    UserModel("tiny_ssd", tiny_ssd, [Input("images", [1, 3, 48, 64])], edit="head 5"),
    UserModel("tiny_ssdlite", tiny_ssdlite, [Input("images", [1, 3, 48, 64])],
              edit="replace-all ReLU6 ReLU"),
]
