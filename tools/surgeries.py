"""Model surgeries done in PyTorch, the way tutorials and articles do them by
hand.  tools/make-edit-fixtures runs each one and records the result in
tests/edits/NAME.json; tests/edits/NAME.graft is the same surgery written
as graft commands (doc/commands.md).

Three kinds of entries:

CASES        NAME -> Case: a function taking the starting model (eval mode,
             built with seed 0, tiny models with their saved weights) and
             returning the edited model.
head10()     the final classifier of every zoo model replaced by one with
             10 outputs, found by hand per family.
INIT_RECORDS NAME -> InitRecord: a new module built right after
             torch.manual_seed(0), whose initial values graft's generator
             must reproduce exactly.
"""

import collections
from collections import OrderedDict

import torch
from torch import nn

CASES = OrderedDict()
INIT_RECORDS = OrderedDict()

RESNET18 = "models/resnet18.json"
RESNET50 = "models/resnet50.json"
VGG16 = "models/vgg16.json"
ALEXNET = "models/alexnet.json"
TINY_CNN = "models/tiny/tiny_cnn.safetensors"
TINY_BLOCKS = "models/tiny/tiny_blocks.safetensors"
TINY_TWOHEAD = "models/tiny/tiny_twohead.safetensors"
TINY_ATTENTION = "tests/edits/models/tiny_attention.safetensors"


class Case(collections.namedtuple("Case", "name start summary edit input")):
    """start: the starting model's file; input: the dry-run input shape when
    the case changes it."""


def case(start, summary, input=None):
    def register(fn):
        CASES[fn.__name__] = Case(fn.__name__, start, summary, fn, input)
        return fn
    return register


def replace_modules(model, match, make):
    """Replace every module for which match(module) holds by make(module),
    the loop of the tutorials: collect the names first, then setattr on the
    parent."""
    for name, m in list(model.named_modules()):
        if name and match(m):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, make(m))
    return model


# ------------------------------------------------------------ new classifier

@case(RESNET18, "model.fc = nn.Linear(512, 10): a new 10-class classifier")
def resnet18_fc10(model):
    model.fc = nn.Linear(512, 10)
    return model


@case(RESNET18, "fixed feature extractor: requires_grad = False everywhere, "
                "then a new (trainable) model.fc = nn.Linear(512, 10)")
def resnet18_feature_extractor(model):
    for p in model.parameters():
        p.requires_grad = False
    model.fc = nn.Linear(512, 10)
    return model


@case(TINY_TWOHEAD, "two-head model: only head1 becomes nn.Linear(32, 3); "
                    "head2 and the tuple output stay")
def tiny_twohead_head1(model):
    model.head1 = nn.Linear(32, 3)
    return model


class FineTuned(nn.Module):
    """A backbone without its classifier and a new head, as fine-tuning
    articles write it."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        return self.head(self.backbone(x))


@case(RESNET18, "model.fc = nn.Identity(), then an outer module runs the "
                "backbone and a new head Linear(512, 512), ReLU, Linear(512, 10)")
def resnet18_wrap_head(model):
    model.fc = nn.Identity()
    head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return FineTuned(model, head)


@case(RESNET18, "input 1x3x300x300, model.fc = nn.Identity(), "
                "nn.Sequential(model, nn.Linear(512, 10))",
      input=[1, 3, 300, 300])
def resnet18_300_new_head(model):
    model.fc = nn.Identity()
    return nn.Sequential(model, nn.Linear(512, 10))


@case(ALEXNET, "nn.Sequential(alexnet.features, nn.AdaptiveAvgPool2d(1), "
               "nn.Flatten(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 10))")
def alexnet_features_head(model):
    return nn.Sequential(
        model.features,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(256, 512),
        nn.ReLU(),
        nn.Linear(512, 10),
    )


# ---------------------------------------------------------- replace them all

class FusedReLU(nn.Sequential):
    """ReLU then Dropout(p), as one module."""

    def __init__(self, p=0.5):
        super().__init__(nn.ReLU(), nn.Dropout(p))


@case(RESNET18, "every nn.ReLU -> FusedReLU(0.2), an nn.Sequential subclass "
                "of ReLU then Dropout(p)")
def resnet18_fused_relu(model):
    return replace_modules(model, lambda m: isinstance(m, nn.ReLU),
                           lambda m: FusedReLU(0.2))


@case(RESNET18, "every nn.BatchNorm2d(C) -> nn.GroupNorm(8, C)")
def resnet18_groupnorm(model):
    return replace_modules(model, lambda m: isinstance(m, nn.BatchNorm2d),
                           lambda m: nn.GroupNorm(8, m.num_features))


def _is_1x1(m):
    return isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)


def _as_3x3(m, padding):
    return nn.Conv2d(m.in_channels, m.out_channels, 3, stride=m.stride,
                     padding=padding, dilation=m.dilation, groups=m.groups,
                     bias=m.bias is not None, padding_mode=m.padding_mode)


@case(RESNET18, "every 1x1 nn.Conv2d (the downsample shortcuts) -> 3x3 with "
                "padding=1, same channels and stride")
def resnet18_1x1_to_3x3(model):
    return replace_modules(model, _is_1x1, lambda m: _as_3x3(m, 1))


@case(RESNET50, "every 1x1 nn.Conv2d (bottleneck conv1/conv3 and shortcuts) "
                "-> 3x3 with padding=1, same channels and stride")
def resnet50_1x1_to_3x3(model):
    return replace_modules(model, _is_1x1, lambda m: _as_3x3(m, 1))


@case(RESNET18, "every 1x1 nn.Conv2d -> 3x3 WITHOUT padding: breaks for good "
                "at layer2.0, whose residual add gets 28x28 and 27x27")
def resnet18_1x1_to_3x3_nopad(model):
    return replace_modules(model, _is_1x1, lambda m: _as_3x3(m, 0))


# --------------------------------------------------------- insert, set input

def _with_stem(features):
    """features with a new first element named "stem" (the old elements
    keep their names, as graft's insert keeps them)."""
    stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU())
    return nn.Sequential(OrderedDict([("stem", stem)] + list(features.named_children())))


