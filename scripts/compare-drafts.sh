#!/usr/bin/env bash
# Chooses the draft by measurement (models/README.md, "Choosing the draft"): for each candidate draft
# folder, its agreement with the target on the corpus's validation split, a greedy verifier trained
# the same way for each (60,000 labels from the training split, mlp recipe, eta_FP budget 0.1), and
# one bench on 200 validation-split prompts, greedy: AR, SD at gammas 2-6, the shipped SPRINTER and
# the lossless preset. AR does not depend on the draft, so each candidate's times are read against
# its own run's AR (the ratios of one interleaved run). Never touches the evaluation data.
# Usage: scripts/compare-drafts.sh RUNS CORPUS_BUILT DRAFT_FOLDER...   (sprinter on PATH)
set -euo pipefail
runs=$1 corpus=$2; shift 2
mkdir -p "$runs/drafts"
for draft in "$@"; do
  name=$(basename "$draft")
  out="$runs/drafts/$name"
  mkdir -p "$out"
  [ -s "$out/agreement.json" ] || sprinter agreement --draft "$draft" --target models/target --data "$corpus/valid.txt" --prompts 200 --json > "$out/agreement.json"
  [ -s "$out/labels-greedy/summary.json" ] || sprinter verifier collect --draft "$draft" --target models/target --data "$corpus/train.txt" \
    --prompts 3000 --tokens 20 --lanes 32 --label greedy --seed 0 --out "$out/labels-greedy"
  [ -s "$out/verifier-greedy.json" ] || sprinter verifier train --data "$out/labels-greedy" --out "$out/verifier-greedy.safetensors" \
    --recipe mlp --seed 0 --max-fp-rate 0.1 --json > "$out/verifier-greedy.json"
  [ -s "$out/bench/results.json" ] || sprinter bench --draft "$draft" --target models/target --verifier "$out/verifier-greedy.safetensors" \
    --dataset "$corpus/valid.txt" --prompts 200 --sampling greedy --out "$out/bench" \
    --methods ar,sd-g4,sd-g2,sd-g3,sd-g6,sprinter-paper-calibrated-la1-online,sprinter-lossless-cum0.4 > /dev/null
done
python3 - "$runs/drafts" "$@" <<'PY'
import json, os, statistics, sys
root, drafts = sys.argv[1], sys.argv[2:]
print("| draft | layers x d | greedy agreement | SD sample acceptance | verifier test AUROC | eta_TP at eta_FP 0.1 | draft ms/step | AR ms/token | SD g4 vs AR | best SD vs AR | SPRINTER vs AR | SPRINTER tokens/call | lossless vs AR |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for d in drafts:
    out = os.path.join(root, os.path.basename(d))
    cfg = json.load(open(os.path.join(d, "config.json")))
    a = json.load(open(os.path.join(out, "agreement.json")))
    v = json.load(open(os.path.join(out, "verifier-greedy.json")))["test"]
    m = {x["name"]: x for x in json.load(open(os.path.join(out, "bench", "results.json")))["methods"]}
    ar = m["ar"]["ms_per_token"]
    vs = lambda k: ar / m[k]["ms_per_token"]
    best_sd = max((k for k in m if k.startswith("sd-g")), key=vs)
    s, l = m["sprinter-paper-calibrated-la1-online"], m["sprinter-lossless-cum0.4"]
    step = statistics.median(x["draft_ms_per_step"] for x in m.values() if x.get("draft_ms_per_step"))
    print(f"| {os.path.basename(d)} | {cfg['n_layer']} x {cfg['n_embd']} | {a['greedy_agreement']:.1%} | {a['sd_sample_acceptance']:.1%} | {v['auroc']:.3f} | {v['eta_tp']:.3f} "
          f"| {step:.3f} | {ar:.3f} | {vs('sd-g4'):.2f} | {vs(best_sd):.2f} ({best_sd}) | {vs('sprinter-paper-calibrated-la1-online'):.2f} | {s['tokens_per_target_call']:.2f} | {vs('sprinter-lossless-cum0.4'):.2f} |")
PY
