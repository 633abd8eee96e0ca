#!/usr/bin/python3
"""Generate small TorchScript fixture archives for the C++ importer tests.

Usage: /usr/bin/python3 tools/make_test_fixtures.py OUTDIR [--torchvision] [--seed 0]

Writes (all weights seeded, so the files' numbers are reproducible on one torch build):
  tiny_script.pt        hand-written image net (3x32x32, range [0,1], classes a,b,c,d),
                        torch.jit.script, dict {conv1, relu1, conv2, relu2, pool, logits};
                        relu1 is F.relu (aten::relu), relu2 an nn.ReLU(inplace=True) (aten::relu_)
  tiny_script_trace.pt  the same module and weights via torch.jit.trace(strict=False)
  no_json.pt            the same module, scripted, without metamerlab.json
  tensor_output.pt      forward returns a plain Tensor (logits); has a metamerlab.json
  bad_json.pt           the same module; metamerlab.json is malformed JSON
  wrong_layers.pt       metamerlab.json lists a layer ("conv3") the dict does not return
  wrong_shape.pt        metamerlab.json declares [3,64,64]; the net only takes [3,32,32]
  tiny_audio.pt         [B,8000] waveform (8 kHz, range [-1,1]), two conv1d layers, dict output
  tiny_acts/            input.npy [2,3,32,32] seeded uniform [0,1] and <layer>.npy of tiny_script.pt
  tiny_audio_acts/      input.npy [2,8000] seeded uniform [-1,1] and <layer>.npy of tiny_audio.pt
  with --torchvision:   resnet18.pt, alexnet.pt (224, weights=None seeded, via export_model.export)
                        and resnet18_acts/, alexnet_acts/
  fixtures.json         manifest of all of the above
"""
import argparse
import json
import os
import sys
import time
from collections import OrderedDict
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # keep tools/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_model  # noqa: E402  (same folder)

JSON_NAME = export_model.JSON_NAME
TINY_CLASSES = ["a", "b", "c", "d"]
TINY_LAYERS = ["conv1", "relu1", "conv2", "relu2", "pool", "logits"]
AUDIO_CLASSES = ["yes", "no", "maybe"]


class TinyNet(nn.Module):
    """conv -> relu -> conv -> relu -> pool -> linear on 3x32x32."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(16 * 8 * 8, len(TINY_CLASSES))

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        c1 = self.conv1(x)
        r1 = F.relu(c1)                   # out of place: aten::relu
        c2 = self.conv2(r1)
        # In place: aten::relu_. It runs on a copy so the returned "conv2" keeps its
        # pre-ReLU values instead of aliasing "relu2".
        r2 = self.relu2(c2.clone())
        p = self.pool(r2)
        logits = self.fc(torch.flatten(p, 1))
        return {"conv1": c1, "relu1": r1, "conv2": c2, "relu2": r2, "pool": p, "logits": logits}


class TinyTensorNet(TinyNet):
    """Same layers, but forward returns the logits Tensor only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        r1 = F.relu(self.conv1(x))
        r2 = self.relu2(self.conv2(r1))
        return self.fc(torch.flatten(self.pool(r2), 1))


