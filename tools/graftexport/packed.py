"""Refusing packed sequences.

graft runs RNN, LSTM and GRU on padded tensors only.  A forward that packs
its batch (pack_padded_sequence, pack_sequence) before a recurrent layer
cannot be written in graft's format; the exporter says so, naming the
layer, instead of failing somewhere inside tracing.
"""

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .trace import TraceFailure


class _PackedInput(Exception):
    pass


def refuse_packed_sequences(model, inputs):
    """Raise TraceFailure if a recurrent layer of MODEL is given a
    PackedSequence when MODEL runs on INPUTS.  Models without recurrent
    layers are not run; a run that fails for another reason is left to the
    export to report."""
    rnns = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.RNNBase)]
    if not rnns:
        return
    hooks = []
    for name, m in rnns:
        def hook(module, args, name=name):
            if args and isinstance(args[0], PackedSequence):
                raise _PackedInput("%s (%s)" % (name or "<root>", type(module).__name__))
        hooks.append(m.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            model(*inputs)
    except _PackedInput as e:
        raise TraceFailure("%s: gets a packed sequence (pack_padded_sequence); graft runs "
                           "recurrent layers on padded tensors only: pass the padded batch "
                           "to it instead" % e) from None
    except Exception:  # noqa: BLE001 - the export itself reports a model that does not run
        pass
    finally:
        for h in hooks:
            h.remove()
