"""The torchvision builders of graft's zoo outside the image classifiers.

Each row names one model of the zoo (models/NAME.json): the torchvision
builder that makes it, its task and family (for models/README.md), the
builder's keyword arguments, and its default inputs.  A classifier needs
no row: it is its builder with weights=None and one 1x3x224x224 input
(CLASSIFIER_SHAPES for the exceptions).

Adding a model to the zoo is one row here, then the generators for its name
(tools/make-zoo NAME, tools/make-shape-fixtures NAME,
tools/make-head-fixtures NAME, tools/make-model-index).

Row fields:
  name     the zoo's name for the model: torchvision:NAME, models/NAME.json
  builder  the torchvision.models builder (several rows may share one)
  task     "segmentation", "video", "optical_flow" or "detection"
  family   the family shown in models/README.md
  kwargs   the builder's keyword arguments beside weights=None (and
           weights_backbone=None where the builder takes it)
  inputs   forward's inputs: a list of shapes (float32) or of
           (name, shape, dtype), as inputs.spec_of takes them; e.g. two
           [1, 3, 520, 960] images for RAFT
"""

import inspect
from collections import namedtuple

Row = namedtuple("Row", "name builder task family kwargs inputs")

TASKS = ("classification", "segmentation", "video", "optical_flow", "detection")

DEFAULT_SHAPE = [1, 3, 224, 224]

# classifiers whose models need another input size than DEFAULT_SHAPE
CLASSIFIER_SHAPES = {
    "inception_v3": [1, 3, 299, 299],
}

SEGMENTATION = [1, 3, 520, 520]
VIDEO = [1, 3, 16, 112, 112]
# a COCO-sized image; the model's transform resizes it (to 800x1066 for
# min_size=800)
DETECTION = [1, 3, 480, 640]
FLOW = [1, 3, 128, 128]  # RAFT's two images; torchvision's min_size
AUX = {"aux_loss": True}

