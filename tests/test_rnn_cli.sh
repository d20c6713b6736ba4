#!/bin/sh
# test_rnn_cli.sh - edits around recurrent layers, on the user-model
# suite's bidirectional LSTM tagger (tests/data/user): a wider LSTM breaks
# the Linear after it with a message naming both, and a Linear replaced
# after it takes its in_features from the LSTM's output (through the
# tuple's getitem); the state outputs of a stateful LSTM reach the summary
# through getitem. With torch ($TORCH_PYTHON), graft-export refuses a
# forward that packs its batch for an LSTM, naming the layer, and writes
# nothing.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/user"
out="$builddir/tests/out/rnn_cli"
py=${TORCH_PYTHON:-}
rm -rf "$out"
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"

tagger="$data/bilstm_tagger.safetensors"
expect wider_lstm_breaks 1 "$graft" edit "$tagger" -e "replace lstm LSTM hidden_size=12" \
	-o "$out/wider.safetensors"
has wider_lstm_breaks err "tag: Linear(in_features=32) gets 24 features ([2, 7, 24]) from lstm"
file_absent "$out/wider.safetensors"
done_ wider_lstm_breaks

expect linear_follows 0 "$graft" edit "$tagger" -e "replace lstm LSTM hidden_size=12" \
	-e "replace tag Linear out_features=5" -o "$out/follows.safetensors"
has linear_follows out "replaced tag: Linear 32→5 -> Linear 24→5"
done_ linear_follows
expect linear_follows_runs 0 "$graft" run "$out/follows.safetensors" \
	--input "$data/bilstm_tagger.x.npy" -o "$out/follows.y.npy"
done_ linear_follows_runs

expect input_size_break 1 "$graft" edit "$tagger" -e "set lstm input_size=9" -o "$out/in.safetensors"
has input_size_break err "lstm: LSTM(input_size=9) gets 12 features ([2, 7, 12]) from the model input"
done_ input_size_break

expect states_summary 0 "$graft" summary "$data/stateful_lstm.safetensors"
has states_summary out "LSTM 5→8 ×2 batch_first"
has states_summary out "([2, 6, 8], ([2, 2, 8], [2, 2, 8]))"
has states_summary out "Linear 8→2"
done_ states_summary

if [ -n "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then
	cat >"$out/packed.py" <<'PY'
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Packed(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(4, 6, batch_first=True)

    def forward(self, x):
        packed = pack_padded_sequence(x, [3, 2], batch_first=True)
        out, _ = self.encoder(packed)
        return pad_packed_sequence(out, batch_first=True)[0]


def build():
    return Packed()
PY
	expect packed_refused 1 "$py" "$srcdir/tools/graft-export" "$out/packed.py:build" \
		--input-shape 2x3x4 -o "$out/packed.json"
	has packed_refused err "graft-export: encoder (LSTM): gets a packed sequence (pack_padded_sequence)"
	file_absent "$out/packed.json"
	done_ packed_refused
else
	echo "skip packed_refused: no python3 with torch"
fi
finish
