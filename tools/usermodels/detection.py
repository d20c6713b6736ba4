"""Two-stage detectors built from torchvision's own classes at a small
size: Faster R-CNN on a two-level FPN backbone and on a plain convolutional
one, Mask R-CNN and Keypoint R-CNN on the FPN, with a low score threshold so that every image
has detections."""

from torch import nn
from torchvision.models.detection import FasterRCNN, KeypointRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from .base import Input, UserModel

SMALL = dict(min_size=64, max_size=96, rpn_pre_nms_top_n_test=60, rpn_post_nms_top_n_test=24,
             box_score_thresh=0.01, box_detections_per_img=12)


def _convs():
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())


def _fpn_parts():
    """FPN on two stages (and its max-pooled extra level), three anchor
    sizes, RoIAlign over the two stages."""
    return dict(
        backbone=BackboneWithFPN(_convs(), {"3": "0", "5": "1"}, [8, 16], 16),
        rpn_anchor_generator=AnchorGenerator(sizes=((16,), (32,), (64,)),
                                             aspect_ratios=((0.5, 1.0, 2.0),) * 3),
        box_roi_pool=MultiScaleRoIAlign(featmap_names=["0", "1"], output_size=4,
                                        sampling_ratio=2),
        box_head=TwoMLPHead(16 * 4 * 4, 32), box_predictor=FastRCNNPredictor(32, 3))


def faster_rcnn_fpn():
    return FasterRCNN(**_fpn_parts(), **SMALL)


def mask_rcnn_fpn():
    """Mask R-CNN: 14x14 mask logits from 7x7 RoIAlign, pasted into the
    input image."""
    pool = MultiScaleRoIAlign(featmap_names=["0", "1"], output_size=7, sampling_ratio=2)
    return MaskRCNN(**_fpn_parts(), mask_roi_pool=pool, mask_head=MaskRCNNHeads(16, (16,), 1),
                    mask_predictor=MaskRCNNPredictor(16, 16, 3),
                    **dict(SMALL, box_detections_per_img=8))


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



def keypoint_rcnn_fpn():
    """Keypoint R-CNN: 5 keypoints, heatmaps upsampled from 7x7 RoIAlign."""
    pool = MultiScaleRoIAlign(featmap_names=["0", "1"], output_size=7, sampling_ratio=2)
    return KeypointRCNN(**_fpn_parts(), keypoint_roi_pool=pool,
                        keypoint_head=KeypointRCNNHeads(16, (16,)),
                        keypoint_predictor=KeypointRCNNPredictor(16, 5),
                        **dict(SMALL, box_detections_per_img=8))


MODELS = [
    UserModel("faster_rcnn_fpn", faster_rcnn_fpn, [Input("images", [2, 3, 40, 56])],
              edit="head 5"),
    UserModel("faster_rcnn_plain", faster_rcnn_plain, [Input("images", [1, 3, 72, 56])],
              edit="replace-all ReLU SiLU"),
    UserModel("keypoint_rcnn_fpn", keypoint_rcnn_fpn, [Input("images", [1, 3, 56, 48])],
              edit="replace roi_heads.keypoint_predictor.kps_score_lowres ConvTranspose2d "
                   "out_channels=3"),
    UserModel("mask_rcnn_fpn", mask_rcnn_fpn, [Input("images", [1, 3, 40, 48])],
              edit="head 4"),
]
