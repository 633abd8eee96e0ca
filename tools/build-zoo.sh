#!/usr/bin/env bash
# tools/build-zoo.sh: rebuild the demo data sets and the four bundled models from scratch.
#
#   tools/build-zoo.sh [--install]
#
# Builds metamerlab (tools/setup.sh), then the emoji16 and words16 data sets into
# out/emoji16 and out/words16 (the reference sets `metamerlab report zoo` and the demo
# experiments use), then trains zoo:emoji16-standard, zoo:emoji16-robust,
# zoo:words16-standard and zoo:words16-robust with the recipes below into out/zoo/, and
# computes each one's bundled null distributions (NAME.pt.null.json). Every
# step is seeded: the same machine gives the same data, and the models' recipes, data
# versions, metrics and SHA-256 are in each out/zoo/NAME.pt.json. With --install the
# weights and sidecars are copied to models/ (what the app loads; commit them) and
# models/zoo.json records the build (times, metrics). A killed build started again resumes:
# finished data sets and models are kept, and training resumes from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
INSTALL=0
for a in "$@"; do
  case "$a" in
    --install) INSTALL=1 ;;
    *) echo "usage: tools/build-zoo.sh [--install]" >&2; exit 2 ;;
  esac
done

tools/setup.sh build
BIN=build/bin/metamerlab
OUT=out/zoo
mkdir -p "$OUT"
T0=$(date +%s)
stamp() { echo "[build-zoo +$(( $(date +%s) - T0 )) s] $*"; }

# --- data ------------------------------------------------------------------------------
# One art style (twemoji) and several voices are held out entirely: test and reference.
stamp "emoji16"
$BIN dataset --out out/emoji16 --holdout twemoji --per-category 3000 --quiet emoji16
stamp "words16"
$BIN dataset --out out/words16 --utterances 200 --quiet words16
T_DATA=$(( $(date +%s) - T0 ))

# --- models ----------------------------------------------------------------------------
# Image: ResNet-style CNN, 5x5 stride-2 stem, width 40, on-line flip/shift/cutout.
# Robust image: PGD L2 eps 1.0 (per pixel about the paper's L2 3.0 at 224x224), 3 steps of
# eps/2 with a random start, fine-tuned from the standard network on 16000 of its images.
# Audio: cochleagram + CNN, width 40, on-line cochleagram shifts and masks.
# Robust audio: the paper's recipe from scratch (no --init): PGD L2 in cochleagram space
# (the front end computed once per item, the attack on the network after it), 5 steps of
# eps/2 with a random start, eps 0.5, 8 epochs of the 8000 clips with cochleagram shifts and
# masks. One torch thread: with two, a core taken by anything else makes OpenMP's waiting
# threads spin, and a step took 7.5 s instead of about 2 (measured 2026-12-02).
IMG=(--data out/emoji16 --modality image --stem-stride 2 --width 40 --augment)
AUD=(--data out/words16 --modality audio --width 40)
train() {  # NAME ARGS...: skips a model whose weights exist (a finished earlier build)
  local name="$1"; shift
  if [ -f "$OUT/$name.pt" ] && [ -f "$OUT/$name.pt.json" ]; then stamp "$name: kept"; return; fi
  stamp "$name"
  local t=$(date +%s)
  $BIN train --out "$OUT/$name.pt" "$@"
  echo "$(( $(date +%s) - t ))" > "$OUT/$name.seconds"
}
train emoji16-standard "${IMG[@]}" --epochs 24 --eps 1.0 --eval-norm l2 --pgd-steps 3
train emoji16-robust   "${IMG[@]}" --epochs 4 --max-train 16000 --lr 0.02 --init "$OUT/emoji16-standard.pt" \
                       --adversarial l2 --eps 1.0 --pgd-steps 3
