"""What the fixture generators share: weights that matter, and the record
of every module call's output shape.

The generators (make-run-fixtures, make-shape-fixtures, make-user-fixtures)
compare graft with PyTorch; the weights they export must not sit at their
initial values where those would hide a bug (batch norms with running
statistics of zero mean and unit variance, zero biases), and must survive
float16 storage unchanged (they are rounded to it first, so both sides
compute with the same numbers).
"""

import torch
from torch import nn


def calibrate(model, make_batch, seed):
    """Running statistics from a few batches in training mode (cumulative
    averages), so batch norms normalise like trained ones. MAKE_BATCH(g)
    returns the forward's inputs drawn from the generator g."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    g = torch.Generator().manual_seed(seed + 1)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(*make_batch(g))
    model.eval()


def randomize(model, seed):
    """Random affine parameters for the norms, and random values for the
    tensors that start as zeros or constants (biases, position tables,
    layer scales, class tokens)."""
    g = torch.Generator().manual_seed(seed + 2)

    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=g) * std)

    with torch.no_grad():
        for mod in model.modules():
            norm = isinstance(mod, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm))
            if norm and getattr(mod, "weight", None) is not None:
                uniform(mod.weight, 0.5, 1.5)
                normal(mod.bias, 0.2)
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "layer_scale":
                uniform(p, 0.5, 1.5)
            elif leaf == "relative_position_bias_table":
                normal(p, 1.0)
            elif leaf in ("class_token", "pos_embedding", "token", "rel_pos_h", "rel_pos_w",
                          "rel_pos_t", "spatial_pos", "temporal_pos", "class_pos"):
                normal(p, 0.5)
            elif leaf == "logit_scale":
                p.copy_(torch.log(torch.rand(p.shape, generator=g) * 15 + 5))
            elif leaf.endswith("bias") and p.abs().max() == 0:
                normal(p, 0.1)


def round_to_half(model):
    """Rounds every floating parameter and buffer to float16's values."""
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())


def encode(v):
    """A module output as the shape fixtures write it: a tensor is
    {"shape": [...]}, a tuple or list a JSON list, a dict
    {"keys": [...], "values": [...]} in its order, an int itself (MViT's
    blocks return their token grid's sizes), None null."""
    if isinstance(v, torch.Tensor):
        return {"shape": list(v.shape)}
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, (tuple, list)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {"keys": [str(k) for k in v], "values": [encode(x) for x in v.values()]}
    if v is None:
        return None
    raise TypeError("cannot encode a module output of type %s" % type(v).__name__)


def type_name(module):
    """MODULE's type as graft-export writes it: its class's name, or its
    registry base's for a subclass written as that base (torchvision's
    Conv3DSimple is a Conv3d)."""
    from graftexport import leaves
    found = leaves.lookup(module)
    return found[0] if found else type(module).__name__


def record_calls(model, inputs, grad=False):
    """Runs MODEL on INPUTS with a hook on every module, and returns
    (entries, output): one entry per module in named_modules() order,
    {"path", "type" (type_name), "params", "calls": [encoded output, ...]}. The run is
    under no_grad unless GRAD: with gradients on, PyTorch does not take the
    fused inference paths of its transformer layers (eval, no grad), which
    compute a layer without calling its submodules. The modules whose
    graph graft-export writes itself (detection_rcnn, detection_onestage)
    are recorded as graft's graph returns them, and a CorrBlock's
    build_pyramid counts as its call, as in graft."""
    from graftexport import detection_onestage, detection_rcnn
    from graftexport.optical_flow import pyramid_builds_as_calls
    special = {**detection_rcnn.fixture_encoders(model),
               **detection_onestage.fixture_encoders(model)}
    entries = []
    hooks = []
    for path, mod in model.named_modules():
        e = {"path": path, "type": type_name(mod),
             "params": sum(p.numel() for p in mod.parameters()), "calls": []}
        entries.append(e)

        def hook(m, inp, out, e=e, own=special.get(mod)):
            e["calls"].append(own(inp, out) if own else encode(out))
        hooks.append(mod.register_forward_hook(hook))
    try:
        with torch.set_grad_enabled(grad), pyramid_builds_as_calls():
            out = model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    return entries, out


def leaves(v, key=""):
    """(key, tensor) for every tensor of a possibly nested output; keys
    join tuple/list positions and dict keys with dots, as graft run -o
    names its files."""
    if isinstance(v, torch.Tensor):
        yield key, v
    elif isinstance(v, (tuple, list)):
        for i, x in enumerate(v):
            yield from leaves(x, "%s.%d" % (key, i) if key else str(i))
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, "%s.%s" % (key, k) if key else str(k))


def user_model(um, seed=0):
    """(model, inputs, document) of a user model (tools/usermodels) as its
    fixture has it: built after torch.manual_seed(SEED), lazy modules
    materialised and pruning made permanent, calibrated, randomised and
    rounded to float16's values, in eval mode, with its inputs and its
    architecture document."""
    from graftexport.document import architecture
    from graftexport.prepare import prepare
    torch.manual_seed(seed)
    model = um.build()
    prepare(model, [i.draw(torch.Generator().manual_seed(seed + 3)) for i in um.inputs])
    calibrate(model, lambda g: [i.draw(g) for i in um.inputs], seed)
    randomize(model, seed)
    round_to_half(model)
    model.eval()
    g = torch.Generator().manual_seed(seed + 3)
    inputs = [i.draw(g) for i in um.inputs]
    doc, ex = architecture(model, um.name, "tools/usermodels: " + um.name,
                           [list(i.shape) for i in um.inputs], example_inputs=inputs)
    return model, inputs, doc, ex
