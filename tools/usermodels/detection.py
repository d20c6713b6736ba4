"""Two-stage detectors built from torchvision's own classes at a small
size: Faster R-CNN on a two-level FPN backbone and on a plain convolutional
one, with a low score threshold so that every image has detections."""

from collections import OrderedDict

from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign

from .base import Input, UserModel

SMALL = dict(min_size=64, max_size=96, rpn_pre_nms_top_n_test=60, rpn_post_nms_top_n_test=24,
             box_score_thresh=0.01, box_detections_per_img=12)


def _convs():
    return nn.Sequential(OrderedDict([
        ("stem", nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU())),
        ("layer1", nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU())),
        ("layer2", nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())),
    ]))


def faster_rcnn_fpn():
    """FPN on two stages (and its max-pooled extra level), three anchor
    sizes, RoIAlign over the two stages."""
    backbone = BackboneWithFPN(_convs(), {"layer1": "0", "layer2": "1"}, [8, 16], 16)
    anchors = AnchorGenerator(sizes=((16,), (32,), (64,)), aspect_ratios=((0.5, 1.0, 2.0),) * 3)
    pool = MultiScaleRoIAlign(featmap_names=["0", "1"], output_size=4, sampling_ratio=2)
    return FasterRCNN(backbone, rpn_anchor_generator=anchors, box_roi_pool=pool,
                      box_head=TwoMLPHead(16 * 4 * 4, 32), box_predictor=FastRCNNPredictor(32, 3),
                      **SMALL)


def faster_rcnn_plain():
    """One feature map from a plain Sequential backbone (GeneralizedRCNN
    names it "0")."""
    backbone = _convs()
    backbone.out_channels = 16
    anchors = AnchorGenerator(sizes=((16, 32),), aspect_ratios=((0.5, 1.0, 2.0),))
    pool = MultiScaleRoIAlign(featmap_names=["0"], output_size=4, sampling_ratio=2)
    return FasterRCNN(backbone, rpn_anchor_generator=anchors, box_roi_pool=pool,
                      box_head=TwoMLPHead(16 * 4 * 4, 32), box_predictor=FastRCNNPredictor(32, 3),
                      **SMALL)


MODELS = [
    UserModel("faster_rcnn_fpn", faster_rcnn_fpn, [Input("images", [2, 3, 60, 80])],
              edit="head 5"),
    UserModel("faster_rcnn_plain", faster_rcnn_plain, [Input("images", [1, 3, 72, 56])]),
]
