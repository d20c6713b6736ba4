"""torch.nn's transformer modules as graphs of their children.

nn.TransformerEncoderLayer, nn.TransformerEncoder and nn.Transformer branch
on their input (shape checks, the fused fast path, nested tensors) before
they compute; symbolic tracing cannot follow that.  What they compute in
eval with the fast path not taken is their last lines: the attention and
feed-forward blocks (``_sa_block``, ``_ff_block``, the modules' own
methods), the layers in turn, the final norm.  Those lines are traced
instead, so a graph calls ``self_attn``, ``linear1``, ``norm1``... as in the
state_dict.  nn.TransformerDecoderLayer and nn.TransformerDecoder trace as
they are.

``nn.Transformer.generate_square_subsequent_mask(sz)`` called in a forward
stays one function node.
"""

from contextlib import contextmanager

from torch import nn


def _encoder_layer_forward(self, src, src_mask=None, src_key_padding_mask=None):
    x = src
    if self.norm_first:
        x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
        x = x + self._ff_block(self.norm2(x))
    else:
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
        x = self.norm2(x + self._ff_block(x))
    return x


def _encoder_forward(self, src, mask=None, src_key_padding_mask=None):
    output = src
    for mod in self.layers:
        output = mod(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask)
    if self.norm is not None:
        output = self.norm(output)
    return output


def _transformer_forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                         src_key_padding_mask=None, tgt_key_padding_mask=None,
                         memory_key_padding_mask=None):
    memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask)
    return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask)


_TRACED_FORWARD = {
    nn.TransformerEncoderLayer.forward: _encoder_layer_forward,
    nn.TransformerEncoder.forward: _encoder_forward,
    nn.Transformer.forward: _transformer_forward,
}


@contextmanager
def traced_as_computed(module):
    """While active, MODULE (when its forward is one of torch.nn's
    transformer forwards) traces as the lines that compute in eval."""
    cls = type(module)
    forward = _TRACED_FORWARD.get(cls.forward)
    if forward is None:
        yield
        return
    module.__class__ = type(cls.__name__, (cls,), {"forward": forward})
    try:
        yield
    finally:
        module.__class__ = cls


_generate_mask = nn.Transformer.generate_square_subsequent_mask


@contextmanager
def square_subsequent_mask_as_node(tracer):
    """While active, generate_square_subsequent_mask(sz) is recorded by
    TRACER as one call (of a traced size or a constant one)."""
    def node(*args, **kwargs):
        return tracer.create_proxy("call_function", _generate_mask, args, kwargs)
    nn.Transformer.generate_square_subsequent_mask = staticmethod(node)
    try:
        yield
    finally:
        nn.Transformer.generate_square_subsequent_mask = staticmethod(_generate_mask)
