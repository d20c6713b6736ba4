"""Normalisation, dropout, padding, resizing and rearrangement: style
transfer, super-resolution, ShuffleNet-style blocks, AlexNet's local
response norms, 1-D and 3-D signal nets, a decoder, a frozen-BatchNorm
backbone and a self-normalising MLP."""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from .base import Input, UserModel


class ResidualBlock(nn.Module):
    """The style-transfer residual block: reflection padding, conv,
    instance norm, twice."""

    def __init__(self, ch):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch, affine=True),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch, affine=True))

    def forward(self, x):
        return x + self.block(x)


class StyleTransfer(nn.Module):
    """Johnson et al.'s fast style transfer as in pytorch/examples
    (fast_neural_style): reflection-padded convolutions with affine
    InstanceNorm2d, residual blocks, nearest Upsample then a convolution
    instead of a transposed one."""

    def __init__(self, ch=8):
        super().__init__()
        self.down = nn.Sequential(
            nn.ReflectionPad2d(4), nn.Conv2d(3, ch, 9), nn.InstanceNorm2d(ch, affine=True),
            nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, 2 * ch, 3, stride=2),
            nn.InstanceNorm2d(2 * ch, affine=True), nn.ReLU())
        self.res = nn.Sequential(ResidualBlock(2 * ch), ResidualBlock(2 * ch))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
            nn.Conv2d(2 * ch, ch, 3), nn.InstanceNorm2d(ch, affine=True), nn.ReLU(),
            nn.ReflectionPad2d(4), nn.Conv2d(ch, 3, 9))

    def forward(self, x):
        return self.up(self.res(self.down(x)))


class ESPCN(nn.Module):
    """Shi et al.'s efficient sub-pixel network (pytorch/examples
    super_resolution): three convolutions on the luminance, then
    PixelShuffle by the upscale factor."""

    def __init__(self, upscale=3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, upscale ** 2, 3, padding=1)
        self.shuffle = nn.PixelShuffle(upscale)

    def forward(self, x):
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return self.shuffle(self.conv3(x))


class ShuffleBlockNet(nn.Module):
    """Space-to-depth with PixelUnshuffle, grouped convolutions with
    ChannelShuffle between them (ShuffleNet), back to full resolution with
    F.pixel_shuffle, zero padding with ZeroPad2d and F.pad."""

    def __init__(self):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(2)
        self.pw1 = nn.Conv2d(12, 16, 1, groups=4)
        self.shuffle = nn.ChannelShuffle(4)
        self.pad = nn.ZeroPad2d((1, 1, 1, 1))
        self.dw = nn.Conv2d(16, 16, 3, groups=16)
        self.pw2 = nn.Conv2d(16, 12, 1, groups=4)

    def forward(self, x):
        y = F.relu(self.pw1(self.unshuffle(x)))
        y = self.dw(self.pad(self.shuffle(y)))
        y = F.channel_shuffle(y, 2)
        y = F.pad(self.pw2(y), (0, 0, 0, 0), mode="constant")
        return F.pixel_shuffle(y, 2) + x


