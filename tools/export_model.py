#!/usr/bin/python3
"""Export a PyTorch model as a metamerlab TorchScript archive.

Archive convention (what the C++ importer reads):
  * forward(x) takes a batch in the model's input range ([B,C,H,W] images, [B,N] audio) and
    returns Dict[str, Tensor] of named activations, in forward order, the last being "logits".
  * Input preprocessing (mean/std normalization) is inside the graph.
  * The archive carries the extra file "metamerlab.json":
      {"modality": "image"|"audio",
       "input": {"shape": [C,H,W]} | {"samples": N, "sample_rate": R},
       "range": [lo, hi], "classes": [...], "layers": [names in forward order],
       "producer": {...provenance; readers ignore it}}
  * Parameters are frozen (requires_grad=False) and every nn.ReLU is made out-of-place so a
    returned activation is never overwritten by a later in-place ReLU.

Python API:  export(module, return_nodes, out_path, modality, ...)  and
             dump_activations(archive, out_dir, seed=0, batch=2)
CLI:         /usr/bin/python3 tools/export_model.py --arch resnet18 --out resnet18.pt
             [--layers node1,node2=name,...] [--input-size 224] [--method trace|script]
             [--dump-activations DIR] [--seed 0]
Needs torch/torchvision (Debian's /usr/bin/python3). Never downloads anything: weights=None.
"""
import argparse
import builtins
import copy
import json
import os
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torchvision
from torchvision.models import feature_extraction as fx

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
JSON_NAME = "metamerlab.json"

# Default layers: graph node -> public name, in forward order. The final node is "logits".
DEFAULT_LAYERS = {
    "resnet18": OrderedDict([
        ("relu", "relu"),            # after conv1/bn1
        ("maxpool", "maxpool"),
        ("layer1", "layer1"), ("layer2", "layer2"), ("layer3", "layer3"), ("layer4", "layer4"),
        ("avgpool", "avgpool"),
        ("fc", "logits"),
    ]),
    "alexnet": OrderedDict([
        ("features.1", "relu1"),     # conv1 -> ReLU
        ("features.4", "relu2"),     # conv2 -> ReLU
        ("features.7", "relu3"),
        ("features.9", "relu4"),
        ("features.11", "relu5"),
        ("features.12", "pool5"),    # max pool after relu5
        ("classifier.2", "relu6"),   # fc6 -> ReLU
        ("classifier.5", "relu7"),   # fc7 -> ReLU
        ("classifier.6", "logits"),  # fc8
    ]),
}


class ExportError(ValueError):
    """A user error: bad node names, bad arguments. The CLI prints it on one line."""


