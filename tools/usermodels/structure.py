"""Models whose structure is more than a tree of modules called once:
modules shared between inputs, called several times or registered under two
names, weights tied between modules, outputs that are dicts and nested
containers, lazy modules and pruned ones."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from .base import Input, UserModel


class SiameseNet(nn.Module):
    """A siamese network (signature or face verification): one encoder
    applied to both inputs, the pair compared by a small head."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))
        self.head = nn.Linear(24, 1)

    def forward(self, left, right):
        a, b = self.encoder(left), self.encoder(right)
        return self.head(torch.cat([a, b, (a - b) * (a - b)], dim=1))


class ReusedLinear(nn.Module):
    """A weight-shared recurrent-style refinement: the same Linear applied
    four times (a "universal transformer" MLP, an unrolled fixed point)."""

    def __init__(self):
        super().__init__()
        self.step = nn.Linear(10, 10)
        self.out = nn.Linear(10, 3)

    def forward(self, x):
        for _ in range(4):
            x = torch.tanh(self.step(x)) + x
        return self.out(x)


class AliasedModule(nn.Module):
    """One module under two names (self.proj = self.shared = nn.Linear),
    as code renamed halfway does; both names are called."""

    def __init__(self):
        super().__init__()
        self.proj = self.shared = nn.Linear(12, 12)
        self.out = nn.Linear(12, 3)

    def forward(self, x):
        return self.out(self.shared(F.relu(self.proj(x))))


class DictHeads(nn.Module):
    """A detector-style model returning a dict of named outputs."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.cls = nn.Linear(8, 4)
        self.box = nn.Linear(8, 4)

    def forward(self, x):
        h = self.backbone(x)
        return {"logits": self.cls(h), "boxes": torch.sigmoid(self.box(h)), "features": h}


class DictLookup(nn.Module):
    """A wrapper that takes a dict-returning submodule's outputs apart by
    key (out["logits"]), as training loops and ensembles do."""

    def __init__(self):
        super().__init__()
        self.detector = DictHeads()
        self.calibrate = nn.Linear(4, 4)

    def forward(self, x):
        out = self.detector(x)
        return self.calibrate(out["logits"]) * out["boxes"]


class NestedOutputs(nn.Module):
    """Outputs nested as multi-task and auxiliary-loss code returns them: a
    tuple holding a tensor and a list holding a tensor and a dict."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 16), nn.ReLU())
        self.main = nn.Linear(16, 2)
        self.aux = nn.Linear(16, 5)

    def forward(self, x):
        h = self.trunk(x)
        aux = self.aux(h)
        return self.main(h), [aux, {"prob": torch.softmax(aux, dim=1), "hidden": h}]


class LazyMLP(nn.Module):
    """LazyConv2d and LazyLinear, whose input sizes the first batch fixes
    (as in the d2l.ai book): the exporter materialises them from the
    example input and writes the Conv2d and Linear they become."""

    def __init__(self):
        super().__init__()
        self.conv = nn.LazyConv2d(6, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc1 = nn.LazyLinear(16)
        self.fc2 = nn.LazyLinear(3)

    def forward(self, x):
        x = torch.flatten(self.pool(F.relu(self.conv(x))), 1)
        return self.fc2(F.relu(self.fc1(x)))


class PrunedCNN(nn.Module):
    """A CNN after torch.nn.utils.prune (l1_unstructured on the convolution
    and the classifier): weight_orig and weight_mask, exported as the
    effective weight."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)
        prune.l1_unstructured(self.conv, "weight", amount=0.4)
        prune.l1_unstructured(self.fc, "weight", amount=0.5)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1)
        return self.fc(torch.flatten(x, 1))


class TiedAutoencoder(nn.Module):
    """A tied-weight autoencoder: the decoder is the encoder's weight
    transposed, F.linear(h, self.enc.weight.t(), self.dec_bias)."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(20, 6)
        self.dec_bias = nn.Parameter(torch.zeros(20))

    def forward(self, x):
        h = torch.sigmoid(self.enc(x))
        return F.linear(h, self.enc.weight.transpose(0, 1), self.dec_bias)


class TiedProjection(nn.Module):
    """Input and output projections sharing one weight
    (self.unproject.weight = self.project.weight), as GPT ties its output
    head to its token embedding."""

    def __init__(self):
        super().__init__()
        self.project = nn.Linear(12, 12, bias=False)
        self.mix = nn.Sequential(nn.Linear(12, 12), nn.GELU())
        self.unproject = nn.Linear(12, 12)
        self.unproject.weight = self.project.weight

    def forward(self, x):
        return self.unproject(self.mix(self.project(x)))


MODELS = [
    UserModel("siamese_net", SiameseNet, [Input("left", [3, 16]), Input("right", [3, 16])],
              edit="replace head Linear out_features=2"),
    UserModel("reused_linear", ReusedLinear, [Input("x", [4, 10])],
              edit="replace out Linear out_features=5"),
    UserModel("aliased_module", AliasedModule, [Input("x", [2, 12])],
              edit="replace out Linear out_features=4"),
    UserModel("dict_heads", DictHeads, [Input("x", [2, 3, 16, 16])],
              edit="replace cls Linear out_features=7"),
    UserModel("dict_lookup", DictLookup, [Input("x", [2, 3, 16, 16])],
              edit="replace calibrate Linear bias=False"),
    UserModel("nested_outputs", NestedOutputs, [Input("x", [3, 6])],
              edit="replace aux Linear out_features=4"),
    UserModel("lazy_mlp", LazyMLP, [Input("x", [2, 3, 8, 8])],
              edit="replace fc2 Linear out_features=6"),
    UserModel("pruned_cnn", PrunedCNN, [Input("x", [2, 3, 12, 12])],
              edit="replace fc Linear out_features=3"),
    UserModel("tied_autoencoder", TiedAutoencoder, [Input("x", [4, 20])],
              edit="insert after enc ReLU"),
    UserModel("tied_projection", TiedProjection, [Input("x", [2, 12])],
              edit="replace-all GELU SiLU"),
]
