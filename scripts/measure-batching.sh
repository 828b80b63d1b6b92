#!/usr/bin/env bash
# Continuous batching under load (issue 20), one run on this machine: the shipped pair, greedy,
# max_tokens 64, `sprinter load --sweep` at 1, 4, 16 and 64 streams for ar, sd and sprinter against
# one server (`serve --max-batch 64`, SD's gamma adapted by the cost model), then SD at the fixed
# gamma 4 peers use (`serve --fixed-gamma`), then the unbatched server of before (`--no-batching`)
# at one stream. The load driver runs on the same 2 cores as the server: it steals CPU from it, so
# each row also reports the server's own per-step timings (read from /metrics).
# Usage: scripts/measure-batching.sh OUT_DIR [SECONDS_PER_ROW] [SOAK_SECONDS]
set -euo pipefail
out=${1:?usage: $0 OUT_DIR [SECONDS_PER_ROW] [SOAK_SECONDS]}; seconds=${2:-5}; soak=${3:-0}
cd "$(dirname "$0")/.."
dotnet build src/Sprinter.Cli -c Release -v q -nologo >/dev/null
mkdir -p "$out"
rm -rf "$out/bin" && cp -r src/Sprinter.Cli/bin/Release/net10.0 "$out/bin"   # rebuilding the tree changes nothing below
cli="$out/bin/Sprinter.Cli"
port=18611
serve() {   # serve NAME ARGS...: starts a server, waits until it answers
  local name=$1; shift
  "$cli" serve --port $port --queue 512 "$@" >"$out/serve-$name.log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.5; done
  echo "server did not start" >&2; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
load() { "$cli" load --url "http://127.0.0.1:$port/" --max-tokens 64 --temperature 0 --duration "$seconds" "$@"; }

serve batched --max-batch 64
load --sweep 1,4,16,64 --modes ar,sd,sprinter --out "$out/batched" | tee "$out/batched.txt"
stop
serve fixed-gamma --max-batch 64 --fixed-gamma
load --sweep 1,4,16,64 --modes sd --out "$out/fixed-gamma" | tee "$out/fixed-gamma.txt"
stop
serve unbatched --max-batch 64 --no-batching
load --sweep 1 --modes ar,sd,sprinter --out "$out/unbatched" | tee "$out/unbatched.txt"
stop
if [ "$soak" -gt 0 ]; then
  serve soak --max-batch 64
  "$cli" load --url "http://127.0.0.1:$port/" --clients 64 --max-tokens 64 --temperature 0 --duration "$soak" --mode sd --json >"$out/soak.json"
  stop
fi
echo "wrote $out"
