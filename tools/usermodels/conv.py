"""Convolution and pooling networks users write themselves: 1-D audio and
3-D video CNNs, a U-Net, an unpooling autoencoder, transposed-convolution
generators, power-average pooling, a patch model with Unfold and Fold,
padding modes, and the functional forms."""

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel


class AudioCNN1d(nn.Module):
    """A raw-waveform keyword spotter (M5-style, as in the torchaudio
    tutorial): a wide strided Conv1d, BatchNorm1d on [N, C, L], MaxPool1d,
    AdaptiveAvgPool1d and a linear classifier."""

    def __init__(self, classes=6):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, 8, 40, stride=8), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(8, 16, 3, padding=1), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(3, 2, 1),
            nn.Conv1d(16, 16, 3, dilation=2, groups=4), nn.ReLU(),
            nn.AvgPool1d(2, ceil_mode=True, count_include_pad=False))
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).squeeze(-1))


class VideoCNN3d(nn.Module):
    """A C3D-style clip classifier: Conv3d with GroupNorm, MaxPool3d that
    keeps time at first, AvgPool3d, AdaptiveAvgPool3d and AdaptiveMaxPool3d
    heads concatenated."""

    def __init__(self, classes=5):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(),
            nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)))
        self.block = nn.Sequential(
            nn.Conv3d(8, 16, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1), bias=False),
            nn.GroupNorm(4, 16), nn.ReLU(),
            nn.MaxPool3d(2, ceil_mode=True),
            nn.AvgPool3d((1, 2, 2), stride=1, padding=(0, 1, 1), divisor_override=3))
        self.avg = nn.AdaptiveAvgPool3d(1)
        self.max = nn.AdaptiveMaxPool3d((1, 1, 1))
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.block(self.stem(x))
        x = torch.cat([self.avg(x), self.max(x)], dim=1)
        return self.fc(torch.flatten(x, 1))


def _double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))


class UNetSmall(nn.Module):
    """The U-Net of segmentation tutorials, two levels deep: double convs,
    MaxPool2d down, ConvTranspose2d up, skip connections concatenated on
    channels (the last up-sampling told its output size, as code for odd
    sizes does), a 1x1 conv to class logits."""

    def __init__(self, classes=3):
        super().__init__()
        self.down1 = _double_conv(3, 8)
        self.down2 = _double_conv(8, 16)
        self.bottom = _double_conv(16, 24)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(24, 16, 2, stride=2)
        self.dec2 = _double_conv(32, 16)
        self.up1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = _double_conv(16, 8)
        self.out = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        b = self.bottom(self.pool(d2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], dim=1))
        u1 = self.dec1(torch.cat([self.up1(u2, output_size=d1.size()), d1], dim=1))
        return self.out(u1)


