"""Models that combine families, as whole third-party models do: a
GPT-style decoder and a BERT-style encoder."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel


class CausalSelfAttention(nn.Module):
    """minGPT's attention: one Linear for q, k and v, heads split by view,
    the causal mask a registered buffer, softmax written out."""

    def __init__(self, dim, heads, block):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.register_buffer("mask", torch.tril(torch.ones(block, block)).view(1, 1, block, block))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class GPTBlock(nn.Module):
    def __init__(self, dim, heads, block):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, block)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class MiniGPT(nn.Module):
    """A GPT-style decoder (after minGPT/nanoGPT): token and position
    embeddings, pre-norm blocks with causal self-attention, a final
    LayerNorm and an output projection tied to the token embedding."""

    def __init__(self, vocab=50, dim=32, heads=4, layers=2, block=16):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Embedding(block, dim)
        self.blocks = nn.ModuleList([GPTBlock(dim, heads, block) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        pos = torch.arange(0, idx.size(1), dtype=torch.long, device=idx.device).unsqueeze(0)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


class MiniBERT(nn.Module):
    """A BERT-style encoder: token, position and segment embeddings,
    LayerNorm, nn.TransformerEncoder with the attention mask as a key
    padding mask, and a pooler on the first token."""

    def __init__(self, vocab=60, dim=32, heads=4, layers=2, max_len=16, classes=3):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim, padding_idx=0)
        self.pos = nn.Embedding(max_len, dim)
        self.seg = nn.Embedding(2, dim)
        self.norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=64, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
        self.classifier = nn.Linear(dim, classes)

    def forward(self, input_ids, attention_mask, token_type_ids):
        pos = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        x = self.norm(self.tok(input_ids) + self.pos(pos) + self.seg(token_type_ids))
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        return self.classifier(self.pooler(x[:, 0]))


MODELS = [
    UserModel("mini_gpt", MiniGPT, [Input("idx", [2, 12], "int64", high=50)],
              edit="replace-all GELU SiLU"),
    UserModel("mini_bert", MiniBERT, [Input("input_ids", [2, 10], "int64", high=60),
                                      Input("attention_mask", [2, 10], "int64", high=2),
                                      Input("token_type_ids", [2, 10], "int64", high=2)],
              edit="replace classifier Linear out_features=5"),
]
