"""Text models users write around embeddings: bag-of-words and fastText
classifiers, mean pooling under an attention mask, pretrained frozen
tables, token and position embeddings; inputs are int64 token ids, with a
float mask or weights beside them."""

import torch
import torch.nn.functional as F
from torch import nn

from .base import Input, UserModel

VOCAB = 120


class Offsets(Input):
    """The offsets cutting a flat batch of TOKENS token ids into
    shape[0] bags, as a collate function makes them: 0 first, then
    non-decreasing (empty bags happen)."""

    def __init__(self, name, shape, tokens):
        super().__init__(name, shape, "int64", high=tokens)

    def draw(self, g, batch=None):
        cuts = torch.randint(0, self.high + 1, [self.shape[0] - 1], generator=g)
        return torch.cat([torch.zeros(1, dtype=torch.int64), cuts.sort().values])


class PaddingMask(Input):
    """A float attention mask of 1s then 0s in each row, as a padded batch
    has: every row keeps at least its first token."""

    def __init__(self, name, shape):
        super().__init__(name, shape, "float32")

    def draw(self, g, batch=None):
        rows = batch or self.shape[0]
        lengths = torch.randint(1, self.shape[1] + 1, [rows, 1], generator=g)
        return (torch.arange(self.shape[1]).unsqueeze(0) < lengths).float()


class TextSentiment(nn.Module):
    """The PyTorch text-classification tutorial's TextClassificationModel:
    an EmbeddingBag over a flat batch of token ids cut into bags by
    offsets, then a Linear, weights initialised uniformly."""

    def __init__(self, vocab_size=VOCAB, embed_dim=16, num_class=4):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        return self.fc(self.embedding(text, offsets))


class FastText(nn.Module):
    """A fastText-style classifier: word and hashed-bigram embeddings
    averaged over the tokens, dropout, a Linear."""

    def __init__(self, vocab=VOCAB, buckets=64, dim=12, classes=5):
        super().__init__()
        self.words = nn.Embedding(vocab, dim, padding_idx=0)
        self.bigrams = nn.Embedding(buckets, dim)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(dim, classes)

    def forward(self, ids, bigram_ids):
        h = self.words(ids).mean(dim=1) + self.bigrams(bigram_ids).mean(dim=1)
        return self.fc(self.dropout(h))


class WeightedBagOfWords(nn.Module):
    """Two bags over a padded [batch, tokens] id matrix: the words' max
    (padding skipped) and their tf-idf-weighted sum (per_sample_weights,
    a float input beside the int64 ids), concatenated for a Linear."""

    def __init__(self, vocab=VOCAB, dim=10, classes=3):
        super().__init__()
        self.max_bag = nn.EmbeddingBag(vocab, dim, mode="max", padding_idx=0)
        self.sum_bag = nn.EmbeddingBag(vocab, dim, mode="sum")
        self.fc = nn.Linear(2 * dim, classes)

    def forward(self, ids, tfidf):
        h = torch.cat([self.max_bag(ids), self.sum_bag(ids, per_sample_weights=tfidf)], dim=1)
        return self.fc(torch.tanh(h))


class MaskedMeanEncoder(nn.Module):
    """A sentence-transformers-style encoder head: token embeddings plus
    position embeddings of a position_ids buffer (one per token of the
    fixed sequence length, broadcast over the batch), LayerNorm, then the
    mean over the tokens the attention mask keeps (sum of masked
    embeddings over the mask's sum), and a projection."""

    def __init__(self, vocab=VOCAB, dim=16, max_len=11, out=8):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim, padding_idx=0)
        self.pos = nn.Embedding(max_len, dim)
        self.register_buffer("position_ids", torch.arange(max_len).unsqueeze(0))
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, out)

    def forward(self, input_ids, attention_mask):
        h = self.norm(self.tok(input_ids) + self.pos(self.position_ids))
        m = attention_mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-6)
        return self.proj(pooled)


class TemperatureTagger(nn.Module):
    """A token tagger whose forward takes a keyword argument with a
    default (temperature=2.0), which callers usually leave out: F.embedding
    on its own weight parameter, a Linear per token, log_softmax."""

    def __init__(self, vocab=VOCAB, dim=8, tags=6):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab, dim))
        self.out = nn.Linear(dim, tags)

    def forward(self, ids, temperature: float = 2.0):
        h = F.embedding(ids, self.weight, padding_idx=1)
        return F.log_softmax(self.out(h) / temperature, dim=-1)


class PretrainedFrozen(nn.Module):
    """GloVe-style vectors loaded with nn.Embedding.from_pretrained(freeze=True,
    padding_idx=0) and kept frozen, a trainable mean bag of its own
    (F.embedding_bag over the flattened ids, cut by the offsets of a
    buffer that ends with the last offset, padding skipped), and a Linear
    on top."""

    def __init__(self, vocab=VOCAB, dim=10, classes=2):
        super().__init__()
        self.glove = nn.Embedding.from_pretrained(torch.randn(vocab, dim), freeze=True,
                                                  padding_idx=0)
        self.extra = nn.Parameter(torch.randn(vocab, dim) * 0.1)
        self.register_buffer("offsets", torch.tensor([0, 4, 4, 9, 20]))
        self.fc = nn.Linear(2 * dim, classes)

    def forward(self, ids):
        words = self.glove(ids).sum(dim=1)
        bags = F.embedding_bag(ids.flatten(), self.extra, self.offsets, mode="mean",
                               include_last_offset=True, padding_idx=0)
        return self.fc(torch.cat([words, bags], dim=1))


MODELS = [
    UserModel("text_sentiment", TextSentiment,
              [Input("text", [24], "int64", high=VOCAB), Offsets("offsets", [5], tokens=24)],
              edit="replace fc Linear out_features=2"),
    UserModel("fasttext", FastText,
              [Input("ids", [3, 9], "int64", high=VOCAB),
               Input("bigram_ids", [3, 8], "int64", high=64)],
              edit="replace fc Linear out_features=3"),
    UserModel("weighted_bag_of_words", WeightedBagOfWords,
              [Input("ids", [4, 7], "int64", high=VOCAB), Input("tfidf", [4, 7])],
              edit="replace fc Linear out_features=4"),
    UserModel("masked_mean_encoder", MaskedMeanEncoder,
              [Input("input_ids", [3, 11], "int64", high=VOCAB),
               PaddingMask("attention_mask", [3, 11])],
              edit="replace proj Linear out_features=4"),
    UserModel("temperature_tagger", TemperatureTagger,
              [Input("ids", [2, 6], "int64", high=VOCAB)],
              edit="replace out Linear out_features=3"),
    UserModel("pretrained_frozen", PretrainedFrozen,
              [Input("ids", [4, 5], "int64", high=VOCAB)],
              edit="replace fc Linear out_features=5"),
]
