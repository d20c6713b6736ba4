"""Registry types: modules graft knows by name.

Each entry gives the attribute schema (constructor keyword arguments, read
back from a module instance) and the tensors the type owns, derived from
those attributes.  A registry module is written with its attributes only:
it has no children and no forward graph.
"""

from torch import nn

try:
    import torchvision.ops
    from torchvision.ops.misc import FrozenBatchNorm2d, Permute
    from torchvision.ops.stochastic_depth import StochasticDepth
    from torchvision.models.convnext import LayerNorm2d
    from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
    from torchvision.models.detection.transform import GeneralizedRCNNTransform
except ImportError:  # torchvision is optional for non-torchvision models
    FrozenBatchNorm2d = Permute = StochasticDepth = LayerNorm2d = DefaultBoxGenerator = None
    torchvision = None


class Unsupported(Exception):
    """A registry type's instance that graft cannot compute faithfully."""


def _list(v):
    """Tuples become lists, recursively; everything else is kept."""
    if isinstance(v, (tuple, list)):
        return [_list(x) for x in v]
    return v


# ---------------------------------------------------------------- attributes

def _conv2d(m):
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": _list(m.kernel_size),
        "stride": _list(m.stride),
        "padding": _list(m.padding),
        "dilation": _list(m.dilation),
        "groups": m.groups,
        "bias": m.bias is not None,
        "padding_mode": m.padding_mode,
    }


def _conv_transpose(m):
    return {
        "in_channels": m.in_channels,
        "out_channels": m.out_channels,
        "kernel_size": _list(m.kernel_size),
        "stride": _list(m.stride),
        "padding": _list(m.padding),
        "output_padding": _list(m.output_padding),
        "groups": m.groups,
        "bias": m.bias is not None,
        "dilation": _list(m.dilation),
        "padding_mode": m.padding_mode,
    }


def _linear(m):
    return {"in_features": m.in_features, "out_features": m.out_features,
            "bias": m.bias is not None}


def _bilinear(m):
    return {"in1_features": m.in1_features, "in2_features": m.in2_features,
            "out_features": m.out_features, "bias": m.bias is not None}


def _cosine_similarity(m):
    return {"dim": m.dim, "eps": m.eps}


def _pairwise_distance(m):
    return {"p": m.norm, "eps": m.eps, "keepdim": m.keepdim}


def _batchnorm(m):
    return {"num_features": m.num_features, "eps": m.eps,
            "momentum": m.momentum, "affine": m.affine,
            "track_running_stats": m.track_running_stats}


def _frozen_batchnorm(m):
    return {"num_features": m.weight.shape[0], "eps": m.eps}


def _default_boxes(m):
    """min_ratio and max_ratio are not kept: the scales they made are."""
    return {"aspect_ratios": _list(m.aspect_ratios), "scales": [float(s) for s in m.scales],
            "steps": _list(m.steps), "clip": m.clip}


def _lrn(m):
    return {"size": m.size, "alpha": m.alpha, "beta": m.beta, "k": m.k}


def _layernorm(m):
    return {"normalized_shape": _list(m.normalized_shape), "eps": m.eps,
            "elementwise_affine": m.elementwise_affine}


def _groupnorm(m):
    return {"num_groups": m.num_groups, "num_channels": m.num_channels,
            "eps": m.eps, "affine": m.affine}


def _inplace(m):
    return {"inplace": m.inplace}


def _none(m):
    return {}


def _gelu(m):
    return {"approximate": m.approximate}


def _softmax(m):
    return {"dim": m.dim}


def _maxpool(m):
    return {"kernel_size": _list(m.kernel_size), "stride": _list(m.stride),
            "padding": _list(m.padding), "dilation": _list(m.dilation),
            "return_indices": m.return_indices, "ceil_mode": m.ceil_mode}


def _avgpool(m):
    return {"kernel_size": _list(m.kernel_size), "stride": _list(m.stride),
            "padding": _list(m.padding), "ceil_mode": m.ceil_mode,
            "count_include_pad": m.count_include_pad,
            "divisor_override": m.divisor_override}


def _avgpool1d(m):
    return {"kernel_size": _list(m.kernel_size), "stride": _list(m.stride),
            "padding": _list(m.padding), "ceil_mode": m.ceil_mode,
            "count_include_pad": m.count_include_pad}


