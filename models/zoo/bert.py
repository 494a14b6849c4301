"""A BERT-base-style encoder written with torch.nn, fixed-seed random weights.

BERT-base shapes (d_model 768, 12 heads, FFN 3072 with exact (erf) GELU, 512 positions,
the real 30522-token WordPiece vocabulary, LayerNorm eps 1e-12) with 4 post-LN encoder
layers instead of 12, for the same reasons as gpt2.py. Token-type embeddings are kept
(every token is type 0, as for a single sentence). The attention mask input is turned
into an additive bias ((1 - mask) * -10000, as in the original BERT) on the attention
scores. Outputs: the last hidden state and the pooled [CLS] vector (Linear + tanh).

Inputs use a padded pattern: the tail of each sequence is padding (id 0, mask 0), with
a different length per row, so the mask changes the result.
"""

import math

import torch
from torch import nn

import zoo_export

NAME = "bert"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAMES = ("last_hidden_state", "pooler_output")
TOLERANCE = zoo_export.TRANSFORMER_TOLERANCE
WEIGHT_SEED = 3

VOCAB_SIZE = 30522
MAX_POSITIONS = 512
TYPE_VOCAB_SIZE = 2
N_LAYER = 4
D_MODEL = 768
N_HEAD = 12
D_FFN = 3072
SEQ_LEN = 128
LN_EPS = 1e-12
PAD_ID = 0


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query = nn.Linear(D_MODEL, D_MODEL)
        self.key = nn.Linear(D_MODEL, D_MODEL)
        self.value = nn.Linear(D_MODEL, D_MODEL)
        self.output = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, x, mask_bias):
        batch, seq, _ = x.shape
        head_dim = D_MODEL // N_HEAD

        def heads(t):
            return t.view(batch, seq, N_HEAD, head_dim).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(head_dim) + mask_bias
        probs = torch.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, D_MODEL)
        return self.output(context)


class EncoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = SelfAttention()
        self.attention_norm = nn.LayerNorm(D_MODEL, eps=LN_EPS)
        self.ffn = nn.Sequential(nn.Linear(D_MODEL, D_FFN), nn.GELU(), nn.Linear(D_FFN, D_MODEL))
        self.ffn_norm = nn.LayerNorm(D_MODEL, eps=LN_EPS)

    def forward(self, x, mask_bias):
        x = self.attention_norm(x + self.attention(x, mask_bias))
        return self.ffn_norm(x + self.ffn(x))


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB_SIZE, D_MODEL, padding_idx=PAD_ID)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, D_MODEL)
        self.token_type_embeddings = nn.Embedding(TYPE_VOCAB_SIZE, D_MODEL)
        self.embedding_norm = nn.LayerNorm(D_MODEL, eps=LN_EPS)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(N_LAYER))
        self.pooler = nn.Linear(D_MODEL, D_MODEL)

    def forward(self, input_ids, attention_mask):
        seq = input_ids.shape[1]
        x = (self.word_embeddings(input_ids) + self.position_embeddings.weight[:seq]
             + self.token_type_embeddings.weight[0])
        x = self.embedding_norm(x)
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_bias)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled


def build_model():
    torch.manual_seed(WEIGHT_SEED)
    model = Bert()
    gen = zoo_export.seeded_generator(WEIGHT_SEED)
    # BERT's init: N(0, 0.02) for matrices and embeddings. Biases are random as well
    # (BERT starts them at zero) so that a dropped bias shows in the outputs.
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.02 * torch.randn(param.shape, generator=gen))
    zoo_export.perturb_affine_norms(model, gen)
    return model.eval()


def make_inputs(batch, seed):
    gen = zoo_export.seeded_generator(seed)
    input_ids = torch.randint(1, VOCAB_SIZE, (batch, SEQ_LEN), generator=gen, dtype=torch.int64)
    # Row r keeps a prefix of random length in [SEQ_LEN/2, SEQ_LEN]; row 0 of a batch
    # larger than one is unpadded, so both patterns appear.
    lengths = torch.randint(SEQ_LEN // 2, SEQ_LEN + 1, (batch,), generator=gen)
    if batch > 1:
        lengths[0] = SEQ_LEN
    positions = torch.arange(SEQ_LEN).unsqueeze(0)
    attention_mask = (positions < lengths.unsqueeze(1)).to(torch.int64)
    input_ids = torch.where(attention_mask.bool(), input_ids, torch.full_like(input_ids, PAD_ID))
    return {"input_ids": input_ids, "attention_mask": attention_mask}
