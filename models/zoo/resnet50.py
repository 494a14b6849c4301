"""ResNet-50 (torchvision.models.resnet50, weights=None) with fixed-seed random weights.

BatchNorm running statistics are calibrated on one batch of random images in train mode
(momentum 1, so the statistics are exactly that batch's), after the affine parts were
perturbed: an untouched BatchNorm is the identity, and activations would drift in scale
through the 16 residual blocks. The exporter folds each BatchNorm into its Conv in eval
mode, so the calibrated statistics end up in the Conv weights and biases.
"""

import torch
import torchvision

import zoo_export

NAME = "resnet50"
INPUT_NAMES = ("pixel_values",)
OUTPUT_NAMES = ("logits",)
TOLERANCE = {
    "rtol": 1e-3,
    "atol": 5e-4,
    "why": ("53 convolutions deep in float32 with unit-scale logits (std 0.6): implementations "
            "that fold BatchNorm or order the convolution sums differently differ by up to 5e-5 "
            "(ONNX Runtime), which the backend-test default atol 1e-7 rejects"),
}
WEIGHT_SEED = 50
CALIBRATION_SEED = 51
CALIBRATION_BATCH = 2


def build_model():
    torch.manual_seed(WEIGHT_SEED)
    model = torchvision.models.resnet50(weights=None)
    zoo_export.perturb_affine_norms(model, zoo_export.seeded_generator(WEIGHT_SEED))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(make_inputs(CALIBRATION_BATCH, CALIBRATION_SEED)["pixel_values"])
    return model.eval()


def make_inputs(batch, seed):
    gen = zoo_export.seeded_generator(seed)
    return {"pixel_values": torch.randn(batch, 3, 224, 224, generator=gen)}
