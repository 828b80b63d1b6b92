#!/usr/bin/env bash
# Chooses the draft by measurement (models/README.md, "Choosing the draft"): for each candidate draft
# folder, its agreement with the target on the corpus's validation split, a greedy verifier trained
# the same way for each (60,000 labels from the training split, mlp recipe, eta_FP budget 0.1), and
# one bench on 200 validation-split prompts, greedy: AR, SD at gammas 2-6, the shipped SPRINTER and
# the lossless preset. AR does not depend on the draft, so each candidate's times are read against
# its own run's AR (the ratios of one interleaved run). The host's speed can drift between runs, so
# three interleaved rounds follow (the drafts in turn, 80 prompts each, seeds 1-3), summarised by the
# medians over rounds. Never touches the evaluation data.
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
methods=ar,sd-g4,sd-g3,sprinter-paper-calibrated-la1-online,sprinter-lossless-cum0.4
for round in 1 2 3; do
  for draft in "$@"; do
    name=$(basename "$draft")
    [ -s "$runs/drafts/rounds/$name-$round/results.json" ] || sprinter bench --draft "$draft" --target models/target \
      --verifier "$runs/drafts/$name/verifier-greedy.safetensors" --dataset "$corpus/valid.txt" --prompts 80 --seed "$round" \
      --sampling greedy --out "$runs/drafts/rounds/$name-$round" --methods "$methods" > /dev/null
  done
done
python3 - "$runs/drafts/rounds" "$methods" "$@" <<'PY'
import json, os, statistics as st, sys
root, methods, drafts = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
print()
print("| draft | " + " | ".join(f"{m} ms/token (vs AR), tokens/call" for m in methods[1:]) + " |")
print("|---|" + "---:|" * (len(methods) - 1))
for d in drafts:
    rounds = [{x["name"]: x for x in json.load(open(os.path.join(root, f"{os.path.basename(d)}-{r}", "results.json")))["methods"]} for r in (1, 2, 3)]
    cells = []
    for m in methods[1:]:
        ms = st.median(r[m]["ms_per_token"] for r in rounds)
        vs = st.median(r["ar"]["ms_per_token"] / r[m]["ms_per_token"] for r in rounds)
        cells.append(f"{ms:.3f} ({vs:.2f}x), {st.mean(r[m]['tokens_per_target_call'] for r in rounds):.2f}")
    print(f"| {os.path.basename(d)} | " + " | ".join(cells) + " |")
PY