def _lppool(m):
    return {"norm_type": float(m.norm_type), "kernel_size": _list(m.kernel_size),
            "stride": _list(m.stride), "ceil_mode": m.ceil_mode}


def _maxunpool(m):
    return {"kernel_size": _list(m.kernel_size), "stride": _list(m.stride),
            "padding": _list(m.padding)}


def _fold(m):
    return {"output_size": _list(m.output_size), "kernel_size": _list(m.kernel_size),
            "dilation": _list(m.dilation), "padding": _list(m.padding),
            "stride": _list(m.stride)}


def _unfold(m):
    return {"kernel_size": _list(m.kernel_size), "dilation": _list(m.dilation),
            "padding": _list(m.padding), "stride": _list(m.stride)}


def _adaptive(m):
    return {"output_size": _list(m.output_size)}


def _adaptive_max(m):
    return {"output_size": _list(m.output_size), "return_indices": m.return_indices}


def _leaky_relu(m):
    return {"negative_slope": m.negative_slope, "inplace": m.inplace}


def _alpha(m):
    return {"alpha": m.alpha, "inplace": m.inplace}


def _rrelu(m):
    return {"lower": m.lower, "upper": m.upper, "inplace": m.inplace}


def _softplus(m):
    return {"beta": m.beta, "threshold": m.threshold}


def _lambd(m):
    return {"lambd": m.lambd}


def _hardtanh(m):
    return {"min_val": m.min_val, "max_val": m.max_val, "inplace": m.inplace}


def _threshold(m):
    return {"threshold": m.threshold, "value": m.value, "inplace": m.inplace}


def _glu(m):
    return {"dim": m.dim}


def _prelu(m):
    # PyTorch 1.13 keeps init only in the weight's first values (later
    # versions keep it as m.init); the weights travel with the document
    return {"num_parameters": m.num_parameters, "init": getattr(m, "init", 0.25)}


def _dropout(m):
    return {"p": m.p, "inplace": m.inplace}


def _flatten(m):
    return {"start_dim": m.start_dim, "end_dim": m.end_dim}


def _unflatten(m):
    return {"dim": m.dim, "unflattened_size": _list(m.unflattened_size)}


def _pad(m):
    return {"padding": _list(m.padding)}


def _constant_pad(m):
    return {"padding": _list(m.padding), "value": m.value}


def _upsample(m):
    return {"size": _list(m.size), "scale_factor": _list(m.scale_factor), "mode": m.mode,
            "align_corners": m.align_corners,
            "recompute_scale_factor": m.recompute_scale_factor}


def _upsampling2d(m):
    return {"size": _list(m.size), "scale_factor": _list(m.scale_factor)}


def _pixel_shuffle(m):
    return {"upscale_factor": m.upscale_factor}


def _pixel_unshuffle(m):
    return {"downscale_factor": m.downscale_factor}


def _groups(m):
    return {"groups": m.groups}


def _mha(m):
    return {
        "embed_dim": m.embed_dim,
        "num_heads": m.num_heads,
        "dropout": m.dropout,
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "add_zero_attn": m.add_zero_attn,
        "kdim": m.kdim,
        "vdim": m.vdim,
        "batch_first": m.batch_first,
    }


def _rnn(m):
    return {"input_size": m.input_size, "hidden_size": m.hidden_size,
            "num_layers": m.num_layers, "nonlinearity": m.nonlinearity, "bias": m.bias,
            "batch_first": m.batch_first, "dropout": float(m.dropout),
            "bidirectional": m.bidirectional}


def _lstm(m):
    return {"input_size": m.input_size, "hidden_size": m.hidden_size,
            "num_layers": m.num_layers, "bias": m.bias, "batch_first": m.batch_first,
            "dropout": float(m.dropout), "bidirectional": m.bidirectional,
            "proj_size": m.proj_size}


def _gru(m):
    return {"input_size": m.input_size, "hidden_size": m.hidden_size,
            "num_layers": m.num_layers, "bias": m.bias, "batch_first": m.batch_first,
            "dropout": float(m.dropout), "bidirectional": m.bidirectional}