class AlexNetLRN(nn.Module):
    """The original AlexNet's layout at a small size: LocalResponseNorm
    after the first two convolutions (and Lua Torch's CrossMapLRN2d, as
    ports of old models keep it), then the classifier with Dropout."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(inplace=True),
            nn.CrossMapLRN2d(5, alpha=1e-4, beta=0.75, k=2), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(24 * 3 * 3, 32), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(32, classes))

    def forward(self, x):
        x = self.features(x)
        x = F.local_response_norm(x, 3)
        return self.classifier(torch.flatten(x, 1))


class Signal1d(nn.Module):
    """A 1-D sensor-signal classifier whose temporal convolutions are
    written as (1, k) Conv2d over an unsqueezed axis, as some time-series
    code does: ReplicationPad1d, BatchNorm1d on [N, C, L] and on [N, F],
    InstanceNorm1d, Dropout1d and F.dropout1d."""

    def __init__(self, ch=4, classes=5):
        super().__init__()
        self.pad = nn.ReplicationPad1d(2)
        self.conv1 = nn.Conv2d(ch, 16, (1, 5))
        self.bn1 = nn.BatchNorm1d(16)
        self.drop = nn.Dropout1d(0.2)
        self.pad2 = nn.ReflectionPad1d((1, 1))
        self.conv2 = nn.Conv2d(16, 16, (1, 3))
        self.inorm = nn.InstanceNorm1d(16, affine=True)
        self.fc = nn.Linear(16, 16)
        self.bn2 = nn.BatchNorm1d(16)
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        x = self.conv1(self.pad(x).unsqueeze(2)).squeeze(2)
        x = self.drop(F.relu(self.bn1(x)))
        x = self.conv2(self.pad2(x).unsqueeze(2)).squeeze(2)
        x = F.dropout1d(F.relu(self.inorm(x)), 0.1, self.training)
        x = F.relu(self.bn2(self.fc(x.mean(dim=2))))
        return self.head(x)


class Volume3d(nn.Module):
    """A small volumetric (CT patch) classifier: ConstantPad3d,
    BatchNorm3d, Dropout3d, trilinear resampling with F.interpolate,
    ReplicationPad3d, InstanceNorm3d, and a linear head."""

    def __init__(self, classes=3):
        super().__init__()
        self.pad = nn.ConstantPad3d(1, 0.0)
        self.bn = nn.BatchNorm3d(2)
        self.drop = nn.Dropout3d(0.1)
        self.pad2 = nn.ReplicationPad3d((1, 0, 1, 0, 0, 1))
        self.inorm = nn.InstanceNorm3d(2, affine=True, track_running_stats=True)
        self.head = nn.Linear(2 * 4 * 5 * 5, classes)

    def forward(self, x):
        x = self.drop(F.relu(self.bn(self.pad(x))))
        x = F.interpolate(x, scale_factor=0.5, mode="trilinear", align_corners=False)
        x = self.inorm(self.pad2(x))
        x = F.interpolate(x, size=(4, 5, 5), mode="nearest")
        return self.head(torch.flatten(x, 1))


class Decoder(nn.Module):
    """An image decoder from a latent vector: Linear, Unflatten to a
    feature map, bilinear Upsample with align_corners, a convolution,
    bicubic F.interpolate with align_corners, UpsamplingNearest2d and
    UpsamplingBilinear2d; a second head reshapes with x.unflatten."""

    def __init__(self, latent=16):
        super().__init__()
        self.fc = nn.Linear(latent, 8 * 4 * 4)
        self.unflatten = nn.Unflatten(1, (8, 4, 4))
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.up2 = nn.UpsamplingNearest2d(scale_factor=2)
        self.conv2 = nn.Conv2d(8, 4, 3, padding=1)
        self.up3 = nn.UpsamplingBilinear2d(size=(20, 20))
        self.conv3 = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, z):
        x = F.relu(self.conv1(self.up1(self.unflatten(self.fc(z)))))
        x = F.interpolate(x, size=(12, 12), mode="bicubic", align_corners=True)
        x = F.relu(self.conv2(self.up2(x)))
        img = torch.sigmoid(self.conv3(self.up3(x)))
        mask = F.interpolate(img, scale_factor=0.5, mode="area")
        return img, mask.flatten(1).unflatten(1, (2, -1))


class FrozenBackbone(nn.Module):
    """A detection-style backbone with torchvision's FrozenBatchNorm2d
    (as Faster R-CNN's ResNet uses), a residual stage and an upsampled
    feature-pyramid merge."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),
                                  FrozenBatchNorm2d(16), nn.ReLU(inplace=True))
        self.conv1 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn1 = FrozenBatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False)
        self.bn2 = FrozenBatchNorm2d(16)
        self.lateral = nn.Conv2d(16, 8, 1)
        self.top = nn.Conv2d(16, 8, 1)

    def forward(self, x):
        c1 = self.stem(x)
        c1 = F.relu(c1 + self.bn1(self.conv1(c1)))
        c2 = F.relu(self.bn2(self.conv2(c1)))
        p2 = self.top(c2)
        p1 = self.lateral(c1) + F.interpolate(p2, size=c1.shape[-2:], mode="nearest")
        return p1, p2


