"""Models whose forwards do their work in torch functions and tensor
methods rather than in layers: attention written by hand, statistics
pooling, positions made from shapes, dtype casts, einsum products,
indexing, and metric heads."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel


class CausalSelfAttention(nn.Module):
    """A nanoGPT/minGPT decoder block: attention written by hand (q @ k^T /
    sqrt(d), a tril causal mask through masked_fill(-inf), softmax, @ v),
    then an MLP, both pre-norm and residual."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.heads = heads

    def attention(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        mask = torch.tril(torch.ones(T, T, device=x.device)).view(1, 1, T, T)
        att = att.masked_fill(mask == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class StatisticsPooling(nn.Module):
    """An x-vector style speaker head: frame features pooled by their
    statistics (mean, std, var, logsumexp, norms, max with its index, min),
    then a classifier."""

    def __init__(self, feat=12, classes=5):
        super().__init__()
        self.frame = nn.Linear(feat, feat)
        self.head = nn.Linear(7 * feat + 2, classes)

    def forward(self, x):
        h = torch.relu(self.frame(x))  # [B, T, F]
        mean = h.mean(dim=1)
        std = torch.std(h, dim=1)
        var = h.var(dim=1, unbiased=False)
        lse = torch.logsumexp(h, dim=1)
        l2 = h.norm(dim=1)
        l1 = torch.norm(h, p=1, dim=1)
        top, where = h.max(dim=1)
        low = torch.min(h, dim=1, keepdim=True).values.squeeze(1)
        peak = h.amax(dim=(1, 2)).unsqueeze(-1)
        frac = where.float().mean(-1, keepdim=True) / x.size(1)
        stats = torch.cat([mean, std, var, lse, l2 + l1, top, low, peak, frac], dim=-1)
        return self.head(stats)


class SinusoidalPositions(nn.Module):
    """A Transformer encoder input that builds its sinusoidal position
    table in forward from the sequence length: arange positions, exp of a
    frequency ramp, sin and cos interleaved, plus zeros_like, ones and full
    for a learned-gate mix."""

    def __init__(self, d=16):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.gate = nn.Parameter(torch.zeros(1))
        self.d = d

    def forward(self, x):
        B, T, C = x.shape
        pos = torch.arange(T, device=x.device).unsqueeze(1).float()
        div = torch.exp(torch.arange(0, C, 2).float() * (-math.log(10000.0) / C))
        pe = torch.zeros(T, C)
        pe = torch.stack([torch.sin(pos * div), torch.cos(pos * div)], dim=-1).view(T, C) + pe
        bias = torch.zeros_like(x) + torch.ones(B, T, 1) * torch.sigmoid(self.gate)
        scale = torch.full((1, 1, C), math.sqrt(self.d))
        return self.proj(x * scale + pe + bias) + x.new_zeros(C) + torch.ones_like(x)


class FakeQuantize(nn.Module):
    """Quantisation-aware layers as written in QAT tutorials: activations
    scaled, rounded and cast to integers (round, long, to(int64)), clamped
    to the int8 range, cast back (.float(), .type(torch.float32)), and a
    sign mask kept as bool through where."""

    def __init__(self, d=16):
        super().__init__()
        self.fc1 = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, 4)
        self.scale = 0.05

    def quantize(self, x):
        q = torch.round(x / self.scale).long()
        q = torch.clamp(q.to(torch.int64), -128, 127)
        return q.float() * self.scale

    def forward(self, x):
        h = self.fc1(x)
        pos = h > 0
        h = torch.where(pos, self.quantize(h), 0.1 * h.type(torch.float32))
        count = pos.sum(dim=-1, keepdim=True).float()
        return self.fc2(h) + count.int().float() / h.size(-1) + (~pos).long().sum(-1, keepdim=True)


class EinsumProducts(nn.Module):
    """Bilinear attention and low-rank mixing written with einsum (products,
    a diagonal, three operands), baddbmm, addmm, mm and outer, as in
    research code."""

    def __init__(self, d=8, r=8):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.u = nn.Parameter(torch.randn(d, r) * 0.1)
        self.b = nn.Parameter(torch.zeros(r))
        self.w = nn.Parameter(torch.randn(r) * 0.1)

    def forward(self, x):
        B, T, C = x.shape
        q = self.q(x)
        scores = torch.einsum("btc,bsc->bts", q, x) / math.sqrt(C)
        scores = torch.baddbmm(scores, q, x.transpose(1, 2), beta=0.5, alpha=0.25)
        mixed = torch.einsum("bts,bsc->btc", scores.softmax(-1), x)
        low = torch.addmm(self.b, mixed.reshape(B * T, C), self.u).view(B, T, -1)
        outer = torch.outer(self.w, self.w)
        proj = torch.mm(low.reshape(B * T, -1), outer).view(B, T, -1)
        diag = torch.einsum("ii->i", outer)
        return torch.einsum("btr,r->bt", proj, diag) + torch.einsum("i,i->", self.w, self.b) + \
            torch.einsum("bts,btc,c->bt", scores, x, self.w)


class SequenceAugment(nn.Module):
    """Time-series tricks done in forward: flips, rolls, repeats and
    repeat_interleave for upsampling, movedim for channels-last, causal
    triangles from tril/triu, split with a list of sizes, chunk and
    unbind."""

    def __init__(self, c=6):
        super().__init__()
        self.mix = nn.Linear(c, c)

    def forward(self, x):  # [B, T, C] with T == C
        h = self.mix(x)
        rev = torch.flip(h, dims=[1])
        shifted = torch.roll(h, shifts=1, dims=1)
        tri = torch.tril(h, diagonal=-1) + torch.triu(h, 1)
        first = h[:, :1].repeat(1, h.size(1), 1)
        up = h[:, :, :3].repeat_interleave(2, dim=-1)
        cl = torch.movedim(h, 1, 2).transpose(1, 2)
        a, b = torch.split(h, [2, 4], dim=-1)
        chunks = torch.cat(list(torch.chunk(h, 3, dim=-1)), -1)
        steps = torch.stack(torch.unbind(h, dim=1), 0).sum(0).unsqueeze(1)
        return rev + shifted + tri + first + up + cl + torch.cat([b, a], -1) + chunks + steps


class SiameseMetric(nn.Module):
    """A siamese head scoring pairs: one shared encoder, then Bilinear,
    CosineSimilarity, PairwiseDistance, F.cosine_similarity,
    F.pairwise_distance, F.normalize and cdist."""

    def __init__(self, d=10, e=6):
        super().__init__()
        self.enc = nn.Linear(d, e)
        self.bilinear = nn.Bilinear(e, e, 3)
        self.cos = nn.CosineSimilarity(dim=-1)
        self.dist = nn.PairwiseDistance(p=2.0)

    def forward(self, x):  # [B, 2, d]: the two sides of each pair
        a, b = self.enc(x[:, 0]), self.enc(x[:, 1])
        score = self.bilinear(a, b)
        sims = torch.stack([self.cos(a, b), self.dist(a, b),
                            F.cosine_similarity(a, b, dim=1),
                            F.pairwise_distance(a, b, p=1.0),
                            (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1),
                            torch.cdist(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0).mean(-1)],
                           dim=-1)
        return torch.cat([score, sims], dim=-1)


class TokenSelect(nn.Module):
    """Picking tokens and features by index: index_select and gather with
    int64 buffers, narrow, take_along_dim of an argsort-free argmax, and
    advanced indexing (x[:, idx], x[:, [1, 2]], x[[0, 1]], x[arange(n),
    top], x[..., None], x[:, ::2], negative indices)."""

    def __init__(self, d=8):
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.register_buffer("keep", torch.tensor([7, 0, 3, 3, 1], dtype=torch.int64))

    def forward(self, x):  # [B, d]
        h = self.fc(x)
        sel = torch.index_select(h, -1, self.keep)
        gat = torch.gather(h, 1, self.keep.view(1, -1).expand(h.size(0), -1))
        mid = h.narrow(1, 2, 5)
        top = h.argmax(dim=-1)
        best = h[torch.arange(h.size(0)), top]
        along = torch.take_along_dim(h, top.unsqueeze(-1), dim=1).squeeze(-1)
        adv = h[:, self.keep] + h[:, [1, 2, 4, 4, 0]]
        return (sel + gat + mid + adv).sum(-1) + best + along + h[..., None].sum((1, 2)) + \
            h[:, ::2].mean(-1) + h[-1].sum() + h[:, -3:].max(dim=1)[0] + h[[0, 0, 1, 2]].sum(-1)


class MaskedMeanPool(nn.Module):
    """A sentence encoder's masked mean pooling with the mask computed in
    forward: padding found as all-zero rows, masked_fill_ in place, logical
    operations, counts clamped to at least one, isnan guard, maximum."""

    def __init__(self, d=8, classes=3):
        super().__init__()
        self.enc = nn.Linear(d, d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):  # [B, T, d]
        valid = x.abs().sum(-1) > 0
        keep = torch.logical_and(valid, x[..., 0] > -2.0) | (x[..., 1] > 3.0)
        h = self.enc(x)
        h.masked_fill_(~keep.unsqueeze(-1), 0.0)
        count = keep.sum(dim=1, keepdim=True).clamp(min=1)
        pooled = h.sum(dim=1) / count
        pooled = torch.where(torch.isnan(pooled), torch.zeros_like(pooled), pooled)
        return self.head(torch.maximum(pooled, -pooled.abs().sqrt()))


MODELS = [
    UserModel("causal_self_attention", CausalSelfAttention, [Input("x", [2, 6, 32])],
              edit="replace-all GELU SiLU"),
    UserModel("statistics_pooling", StatisticsPooling, [Input("x", [2, 9, 12])],
              edit="replace head Linear out_features=8"),
    UserModel("sinusoidal_positions", SinusoidalPositions, [Input("x", [2, 5, 16])],
              edit="insert after proj Dropout p=0.1"),
    UserModel("fake_quantize", FakeQuantize, [Input("x", [3, 16])],
              edit="replace fc2 Linear out_features=4 bias=False"),
    UserModel("einsum_products", EinsumProducts, [Input("x", [2, 5, 8])],
              edit="insert after q ReLU"),
    UserModel("sequence_augment", SequenceAugment, [Input("x", [2, 6, 6])],
              edit="insert after mix Tanh"),
    UserModel("siamese_metric", SiameseMetric, [Input("x", [4, 2, 10])],
              edit="replace bilinear Bilinear in1_features=6 in2_features=6 out_features=5"),
    UserModel("token_select", TokenSelect, [Input("x", [4, 8])],
              edit="insert after fc Sigmoid"),
    UserModel("masked_mean_pool", MaskedMeanPool, [Input("x", [3, 5, 8])],
              edit="replace head Linear out_features=6"),
]
