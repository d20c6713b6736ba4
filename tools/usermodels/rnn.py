"""Recurrent models users write: taggers, forecasters, classifiers and an
encoder-decoder over sequences with RNN, LSTM and GRU (stacked,
bidirectional, batch-first or not, with projections and initial states),
and the cell modules driven by a Python loop in forward (an unrolled
GRUCell encoder, an LSTMCell decoder feeding its output back)."""

import torch
from torch import nn

from .base import Input, UserModel


class BiLSTMTagger(nn.Module):
    """A sequence tagger (part-of-speech, named entities) on pre-computed
    word features: a 2-layer bidirectional LSTM, batch first, and a Linear
    scoring the tags of every step, as in the PyTorch NLP tutorials."""

    def __init__(self, features=12, hidden=16, tags=5):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, bidirectional=True,
                            batch_first=True, dropout=0.2)
        self.tag = nn.Linear(2 * hidden, tags)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.tag(out)


class GRUForecaster(nn.Module):
    """A time-series forecaster (stock prices, sensor readings): a 2-layer
    GRU over the window, and a Linear on the last step's output predicting
    the next values, as in most forecasting blog posts."""

    def __init__(self, series=4, hidden=24, horizon=2):
        super().__init__()
        self.gru = nn.GRU(series, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x):
        out, _ = self.gru(x)
        return self.head(out[:, -1])


class StackedReluRNN(nn.Module):
    """A stacked Elman RNN with ReLU on time-major input ([T, N, F], the
    PyTorch default), returning the per-step predictions and the final
    hidden states, as in classic RNN course exercises."""

    def __init__(self, features=6, hidden=12, classes=3):
        super().__init__()
        self.rnn = nn.RNN(features, hidden, num_layers=3, nonlinearity="relu")
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        y, h = self.rnn(x)
        return self.out(y), h


class ProjectedLSTM(nn.Module):
    """An LSTM with a projection of its hidden state (proj_size, the LSTMP
    of speech recognition), bidirectional and stacked, whose final hidden
    and cell states are returned beside the outputs."""

    def __init__(self, features=10, hidden=20, proj=6):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, bidirectional=True,
                            proj_size=proj)
        self.norm = nn.LayerNorm(2 * proj)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.norm(out), h, c


class StatefulLSTM(nn.Module):
    """A model that carries its state between calls: the initial hidden and
    cell states are inputs, the classifier reads the last layer's final
    hidden state (h[-1]) and the new states are returned for the next
    chunk, as in truncated back-propagation through time."""

    def __init__(self, features=5, hidden=8, layers=2, classes=2):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x, h0, c0):
        out, (h, c) = self.lstm(x, (h0, c0))
        return self.fc(h[-1]), h, c


class GRUCellEncoder(nn.Module):
    """A GRUCell unrolled over time by hand in forward (a Python loop over
    x.unbind(1), the state None at first), then a classifier on the last
    state, as in tutorials that explain recurrence step by step."""

    def __init__(self, features=3, hidden=10, classes=2):
        super().__init__()
        self.cell = nn.GRUCell(features, hidden)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        h = None
        for xt in x.unbind(1):
            h = self.cell(xt, h)
        return self.fc(h)


class LSTMCellDecoder(nn.Module):
    """An autoregressive decoder: an LSTMCell started from an encoding,
    whose projected output is fed back as the next step's input for a
    fixed number of steps (range(T)), stacked into a sequence, as in
    seq2seq and trajectory-prediction code."""

    def __init__(self, features=4, hidden=8, steps=3):
        super().__init__()
        self.steps = steps
        self.cell = nn.LSTMCell(features, hidden)
        self.proj = nn.Linear(hidden, features)

    def forward(self, x):
        h, c = self.cell(x)
        y = self.proj(h)
        outs = []
        for _ in range(self.steps):
            h, c = self.cell(y, (h, c))
            y = self.proj(h)
            outs.append(y)
        return torch.stack(outs, 1)


class UnbatchedRNN(nn.Module):
    """A bidirectional RNN called on one unbatched sequence ([T, F]), the
    way quick experiments call it, and a RNNCell (ReLU) step from its
    last output."""

    def __init__(self, features=4, hidden=6):
        super().__init__()
        self.rnn = nn.RNN(features, hidden, bidirectional=True)
        self.cell = nn.RNNCell(2 * hidden, hidden, nonlinearity="relu")

    def forward(self, x):
        out, h = self.rnn(x)
        return out, self.cell(out[-1])


class BiGRUClassifier(nn.Module):
    """A sentence classifier on word vectors: a bidirectional GRU, the last
    layer's final forward and backward states concatenated
    (torch.cat([h[-2], h[-1]], dim=1)), then dropout and a Linear, as in
    countless text-classification notebooks."""

    def __init__(self, features=8, hidden=10, classes=3):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2, bidirectional=True,
                          batch_first=True)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        _, h = self.gru(x)
        return self.fc(self.drop(torch.cat([h[-2], h[-1]], dim=1)))


class Seq2SeqGRU(nn.Module):
    """An encoder-decoder with teacher forcing: the encoder GRU's final
    state starts the decoder GRU over the target sequence (time-major),
    and a Linear predicts every step, as in the PyTorch seq2seq
    tutorial."""

    def __init__(self, src_features=6, tgt_features=4, hidden=12):
        super().__init__()
        self.encoder = nn.GRU(src_features, hidden)
        self.decoder = nn.GRU(tgt_features, hidden)
        self.out = nn.Linear(hidden, tgt_features)

    def forward(self, src, tgt):
        _, h = self.encoder(src)
        y, _ = self.decoder(tgt, h)
        return self.out(y)


MODELS = [
    UserModel("bilstm_tagger", BiLSTMTagger, [Input("x", [2, 7, 12])],
              edit="replace tag Linear out_features=9"),
    UserModel("gru_forecaster", GRUForecaster, [Input("x", [3, 9, 4])],
              edit="set gru num_layers=3"),
    UserModel("stacked_relu_rnn", StackedReluRNN, [Input("x", [5, 2, 6])],
              edit="set rnn nonlinearity='tanh'"),
    UserModel("projected_lstm", ProjectedLSTM, [Input("x", [4, 3, 10])],
              edit="set lstm num_layers=3"),
    UserModel("stateful_lstm", StatefulLSTM, [Input("x", [2, 6, 5]), Input("h0", [2, 2, 8]),
                                              Input("c0", [2, 2, 8])],
              edit="replace fc Linear out_features=4"),
    UserModel("grucell_encoder", GRUCellEncoder, [Input("x", [2, 5, 3])],
              edit="set cell bias=False"),
    UserModel("lstmcell_decoder", LSTMCellDecoder, [Input("x", [2, 4])],
              edit="replace proj Linear out_features=4"),
    UserModel("unbatched_rnn", UnbatchedRNN, [Input("x", [6, 4])],
              edit="replace cell GRUCell hidden_size=6"),
    UserModel("bigru_classifier", BiGRUClassifier, [Input("x", [3, 7, 8])],
              edit="replace fc Linear out_features=2"),
    UserModel("seq2seq_gru", Seq2SeqGRU, [Input("src", [5, 2, 6]), Input("tgt", [4, 2, 4])],
              edit="replace-all GRU LSTM hidden_size=12"),
]