class UnpoolAutoencoder(nn.Module):
    """A SegNet-style convolutional autoencoder: MaxPool2d with
    return_indices=True in the encoder, MaxUnpool2d with those indices
    (and the encoder's sizes) in the decoder, a ConvTranspose2d to the
    image; returns the reconstruction and the code."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.enc2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2, stride=2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, stride=2)
        self.dec2 = nn.Sequential(nn.Conv2d(16, 8, 3, padding=1), nn.ReLU())
        self.dec1 = nn.ConvTranspose2d(8, 1, 3, padding=1)

    def forward(self, x):
        h1 = self.enc1(x)
        p1, i1 = self.pool(h1)
        h2 = self.enc2(p1)
        p2, i2 = self.pool(h2)
        u2 = self.unpool(p2, i2, output_size=h2.size())
        u1 = self.unpool(self.dec2(u2), i1, output_size=h1.size())
        return torch.sigmoid(self.dec1(u1)), p2


class WaveGenerator1d(nn.Module):
    """A WaveGAN-style 1-D generator: a latent vector to a waveform through
    ConvTranspose1d layers with stride, output_padding, groups and
    dilation, and a transposed 3-D decoder of the same latent into a small
    voxel grid (ConvTranspose3d)."""

    def __init__(self, latent=16):
        super().__init__()
        self.fc = nn.Linear(latent, 16 * 8)
        self.wave = nn.Sequential(
            nn.ConvTranspose1d(16, 16, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose1d(16, 8, 5, stride=3, padding=1, output_padding=2, groups=2),
            nn.ReLU(),
            nn.ConvTranspose1d(8, 4, 3, stride=2, dilation=2, output_padding=1), nn.ReLU(),
            nn.ConvTranspose1d(4, 1, 1, bias=False), nn.Tanh())
        self.vox_fc = nn.Linear(latent, 8 * 2 * 2 * 2)
        self.voxels = nn.Sequential(
            nn.ConvTranspose3d(8, 4, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose3d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
            nn.ReLU(),
            nn.ConvTranspose3d(4, 1, (1, 3, 3), padding=(0, 1, 1)), nn.Sigmoid())

    def forward(self, z):
        w = self.wave(self.fc(z).view(z.size(0), 16, 8))
        v = self.voxels(self.vox_fc(z).view(z.size(0), 8, 2, 2, 2))
        return w, v


class LPPoolNet(nn.Module):
    """A texture classifier pooling with power averages (LPPool2d, p=2, as
    in 'Learned-norm pooling'), then a 1-D power average over the rows and
    an average pool that leaves the padding out of its divisor."""

    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.lp2 = nn.LPPool2d(2, 3, stride=2, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.lp1 = nn.LPPool1d(3, 2)
        self.fc = nn.Linear(12, classes)

    def forward(self, x):
        x = self.lp2(F.relu(self.conv1(x)))
        x = self.avg(F.relu(self.conv2(x)))
        x = self.lp1(x.flatten(2))
        return self.fc(x.mean(-1))


class PatchMixer(nn.Module):
    """A patch-based denoiser: Unfold cuts overlapping 4x4 patches, a
    Linear mixes each patch, Fold sums the patches back into the image and
    a second Fold of ones counts the overlaps to average them."""

    def __init__(self, channels=3, size=(12, 16)):
        super().__init__()
        self.unfold = nn.Unfold(4, padding=1, stride=2)
        self.fold = nn.Fold(size, 4, padding=1, stride=2)
        self.mix = nn.Linear(channels * 16, channels * 16)

    def forward(self, x):
        p = self.unfold(x)
        p = self.mix(p.transpose(1, 2)).transpose(1, 2)
        count = self.fold(self.unfold(x * 0 + 1))
        return self.fold(p) / count


class PaddingModes(nn.Module):
    """Convolutions that pad by reflection, replication and wrap-around
    (padding_mode), as image-to-image and periodic-domain (climate,
    physics) models use, in 1-D, 2-D and 3-D."""

    def __init__(self):
        super().__init__()
        self.reflect = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.circular = nn.Conv2d(8, 8, 5, padding=2, padding_mode="circular", groups=2)
        self.replicate = nn.Conv2d(8, 4, 3, stride=2, padding=(1, 2),
                                   padding_mode="replicate")
        self.ring = nn.Conv1d(4, 4, 3, padding=1, padding_mode="circular")
        self.vol = nn.Conv3d(1, 2, 3, padding=1, padding_mode="replicate")
        self.same = nn.Conv1d(4, 4, 4, padding="same", padding_mode="reflect")

    def forward(self, x):
        x = torch.relu(self.reflect(x))
        x = torch.relu(self.circular(x))
        x = self.replicate(x)
        r = self.same(self.ring(x.flatten(2)))
        v = self.vol(x.unsqueeze(1)).flatten(1, 2)
        return r, v


class FunctionalConvPool(nn.Module):
    """Code that takes weights from layers it does not call and calls the
    functional forms (as weight standardisation and hypernetwork code
    does): F.conv1d, F.conv_transpose1d, F.conv3d, F.conv_transpose2d,
    F.max_pool1d/3d, F.avg_pool1d/3d, the adaptive pools, F.lp_pool1d,
    max pooling with indices and F.max_unpool1d/2d/3d, F.unfold and
    F.fold."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(2, 6, 3)
        self.t1 = nn.ConvTranspose1d(6, 2, 4, bias=False)
        self.c3 = nn.Conv3d(2, 4, 3, bias=False)
        self.t2 = nn.ConvTranspose2d(2, 3, 3, bias=False)
        self.act = nn.ReLU()

    def forward(self, seq, vol):
        a = self.act(F.conv1d(seq, self.c1.weight, self.c1.bias, padding=1))
        a1, i1 = F.max_pool1d(a, 2, return_indices=True)
        a = F.max_unpool1d(a1, i1, 2) + F.avg_pool1d(a, 3, 1, 1)
        a = F.conv_transpose1d(a, self.t1.weight, stride=2, padding=1)
        a = F.lp_pool1d(a, 2, 2) + F.adaptive_max_pool1d(a, a.shape[-1] // 2)
        v = F.conv3d(vol, self.c3.weight, padding=1, stride=(1, 2, 2))
        v3, i3 = F.max_pool3d(v, 2, return_indices=True)
        v = F.max_unpool3d(v3, i3, 2, output_size=v.shape[-3:]) + F.avg_pool3d(v, 3, 1, 1)
        v = F.adaptive_avg_pool3d(v, (2, 3, 3))
        img = v.flatten(1, 2)
        m, i2 = F.max_pool2d(img, 2, return_indices=True, ceil_mode=True)
        img = F.max_unpool2d(m, i2, 2, output_size=img.shape[-2:])
        img = F.conv_transpose2d(img[:, :2], self.t2.weight, stride=2)
        patches = F.unfold(img, 2, stride=2)
        img = F.fold(patches * 0.5, img.shape[-2:], 2, stride=2)
        return a, img, F.adaptive_avg_pool1d(a, 3)


MODELS = [
    UserModel("audio_cnn1d", AudioCNN1d, [Input("waveform", [2, 1, 800])],
              edit="replace fc Linear out_features=10"),
    UserModel("video_cnn3d", VideoCNN3d, [Input("clip", [1, 3, 6, 24, 24])],
              edit="replace stem.3 MaxPool3d kernel_size=2"),
    UserModel("unet_small", UNetSmall, [Input("image", [1, 3, 32, 32])],
              edit="replace out Conv2d in_channels=8 out_channels=5 kernel_size=1"),
    UserModel("unpool_autoencoder", UnpoolAutoencoder, [Input("image", [2, 1, 20, 16])],
              edit="insert after enc2.1 Dropout p=0.1"),
    UserModel("wave_generator1d", WaveGenerator1d, [Input("z", [2, 16])],
              edit="replace wave.6 ConvTranspose1d in_channels=4 out_channels=2 kernel_size=3 padding=1"),
    UserModel("lppool_net", LPPoolNet, [Input("image", [2, 3, 21, 19])],
              edit="replace lp2 LPPool2d norm_type=3 kernel_size=2"),
    UserModel("patch_mixer", PatchMixer, [Input("image", [1, 3, 12, 16])],
              edit="replace mix Linear in_features=48 out_features=48 bias=False"),
    UserModel("padding_modes", PaddingModes, [Input("image", [1, 3, 14, 12])],
              edit="replace reflect Conv2d in_channels=3 out_channels=8 kernel_size=3 padding=1 padding_mode='zeros'"),
    UserModel("functional_conv_pool", FunctionalConvPool,
              [Input("seq", [2, 2, 16]), Input("vol", [1, 2, 4, 10, 10])],
              edit="replace act ELU"),
]
