#!/usr/bin/env bash
# Rebuilds the shipped models from scratch: corpus -> tokenizer -> draft and target -> verifier.
# About 70 minutes on a 2-core machine (draft ~9 min for 2 epochs, target ~30 min per epoch at
# ~2,100 tokens/s). Every step is seeded;
# re-running reproduces the files (the trainer is bit-deterministic for a given thread count).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${SPRINTER_CACHE:-$HOME/.cache/sprinter}
CORPUS=$CACHE/corpus-built
mkdir -p "$CACHE/runs"
dotnet publish src/Sprinter.Cli -c Release -o "$CACHE/cli" >/dev/null
sprinter() { dotnet "$CACHE/cli/Sprinter.Cli.dll" "$@"; }

scripts/fetch-corpus.sh "$CACHE/corpus"
sprinter corpus build --source "$CACHE/corpus" --out "$CORPUS"
sprinter train-tokenizer --corpus "$CORPUS/train.txt" --vocab-size 8192 --out models/tokenizer

sprinter train-lm --train "$CORPUS/train.txt" --valid "$CORPUS/valid.txt" --tokenizer models/tokenizer \
  --out models/draft --checkpoint "$CACHE/runs/ckpt-draft" --layers 2 --d 128 --heads 4 --context 256 \
  --batch 8 --epochs 2 --lr 1e-3 --warmup 100 --checkpoint-every 200 --eval-every 200 --save-dtype bf16 --seed 2
sprinter train-lm --train "$CORPUS/train.txt" --valid "$CORPUS/valid.txt" --tokenizer models/tokenizer \
  --out models/target --checkpoint "$CACHE/runs/ckpt-target" --layers 6 --d 384 --heads 6 --context 256 \
  --batch 8 --epochs 2 --lr 6e-4 --warmup 100 --checkpoint-every 100 --eval-every 100 --save-dtype bf16 --seed 1

# Verifier labels come from the corpus's validation split, never from the evaluation data.
sprinter verifier collect --draft models/draft --target models/target --data "$CORPUS/valid.txt" \
  --prompts 500 --tokens 20 --ratio 1.0 --seed 0 --out "$CACHE/runs/labels"
for recipe in paper weighted features mlp mlp-weighted; do   # the comparison table of models/README.md
  sprinter verifier train --data "$CACHE/runs/labels" --out "$CACHE/runs/verifier-$recipe.safetensors" --recipe "$recipe" --seed 0
done
sprinter verifier train --data "$CACHE/runs/labels" --out models/verifier.safetensors --recipe mlp --seed 0 --max-fp-rate 0.1
