"""Small models the edit fixtures need that models/tiny/ does not have.

They are exported with tools/graft-export into tests/edits/models/ (as
bundles, seed 0) by tools/make-edit-fixtures --models:

    tools/graft-export tools/surgery_models.py:tiny_attention --seed 0 \\
        --input-shape 1x3x32x32 -o tests/edits/models/tiny_attention.safetensors
"""

from torch import nn

INPUT_SHAPE = [1, 3, 32, 32]


class TinyAttention(nn.Module):
    """Patches from a strided convolution, one self-attention layer with a
    residual and a LayerNorm, the mean over tokens, a linear classifier."""

    graft_input_shape = INPUT_SHAPE

    def __init__(self, dim=16, heads=4, num_classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, stride=8)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        a, _ = self.attn(t, t, t, need_weights=False)
        t = self.norm(t + a)
        return self.fc(t.mean(dim=1))


def tiny_attention():
    return TinyAttention()


MODELS = {
    "tiny_attention": tiny_attention,
}
