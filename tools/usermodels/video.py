"""Video transformers users build from torchvision's own MViT classes
(torchvision.models.video.mvit): a small v1-style model (absolute
positional encoding, pooling attention with the class token) and a small
v2-style one (relative positional embeddings, residual pooling, the
projection after attention), on clips of a few frames."""

from torch import nn
from torchvision.models.video.mvit import MSBlockConfig, MViT

from .base import Input, UserModel


def _sharp(model):
    """MODEL with its Linear layers at torch.nn's default initialisation
    (MViT's own, std 0.02, leaves attention near uniform and the outputs
    near zero, where a wrong score would hardly show)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()
    return model


def _blocks(rows):
    return [MSBlockConfig(num_heads=h, input_channels=i, output_channels=o, kernel_q=kq,
                          kernel_kv=kkv, stride_q=sq, stride_kv=skv)
            for h, i, o, kq, kkv, sq, skv in rows]


def mvit_v1_tiny():
    """MViT v1 as mvit_v1_b is built: no q pooling in the first block, q
    pooled (stride 1x2x2) where the channels double, k and v pooled
    everywhere."""
    model = MViT(spatial_size=(16, 16), temporal_size=4,
                 block_setting=_blocks([
                     (1, 8, 16, [], [3, 3, 3], [], [1, 2, 2]),
                     (2, 16, 16, [3, 3, 3], [3, 3, 3], [1, 2, 2], [1, 1, 1]),
                     (2, 16, 16, [], [3, 3, 3], [], [1, 1, 1]),
                 ]),
                 residual_pool=False, residual_with_cls_embed=False, rel_pos_embed=False,
                 proj_after_attn=False, num_classes=5)
    return _sharp(model)


def mvit_v2_tiny():
    """MViT v2 as mvit_v2_s is built: relative positional embeddings,
    residual pooling without the class token, channels grown inside the
    attention (proj_after_attn). A 20x20 clip gives 5x5 tokens, whose
    pooled 3x3 is not what the tables were sized for (5 // 2): the tables
    are interpolated and q and k positions scaled, as torchvision does."""
    model = MViT(spatial_size=(20, 20), temporal_size=4,
                 block_setting=_blocks([
                     (1, 8, 8, [3, 3, 3], [3, 3, 3], [1, 1, 1], [1, 2, 2]),
                     (2, 8, 16, [3, 3, 3], [3, 3, 3], [1, 2, 2], [1, 1, 1]),
                     (2, 16, 16, [3, 3, 3], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
                 ]),
                 residual_pool=True, residual_with_cls_embed=False, rel_pos_embed=True,
                 proj_after_attn=True, num_classes=5)
    return _sharp(model)


def mvit_v2_cls_residual():
    """MViT v2 with the class token in the residual pooling
    (residual_with_cls_embed), q pooled in time too (stride 2x2x2), so
    that q has fewer frames than k and v."""
    model = MViT(spatial_size=(16, 16), temporal_size=8,
                 block_setting=_blocks([
                     (2, 8, 16, [3, 3, 3], [3, 3, 3], [2, 2, 2], [1, 2, 2]),
                     (2, 16, 16, [3, 3, 3], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
                 ]),
                 residual_pool=True, residual_with_cls_embed=True, rel_pos_embed=True,
                 proj_after_attn=False, num_classes=3)
    return _sharp(model)


MODELS = [
    UserModel("mvit_v1_tiny", mvit_v1_tiny, [Input("x", [2, 3, 4, 16, 16])],
              edit="head 7"),
    UserModel("mvit_v2_tiny", mvit_v2_tiny, [Input("x", [1, 3, 4, 20, 20])],
              edit="head 7"),
    UserModel("mvit_v2_cls_residual", mvit_v2_cls_residual, [Input("x", [1, 3, 8, 16, 16])],
              edit="replace head.1 Linear out_features=4"),
]