# sorted by name; one row a line
ROWS = [
    Row("deeplabv3_mobilenet_v3_large", "deeplabv3_mobilenet_v3_large", "segmentation", "DeepLabV3", {}, [SEGMENTATION]),
    Row("deeplabv3_mobilenet_v3_large_aux", "deeplabv3_mobilenet_v3_large", "segmentation", "DeepLabV3", AUX, [SEGMENTATION]),
    Row("deeplabv3_resnet101", "deeplabv3_resnet101", "segmentation", "DeepLabV3", {}, [SEGMENTATION]),
    Row("deeplabv3_resnet101_aux", "deeplabv3_resnet101", "segmentation", "DeepLabV3", AUX, [SEGMENTATION]),
    Row("deeplabv3_resnet50", "deeplabv3_resnet50", "segmentation", "DeepLabV3", {}, [SEGMENTATION]),
    Row("deeplabv3_resnet50_aux", "deeplabv3_resnet50", "segmentation", "DeepLabV3", AUX, [SEGMENTATION]),
    Row("fasterrcnn_mobilenet_v3_large_320_fpn", "fasterrcnn_mobilenet_v3_large_320_fpn", "detection", "Faster R-CNN", {}, [DETECTION]),
    Row("fasterrcnn_mobilenet_v3_large_fpn", "fasterrcnn_mobilenet_v3_large_fpn", "detection", "Faster R-CNN", {}, [DETECTION]),
    Row("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn", "detection", "Faster R-CNN", {}, [DETECTION]),
    Row("fasterrcnn_resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2", "detection", "Faster R-CNN", {}, [DETECTION]),
    Row("fcn_resnet101", "fcn_resnet101", "segmentation", "FCN", {}, [SEGMENTATION]),
    Row("fcn_resnet101_aux", "fcn_resnet101", "segmentation", "FCN", AUX, [SEGMENTATION]),
    Row("fcn_resnet50", "fcn_resnet50", "segmentation", "FCN", {}, [SEGMENTATION]),
    Row("fcn_resnet50_aux", "fcn_resnet50", "segmentation", "FCN", AUX, [SEGMENTATION]),
    Row("fcos_resnet50_fpn", "fcos_resnet50_fpn", "detection", "FCOS", {}, [DETECTION]),
    Row("keypointrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn", "detection", "Keypoint R-CNN", {}, [DETECTION]),
    Row("lraspp_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "segmentation", "LRASPP", {}, [SEGMENTATION]),
    Row("maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn", "detection", "Mask R-CNN", {}, [DETECTION]),
    Row("maskrcnn_resnet50_fpn_v2", "maskrcnn_resnet50_fpn_v2", "detection", "Mask R-CNN", {}, [DETECTION]),
    Row("mc3_18", "mc3_18", "video", "Video ResNet", {}, [VIDEO]),
    Row("mvit_v1_b", "mvit_v1_b", "video", "MViT", {}, [[1, 3, 16, 224, 224]]),
    Row("mvit_v2_s", "mvit_v2_s", "video", "MViT", {}, [[1, 3, 16, 224, 224]]),
    Row("r2plus1d_18", "r2plus1d_18", "video", "Video ResNet", {}, [VIDEO]),
    Row("r3d_18", "r3d_18", "video", "Video ResNet", {}, [VIDEO]),
    Row("raft_large", "raft_large", "optical_flow", "RAFT", {}, [FLOW, FLOW]),
    Row("raft_small", "raft_small", "optical_flow", "RAFT", {}, [FLOW, FLOW]),
    Row("retinanet_resnet50_fpn", "retinanet_resnet50_fpn", "detection", "RetinaNet", {}, [DETECTION]),
    Row("retinanet_resnet50_fpn_v2", "retinanet_resnet50_fpn_v2", "detection", "RetinaNet", {}, [DETECTION]),
    Row("s3d", "s3d", "video", "S3D", {}, [[1, 3, 16, 224, 224]]),
    Row("ssd300_vgg16", "ssd300_vgg16", "detection", "SSD", {}, [DETECTION]),
    Row("ssdlite320_mobilenet_v3_large", "ssdlite320_mobilenet_v3_large", "detection", "SSDlite", {}, [DETECTION]),
]

BY_NAME = {r.name: r for r in ROWS}


def row(name):
    """NAME's row, or None for a classifier (or an unknown name)."""
    return BY_NAME.get(name)


def task(name):
    """NAME's task; "classification" for a model without a row."""
    r = row(name)
    return r.task if r else "classification"


def classifier_names():
    """torchvision's image classification builders, sorted."""
    import torchvision
    return sorted(torchvision.models.list_models(module=torchvision.models))


def names():
    """Every model of the zoo: the classifiers, then the rows."""
    return classifier_names() + [r.name for r in ROWS]


def builder_kwargs(name, extra=None):
    """(builder, keyword arguments) that build NAME without weights; EXTRA
    (e.g. num_classes) overrides the row's arguments."""
    import torchvision
    r = row(name)
    builder = r.builder if r else name
    kwargs = {"weights": None}
    fn = torchvision.models.get_model_builder(builder)
    if "weights_backbone" in inspect.signature(fn).parameters:
        kwargs["weights_backbone"] = None
    if r:
        kwargs.update(r.kwargs)
    kwargs.update(extra or {})
    return builder, kwargs


def build(name, **extra):
    """NAME's model as the zoo builds it (no weights), with EXTRA builder
    arguments.  ValueError for a name torchvision does not know."""
    import torchvision
    builder, kwargs = builder_kwargs(name, extra)
    return torchvision.models.get_model(builder, **kwargs)


def default_inputs(name):
    """NAME's default inputs, as its row gives them (shapes or
    (name, shape, dtype))."""
    r = row(name)
    return r.inputs if r else [CLASSIFIER_SHAPES.get(name, DEFAULT_SHAPE)]