class TinyAudioNet(nn.Module):
    """[B,8000] waveform -> conv1d -> relu -> conv1d -> relu -> mean over time -> linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 8, 64, stride=16)
        self.conv2 = nn.Conv1d(8, 16, 8, stride=4)
        self.fc = nn.Linear(16, len(AUDIO_CLASSES))

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        c1 = self.conv1(x.unsqueeze(1))
        r1 = F.relu(c1)
        c2 = self.conv2(r1)
        r2 = F.relu(c2)
        p = r2.mean(dim=2)
        logits = self.fc(p)
        return {"conv1": c1, "relu1": r1, "conv2": c2, "relu2": r2, "pool": p, "logits": logits}


def image_json(layers, classes=TINY_CLASSES, shape=(3, 32, 32)):
    return json.dumps(OrderedDict([
        ("modality", "image"), ("input", {"shape": list(shape)}), ("range", [0.0, 1.0]),
        ("classes", list(classes)), ("layers", list(layers)),
        ("producer", {"tool": "tools/make_test_fixtures.py"})]))


def frozen(m: nn.Module) -> nn.Module:
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def save(ts, path, json_text=None):
    extra = {JSON_NAME: json_text} if json_text is not None else {}
    torch.jit.save(ts, path, _extra_files=extra)
    print(path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Generate TorchScript fixtures for the C++ importer tests.")
    ap.add_argument("outdir")
    ap.add_argument("--torchvision", action="store_true",
                    help="also export resnet18.pt and alexnet.pt at 224 with activations (slower)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    out = a.outdir
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    P = lambda name: os.path.join(out, name)  # noqa: E731
    entries = []

    def add(name, kind, **kw):
        e = OrderedDict([("file", name), ("kind", kind)])
        e.update(kw)
        entries.append(e)

    good_json = image_json(TINY_LAYERS)
    torch.manual_seed(a.seed)
    tiny = frozen(TinyNet())
    example = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(a.seed))

    save(torch.jit.script(tiny), P("tiny_script.pt"), good_json)
    add("tiny_script.pt", "valid", method="script", modality="image", input=[3, 32, 32],
        range=[0, 1], classes=TINY_CLASSES, layers=TINY_LAYERS,
        notes="relu1 = F.relu (aten::relu); relu2 = nn.ReLU(inplace=True) (aten::relu_) on a copy of conv2")
    with torch.no_grad():
        traced = torch.jit.trace(tiny, example, strict=False)
    save(traced, P("tiny_script_trace.pt"), good_json)
    add("tiny_script_trace.pt", "valid", method="trace", same_as="tiny_script.pt",
        notes="same module and weights as tiny_script.pt; tiny_acts applies to it too")

    save(torch.jit.script(tiny), P("no_json.pt"))
    add("no_json.pt", "invalid", error="archive has no metamerlab.json")

    torch.manual_seed(a.seed)
    tens = frozen(TinyTensorNet())
    save(torch.jit.script(tens), P("tensor_output.pt"), image_json(["logits"]))
    add("tensor_output.pt", "invalid", error="forward returns a Tensor, not Dict[str, Tensor]",
        notes="same weights as tiny_script.pt; its output equals tiny_script's logits")

    bad = '{"modality": "image", "input": {"shape": [3, 32, 32]}, "range": [0, 1], "classes": ["a", "b"'
    save(torch.jit.script(tiny), P("bad_json.pt"), bad)
    add("bad_json.pt", "invalid", error="metamerlab.json is not valid JSON")

    wrong = ["conv1", "relu1", "conv2", "conv3", "relu2", "pool", "logits"]
    save(torch.jit.script(tiny), P("wrong_layers.pt"), image_json(wrong))
    add("wrong_layers.pt", "invalid", error="metamerlab.json lists layer conv3, which forward does not return",
        listed_layers=wrong, returned_layers=TINY_LAYERS)

    # The json declares 64x64 but the net's linear layer only fits 32x32 inputs.
    save(torch.jit.script(tiny), P("wrong_shape.pt"), image_json(TINY_LAYERS, shape=(3, 64, 64)))
    add("wrong_shape.pt", "invalid", error="forward fails on the declared input shape [3,64,64]")

    torch.manual_seed(a.seed)
    audio = frozen(TinyAudioNet())
    audio_json = json.dumps(OrderedDict([
        ("modality", "audio"), ("input", {"samples": 8000, "sample_rate": 8000}),
        ("range", [-1.0, 1.0]), ("classes", AUDIO_CLASSES), ("layers", TINY_LAYERS),
        ("producer", {"tool": "tools/make_test_fixtures.py"})]))
    save(torch.jit.script(audio), P("tiny_audio.pt"), audio_json)
    add("tiny_audio.pt", "valid", method="script", modality="audio", samples=8000, sample_rate=8000,
        range=[-1, 1], classes=AUDIO_CLASSES, layers=TINY_LAYERS)

    acts = OrderedDict()
    for archive, d in [("tiny_script.pt", "tiny_acts"), ("tiny_audio.pt", "tiny_audio_acts")]:
        files = export_model.dump_activations(P(archive), P(d), seed=a.seed, batch=2)
        for f in files:
            print(f)
        acts[d] = OrderedDict([("archive", archive), ("seed", a.seed), ("batch", 2),
                               ("files", [os.path.basename(f) for f in files])])

    if a.torchvision:
        import torchvision
        for arch in ("resnet18", "alexnet"):
            torch.manual_seed(a.seed)
            model = torchvision.models.get_model(arch, weights=None)
            name = arch + ".pt"
            info = export_model.export(
                model, export_model.DEFAULT_LAYERS[arch], P(name), modality="image",
                input_shape=[3, 224, 224], range=(0.0, 1.0),
                classes=export_model.torchvision_categories(arch),
                mean=export_model.IMAGENET_MEAN, std=export_model.IMAGENET_STD, method="trace",
                producer={"arch": arch, "weights": None, "seed": a.seed})
            print(P(name))
            add(name, "valid", method="trace", modality="image", input=[3, 224, 224], range=[0, 1],
                classes=len(info["classes"]), layers=info["layers"], arch=arch, weights=None)
            files = export_model.dump_activations(P(name), P(arch + "_acts"), seed=a.seed, batch=2)
            for f in files:
                print(f)
            acts[arch + "_acts"] = OrderedDict([("archive", name), ("seed", a.seed), ("batch", 2),
                                                ("files", [os.path.basename(f) for f in files])])

    manifest = OrderedDict([
        ("generator", "tools/make_test_fixtures.py"), ("torch", torch.__version__),
        ("seed", a.seed), ("torchvision_fixtures", bool(a.torchvision)),
        ("archives", entries), ("activations", acts),
        ("activation_notes", "input.npy is float32 [2, ...input] uniform in the model's range "
                             "(torch.Generator seeded with seed); <layer>.npy are float32 outputs "
                             "of the reloaded archive; compare within 1e-5"),
    ])
    with open(P("fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(P("fixtures.json"))
    print("done in %.1f s" % (time.time() - t0), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