class _Normalize(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class _Exported(nn.Module):
    """x -> normalize -> feature extractor -> dict in forward order."""
    layers: List[str]

    def __init__(self, body: nn.Module, layers: List[str], norm: nn.Module):
        super().__init__()
        self.norm = norm
        self.body = body
        self.layers = list(layers)

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        feats = self.body(self.norm(x))
        out: Dict[str, torch.Tensor] = {}
        for k in self.layers:
            out[k] = feats[k]
        return out


def graph_nodes(module: nn.Module) -> List[str]:
    """Eval-mode node names of `module`, in execution order."""
    was_training = module.training
    module.eval()
    try:
        _, nodes = fx.get_graph_node_names(module)
    finally:
        module.train(was_training)
    return nodes


def _resolve_nodes(module: nn.Module, return_nodes) -> "OrderedDict[str, str]":
    """Validates nodes, orders them as the graph runs, makes the final node "logits"."""
    if isinstance(return_nodes, (list, tuple)):
        return_nodes = OrderedDict((n, n) for n in return_nodes)
    nodes = graph_nodes(module)

    def position(n):
        # As in create_feature_extractor, a module prefix ("layer1") stands for the last node
        # inside it ("layer1.1.relu_1").
        hits = [i for i, m in enumerate(nodes) if m == n or m.startswith(n + ".")]
        return hits[-1] if hits else None

    index = {n: position(n) for n in return_nodes}
    bad = [n for n, i in index.items() if i is None]
    if bad:
        raise ExportError("unknown node(s) %s; valid nodes (or their module prefixes): %s"
                          % (", ".join(bad), ", ".join(nodes)))
    final_i = len(nodes) - 1
    names = OrderedDict(return_nodes)
    at_final = [n for n in names if index[n] == final_i]
    if "logits" not in names.values():
        if at_final:
            raise ExportError("the final node %s must be named 'logits', not %r"
                              % (at_final[0], names[at_final[0]]))
        names[nodes[-1]] = "logits"
        index[nodes[-1]] = final_i
    elif not any(names[n] == "logits" for n in at_final):
        raise ExportError("'logits' must name the final node %s" % nodes[-1])
    seen = set()
    for n, v in names.items():
        if not v or v in seen or "/" in v:
            raise ExportError("bad or duplicate layer name %r (node %s)" % (v, n))
        seen.add(v)
    return OrderedDict(sorted(names.items(), key=lambda kv: index[kv[0]]))


def _input_spec(modality, input_shape, samples, sample_rate):
    if modality == "image":
        if not input_shape or len(input_shape) != 3:
            raise ExportError("image models need input_shape [C,H,W]")
        return {"shape": [int(s) for s in input_shape]}, [int(s) for s in input_shape]
    if modality == "audio":
        if not samples or not sample_rate:
            raise ExportError("audio models need samples and sample_rate")
        return {"samples": int(samples), "sample_rate": int(sample_rate)}, [int(samples)]
    raise ExportError("modality must be 'image' or 'audio', not %r" % modality)


def _norm_module(mean, std, shape: List[int]) -> nn.Module:
    if mean is None and std is None:
        return nn.Identity()
    mean = torch.as_tensor(0.0 if mean is None else mean, dtype=torch.float32).flatten()
    std = torch.as_tensor(1.0 if std is None else std, dtype=torch.float32).flatten()
    view = [1, -1] + [1] * (len(shape) - 1)
    return _Normalize(mean.reshape(view).clone(), std.reshape(view).clone())


def export(module: nn.Module, return_nodes, out_path: str, modality: str = "image",
           input_shape: Optional[Sequence[int]] = None, samples: Optional[int] = None,
           sample_rate: Optional[int] = None, range: Sequence[float] = (0.0, 1.0),
           classes: Optional[Sequence[str]] = None, mean=None, std=None,
           method: str = "trace", producer: Optional[dict] = None) -> dict:
    """Writes a metamerlab archive to out_path and returns its metamerlab.json as a dict.

    return_nodes: {graph node: public name} (or a list of nodes, named as themselves), as for
      torchvision's create_feature_extractor. The final graph node becomes "logits" (added if
      absent). Order does not matter: layers are stored in forward order.
    mean/std: per-channel (or scalar) normalization applied inside the graph; None = none.
    The module is deep-copied; the caller's module is left as it was.
    """
    if method not in ("trace", "script"):
        raise ExportError("method must be 'trace' or 'script', not %r" % method)
    lo, hi = float(range[0]), float(range[1])
    if not lo < hi:
        raise ExportError("range must be [lo, hi] with lo < hi")
    input_json, shape = _input_spec(modality, input_shape, samples, sample_rate)

    module = copy.deepcopy(module).eval()
    for m in module.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    names = _resolve_nodes(module, return_nodes)
    body = fx.create_feature_extractor(module, return_nodes=dict(names))
    wrapped = _Exported(body, list(names.values()), _norm_module(mean, std, shape)).eval()
    for p in wrapped.parameters():
        p.requires_grad_(False)

    gen = torch.Generator().manual_seed(0)
    example = lo + (hi - lo) * torch.rand([1] + shape, generator=gen)
    try:
        with torch.no_grad():
            probe = wrapped(example)
    except RuntimeError as e:
        raise ExportError("the model fails on an input of shape %s: %s"
                          % (list(example.shape), (str(e).strip().splitlines() or ["?"])[-1]))
    n_logits = probe["logits"].shape[-1]
    if classes is None:
        classes = ["class_%d" % i for i in builtins.range(n_logits)]
    classes = [str(c) for c in classes]
    if probe["logits"].dim() != 2 or n_logits != len(classes):
        raise ExportError("logits have shape %s but %d classes were given"
                          % (list(probe["logits"].shape), len(classes)))

    if method == "script":
        ts = torch.jit.script(wrapped)
    else:
        with torch.no_grad():
            ts = torch.jit.trace(wrapped, example, strict=False)
    ts = ts.eval()

    info = OrderedDict()
    info["modality"] = modality
    info["input"] = input_json
    info["range"] = [lo, hi]
    info["classes"] = classes
    info["layers"] = list(names.values())
    prod = OrderedDict([("tool", "tools/export_model.py"), ("method", method),
                        ("nodes", OrderedDict(names)), ("torch", torch.__version__),
                        ("torchvision", torchvision.__version__)])
    if mean is not None or std is not None:
        prod["normalization"] = {k: (None if v is None else torch.as_tensor(v, dtype=torch.float64).flatten().tolist())
                                 for k, v in (("mean", mean), ("std", std))}
    prod.update(producer or {})
    info["producer"] = prod
    text = json.dumps(info)

    d = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(d, exist_ok=True)
    torch.jit.save(ts, out_path, _extra_files={JSON_NAME: text})

    # Self-check: the archive reloads, carries the json and returns exactly the layers.
    back, stored = load_archive(out_path)
    with torch.no_grad():
        got = back(example)
    if list(got.keys()) != info["layers"]:
        raise RuntimeError("reloaded archive returns %s, expected %s" % (list(got.keys()), info["layers"]))
    for k in info["layers"]:
        if not torch.allclose(got[k], probe[k], rtol=1e-4, atol=1e-5):
            raise RuntimeError("reloaded archive differs from the module at layer %s" % k)
    return stored


def load_archive(path: str):
    """Returns (scripted module, metamerlab.json dict)."""
    extra = {JSON_NAME: ""}
    m = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    raw = extra[JSON_NAME]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if not raw:
        raise ExportError("%s has no %s" % (path, JSON_NAME))
    return m.eval(), json.loads(raw)


def dump_activations(archive: str, out_dir: str, seed: int = 0, batch: int = 2) -> List[str]:
    """Writes out_dir/input.npy (seeded uniform in the model's range, float32, [batch, ...])
    and out_dir/<layer>.npy for every layer, computed by the reloaded archive. Returns paths."""
    import numpy as np
    m, info = load_archive(archive)
    lo, hi = info["range"]
    inp = info["input"]
    shape = list(inp["shape"]) if info["modality"] == "image" else [int(inp["samples"])]
    g = torch.Generator().manual_seed(seed)
    x = lo + (hi - lo) * torch.rand([batch] + shape, generator=g, dtype=torch.float32)
    with torch.no_grad():
        out = m(x)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    path = os.path.join(out_dir, "input.npy")
    np.save(path, x.numpy().astype(np.float32))
    written.append(path)
    for k in info["layers"]:
        path = os.path.join(out_dir, k + ".npy")
        np.save(path, out[k].detach().contiguous().numpy().astype(np.float32))
        written.append(path)
    return written


def torchvision_categories(arch: str) -> Optional[List[str]]:
    """Class names from the weights enum's metadata (no download)."""
    try:
        weights = torchvision.models.get_model_weights(arch)
    except Exception:
        return None
    for w in weights:
        cats = w.meta.get("categories")
        if cats:
            return list(cats)
    return None


def parse_layers(text: str) -> "OrderedDict[str, str]":
    out = OrderedDict()
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        node, _, name = item.partition("=")
        out[node.strip()] = (name or node).strip()
    if not out:
        raise ExportError("--layers is empty")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description="Export a torchvision model (weights=None) as a metamerlab TorchScript archive.")
    p.add_argument("--arch", required=True, help="a torchvision.models builder, e.g. resnet18, alexnet")
    p.add_argument("--out", required=True, help="archive to write (.pt)")
    p.add_argument("--layers", help="comma list of graph nodes, each optionally node=name; "
                   "required except for resnet18/alexnet. The final node is always 'logits'.")
    p.add_argument("--input-size", type=int, default=224, help="square image size (default 224)")
    p.add_argument("--method", choices=["trace", "script"], default="trace")
    p.add_argument("--dump-activations", metavar="DIR",
                   help="write DIR/input.npy (2 seeded uniform images) and DIR/<layer>.npy")
    p.add_argument("--seed", type=int, default=0, help="seeds the random weights and the dumped input")
    a = p.parse_args(argv)
    try:
        if a.input_size <= 0:
            raise ExportError("--input-size must be positive")
        builders = set(torchvision.models.list_models())
        if a.arch not in builders:
            raise ExportError("unknown arch %r; torchvision.models has: %s" % (a.arch, ", ".join(sorted(builders))))
        if a.layers:
            nodes = parse_layers(a.layers)
        elif a.arch in DEFAULT_LAYERS:
            nodes = DEFAULT_LAYERS[a.arch]
        else:
            raise ExportError("--layers is required for %s (defaults exist for %s)"
                              % (a.arch, ", ".join(sorted(DEFAULT_LAYERS))))
        torch.manual_seed(a.seed)
        model = torchvision.models.get_model(a.arch, weights=None)
        classes = torchvision_categories(a.arch)
        export(model, nodes, a.out, modality="image", input_shape=[3, a.input_size, a.input_size],
               range=(0.0, 1.0), classes=classes, mean=IMAGENET_MEAN, std=IMAGENET_STD,
               method=a.method, producer={"arch": a.arch, "weights": None, "seed": a.seed})
        print(a.out)
        if a.dump_activations:
            for f in dump_activations(a.out, a.dump_activations, seed=a.seed):
                print(f)
    except ExportError as e:
        print("export_model.py: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
