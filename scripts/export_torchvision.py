#!/usr/bin/env python3
"""Export a torchvision model's weights for Ember (run with Python + torchvision,
outside Ember; Ember itself never downloads anything).

    python3 scripts/export_torchvision.py resnet18                 # -> resnet18.pth
    python3 scripts/export_torchvision.py vgg16_bn -o vgg.safetensors
    python3 scripts/export_torchvision.py alexnet --weights IMAGENET1K_V1
    python3 scripts/export_torchvision.py resnet50 --weights none --num-classes 10

The file holds the plain state_dict with torchvision's names, exactly what
torch.save(model.state_dict(), 'resnet18.pth') writes; Ember reads it with
models.resnet18{weights='resnet18.pth'} or models.load_weights(net, 'resnet18.pth'),
shifting PyTorch's 0-based child numbers (features.0.weight) to Ember's 1-based ones
(features.1.weight). A .safetensors output needs the safetensors package.
"""
import argparse
import sys

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a torchvision.models builder name, e.g. resnet18, vit_b_16")
    ap.add_argument("-o", "--output", help="output file (.pth, .pt or .safetensors); default MODEL.pth")
    ap.add_argument("--weights", default="DEFAULT",
                    help="torchvision weights enum name (DEFAULT, IMAGENET1K_V1, ...) or 'none' for random init")
    ap.add_argument("--num-classes", type=int, help="only with --weights none")
    args = ap.parse_args()

    builder = getattr(torchvision.models, args.model, None)
    if builder is None or not callable(builder):
        sys.exit("export_torchvision: torchvision.models has no model '%s'" % args.model)
    kwargs = {}
    if args.weights.lower() != "none":
        kwargs["weights"] = args.weights
    if args.num_classes is not None:
        if "weights" in kwargs:
            sys.exit("export_torchvision: --num-classes needs --weights none (pretrained heads have 1000 classes)")
        kwargs["num_classes"] = args.num_classes
    model = builder(**kwargs).eval()
    sd = model.state_dict()
    out = args.output or args.model + ".pth"
    if out.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in sd.items()}, out)
    else:
        torch.save(sd, out)
    n = sum(p.numel() for p in model.parameters())
    print("wrote %s: %d tensors, %d parameters (%s, weights=%s)" % (out, len(sd), n, args.model, args.weights))
    print("in Ember: local net = models.%s{weights='%s'}" % (args.model, out))


if __name__ == "__main__":
    main()
