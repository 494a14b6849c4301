"""A LLaMA-style decoder written with torch.nn, fixed-seed random weights.

The blocks of LLaMA 2/3: pre-norm RMSNorm (computed in float32 and cast back, as the
reference implementation does), rotary position embeddings applied to queries and keys
(rotate-half form), grouped-query attention (8 query heads sharing 2 key/value heads),
a SwiGLU MLP (silu(x W1) * (x W3) W2) and an untied LM head without biases. Sizes are
scaled down so that the zoo stays small: d_model 512, 8 layers, head dim 64, MLP width
1408, a 32000-token vocabulary, sequence length 128.

Attention goes through torch.nn.functional.scaled_dot_product_attention (causal) where
torch has it, as current LLaMA implementations do; torch.onnx writes it out as
MatMul/Softmax (the dynamo exporter with Where/IsNaN guards). torch 1.13 has no such
function, and there the same math is written out by hand.
"""

import math

import torch
from torch import nn

import zoo_export

NAME = "llama"
INPUT_NAMES = ("input_ids",)
OUTPUT_NAMES = ("logits",)
TOLERANCE = zoo_export.TRANSFORMER_TOLERANCE
WEIGHT_SEED = 5

VOCAB_SIZE = 32000
N_LAYER = 8
D_MODEL = 512
N_HEAD = 8
N_KV_HEAD = 2
D_FF = 1408
SEQ_LEN = 128
MAX_POSITIONS = 2048
ROPE_THETA = 10000.0
NORM_EPS = 1e-5


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + NORM_EPS)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.head_dim = D_MODEL // N_HEAD
        self.q_proj = nn.Linear(D_MODEL, N_HEAD * self.head_dim, bias=False)
        self.k_proj = nn.Linear(D_MODEL, N_KV_HEAD * self.head_dim, bias=False)
        self.v_proj = nn.Linear(D_MODEL, N_KV_HEAD * self.head_dim, bias=False)
        self.o_proj = nn.Linear(N_HEAD * self.head_dim, D_MODEL, bias=False)

    def forward(self, x, cos, sin):
        batch, seq, _ = x.shape
        q = self.q_proj(x).view(batch, seq, N_HEAD, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, N_KV_HEAD, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, N_KV_HEAD, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = N_HEAD // N_KV_HEAD
        k = k[:, :, None].expand(batch, N_KV_HEAD, groups, seq, self.head_dim).reshape(batch, N_HEAD, seq, self.head_dim)
        v = v[:, :, None].expand(batch, N_KV_HEAD, groups, seq, self.head_dim).reshape(batch, N_HEAD, seq, self.head_dim)
        sdpa = getattr(nn.functional, "scaled_dot_product_attention", None)
        if sdpa is not None:
            context = sdpa(q, k, v, is_causal=True)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
            causal = torch.ones(seq, seq, dtype=torch.bool, device=x.device).tril()
            scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
            context = torch.matmul(torch.softmax(scores, dim=-1), v)
        return self.o_proj(context.transpose(1, 2).reshape(batch, seq, D_MODEL))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(D_MODEL, D_FF, bias=False)
        self.up_proj = nn.Linear(D_MODEL, D_FF, bias=False)
        self.down_proj = nn.Linear(D_FF, D_MODEL, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_norm = RMSNorm(D_MODEL)
        self.attn = Attention()
        self.post_attention_norm = RMSNorm(D_MODEL)
        self.mlp = MLP()

    def forward(self, x, cos, sin):
        x = x + self.attn(self.input_norm(x), cos, sin)
        return x + self.mlp(self.post_attention_norm(x))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB_SIZE, D_MODEL)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.norm = RMSNorm(D_MODEL)
        self.lm_head = nn.Linear(D_MODEL, VOCAB_SIZE, bias=False)
        head_dim = D_MODEL // N_HEAD
        inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(MAX_POSITIONS, dtype=torch.float32), inv_freq)
        angles = torch.cat((angles, angles), dim=-1)
        self.register_buffer("cos_cached", angles.cos(), persistent=False)
        self.register_buffer("sin_cached", angles.sin(), persistent=False)

    def forward(self, input_ids):
        seq = input_ids.shape[1]
        x = self.embed(input_ids)
        cos = self.cos_cached[:seq].to(x.dtype)
        sin = self.sin_cached[:seq].to(x.dtype)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.lm_head(self.norm(x))


def build_model():
    torch.manual_seed(WEIGHT_SEED)
    model = Llama()
    gen = zoo_export.seeded_generator(WEIGHT_SEED)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                # Not exactly 1: a runtime that drops the RMSNorm scale must not still match.
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=gen))
            else:
                std = 0.02 / math.sqrt(2 * N_LAYER) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                param.copy_(std * torch.randn(param.shape, generator=gen))
    return model.eval()


def make_inputs(batch, seed):
    gen = zoo_export.seeded_generator(seed)
    return {"input_ids": torch.randint(0, VOCAB_SIZE, (batch, SEQ_LEN), generator=gen, dtype=torch.int64)}
