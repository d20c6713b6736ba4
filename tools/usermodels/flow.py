"""Optical flow and sampling at coordinates: small RAFTs built from
torchvision's own classes (torchvision.models.optical_flow.raft), as a
user assembles one for their own data: feature and context encoders, the
correlation pyramid, the update block's GRUs, and either the convex
upsampling of raft_large (a mask predictor) or the bilinear one of
raft_small; both take two images and return the 12 flow estimates of the
iterative refinement.  And images warped with F.grid_sample: at
predicted coordinates in each of its modes, and by a flow field added to
a pixel grid from meshgrid, as unsupervised flow training warps the
second frame."""

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel

try:
    from torchvision.models.optical_flow.raft import (
        RAFT, BottleneckBlock, CorrBlock, FeatureEncoder, FlowHead, MaskPredictor,
        MotionEncoder, RecurrentBlock, ResidualBlock, UpdateBlock)
except ImportError:  # torchvision is optional for the other families
    RAFT = None


def _raft(feature_block, feature_norm, context_block, context_norm, num_levels, radius,
          gru_kernels, gru_paddings, mask):
    feature_encoder = FeatureEncoder(block=feature_block, layers=(4, 4, 8, 8, 12),
                                     norm_layer=feature_norm)
    context_encoder = FeatureEncoder(block=context_block, layers=(4, 4, 8, 8, 12),
                                     norm_layer=context_norm)
    corr_block = CorrBlock(num_levels=num_levels, radius=radius)
    motion_encoder = MotionEncoder(in_channels_corr=corr_block.out_channels,
                                   corr_layers=(12, 8), flow_layers=(8, 4), out_channels=10)
    hidden = 8  # the context encoder's 12 channels: 8 of hidden state, 4 of context
    recurrent_block = RecurrentBlock(input_size=motion_encoder.out_channels + 12 - hidden,
                                     hidden_size=hidden, kernel_size=gru_kernels,
                                     padding=gru_paddings)
    update_block = UpdateBlock(motion_encoder=motion_encoder, recurrent_block=recurrent_block,
                               flow_head=FlowHead(in_channels=hidden, hidden_size=8))
    return RAFT(feature_encoder=feature_encoder, context_encoder=context_encoder,
                corr_block=corr_block, update_block=update_block,
                mask_predictor=MaskPredictor(in_channels=hidden, hidden_size=4) if mask else None)


def raft_convex():
    """raft_large's layout: residual blocks with InstanceNorm (features)
    and BatchNorm (context), two GRUs with 1x5 and 5x1 kernels, convex
    upsampling by the mask predictor; a pyramid of one level."""
    return _raft(ResidualBlock, nn.InstanceNorm2d, ResidualBlock, nn.BatchNorm2d, 1, 2,
                 ((1, 5), (5, 1)), ((0, 2), (2, 0)), True)


def raft_bilinear():
    """raft_small's layout: bottleneck blocks, no norm in the context
    encoder, one 3x3 GRU, bilinear upsampling; its second pyramid level is
    one pixel high (the sampling leaves that coordinate as it is)."""
    return _raft(BottleneckBlock, nn.InstanceNorm2d, BottleneckBlock, None, 2, 1,
                 (3,), (1,), False)


class GridWarp(nn.Module):
    """An image read at coordinates a convolution predicts (the warp of a
    spatial transformer or a flow network), partly outside [-1, 1]: with
    every mode, padding mode and align_corners of F.grid_sample, and on a
    coarser grid."""

    def __init__(self):
        super().__init__()
        self.offsets = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, image):
        grid = 1.5 * torch.tanh(self.offsets(image)).permute(0, 2, 3, 1)
        warped = []
        for mode in ("bilinear", "nearest"):
            for padding_mode in ("zeros", "border", "reflection"):
                for align_corners in (False, True):
                    warped.append(F.grid_sample(image, grid, mode=mode, padding_mode=padding_mode,
                                                align_corners=align_corners))
        coarse = F.avg_pool2d(grid.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        return torch.cat(warped, dim=1), F.grid_sample(image, coarse, align_corners=False)


class FlowWarp(nn.Module):
    """Warps an image by a flow field (in pixels): the pixel grid from
    meshgrid (indexing='xy'), plus the flow, scaled to [-1, 1] for
    F.grid_sample, bilinear with border padding; then a convolution on
    the warped image and the flow."""

    def __init__(self):
        super().__init__()
        self.fuse = nn.Conv2d(5, 4, 3, padding=1)

    def forward(self, image, flow):
        _, _, h, w = image.shape
        xs, ys = torch.meshgrid(torch.arange(w), torch.arange(h), indexing="xy")
        coords = torch.stack([xs, ys], dim=-1).float() + flow.permute(0, 2, 3, 1)
        gx = 2 * coords[..., 0] / (w - 1) - 1
        gy = 2 * coords[..., 1] / (h - 1) - 1
        warped = F.grid_sample(image, torch.stack([gx, gy], dim=-1), padding_mode="border",
                               align_corners=True)
        return self.fuse(torch.cat([warped, flow], dim=1))


MODELS = [
    UserModel("flow_warp", FlowWarp, [Input("image", [2, 3, 9, 11]), Input("flow", [2, 2, 9, 11])],
              edit="insert after fuse ReLU"),
    UserModel("grid_warp", GridWarp, [Input("image", [2, 3, 9, 11])],
              edit="replace offsets Conv2d in_channels=3 out_channels=2 kernel_size=5 padding=2"),
] + ([] if RAFT is None else [
    UserModel("raft_convex", raft_convex,
              [Input("image1", [1, 3, 16, 24]), Input("image2", [1, 3, 16, 24])],
              edit="replace update_block.flow_head.relu GELU"),
    UserModel("raft_bilinear", raft_bilinear,
              [Input("image1", [1, 3, 16, 32]), Input("image2", [1, 3, 16, 32])],
              edit="replace-all ReLU SiLU"),
])
