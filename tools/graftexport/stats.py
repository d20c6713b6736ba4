"""Parameter and mult-add counts.

Mult-adds are multiply-accumulate operations of one forward pass, counted
per call of the functions below (a torch function mode sees each call):

  conv2d            out_elems * in_channels/groups * kh * kw
                    (conv1d, conv3d likewise)
  conv_transpose*d  in_elems * out_channels/groups * prod(kernel)
  linear            out_elems * in_features
  matmul, bmm, mm   out_elems * inner dimension (baddbmm, addmm likewise)
  einsum            product of the sizes of all distinct indices
  multi-head attention (nn.MultiheadAttention): the q/k/v and output
                    projections as linear layers, plus q.k^T and attn.v
                    (L * S * embed_dim each, per batch element)

Biases, normalisation, activations, pooling and elementwise arithmetic are
not counted.
"""

import torch
from torch.overrides import TorchFunctionMode


def _prod(xs):
    p = 1
    for x in xs:
        p *= int(x)
    return p


def _einsum_macs(eq, operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    eq = eq.replace(" ", "")
    lhs = eq.split("->")[0]
    sizes = {}
    for spec, t in zip(lhs.split(","), operands):
        if "..." in spec:
            return 0
        for letter, size in zip(spec, t.shape):
            sizes[letter] = int(size)
    return _prod(sizes.values())


def _mha_macs(args, kwargs):
    q, k, v = args[0], args[1], args[2]
    e = int(args[3])
    l, n = int(q.shape[0]), int(q.shape[1]) if q.dim() == 3 else 1
    s = int(k.shape[0])
    kdim, vdim = int(k.shape[-1]), int(v.shape[-1])
    proj = n * (l * e * e + s * kdim * e + s * vdim * e)
    attn = 2 * n * l * s * e
    out = n * l * e * e
    return proj + attn + out


class MacCounter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.macs = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in ("conv1d", "conv2d", "conv3d"):
            w = args[1] if len(args) > 1 else kwargs["weight"]
            self.macs += out.numel() * _prod(w.shape[1:])
        elif name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
            w = args[1] if len(args) > 1 else kwargs["weight"]
            self.macs += args[0].numel() * _prod(w.shape[1:])
        elif name == "linear":
            w = args[1] if len(args) > 1 else kwargs["weight"]
            self.macs += out.numel() * int(w.shape[-1])
        elif name in ("matmul", "bmm", "mm", "__matmul__"):
            self.macs += out.numel() * int(args[0].shape[-1])
        elif name in ("baddbmm", "addmm", "addbmm"):
            self.macs += out.numel() * int(args[1].shape[-1])
        elif name == "einsum":
            self.macs += _einsum_macs(args[0], args[1:])
        elif name == "multi_head_attention_forward":
            self.macs += _mha_macs(args, kwargs)
        return out


def count_params(model):
    ps = list(model.parameters())
    total = sum(p.numel() for p in ps)
    trainable = sum(p.numel() for p in ps if p.requires_grad)
    buffers = sum(b.numel() for b in persistent_buffers(model))
    return total, trainable, buffers


def persistent_buffers(model):
    sd_keys = set(model.state_dict().keys())
    out = []
    for name, b in model.named_buffers():
        if name in sd_keys:
            out.append(b)
    return out


def mult_adds(model, inputs):
    counter = MacCounter()
    with torch.no_grad(), counter:
        model(*inputs)
    return counter.macs