def _rnn_cell(m):
    return {"input_size": m.input_size, "hidden_size": m.hidden_size, "bias": m.bias,
            "nonlinearity": m.nonlinearity}


def _cell(m):
    return {"input_size": m.input_size, "hidden_size": m.hidden_size, "bias": m.bias}


def _stochastic_depth(m):
    return {"p": m.p, "mode": m.mode}


def _permute(m):
    return {"dims": _list(m.dims)}


def _no_max_norm(m):
    if m.max_norm is not None:
        raise Unsupported("max_norm=%g renormalises the weight's rows at every call, which "
                          "graft does not do: set max_norm=None (after renormalising the "
                          "weight once, if that is what you want)" % m.max_norm)


def _embedding(m):
    _no_max_norm(m)
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
            "padding_idx": m.padding_idx, "max_norm": m.max_norm, "norm_type": m.norm_type,
            "scale_grad_by_freq": m.scale_grad_by_freq, "sparse": m.sparse}


def _embedding_bag(m):
    _no_max_norm(m)
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
            "max_norm": m.max_norm, "norm_type": m.norm_type,
            "scale_grad_by_freq": m.scale_grad_by_freq, "mode": m.mode, "sparse": m.sparse,
            "include_last_offset": m.include_last_offset, "padding_idx": m.padding_idx}


# ------------------------------------------------------------------- tensors
# Each returns [(name, shape, dtype)] in state_dict order, from the attributes
# alone.  This is what graft's registry derives; tools/check-zoo compares it
# with the real state_dict.

F32, I64 = "float32", "int64"


