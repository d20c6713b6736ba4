"""Tiny models with weights, for graft's tests (built by tools/make-tiny).

Every model takes a 1x3x32x32 input and has between a few hundred and
about 100k parameters.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

INPUT_SHAPE = [1, 3, 32, 32]


def tiny_cnn():
    """Conv-BN-ReLU twice, max-pool, flatten, linear: a plain Sequential."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(4),
        nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10),
    )


class TinyResNet(nn.Module):
    """A stem, two torchvision BasicBlocks (the second one downsamples), a
    global pool and a linear classifier."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = BasicBlock(16, 16)
        downsample = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False),
                                   nn.BatchNorm2d(32))
        self.layer2 = BasicBlock(16, 32, stride=2, downsample=downsample)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        return F.relu(self.conv2(x))


class TinyBlocks(nn.Module):
    """Two nested blocks (block1, block2, each conv1/conv2), pooling between
    them, and a 1x1 convolution as the classifier, averaged over space."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.block1 = Block(3, 16)
        self.pool = nn.MaxPool2d(2)
        self.block2 = Block(16, 32)
        self.classifier = nn.Conv2d(32, num_classes, 1)

    def forward(self, x):
        x = self.pool(self.block1(x))
        x = self.pool(self.block2(x))
        x = self.classifier(x)
        return x.mean(dim=(2, 3))


class TinyTwoHead(nn.Module):
    """A shared trunk and two heads; forward returns a tuple."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head1 = nn.Linear(32, 10)
        self.head2 = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, x):
        f = self.trunk(x)
        return self.head1(f), self.head2(f)


class TinyActs(nn.Module):
    """Every activation module of torch.nn and the functions forwards call
    for them, each applied to one convolution's output (scaled up to reach
    the saturations and thresholds), and four that follow their own 1x1
    convolution (graft run fuses those into it); forward returns a tuple
    of all the outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.acts = nn.ModuleList([
            nn.ELU(), nn.ELU(alpha=0.5), nn.CELU(alpha=1.5), nn.SELU(), nn.RReLU(0.1, 0.3),
            nn.Mish(), nn.Softplus(), nn.Softplus(beta=2, threshold=1), nn.LogSigmoid(),
            nn.Softsign(), nn.Tanhshrink(), nn.Softshrink(), nn.Hardshrink(0.8), nn.Hardtanh(),
            nn.Hardtanh(-0.5, 2.0), nn.Threshold(0.1, -1.0), nn.LeakyReLU(0.2), nn.PReLU(),
            nn.PReLU(8, init=0.1), nn.GLU(dim=1), nn.Softmin(dim=1), nn.LogSoftmax(dim=-1),
            nn.Softmax2d()])
        self.fused = nn.Sequential(
            nn.Conv2d(8, 8, 1), nn.ELU(0.7), nn.Conv2d(8, 8, 1), nn.Hardtanh(-1.5, 1.0),
            nn.Conv2d(8, 8, 1), nn.Softplus(beta=2), nn.Conv2d(8, 8, 1), nn.Mish())
        self.slope = nn.Parameter(torch.rand(8) * 0.5)
        with torch.no_grad():  # slopes that differ by channel
            self.acts[18].weight.uniform_(-0.5, 0.5)

    def forward(self, x):
        y = self.conv(x) * 3
        outs = [a(y) for a in self.acts]
        outs += [F.elu(y, 0.3), F.celu(y, alpha=2.0), F.selu(y), F.rrelu(y), F.mish(y),
                 F.softplus(y, 0.5, 2), F.logsigmoid(y), F.softsign(y), F.tanhshrink(y),
                 F.softshrink(y, 0.3), F.hardshrink(y), F.hardtanh(y, -0.2, 0.4),
                 F.threshold(y, 0.0, 5.0), F.leaky_relu(y, 0.05), F.prelu(y, self.slope),
                 F.glu(y), F.softmin(y, dim=2), F.log_softmax(y, 1), torch.selu(y),
                 y.hardshrink(0.2), self.fused(y)]
        return tuple(outs)


MODELS = {
    "tiny_cnn": tiny_cnn,
    "tiny_resnet": TinyResNet,
    "tiny_blocks": TinyBlocks,
    "tiny_twohead": TinyTwoHead,
    "tiny_acts": TinyActs,
}


def build(name, seed=0):
    """The untrained model NAME, its initialisation seeded with SEED."""
    torch.manual_seed(seed)
    return MODELS[name]()


def calibrate(model, seed=0, batches=4):
    """Give BatchNorm layers non-trivial running statistics: a few forward
    passes in training mode on seeded random batches (no gradient step)."""
    g = torch.Generator().manual_seed(seed + 1)
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn([8] + INPUT_SHAPE[1:], generator=g) * 2 + 0.5)
    model.eval()
    return model
