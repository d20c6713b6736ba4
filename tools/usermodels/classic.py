"""Classic small networks users write from tutorials and papers: MLPs,
LeNet, activation variants, a late-fusion model with two inputs."""

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel


class MLPClassifier(nn.Module):
    """A tabular-data MLP: Linear, BatchNorm1d, ReLU, Dropout, twice, and
    a classifier, as in most Kaggle notebooks."""

    def __init__(self, features=20, hidden=64, classes=3):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.3))
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.classifier(self.net(x))


class LeNet5(nn.Module):
    """LeNet-5 on 28x28 digits, as in the PyTorch tutorials: functional
    pooling and activations, view to flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.max_pool2d(torch.tanh(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ActivationZoo(nn.Module):
    """A CNN whose blocks each use another activation module (Mish, ELU,
    PReLU per channel, SELU), as papers comparing activations do."""

    def __init__(self):
        super().__init__()
        acts = [nn.Mish(), nn.ELU(alpha=0.8), nn.PReLU(16), nn.SELU()]
        chans = [3, 8, 16, 16, 16]
        self.blocks = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1), acts[i])
            for i in range(4)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(x)), 1))


class LateFusion(nn.Module):
    """Two inputs, an image and a vector of tabular features, each through
    its own branch, concatenated for one head."""

    def __init__(self):
        super().__init__()
        self.image = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.tabular = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
        self.head = nn.Linear(16, 4)

    def forward(self, image, features):
        return self.head(torch.cat([self.image(image), self.tabular(features)], dim=1))


class ResidualMLP(nn.Module):
    """Pre-norm residual MLP blocks (LayerNorm, Linear, GELU, Linear) over
    tokens, averaged for a classifier: the MLP half of a transformer."""

    def __init__(self, dim=24, blocks=2, classes=4):
        super().__init__()
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(blocks)])
        self.mlps = nn.ModuleList([nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(),
                                                 nn.Linear(2 * dim, dim))
                                   for _ in range(blocks)])
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        for norm, mlp in zip(self.norms, self.mlps):
            x = x + mlp(norm(x))
        return self.head(x.mean(dim=1))


class MultiTask(nn.Module):
    """A shared trunk with one head per task kept in an nn.ModuleDict,
    learned per-task output scales in an nn.ParameterList and a bias in an
    nn.ParameterDict, as multi-task code does."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(12, 32), nn.ReLU())
        self.heads = nn.ModuleDict({"age": nn.Linear(32, 1), "class": nn.Linear(32, 5)})
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(1)),
                                        nn.Parameter(torch.ones(5))])
        self.offsets = nn.ParameterDict({"age": nn.Parameter(torch.zeros(1))})

    def forward(self, x):
        h = self.trunk(x)
        age = self.heads["age"](h) * self.scales[0] + self.offsets["age"]
        return age, self.heads["class"](h) * self.scales[1]


MODELS = [
    UserModel("mlp_classifier", MLPClassifier, [Input("x", [4, 20])],
              edit="replace classifier Linear out_features=7"),
    UserModel("lenet5", LeNet5, [Input("x", [2, 1, 28, 28])],
              edit="replace fc3 Linear out_features=26"),
    UserModel("activation_zoo", ActivationZoo, [Input("x", [1, 3, 16, 16])],
              edit="replace-all ELU Mish"),
    UserModel("late_fusion", LateFusion, [Input("image", [2, 3, 16, 16]),
                                          Input("features", [2, 6])],
              edit="insert after image.1 Dropout p=0.1"),
    UserModel("residual_mlp", ResidualMLP, [Input("x", [2, 5, 24])],
              edit="replace-all GELU SiLU"),
    UserModel("multi_task", MultiTask, [Input("x", [3, 12])],
              edit="insert after trunk.1 Dropout p=0.2"),
]