class SelfNormalizingMLP(nn.Module):
    """Klambauer et al.'s self-normalising network: SELU with
    AlphaDropout between Linear layers, FeatureAlphaDropout on the
    input features, F.alpha_dropout before the head."""

    def __init__(self, features=24, hidden=48, classes=4):
        super().__init__()
        self.inp = nn.FeatureAlphaDropout(0.05)
        self.body = nn.Sequential(
            nn.Linear(features, hidden), nn.SELU(), nn.AlphaDropout(0.1),
            nn.Linear(hidden, hidden), nn.SELU(), nn.AlphaDropout(0.1))
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.body(self.inp(x))
        return self.head(F.alpha_dropout(h, 0.1, self.training))


class ResizeAndPadModes(nn.Module):
    """Every resize and padding mode a forward may call, as image
    pipelines and augmentation-free test-time code do: F.interpolate in
    each mode (size or scale_factor, align_corners,
    recompute_scale_factor), F.upsample and its nearest and bilinear
    forms, F.pad in each mode on 3-D, 4-D and 5-D inputs, and the pad
    layers not used elsewhere."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.pad1 = nn.ConstantPad1d((2, 1), -0.5)
        self.pad2 = nn.ConstantPad2d((1, 0, 2, 1), 0.25)
        self.pad3 = nn.ReflectionPad3d((1, 1, 2, 0, 1, 1))
        self.pad4 = nn.ReplicationPad2d((0, 3, 1, 1))

    def forward(self, x):
        x = self.conv(x)
        a = F.interpolate(x, scale_factor=1.5, mode="nearest")
        b = F.interpolate(x, size=(7, 9), mode="nearest-exact")
        c = F.interpolate(x, scale_factor=1.3, mode="bilinear", recompute_scale_factor=True)
        d = F.interpolate(x, scale_factor=(1.7, 0.6), mode="bicubic")
        e = F.interpolate(x, scale_factor=0.5, mode="area")
        f = F.upsample(x, scale_factor=2, mode="bilinear") + F.upsample_nearest(x, scale_factor=2)
        g = F.upsample_bilinear(x, size=(3, 4))
        seq = x.flatten(2)
        h = F.interpolate(seq, size=17, mode="linear", align_corners=True)
        vol = x.unsqueeze(2)
        i = F.interpolate(vol, size=(3, 4, 5), mode="trilinear", align_corners=True)
        j = F.pad(seq, (3, 2), mode="reflect") + F.pad(seq, (2, 3), mode="circular")
        k = F.pad(x, (1, -1, 2, 2), mode="circular") + F.pad(x, (2, -2, 0, 4), mode="replicate")
        m = F.pad(vol, (1, 1, 1, 1, 0, 0), mode="reflect") + F.pad(vol, (1, 1, 0, 2, 1, 0),
                                                                    mode="replicate")
        n = self.pad3(i) + 1
        return (a, b, c, d, e, f, g, h, i, j, k, m, n, self.pad1(seq), self.pad2(x),
                self.pad4(x))


class NormFunctions(nn.Module):
    """Normalisation written with torch.nn.functional and the layers'
    less common forms: F.instance_norm with and without running
    statistics, F.group_norm, F.batch_norm on 3-D and 5-D inputs,
    F.local_response_norm on 3-D, an unbatched InstanceNorm2d, an
    InstanceNorm1d without affine, BatchNorm1d without running
    statistics. Its own tensors are cast to float32 before use."""

    def __init__(self, ch=6):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(ch) + 0.5)
        self.bias = nn.Parameter(torch.randn(ch) * 0.1)
        self.register_buffer("mean", torch.randn(ch) * 0.1)
        self.register_buffer("var", torch.rand(ch) + 0.5)
        self.inorm = nn.InstanceNorm2d(ch, affine=True)
        self.inorm1 = nn.InstanceNorm1d(ch)
        self.bn = nn.BatchNorm1d(ch, track_running_stats=False)

    def forward(self, x):
        # float32 whatever the stored dtype, as mixed-precision code does
        w, bias, mean, var = self.weight.float(), self.bias.float(), self.mean.float(), \
            self.var.float()
        a = F.instance_norm(x, weight=w, bias=bias)
        b = F.instance_norm(x, mean, var, w, bias, use_input_stats=False)
        c = F.group_norm(x, 3, w, bias, eps=1e-3)
        seq = x.flatten(2)
        d = F.batch_norm(seq, mean, var, w, bias)
        e = F.batch_norm(x.unsqueeze(2), mean, var, w, bias, eps=1e-3)
        f = F.local_response_norm(seq, 3, alpha=0.5)
        g = self.inorm(x[0]).unsqueeze(0)
        h = self.inorm1(seq) + self.bn(seq)
        return a + b + c + g, d + f + h, e


def _randomise_norms(model):
    """Running statistics and affine values away from their defaults, as
    in a trained model, so that the checks see them."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        for name, t in list(m.named_buffers(recurse=False)) + list(
                m.named_parameters(recurse=False)):
            if name in ("running_mean", "bias") and t.dim() == 1 and not isinstance(
                    m, (nn.Conv2d, nn.Linear)):
                t.data.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif name in ("running_var", "weight") and t.dim() == 1 and not isinstance(
                    m, (nn.Conv2d, nn.Linear)):
                t.data.copy_(torch.rand(t.shape, generator=g) + 0.5)
    return model


