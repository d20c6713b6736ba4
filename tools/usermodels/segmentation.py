"""torchvision's segmentation models at a small width: FCN, DeepLabV3 and
LRASPP, on dilated ResNet and MobileNetV3 backbones built from
torchvision's own blocks, returning torchvision's dict of `out` (and
`aux`) upsampled to the input size."""

from collections import OrderedDict
from functools import partial

from torch import nn
from torchvision.models import mobilenetv3, resnet
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabHead, DeepLabV3
from torchvision.models.segmentation.fcn import FCN, FCNHead
from torchvision.models.segmentation.lraspp import LRASPP
from torchvision.ops.misc import Conv2dNormActivation

from .base import Input, UserModel

# a batch of 2: ASPP pools to 1x1, which batch norm can calibrate only on
# more than one value per channel
IMAGE = [Input("x", [2, 3, 16, 24])]


def _bottleneck(cin, planes, stride=1, dilation=1):
    """torchvision's ResNet Bottleneck, with the 1x1 downsample
    torchvision gives it when its input and output differ."""
    down = None
    if stride != 1 or cin != planes * resnet.Bottleneck.expansion:
        down = nn.Sequential(resnet.conv1x1(cin, planes * resnet.Bottleneck.expansion, stride),
                             nn.BatchNorm2d(planes * resnet.Bottleneck.expansion))
    return resnet.Bottleneck(cin, planes, stride, down, dilation=dilation)


def _resnet_backbone():
    """A ResNet trunk as torchvision's segmentation builders use it:
    layer3 and layer4 dilated instead of strided (output stride 8),
    layer4 as `out`, layer3 as `aux`."""
    trunk = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 8, 7, 2, 3, bias=False)), ("bn1", nn.BatchNorm2d(8)),
        ("relu", nn.ReLU(inplace=True)), ("maxpool", nn.MaxPool2d(3, 2, 1)),
        ("layer1", nn.Sequential(_bottleneck(8, 2))),
        ("layer2", nn.Sequential(_bottleneck(8, 4, stride=2))),
        ("layer3", nn.Sequential(_bottleneck(16, 6), _bottleneck(24, 6, dilation=2))),
        ("layer4", nn.Sequential(_bottleneck(24, 8, dilation=2), _bottleneck(32, 8, dilation=4))),
    ]))
    return IntermediateLayerGetter(trunk, {"layer4": "out", "layer3": "aux"})


def _mobilenet_backbone(return_layers):
    """MobileNetV3 features (torchvision's InvertedResidual blocks, with
    squeeze-excitation, hardswish and a dilated last block; channels in
    multiples of 8, as InvertedResidualConfig rounds them), returning
    RETURN_LAYERS by index."""
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

    def block(*cnf):
        return mobilenetv3.InvertedResidual(mobilenetv3.InvertedResidualConfig(*cnf, 1.0), norm)

    features = nn.Sequential(
        Conv2dNormActivation(3, 8, 3, 2, norm_layer=norm, activation_layer=nn.Hardswish),
        block(8, 3, 8, 8, False, "RE", 1, 1),
        block(8, 3, 24, 16, False, "RE", 2, 1),
        block(16, 5, 40, 24, True, "HS", 2, 1),
        block(24, 3, 48, 24, True, "HS", 1, 2),
        Conv2dNormActivation(24, 48, 1, norm_layer=norm, activation_layer=nn.Hardswish))
    return IntermediateLayerGetter(features, return_layers)


def _deeplab_head(cin, classes, width=8):
    """torchvision's DeepLabHead (ASPP, 3x3 conv, BN, ReLU, 1x1 conv to
    the classes), WIDTH channels wide instead of 256."""
    head = DeepLabHead(cin, classes)
    head[0] = ASPP(cin, [1, 2, 3], out_channels=width)
    head[1] = nn.Conv2d(width, width, 3, padding=1, bias=False)
    head[2] = nn.BatchNorm2d(width)
    head[4] = nn.Conv2d(width, classes, 1)
    return head


def fcn_small():
    """fcn_resnet50 with aux_loss=True, small: FCNHead on layer4 and on layer3."""
    return FCN(_resnet_backbone(), FCNHead(32, 3), FCNHead(24, 3))


def deeplabv3_small():
    """deeplabv3_resnet50 with aux_loss=True, small: ASPP head, FCNHead on layer3."""
    return DeepLabV3(_resnet_backbone(), _deeplab_head(32, 3), FCNHead(24, 3))


def deeplabv3_mobile_small():
    """deeplabv3_mobilenet_v3_large without the auxiliary classifier, small."""
    return DeepLabV3(_mobilenet_backbone({"5": "out"}), _deeplab_head(48, 3))


def lraspp_small():
    """lraspp_mobilenet_v3_large, small: the low (stride 4) and high
    (stride 8) features, the high gated by a pooled sigmoid branch."""
    return LRASPP(_mobilenet_backbone({"2": "low", "5": "high"}), 16, 48, 3, inter_channels=8)


MODELS = [
    UserModel("fcn_small", fcn_small, IMAGE, "head 5"),
    UserModel("deeplabv3_small", deeplabv3_small, IMAGE, "head 5"),
    UserModel("deeplabv3_mobile_small", deeplabv3_mobile_small, IMAGE, "head 5"),
    UserModel("lraspp_small", lraspp_small, IMAGE, "head 5"),
]
