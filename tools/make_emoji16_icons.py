#!/usr/bin/env python3
"""tools/make_emoji16_icons.py: the response icons of experiments/demo-images.toml.

One 96x96 PNG per emoji16 category, on white: the first icon that
stimuli/emoji16_icons.tsv lists for the category in the Noto Emoji set (Apache-2.0,
(c) Google Inc.; a training style, so the icon is never the held-out Twemoji drawing a
participant is tested on), taken from node_modules/@iconify-json/noto/icons.json
(`npm ci`) and rasterized by rsvg-convert. Written to experiments/icons-emoji16/.
Usage: /usr/bin/python3 tools/make_emoji16_icons.py [OUT_DIR]
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE = "noto"
SIZE = 96


def first_icons():
    out = {}
    with open(os.path.join(ROOT, "stimuli", "emoji16_icons.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cat, style, names = line.rstrip("\n").split("\t")
            if style == STYLE and cat not in out:
                out[cat] = names.split(",")[0]
    return out


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "experiments", "icons-emoji16")
    sets = os.path.join(ROOT, "node_modules", "@iconify-json", STYLE, "icons.json")
    if not os.path.exists(sets):
        sys.exit(f"{sets}: missing; run `npm ci` in {ROOT} first")
    data = json.load(open(sets))
    w, h = data.get("width", 16), data.get("height", 16)
    os.makedirs(out_dir, exist_ok=True)
    for cat, name in sorted(first_icons().items()):
        seen = set()
        while name in data.get("aliases", {}) and name not in seen:  # follow plain aliases
            seen.add(name)
            name = data["aliases"][name]["parent"]
        icon = data["icons"][name]
        iw, ih = icon.get("width", w), icon.get("height", h)
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
               f'viewBox="{icon.get("left", 0)} {icon.get("top", 0)} {iw} {ih}">'
               f'<rect x="-1000" y="-1000" width="4000" height="4000" fill="white"/>{icon["body"]}</svg>')
        with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as t:
            t.write(svg)
        target = os.path.join(out_dir, f"{cat}.png")
        subprocess.run(["rsvg-convert", "-w", str(SIZE), "-h", str(SIZE), "-o", target, t.name], check=True)
        os.unlink(t.name)
        print(target)


if __name__ == "__main__":
    main()
