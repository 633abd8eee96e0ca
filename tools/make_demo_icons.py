#!/usr/bin/env python3
"""tools/make_demo_icons.py: draws the response icons of experiments/demo-images.toml.

One 64x64 black-on-white PNG per category of the procedural demo set (checker, disc,
ring, stripes), written to experiments/icons/. Standard library only (zlib); the output
is byte-identical on every run. Usage: tools/make_demo_icons.py [OUT_DIR]
"""
import math
import os
import struct
import sys
import zlib

SIZE = 64


def png(path, rows):
    """Writes 8-bit greyscale rows (lists of 0..255) as a PNG."""
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    head = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def draw(on):
    """A 4x4-supersampled figure: on(x, y) in pixel units, centre at 32,32."""
    rows = []
    for y in range(SIZE):
        row = []
        for x in range(SIZE):
            hits = sum(on(x + (i + 0.5) / 4, y + (j + 0.5) / 4) for i in range(4) for j in range(4))
            row.append(255 - round(255 * hits / 16))
        rows.append(row)
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "experiments", "icons")
    os.makedirs(out, exist_ok=True)
    c = SIZE / 2
    inside = lambda x, y: 6 <= x < SIZE - 6 and 6 <= y < SIZE - 6
    figures = {
        "checker": lambda x, y: inside(x, y) and (int((x - 6) // 13) + int((y - 6) // 13)) % 2 == 0,
        "disc": lambda x, y: math.hypot(x - c, y - c) < 24,
        "ring": lambda x, y: 15 < math.hypot(x - c, y - c) < 25,
        "stripes": lambda x, y: inside(x, y) and ((x + y) // 9) % 2 == 0,
    }
    for name, on in figures.items():
        png(os.path.join(out, name + ".png"), draw(on))


if __name__ == "__main__":
    main()
