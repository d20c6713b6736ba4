"""torchvision's RAFT (optical flow) as graphs of its children.

RAFT's forward checks its inputs' shapes in Python, keeps the correlation
pyramid on its CorrBlock between calls of the block's two methods
(``build_pyramid``, then ``index_pyramid`` at every update) and makes
constant tensors (``torch.tensor(num_channels)``, the sampling
neighbourhood); symbolic tracing follows none of that.  What it computes
is traced instead:

- CorrBlock's forward is its ``build_pyramid``: the all-pairs correlation
  by matmul and its avg_pool2d pyramid, returned as a list of volumes;
- ``index_pyramid(corr_pyramid, centroids_coords, radius)`` is one node,
  graft's function of that name (bilinear sampling of every level around
  the coordinates, as CorrBlock.index_pyramid does);
- the coordinate grid is ``meshgrid`` of two ``arange``, as
  make_coords_grid makes it, and ``upsample_flow`` is traced through;
- the loop over the updates is unrolled for RAFT's default
  ``num_flow_updates`` (12): the forward returns the 12 flow estimates.
"""

import math
from contextlib import contextmanager

import torch
import torch.fx
import torch.nn.functional as F

try:
    from torchvision.models.optical_flow.raft import RAFT, CorrBlock
    from torchvision.models.optical_flow._utils import grid_sample, upsample_flow
except ImportError:  # torchvision is optional for non-torchvision models
    RAFT = CorrBlock = None

NUM_FLOW_UPDATES = 12


def index_pyramid(corr_pyramid, centroids_coords, radius):
    """CorrBlock.index_pyramid with the pyramid and the radius as arguments."""
    side = 2 * radius + 1
    di = torch.linspace(-radius, radius, side)
    delta = torch.stack(torch.meshgrid(di, di, indexing="ij"), dim=-1).view(1, side, side, 2)
    batch_size, _, h, w = centroids_coords.shape
    centroids_coords = centroids_coords.permute(0, 2, 3, 1).reshape(batch_size * h * w, 1, 1, 2)
    indexed = []
    for corr_volume in corr_pyramid:
        sampled = grid_sample(corr_volume, centroids_coords + delta, align_corners=True,
                              mode="bilinear")
        indexed.append(sampled.view(batch_size, h, w, -1))
        centroids_coords = centroids_coords / 2
    return torch.cat(indexed, dim=-1).permute(0, 3, 1, 2).contiguous()


torch.fx.wrap("index_pyramid")


def _coords_grid(batch_size, h, w):
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch_size, 1, 1, 1)


def _corr_block_forward(self, fmap1, fmap2):
    batch_size, num_channels, h, w = fmap1.shape
    fmap1 = fmap1.view(batch_size, num_channels, h * w)
    fmap2 = fmap2.view(batch_size, num_channels, h * w)
    corr = torch.matmul(fmap1.transpose(1, 2), fmap2)
    corr_volume = corr.view(batch_size * h * w, 1, h, w) / math.sqrt(num_channels)
    corr_pyramid = [corr_volume]
    for _ in range(self.num_levels - 1):
        corr_volume = F.avg_pool2d(corr_volume, kernel_size=2, stride=2)
        corr_pyramid.append(corr_volume)
    return corr_pyramid


def _raft_forward(self, image1, image2):
    batch_size, _, h, w = image1.shape
    fmaps = self.feature_encoder(torch.cat([image1, image2], dim=0))
    fmap1, fmap2 = torch.chunk(fmaps, chunks=2, dim=0)
    corr_pyramid = self.corr_block(fmap1, fmap2)
    context_out = self.context_encoder(image1)
    hidden_state_size = self.update_block.hidden_state_size
    hidden_state, context = torch.split(
        context_out, [hidden_state_size, context_out.shape[1] - hidden_state_size], dim=1)
    hidden_state = torch.tanh(hidden_state)
    context = F.relu(context)
    coords0 = _coords_grid(batch_size, h // 8, w // 8)
    coords1 = coords0
    flow_predictions = []
    for _ in range(NUM_FLOW_UPDATES):
        corr_features = index_pyramid(corr_pyramid, coords1, self.corr_block.radius)
        flow = coords1 - coords0
        hidden_state, delta_flow = self.update_block(hidden_state, context, corr_features, flow)
        coords1 = coords1 + delta_flow
        up_mask = None if self.mask_predictor is None else self.mask_predictor(hidden_state)
        flow_predictions.append(upsample_flow(flow=coords1 - coords0, up_mask=up_mask))
    return flow_predictions


_COMPUTED_FORWARD = {RAFT: _raft_forward, CorrBlock: _corr_block_forward} if RAFT else {}


def computed_forward(module):
    """The forward traced in place of MODULE's own when MODULE is
    torchvision's RAFT or CorrBlock, else None."""
    return _COMPUTED_FORWARD.get(type(module))


@contextmanager
def pyramid_builds_as_calls():
    """While active, CorrBlock.build_pyramid runs as a call of the block,
    which returns the pyramid: forward hooks see the call graft records."""
    if CorrBlock is None:
        yield
        return
    build = CorrBlock.build_pyramid

    def forward(self, fmap1, fmap2):
        build(self, fmap1, fmap2)
        return self.corr_pyramid

    CorrBlock.forward = forward
    CorrBlock.build_pyramid = CorrBlock.__call__
    try:
        yield
    finally:
        del CorrBlock.forward
        CorrBlock.build_pyramid = build
