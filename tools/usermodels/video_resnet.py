"""torchvision's video classifiers at a small width: VideoResNet with the
convolutions of r3d_18 and mc3_18 (Conv3DSimple, Conv3DNoTemporal) and of
r2plus1d_18 (Conv2Plus1D), and S3D (separable temporal convolutions and
inception blocks); clips are batch x channels x frames x height x width.
Each is torchvision's class with its layers replaced by narrower ones
built from torchvision's blocks, so its forward is torchvision's."""

from functools import partial

from torch import nn
from torchvision.models.video import resnet
from torchvision.models.video.s3d import S3D, SepInceptionBlock3D, TemporalSeparableConv
from torchvision.ops.misc import Conv3dNormActivation

from .base import Input, UserModel

CLIP = [Input("x", [1, 3, 4, 24, 20])]


def _block(cin, cout, conv, stride=1):
    """torchvision's video BasicBlock, with its downsample when the
    shape changes."""
    down = None
    if stride != 1 or cin != cout:
        down = nn.Sequential(nn.Conv3d(cin, cout, 1, stride=conv.get_downsample_stride(stride),
                                       bias=False), nn.BatchNorm3d(cout))
    return resnet.BasicBlock(cin, cout, conv, stride, down)


def _video_resnet(stem, convs):
    """torchvision's VideoResNet with STEM (8 channels out) and one block
    per layer, 8, 8, 16 and 16 channels wide, made with CONVS."""
    model = resnet.VideoResNet(resnet.BasicBlock, [resnet.Conv3DSimple] * 4, [1, 1, 1, 1],
                               resnet.BasicStem, num_classes=5)
    model.stem = stem
    model.layer1 = nn.Sequential(_block(8, 8, convs[0]))
    model.layer2 = nn.Sequential(_block(8, 8, convs[1], 2))
    model.layer3 = nn.Sequential(_block(8, 16, convs[2], 2))
    model.layer4 = nn.Sequential(_block(16, 16, convs[3], 2))
    model.fc = nn.Linear(16, 5)
    return model


def mc3_small():
    """mc3_18, small: r3d_18's BasicStem and full 3-D convolutions in the
    first layers, spatial-only (1x3x3) ones in the last two."""
    stem = nn.Sequential(nn.Conv3d(3, 8, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False),
                         nn.BatchNorm3d(8), nn.ReLU(inplace=True))
    return _video_resnet(stem, [resnet.Conv3DSimple] * 2 + [resnet.Conv3DNoTemporal] * 2)


def r2plus1d_small():
    """r2plus1d_18, small: the (2+1)-D stem and Conv2Plus1D blocks (a
    spatial then a temporal convolution, midplanes between)."""
    stem = nn.Sequential(nn.Conv3d(3, 6, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
                         nn.BatchNorm3d(6), nn.ReLU(inplace=True),
                         nn.Conv3d(6, 8, (3, 1, 1), 1, (1, 0, 0), bias=False),
                         nn.BatchNorm3d(8), nn.ReLU(inplace=True))
    return _video_resnet(stem, [resnet.Conv2Plus1D] * 4)


def s3d_small():
    """s3d, small: a temporal separable stem, max pools, one separable
    inception block, the 3-D average pool and the 1x1x1 convolution
    classifier averaged over time and space."""
    norm = partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)
    model = S3D(num_classes=5)
    model.features = nn.Sequential(
        TemporalSeparableConv(3, 8, 7, 2, 3, norm),
        nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        Conv3dNormActivation(8, 8, kernel_size=1, norm_layer=norm),
        SepInceptionBlock3D(8, 4, 4, 8, 2, 4, 4, norm),
        nn.MaxPool3d(3, 2, 1))
    model.avgpool = nn.AvgPool3d((1, 2, 2), stride=1)
    model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Conv3d(20, 5, 1, bias=True))
    return model


MODELS = [
    UserModel("mc3_small", mc3_small, CLIP, "head 3"),
    UserModel("r2plus1d_small", r2plus1d_small, CLIP, "head 3"),
    UserModel("s3d_small", s3d_small, [Input("x", [1, 3, 4, 16, 16])], "head 3"),
]
