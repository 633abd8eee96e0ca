#!/usr/bin/env python3
"""tools/make_samples.py: the small bundled sample of the demo data sets (stimuli/samples/).

Copies, per category, the first reference item (sorted by name) of out/emoji16/reference
and out/words16/reference (as tools/build-zoo.sh builds them: held-out style and voices,
never trained on) to stimuli/samples/<set>/reference/<category>/, and the next items to
stimuli/samples/<set>/practice/<category>/ (2 images, 1 clip), and the first 2 items of the
held-out test split to stimuli/samples/<set>/null-check/<category>/ (the small set whose null
distribution each bundled model records beside the full one, so a test can recompute it).
`metamerlab demo`, the demo experiments and the bundled-model tests use them, so a fresh
clone needs no data build. Clips are stored as 16-bit PCM WAV (the builder writes float);
images as they are.
Usage: /usr/bin/python3 tools/make_samples.py [OUT_ROOT] [--only SPLIT]   (run from the source tree)
"""
import os
import shutil
import struct
import sys
import wave

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_float_wav(path):
    """A mono IEEE-float WAV as float32 samples, and its sample rate."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", path
    pos, rate, fmt, samples = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", body[:8])
            assert channels == 1, path
        elif cid == b"data":
            samples = np.frombuffer(body, dtype="<f4")
        pos += 8 + size + (size & 1)
    assert fmt in (3, 0xFFFE) and samples is not None, path
    return samples, rate


def write_pcm16(path, x, rate):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes())


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        only = args[i + 1]
        del args[i:i + 2]
    out_root = args[0] if args else os.path.join(ROOT, "stimuli", "samples")
    for name, practice in (("emoji16", 2), ("words16", 1)):
        # (source split, [(sample split, first, end)]): items files[first:end] per category
        plan = (("reference", (("reference", 0, 1), ("practice", 1, 1 + practice))),
                ("test", (("null-check", 0, 2),)))
        for split_dir, picks in plan:
            src = os.path.join(ROOT, "out", name, split_dir)
            if not os.path.isdir(src):
                sys.exit(f"{src}: missing; run tools/build-zoo.sh (or metamerlab dataset) first")
            for cat in sorted(os.listdir(src)):
                files = sorted(os.listdir(os.path.join(src, cat)))
                for split, first, end in picks:
                    if only and split != only:
                        continue
                    d = os.path.join(out_root, name, split, cat)
                    os.makedirs(d, exist_ok=True)
                    for f in files[first:end]:
                        s = os.path.join(src, cat, f)
                        if f.endswith(".wav"):
                            x, rate = read_float_wav(s)
                            write_pcm16(os.path.join(d, f), x, rate)
                        else:
                            shutil.copyfile(s, os.path.join(d, f))
    print(f"wrote {out_root}")


if __name__ == "__main__":
    main()