def _trained(cls):
    return lambda: _randomise_norms(cls())


MODELS = [
    UserModel("style_transfer", StyleTransfer, [Input("x", [1, 3, 16, 16])],
              edit="replace-all InstanceNorm2d GroupNorm num_groups=1"),
    UserModel("espcn", ESPCN, [Input("x", [1, 1, 8, 8])],
              edit="insert after shuffle Sigmoid"),
    UserModel("shuffle_block_net", ShuffleBlockNet, [Input("x", [2, 3, 8, 8])],
              edit="replace shuffle ChannelShuffle groups=2"),
    UserModel("alexnet_lrn", AlexNetLRN, [Input("x", [2, 3, 32, 32])],
              edit="replace classifier.4 Linear out_features=3"),
    UserModel("signal_1d", _trained(Signal1d), [Input("x", [3, 4, 32])],
              edit="replace head Linear out_features=2"),
    UserModel("volume_3d", _trained(Volume3d), [Input("x", [2, 2, 6, 8, 8])],
              edit="replace drop Dropout3d p=0.3"),
    UserModel("decoder", Decoder, [Input("z", [2, 16])],
              edit="replace up1 Upsample scale_factor=2.0 mode='bicubic' align_corners=True"),
    UserModel("frozen_backbone", _trained(FrozenBackbone), [Input("x", [1, 3, 32, 32])],
              edit="replace-all FrozenBatchNorm2d BatchNorm2d"),
    UserModel("selu_mlp", SelfNormalizingMLP, [Input("x", [4, 24])],
              edit="replace head Linear out_features=7"),
    UserModel("resize_pad_modes", ResizeAndPadModes, [Input("x", [1, 2, 5, 6])],
              edit="replace pad4 ReflectionPad2d padding=(0, 3, 1, 1)"),
    UserModel("norm_functions", NormFunctions, [Input("x", [2, 6, 4, 5])],
              edit="replace inorm InstanceNorm2d num_features=6 track_running_stats=True"),
]