train words16-standard "${AUD[@]}" --augment --epochs 12 --eps 0.3 --eval-norm l2 --pgd-steps 3
train words16-robust   "${AUD[@]}" --augment --epochs 8 --adversarial l2 --eps 0.5 --pgd-steps 5 \
                       --attack-space cochleagram --threads 1
T_MODELS=$(( $(date +%s) - T0 ))

# --- null distributions ----------------------------------------------------------------
# Each model's null distributions at every layer, from its modality's held-out test split
# (never trained on), 10^6 pairs, written beside the weights (NAME.pt.null.json), with the
# null of the small check set kept in stimuli/samples/SET/null-check (tests recompute it).
bundle() {  # NAME SET DESCRIPTION
  local name="$1" set="$2" desc="$3"
  if [ -f "$OUT/$name.pt.null.json" ] && [ "$OUT/$name.pt.null.json" -nt "$OUT/$name.pt" ]; then stamp "$name null: kept"; return; fi
  stamp "$name null"
  $BIN null --model "$OUT/$name.pt" --layers all --input "out/$set/test" --write-bundled --description "$desc" \
       --check-input "stimuli/samples/$set/null-check" --db "$OUT/nulls.db" > "$OUT/$name.null.txt"
}
EMOJI_NULL="emoji16 test split: 1600 renders (100 per category) of the held-out Twemoji style, never trained on"
WORDS_NULL="words16 test split: 1600 clips (100 per word) of the held-out voices, never trained on"
bundle emoji16-standard emoji16 "$EMOJI_NULL"
bundle emoji16-robust emoji16 "$EMOJI_NULL"
bundle words16-standard words16 "$WORDS_NULL"
bundle words16-robust words16 "$WORDS_NULL"
T_ALL=$(( $(date +%s) - T0 ))
stamp "done: data $T_DATA s, models $(( T_MODELS - T_DATA )) s, nulls $(( T_ALL - T_MODELS )) s, all $T_ALL s"

# --- summary and install ---------------------------------------------------------------
/usr/bin/python3 - "$OUT" "$T_DATA" "$T_ALL" "$(nproc)" <<'EOF'
import json, sys, os, hashlib
out, t_data, t_all, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
models = {}
for name in ["emoji16-standard", "emoji16-robust", "words16-standard", "words16-robust"]:
    side = json.load(open(f"{out}/{name}.pt.json"))
    sec = open(f"{out}/{name}.seconds").read().strip() if os.path.exists(f"{out}/{name}.seconds") else None
    sha = hashlib.sha256(open(f"{out}/{name}.pt", "rb").read()).hexdigest()
    assert sha == side["sha256"], name
    models[name] = {"sha256": sha, "bytes": os.path.getsize(f"{out}/{name}.pt"), "metrics": side["metrics"],
                    "recipe": side["recipe"], "data": side["data"], "seconds": int(sec) if sec else None}
summary = {"build_seconds_total": t_all, "build_seconds_data": t_data, "cores": cores, "models": models}
for name in models:
    nj = f"{out}/{name}.pt.null.json"
    if os.path.exists(nj):
        n = json.load(open(nj))
        models[name]["null"] = {"set": n["set"], "pairs": n["pairs"], "seconds": round(n["wall_s"], 1)}
json.dump(summary, open(f"{out}/zoo.json", "w"), indent=2)
for n, m in models.items():
    x = m["metrics"]
    print(f"{n:18s} clean {x['clean_accuracy']:.3f}  adversarial {x.get('adversarial_accuracy', -1):.3f}  "
          f"{m['bytes']/1e6:.2f} MB  {m['seconds']} s")
EOF
if [ "$INSTALL" = 1 ]; then
  for name in emoji16-standard emoji16-robust words16-standard words16-robust; do
    cp "$OUT/$name.pt" "$OUT/$name.pt.json" "$OUT/$name.pt.null.json" models/
  done
  cp "$OUT/zoo.json" models/zoo.json
  stamp "installed into models/ (commit models/*.pt, *.pt.json, *.pt.null.json and zoo.json)"
fi
