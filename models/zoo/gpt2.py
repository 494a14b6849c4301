"""A GPT-2-small-style decoder written with torch.nn, fixed-seed random weights.

Same block as GPT-2 small: d_model 768, 12 heads, pre-LN, tanh-GELU MLP of width 3072,
learned position embeddings over 1024 positions, the real 50257-token vocabulary and a
tied LM head. Two differences:
- 4 blocks instead of 12: the graph has every op kind of the real model and the same
  per-block shapes, while export, the CPU conformance test and the files stay small. The
  vocabulary is kept at full size because the 768x50257 LM-head GEMM is one of GPT-2's
  real hotspots.
- The LM head has a bias (GPT-2's has none). It makes the exporter write the head as
  Gemm(transB=1) on the embedding matrix itself instead of a second, transposed 154 MB
  copy of it.

Attention is written out as MatMul -> scale -> causal mask (Where) -> Softmax -> MatMul,
not a fused scaled_dot_product_attention, so the exported graph shows each step.
Weights follow GPT-2's init (N(0, 0.02), residual projections scaled by 1/sqrt(2 L));
unlike a fresh GPT-2, biases and LayerNorm affine parts are random too, so a runtime
that drops one does not still match.
"""

import math

import torch
from torch import nn

import zoo_export

NAME = "gpt2"
INPUT_NAMES = ("input_ids",)
OUTPUT_NAMES = ("logits",)
TOLERANCE = zoo_export.TRANSFORMER_TOLERANCE
WEIGHT_SEED = 2

VOCAB_SIZE = 50257
N_POSITIONS = 1024
N_LAYER = 4
D_MODEL = 768
N_HEAD = 12
SEQ_LEN = 128


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.proj = nn.Linear(D_MODEL, D_MODEL)
        causal = torch.tril(torch.ones(N_POSITIONS, N_POSITIONS, dtype=torch.bool))
        self.register_buffer("causal", causal.view(1, 1, N_POSITIONS, N_POSITIONS), persistent=False)

    def forward(self, x):
        batch, seq, _ = x.shape
        head_dim = D_MODEL // N_HEAD
        q, k, v = self.qkv(x).split(D_MODEL, dim=2)
        q = q.view(batch, seq, N_HEAD, head_dim).transpose(1, 2)
        k = k.view(batch, seq, N_HEAD, head_dim).transpose(1, 2)
        v = v.view(batch, seq, N_HEAD, head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))
        mask = self.causal[:, :, :seq, :seq]
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).transpose(1, 2).reshape(batch, seq, D_MODEL)
        return self.proj(context)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(D_MODEL)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(D_MODEL)
        self.mlp = nn.Sequential(nn.Linear(D_MODEL, 4 * D_MODEL), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * D_MODEL, D_MODEL))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB_SIZE, D_MODEL)
        self.wpe = nn.Embedding(N_POSITIONS, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(D_MODEL)
        self.lm_head_bias = nn.Parameter(torch.zeros(VOCAB_SIZE))

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe.weight[:seq]
        for block in self.blocks:
            x = block(x)
        # Tied LM head. A 2-D input with a bias makes the exporter emit Gemm(transB=1) on
        # the embedding initializer itself; a 3-D MatMul (or no bias) would get a
        # constant-folded transposed copy of the 154 MB matrix.
        hidden = self.ln_f(x).reshape(-1, D_MODEL)
        logits = nn.functional.linear(hidden, self.wte.weight, self.lm_head_bias)
        return logits.view(input_ids.shape[0], seq, VOCAB_SIZE)


def build_model():
    torch.manual_seed(WEIGHT_SEED)
    model = GPT2()
    gen = zoo_export.seeded_generator(WEIGHT_SEED)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                std = 0.02 / math.sqrt(2 * N_LAYER)
            else:
                std = 0.02
            if param.dim() >= 2 or name.endswith("bias"):
                param.copy_(std * torch.randn(param.shape, generator=gen))
    zoo_export.perturb_affine_norms(model, gen)
    return model.eval()


def make_inputs(batch, seed):
    gen = zoo_export.seeded_generator(seed)
    return {"input_ids": torch.randint(0, VOCAB_SIZE, (batch, SEQ_LEN), generator=gen, dtype=torch.int64)}
