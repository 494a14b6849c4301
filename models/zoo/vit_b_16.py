"""ViT-B/16 (torchvision.models.vit_b_16, weights=None) with fixed-seed random weights.

torchvision initializes the classification head to zeros, which would make every logit
exactly its (zero) bias; the head is re-drawn from N(0, 0.02) so the output depends on
the whole network. LayerNorm affine parts are perturbed (see zoo_export).
"""

import torch
import torchvision

import zoo_export

NAME = "vit_b_16"
INPUT_NAMES = ("pixel_values",)
OUTPUT_NAMES = ("logits",)
TOLERANCE = zoo_export.TRANSFORMER_TOLERANCE
WEIGHT_SEED = 16


def build_model():
    torch.manual_seed(WEIGHT_SEED)
    model = torchvision.models.vit_b_16(weights=None)
    gen = zoo_export.seeded_generator(WEIGHT_SEED)
    with torch.no_grad():
        head = model.heads.head
        head.weight.copy_(0.02 * torch.randn(head.weight.shape, generator=gen))
        head.bias.copy_(0.02 * torch.randn(head.bias.shape, generator=gen))
        model.class_token.copy_(0.02 * torch.randn(model.class_token.shape, generator=gen))
    zoo_export.perturb_affine_norms(model, gen)
    return model.eval()


def make_inputs(batch, seed):
    gen = zoo_export.seeded_generator(seed)
    return {"pixel_values": torch.randn(batch, 3, 224, 224, generator=gen)}