@case(VGG16, "nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU()) put "
             "before vgg16's features: breaks at features.0 (3 channels "
             "expected, 64 given)")
def vgg16_insert_stem(model):
    model.features = _with_stem(model.features)
    return model


@case(VGG16, "the same stem, fixed by a new features.0 = "
             "nn.Conv2d(64, 64, 3, padding=1)")
def vgg16_insert_stem_fixed(model):
    model.features = _with_stem(model.features)
    setattr(model.features, "0", nn.Conv2d(64, 64, 3, padding=1))
    return model


@case(VGG16, "the same stem as most articles put it, model.features = "
             "nn.Sequential(stem, *model.features): every element moves up one, "
             "and the break is at features.1")
def vgg16_insert_stem_renumbered(model):
    stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU())
    model.features = nn.Sequential(stem, *model.features)
    return model


@case(RESNET18, "grayscale input 1x1x224x224: model.conv1 = "
                "nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)",
      input=[1, 1, 224, 224])
def resnet18_grayscale(model):
    model.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


# ---------------------------------------------------- a custom nested model

@case(TINY_BLOCKS, "model.block2.conv2 = nn.Conv2d(32, 32, 5, padding=2): a "
                   "5x5 convolution inside a nested block, same shapes out")
def tiny_blocks_conv5x5(model):
    model.block2.conv2 = nn.Conv2d(32, 32, 5, padding=2)
    return model


@case(TINY_BLOCKS, "the 5x5 block2.conv2, and the 1x1 conv classifier -> "
                   "AdaptiveAvgPool2d(1), Flatten, Linear(32, 10): breaks for "
                   "good at the root, whose x.mean(dim=(2, 3)) now gets [1, 10]")
def tiny_blocks_linear_head(model):
    model.block2.conv2 = nn.Conv2d(32, 32, 5, padding=2)
    model.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                     nn.Linear(32, 10))
    return model


# -------------------------------------------------- head 10, every zoo model

def head10(name, model):
    """Give zoo model NAME a 10-class classifier, the way each family's
    fine-tuning recipes do; returns the classifier's path."""
    if name.startswith(("resnet", "resnext", "wide_resnet", "regnet",
                        "shufflenet", "googlenet", "inception")):
        model.fc = nn.Linear(model.fc.in_features, 10)
        # the auxiliary classifiers too, as PyTorch's fine-tuning tutorial
        # does for Inception v3 (and num_classes=10 does)
        for aux in ("aux1.fc2", "aux2.fc2", "AuxLogits.fc"):
            parent, _, leaf = aux.rpartition(".")
            holder = getattr(model, parent, None)
            if holder is not None:
                setattr(holder, leaf, nn.Linear(getattr(holder, leaf).in_features, 10))
        return "fc"
    if name.startswith(("alexnet", "vgg")):
        model.classifier[6] = nn.Linear(model.classifier[6].in_features, 10)
        return "classifier.6"
    if name.startswith(("efficientnet", "mnasnet", "mobilenet_v2")):
        model.classifier[1] = nn.Linear(model.classifier[1].in_features, 10)
        return "classifier.1"
    if name.startswith("mobilenet_v3"):
        model.classifier[3] = nn.Linear(model.classifier[3].in_features, 10)
        return "classifier.3"
    if name.startswith("convnext"):
        model.classifier[2] = nn.Linear(model.classifier[2].in_features, 10)
        return "classifier.2"
    if name.startswith("maxvit"):
        model.classifier[5] = nn.Linear(model.classifier[5].in_features, 10)
        return "classifier.5"
    if name.startswith("densenet"):
        model.classifier = nn.Linear(model.classifier.in_features, 10)
        return "classifier"
    if name.startswith("squeezenet"):
        model.classifier[1] = nn.Conv2d(512, 10, kernel_size=1)
        model.num_classes = 10
        return "classifier.1"
    if name.startswith("swin"):
        model.head = nn.Linear(model.head.in_features, 10)
        return "head"
    if name.startswith("vit"):
        model.heads.head = nn.Linear(model.heads.head.in_features, 10)
        return "heads.head"
    raise KeyError("no classifier recipe for %s" % name)


