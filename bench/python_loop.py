#!/usr/bin/python3
"""Paper-style metamer synthesis loop in plain Python/PyTorch, as the benchmark baseline.

Usage: /usr/bin/python3 bench/python_loop.py --model resnet18.pt --layer layer4
                                             [--iterations 50] [--warmup 5] [--reference IMG]

As the authors ran it: batch 1; the full network forward each step (the archive computes its
whole activation dict); loss ||a(x) - a(r)||_2 / ||a(r)||_2 at the named layer; normalized
gradient step x <- clamp(x - lr * g / (||g||_2 + 1e-10), lo, hi) with lr = 1 (first round);
start from N(0.5, 0.05^2) noise clamped to the range (seed 0). Not included: the authors' extra
unused forward per step and the fake ReLU (a TorchScript archive cannot be rewritten here).
Parameters are frozen so no weight gradients are computed.
The reference is IMG (resized to the model's input) if given, else a seeded uniform image.
Prints one JSON line: {"layer", "batch", "iterations", "seconds_per_iteration",
"metamer_iterations_per_second", ...}.
"""
import argparse
import json
import os
import sys
import time

import torch


def load(path):
    extra = {"metamerlab.json": ""}
    m = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    raw = extra["metamerlab.json"]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        raise ValueError("%s has no metamerlab.json" % path)
    return m.eval(), json.loads(raw)


def reference_input(info, path, gen):
    lo, hi = info["range"]
    if info["modality"] == "image":
        shape = list(info["input"]["shape"])
        if path:
            import torchvision.io as tio
            import torch.nn.functional as F
            img = tio.read_image(path, tio.ImageReadMode.RGB).float().div(255.0).unsqueeze(0)
            return F.interpolate(img, size=shape[1:], mode="bilinear", align_corners=False).clamp(0, 1)
        return torch.rand([1] + shape, generator=gen)
    shape = [int(info["input"]["samples"])]
    x = (torch.rand([1] + shape, generator=gen) * 2 - 1)
    x = x - x.mean()
    return x * (0.1 / x.pow(2).mean().sqrt())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Python baseline for the metamer synthesis loop.")
    ap.add_argument("--model", required=True, help="metamerlab TorchScript archive")
    ap.add_argument("--layer", required=True)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--reference", help="image file for the reference (default: seeded random)")
    ap.add_argument("--lr", type=float, default=1.0)
    a = ap.parse_args(argv)

    torch.set_num_threads(os.cpu_count() or 1)
    try:
        model, info = load(a.model)
    except Exception as e:  # noqa: BLE001
        print("python_loop.py: error: cannot load %s: %s" % (a.model, str(e).splitlines()[0] if str(e) else e),
              file=sys.stderr)
        return 2
    if a.layer not in info["layers"]:
        print("python_loop.py: error: unknown layer %r; layers: %s" % (a.layer, ", ".join(info["layers"])),
              file=sys.stderr)
        return 2
    if a.iterations < 1 or a.warmup < 0:
        print("python_loop.py: error: --iterations must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    for p in model.parameters():
        p.requires_grad_(False)
    lo, hi = [float(v) for v in info["range"]]

    gen = torch.Generator().manual_seed(0)
    ref = reference_input(info, a.reference, gen)
    with torch.no_grad():
        target = model(ref)[a.layer].detach().flatten(1)
    target_norm = target.norm(dim=1)

    gen = torch.Generator().manual_seed(0)
    if info["modality"] == "image":
        x = (0.5 + 0.05 * torch.randn(ref.shape, generator=gen)).clamp(lo, hi)
    else:
        x = (1e-7 * torch.randn(ref.shape, generator=gen)).clamp(lo, hi)

    def step(x):
        x = x.detach().requires_grad_(True)
        act = model(x)[a.layer].flatten(1)          # full forward: the whole dict
        loss = (act - target).norm(dim=1) / target_norm
        g, = torch.autograd.grad(loss.sum(), x)
        with torch.no_grad():
            gn = g.flatten(1).norm(dim=1).view([-1] + [1] * (g.dim() - 1))
            x = (x - a.lr * g / (gn + 1e-10)).clamp(lo, hi)
        return x, loss.detach()

    for _ in range(a.warmup):
        x, loss = step(x)
    t0 = time.perf_counter()
    for _ in range(a.iterations):
        x, loss = step(x)
    dt = (time.perf_counter() - t0) / a.iterations
    print(json.dumps({
        "layer": a.layer, "batch": 1, "iterations": a.iterations,
        "seconds_per_iteration": round(dt, 6),
        "metamer_iterations_per_second": round(1.0 / dt, 4),
        "warmup": a.warmup, "threads": torch.get_num_threads(),
        "final_loss": round(float(loss[0]), 6), "model": os.path.basename(a.model),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