def _t_conv2d(a):
    kh, kw = a["kernel_size"]
    t = [("weight", [a["out_channels"], a["in_channels"] // a["groups"], kh, kw], F32)]
    if a["bias"]:
        t.append(("bias", [a["out_channels"]], F32))
    return t


def _t_conv(a):
    t = [("weight", [a["out_channels"], a["in_channels"] // a["groups"]]
          + list(a["kernel_size"]), F32)]
    if a["bias"]:
        t.append(("bias", [a["out_channels"]], F32))
    return t


def _t_conv_transpose(a):
    t = [("weight", [a["in_channels"], a["out_channels"] // a["groups"]]
          + list(a["kernel_size"]), F32)]
    if a["bias"]:
        t.append(("bias", [a["out_channels"]], F32))
    return t


def _t_linear(a):
    t = [("weight", [a["out_features"], a["in_features"]], F32)]
    if a["bias"]:
        t.append(("bias", [a["out_features"]], F32))
    return t


def _t_bilinear(a):
    t = [("weight", [a["out_features"], a["in1_features"], a["in2_features"]], F32)]
    if a["bias"]:
        t.append(("bias", [a["out_features"]], F32))
    return t


def _t_batchnorm(a):
    c = a["num_features"]
    t = []
    if a["affine"]:
        t += [("weight", [c], F32), ("bias", [c], F32)]
    if a["track_running_stats"]:
        t += [("running_mean", [c], F32), ("running_var", [c], F32),
              ("num_batches_tracked", [], I64)]
    return t


def _t_frozen_batchnorm(a):
    c = a["num_features"]
    return [(n, [c], F32) for n in ("weight", "bias", "running_mean", "running_var")]


def _t_layernorm(a):
    s = list(a["normalized_shape"])
    if a["elementwise_affine"]:
        return [("weight", s, F32), ("bias", s, F32)]
    return []


def _t_groupnorm(a):
    c = a["num_channels"]
    return [("weight", [c], F32), ("bias", [c], F32)] if a["affine"] else []


def _t_mha(a):
    e = a["embed_dim"]
    kdim = a["kdim"] if a["kdim"] is not None else e
    vdim = a["vdim"] if a["vdim"] is not None else e
    t = []
    if kdim == e and vdim == e:
        t.append(("in_proj_weight", [3 * e, e], F32))
    else:
        t += [("q_proj_weight", [e, e], F32), ("k_proj_weight", [e, kdim], F32),
              ("v_proj_weight", [e, vdim], F32)]
    if a["bias"]:
        t.append(("in_proj_bias", [3 * e], F32))
    if a["add_bias_kv"]:
        t += [("bias_k", [1, 1, e], F32), ("bias_v", [1, 1, e], F32)]
    t.append(("out_proj.weight", [e, e], F32))
    if a["bias"]:
        t.append(("out_proj.bias", [e], F32))
    return t


def _rnn_gates(type_name):
    return 4 if type_name.startswith("LSTM") else 3 if type_name.startswith("GRU") else 1


def _t_rnn(type_name):
    """PyTorch's _flat_weights_names with their shapes."""
    def rule(a):
        gh = _rnn_gates(type_name) * a["hidden_size"]
        proj = a.get("proj_size", 0)
        out = proj or a["hidden_size"]
        dirs = 2 if a["bidirectional"] else 1
        t = []
        for layer in range(a["num_layers"]):
            for sfx in ["", "_reverse"][:dirs]:
                inp = a["input_size"] if layer == 0 else out * dirs
                t += [("weight_ih_l%d%s" % (layer, sfx), [gh, inp], F32),
                      ("weight_hh_l%d%s" % (layer, sfx), [gh, out], F32)]
                if a["bias"]:
                    t += [("bias_ih_l%d%s" % (layer, sfx), [gh], F32),
                          ("bias_hh_l%d%s" % (layer, sfx), [gh], F32)]
                if proj:
                    t.append(("weight_hr_l%d%s" % (layer, sfx), [proj, a["hidden_size"]], F32))
        return t
    return rule


def _t_rnn_cell(type_name):
    def rule(a):
        gh = _rnn_gates(type_name) * a["hidden_size"]
        t = [("weight_ih", [gh, a["input_size"]], F32),
             ("weight_hh", [gh, a["hidden_size"]], F32)]
        if a["bias"]:
            t += [("bias_ih", [gh], F32), ("bias_hh", [gh], F32)]
        return t
    return rule


def _t_prelu(a):
    return [("weight", [a["num_parameters"]], F32)]


def _rcnn_transform(m):
    if m.training:
        raise Unsupported("in training mode it resizes to a random min_size; export in eval()")
    return {"min_size": _list(m.min_size), "max_size": m.max_size,
            "image_mean": list(m.image_mean), "image_std": list(m.image_std),
            "size_divisible": m.size_divisible,
            "fixed_size": _list(m.fixed_size) if m.fixed_size is not None else None}


def _anchor_generator(m):
    return {"sizes": _list(m.sizes), "aspect_ratios": _list(m.aspect_ratios)}


def _roi_align(m):
    return {"output_size": _list(m.output_size), "spatial_scale": m.spatial_scale,
            "sampling_ratio": m.sampling_ratio, "aligned": m.aligned}


def _roi_pool(m):
    return {"output_size": _list(m.output_size), "spatial_scale": m.spatial_scale}


def _multiscale_roi_align(m):
    return {"featmap_names": list(m.featmap_names), "output_size": _list(m.output_size),
            "sampling_ratio": m.sampling_ratio, "canonical_scale": m.canonical_scale,
            "canonical_level": m.canonical_level}


def _t_none(a):
    return []


def _t_embedding(a):
    return [("weight", [a["num_embeddings"], a["embedding_dim"]], F32)]


# (class, attribute reader, tensor rule); the type name is the class name.
_TABLE = [
    (nn.Conv2d, _conv2d, _t_conv2d),
    (nn.Linear, _linear, _t_linear),
    (nn.BatchNorm1d, _batchnorm, _t_batchnorm),
    (nn.BatchNorm2d, _batchnorm, _t_batchnorm),
    (nn.LayerNorm, _layernorm, _t_layernorm),
    (nn.GroupNorm, _groupnorm, _t_groupnorm),
    (nn.ReLU, _inplace, _t_none),
    (nn.ReLU6, _inplace, _t_none),
    (nn.GELU, _gelu, _t_none),
    (nn.SiLU, _inplace, _t_none),
    (nn.Hardswish, _inplace, _t_none),
    (nn.Hardsigmoid, _inplace, _t_none),
    (nn.Sigmoid, _none, _t_none),
    (nn.Tanh, _none, _t_none),
    (nn.LeakyReLU, _leaky_relu, _t_none),
    (nn.Softmax, _softmax, _t_none),
    (nn.RReLU, _rrelu, _t_none),
    (nn.ELU, _alpha, _t_none),
    (nn.CELU, _alpha, _t_none),
    (nn.SELU, _inplace, _t_none),
    (nn.Mish, _inplace, _t_none),
    (nn.Softplus, _softplus, _t_none),
    (nn.LogSigmoid, _none, _t_none),
    (nn.Softsign, _none, _t_none),
    (nn.Tanhshrink, _none, _t_none),
    (nn.Softshrink, _lambd, _t_none),
    (nn.Hardshrink, _lambd, _t_none),
    (nn.Hardtanh, _hardtanh, _t_none),
    (nn.Threshold, _threshold, _t_none),
    (nn.Softmin, _softmax, _t_none),
    (nn.LogSoftmax, _softmax, _t_none),
    (nn.Softmax2d, _none, _t_none),
    (nn.GLU, _glu, _t_none),
    (nn.PReLU, _prelu, _t_prelu),
    (nn.MaxPool2d, _maxpool, _t_none),
    (nn.AvgPool2d, _avgpool, _t_none),
    (nn.AdaptiveAvgPool2d, _adaptive, _t_none),
    (nn.AdaptiveMaxPool2d, _adaptive_max, _t_none),
    (nn.Dropout, _dropout, _t_none),
    (nn.Flatten, _flatten, _t_none),
    (nn.Identity, _none, _t_none),
    (nn.MultiheadAttention, _mha, _t_mha),
    (nn.RNN, _rnn, _t_rnn("RNN")),
    (nn.LSTM, _lstm, _t_rnn("LSTM")),
    (nn.GRU, _gru, _t_rnn("GRU")),
    (nn.RNNCell, _rnn_cell, _t_rnn_cell("RNNCell")),
    (nn.LSTMCell, _cell, _t_rnn_cell("LSTMCell")),
    (nn.GRUCell, _cell, _t_rnn_cell("GRUCell")),
    (nn.BatchNorm3d, _batchnorm, _t_batchnorm),
    (nn.SyncBatchNorm, _batchnorm, _t_batchnorm),
    (nn.InstanceNorm1d, _batchnorm, _t_batchnorm),
    (nn.InstanceNorm2d, _batchnorm, _t_batchnorm),
    (nn.InstanceNorm3d, _batchnorm, _t_batchnorm),
    (nn.LocalResponseNorm, _lrn, _t_none),
    (nn.CrossMapLRN2d, _lrn, _t_none),
    (nn.Dropout1d, _dropout, _t_none),
    (nn.Dropout2d, _dropout, _t_none),
    (nn.Dropout3d, _dropout, _t_none),
    (nn.AlphaDropout, _dropout, _t_none),
    (nn.FeatureAlphaDropout, _dropout, _t_none),
    (nn.Unflatten, _unflatten, _t_none),
    (nn.ConstantPad1d, _constant_pad, _t_none),
    (nn.ConstantPad2d, _constant_pad, _t_none),
    (nn.ConstantPad3d, _constant_pad, _t_none),
    (nn.ZeroPad2d, _pad, _t_none),
    (nn.ReflectionPad1d, _pad, _t_none),
    (nn.ReflectionPad2d, _pad, _t_none),
    (nn.ReflectionPad3d, _pad, _t_none),
    (nn.ReplicationPad1d, _pad, _t_none),
    (nn.ReplicationPad2d, _pad, _t_none),
    (nn.ReplicationPad3d, _pad, _t_none),
    (nn.Upsample, _upsample, _t_none),
    (nn.UpsamplingNearest2d, _upsampling2d, _t_none),
    (nn.UpsamplingBilinear2d, _upsampling2d, _t_none),
    (nn.PixelShuffle, _pixel_shuffle, _t_none),
    (nn.PixelUnshuffle, _pixel_unshuffle, _t_none),
    (nn.ChannelShuffle, _groups, _t_none),
    (nn.Conv1d, _conv2d, _t_conv),
    (nn.Conv3d, _conv2d, _t_conv),
    (nn.ConvTranspose1d, _conv_transpose, _t_conv_transpose),
    (nn.ConvTranspose2d, _conv_transpose, _t_conv_transpose),
    (nn.ConvTranspose3d, _conv_transpose, _t_conv_transpose),
    (nn.MaxPool1d, _maxpool, _t_none),
    (nn.MaxPool3d, _maxpool, _t_none),
    (nn.AvgPool1d, _avgpool1d, _t_none),
    (nn.AvgPool3d, _avgpool, _t_none),
    (nn.AdaptiveAvgPool1d, _adaptive, _t_none),
    (nn.AdaptiveAvgPool3d, _adaptive, _t_none),
    (nn.AdaptiveMaxPool1d, _adaptive_max, _t_none),
    (nn.AdaptiveMaxPool3d, _adaptive_max, _t_none),
    (nn.LPPool1d, _lppool, _t_none),
    (nn.LPPool2d, _lppool, _t_none),
    (nn.MaxUnpool1d, _maxunpool, _t_none),
    (nn.MaxUnpool2d, _maxunpool, _t_none),
    (nn.MaxUnpool3d, _maxunpool, _t_none),
    (nn.Fold, _fold, _t_none),
    (nn.Unfold, _unfold, _t_none),
    (nn.Embedding, _embedding, _t_embedding),
    (nn.EmbeddingBag, _embedding_bag, _t_embedding),
    (nn.Bilinear, _bilinear, _t_bilinear),
    (nn.CosineSimilarity, _cosine_similarity, _t_none),
    (nn.PairwiseDistance, _pairwise_distance, _t_none),
]
if torchvision is not None:
    _TABLE += [
        (torchvision.ops.RoIAlign, _roi_align, _t_none),
        (torchvision.ops.RoIPool, _roi_pool, _t_none),
        (torchvision.ops.MultiScaleRoIAlign, _multiscale_roi_align, _t_none),
    ]
if StochasticDepth is not None:
    _TABLE += [
        (StochasticDepth, _stochastic_depth, _t_none),
        (Permute, _permute, _t_none),
        (LayerNorm2d, _layernorm, _t_layernorm),
        (FrozenBatchNorm2d, _frozen_batchnorm, _t_frozen_batchnorm),
        (GeneralizedRCNNTransform, _rcnn_transform, _t_none),
        (AnchorGenerator, _anchor_generator, _t_none),
        (DefaultBoxGenerator, _default_boxes, _t_none),
    ]

BY_CLASS = {cls: (cls.__name__, attrs, tensors) for cls, attrs, tensors in _TABLE}
BY_NAME = {cls.__name__: (attrs, tensors) for cls, attrs, tensors in _TABLE}


def lookup(module):
    """Return (type name, attribute reader) if MODULE is a registry type.

    An exact class match wins.  A subclass that keeps its registry base's
    forward and owns the same tensors (NonDynamicallyQuantizableLinear, say)
    is written as the base type; any other subclass is a composite.
    """
    cls = type(module)
    if cls in BY_CLASS:
        name, attrs, _ = BY_CLASS[cls]
        return name, attrs
    for base in cls.__mro__[1:]:
        if base in BY_CLASS:
            if cls.forward is base.forward and not list(module.children()):
                name, attrs, tensors = BY_CLASS[base]
                want = [n for n, _, _ in tensors(attrs(module))]
                if want == list(module.state_dict().keys()):
                    return name, attrs
            return None
    return None


# tensors of registry types that are buffers, not parameters
BUFFER_NAMES = {"running_mean", "running_var", "num_batches_tracked"}


def tensors_of(type_name, attrs):
    """The (name, shape, dtype) list a registry type owns, in state_dict order."""
    return BY_NAME[type_name][1](attrs)


# torchvision.ops functions graft knows by name: a forward's call to one is
# one call_function node (trace.py), written back as torchvision.ops.NAME.
TORCHVISION_FUNCTIONS = ("nms", "batched_nms", "box_iou", "clip_boxes_to_image",
                         "remove_small_boxes", "roi_align", "roi_pool")


def torchvision_functions():
    """(namespace, name, function) for every place a forward may reach the
    TORCHVISION_FUNCTIONS from: torchvision.ops and the modules defining
    them."""
    if torchvision is None:
        return []
    out = []
    for name in TORCHVISION_FUNCTIONS:
        fn = getattr(torchvision.ops, name)
        out.append((torchvision.ops, name, fn))
        out.append((__import__(fn.__module__, fromlist=[name]), name, fn))
    return out