# ----------------------------------------------------- initial values, seed 0

class InitRecord(collections.namedtuple("InitRecord",
                                        "name start summary build keys fresh")):
    """build(model): torch.manual_seed(0), then the new module(s), as the
    script does; keys: the state_dict entries recorded; fresh(): the same
    draws from a bare constructor after torch.manual_seed(0), as a dict of
    key -> tensor, checked equal to the recorded values."""


def init_record(start, summary, keys, fresh):
    def register(fn):
        INIT_RECORDS[fn.__name__] = InitRecord(fn.__name__, start, summary, fn,
                                               keys, fresh)
        return fn
    return register


def _fresh_linear():
    torch.manual_seed(0)
    m = nn.Linear(1024, 10)
    return {"8.weight": m.weight, "8.bias": m.bias}


@init_record(TINY_CNN, "torch.manual_seed(0); model[8] = nn.Linear(1024, 10)",
             ["8.weight", "8.bias"], _fresh_linear)
def init_linear(model):
    torch.manual_seed(0)
    model[8] = nn.Linear(1024, 10)
    return model


def _fresh_conv2d():
    torch.manual_seed(0)
    m = nn.Conv2d(16, 8, 3)
    return {"block2.conv1.weight": m.weight, "block2.conv1.bias": m.bias}


@init_record(TINY_BLOCKS, "torch.manual_seed(0); model.block2.conv1 = "
                          "nn.Conv2d(16, 8, 3, padding=1) (the values of "
                          "nn.Conv2d(16, 8, 3)); block2.conv2 then takes 8 "
                          "channels",
             ["block2.conv1.weight", "block2.conv1.bias"], _fresh_conv2d)
def init_conv2d(model):
    torch.manual_seed(0)
    model.block2.conv1 = nn.Conv2d(16, 8, 3, padding=1)
    model.block2.conv2 = nn.Conv2d(8, 32, 3, padding=1)
    return model


def _fresh_groupnorm():
    torch.manual_seed(0)
    g = nn.GroupNorm(8, 16)
    lin = nn.Linear(32, 10)
    # GroupNorm draws nothing: the Linear after it gets the first draws
    torch.manual_seed(0)
    first = nn.Linear(32, 10)
    assert torch.equal(lin.weight, first.weight) and torch.equal(lin.bias, first.bias)
    return {"trunk.1.weight": g.weight, "trunk.1.bias": g.bias,
            "head1.weight": lin.weight, "head1.bias": lin.bias}


@init_record(TINY_TWOHEAD, "torch.manual_seed(0); model.trunk[1] = "
                           "nn.GroupNorm(8, 16); model.head1 = nn.Linear(32, 10): "
                           "ones and zeros, no draws, so the Linear gets the "
                           "first ones",
             ["trunk.1.weight", "trunk.1.bias", "head1.weight", "head1.bias"],
             _fresh_groupnorm)
def init_groupnorm(model):
    torch.manual_seed(0)
    model.trunk[1] = nn.GroupNorm(8, 16)
    model.head1 = nn.Linear(32, 10)
    return model


def _fresh_mha():
    torch.manual_seed(0)
    m = nn.MultiheadAttention(16, 2)
    return {"attn." + k: v for k, v in m.state_dict().items()}


@init_record(TINY_ATTENTION, "torch.manual_seed(0); model.attn = "
                             "nn.MultiheadAttention(16, 2, batch_first=True): "
                             "out_proj is drawn first (Linear), then "
                             "in_proj_weight (xavier_uniform_); biases 0",
             ["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight",
              "attn.out_proj.bias"], _fresh_mha)
def init_mha(model):
    torch.manual_seed(0)
    model.attn = nn.MultiheadAttention(16, 2, batch_first=True)
    return model
