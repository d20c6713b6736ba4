"""Transformer models users build from torch.nn's own layers:
nn.Transformer for seq2seq, encoder stacks for classification, GPT-style
decoder-only stacks, and nn.MultiheadAttention used directly for
cross-attention and attention pooling."""

import torch.nn.functional as F
import torch
from torch import nn

from .base import Input, UserModel


class PreNormEncoder(nn.Module):
    """A ViT-style token encoder: batch_first, pre-norm (norm_first)
    layers with F.gelu and layer_norm_eps=1e-6, the first token as the
    summary."""

    def __init__(self, features=10, d_model=24, classes=4):
        super().__init__()
        self.proj = nn.Linear(features, d_model)
        # three heads: with an even count PyTorch's fused fast path (eval,
        # batch_first, no grad) computes the layer without calling its
        # submodules, whose calls the suite records
        layer = nn.TransformerEncoderLayer(d_model, nhead=3, dim_feedforward=48, dropout=0.1,
                                           activation=F.gelu, layer_norm_eps=1e-6,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2,
                                             norm=nn.LayerNorm(d_model, eps=1e-6))
        self.head = nn.Linear(d_model, classes)

    def forward(self, x):
        return self.head(self.encoder(self.proj(x))[:, 0])


class DecoderOnly(nn.Module):
    """A GPT-style stack on continuous inputs (a time-series forecaster):
    encoder layers with nn.Transformer's causal mask, batch_first, a GELU
    module as the activation, a next-step head."""

    def __init__(self, features=4, d_model=16):
        super().__init__()
        self.inp = nn.Linear(features, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead=2, dim_feedforward=32,
                                           activation=nn.GELU(), batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers=3)
        self.out = nn.Linear(d_model, features)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        return self.out(self.blocks(self.inp(x), mask=mask))


class CrossAttentionBlock(nn.Module):
    """Queries from one modality attending over keys and values of other
    widths (kdim, vdim), batch_first, returning the attended features after
    a residual LayerNorm and the per-head attention weights."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, kdim=12, vdim=8, batch_first=True)
        self.norm = nn.LayerNorm(16)

    def forward(self, query, keys, values):
        out, weights = self.attn(query, keys, values, need_weights=True,
                                 average_attn_weights=False)
        return self.norm(query + out), weights


class AttentionPooling(nn.Module):
    """Attention pooling of a sequence (sequence first): one query made
    from the sequence's mean attends over it through nn.MultiheadAttention
    with add_bias_kv and add_zero_attn (a learned "no-op" key and a zero
    key), the head-averaged weights returned for inspection."""

    def __init__(self, d_model=16, classes=5):
        super().__init__()
        self.query = nn.Linear(d_model, d_model)
        self.attn = nn.MultiheadAttention(d_model, 2, add_bias_kv=True, add_zero_attn=True)
        self.head = nn.Linear(d_model, classes)

    def forward(self, x):
        q = self.query(x.mean(dim=0, keepdim=True))
        pooled, weights = self.attn(q, x, x)
        return self.head(pooled[0]), weights


class SingleSequenceTransformer(nn.Module):
    """nn.Transformer on one unbatched sequence pair ([S, E], as at
    inference time), with an ALiBi-style distance penalty for a source
    of fixed length as a float src_mask (a buffer) and the causal
    tgt_mask."""

    def __init__(self, d_model=16, src_len=10):
        super().__init__()
        pos = torch.arange(src_len, dtype=torch.float32)
        self.register_buffer("distance_bias", -0.25 * (pos[None, :] - pos[:, None]).abs())
        self.transformer = nn.Transformer(d_model, nhead=4, num_encoder_layers=1,
                                          num_decoder_layers=1, dim_feedforward=24,
                                          dropout=0.0, activation="gelu")
        self.out = nn.Linear(d_model, 3)

    def forward(self, src, tgt):
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(0))
        h = self.transformer(src, tgt, src_mask=self.distance_bias, tgt_mask=tgt_mask)
        return self.out(h)


MODELS = [
    UserModel("prenorm_encoder", PreNormEncoder, [Input("x", [2, 6, 10])],
              edit="set encoder.layers.1.self_attn num_heads=4"),
    UserModel("decoder_only", DecoderOnly, [Input("x", [2, 9, 4])],
              edit="replace blocks.layers.2.linear2 Linear"),
    UserModel("cross_attention", CrossAttentionBlock,
              [Input("query", [2, 5, 16]), Input("keys", [2, 7, 12]),
               Input("values", [2, 7, 8])],
              edit="replace norm LayerNorm eps=1e-6"),
    UserModel("attention_pooling", AttentionPooling, [Input("x", [9, 2, 16])],
              edit="replace head Linear out_features=3"),
    UserModel("single_sequence_transformer", SingleSequenceTransformer,
              [Input("src", [10, 16]), Input("tgt", [6, 16])],
              edit="replace transformer.encoder.layers.0.linear1 Linear out_features=24"),
]
