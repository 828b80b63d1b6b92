#!/usr/bin/env bash
# The target behind HTTP (issue 22): one Sprinter serves the shipped target in AR mode on loopback
# with an added delay per call (and, last, 5% injected faults); `sprinter bench --target URL` runs
# AR, SD and SPRINTER with the local draft and verifier against it. Also a local bench for the
# token-for-token comparison. Usage: scripts/bench-remote-target.sh OUT_DIR [PROMPTS]
set -euo pipefail
out=${1:?usage: $0 OUT_DIR [PROMPTS]}; prompts=${2:-100}
cd "$(dirname "$0")/.."
dotnet build src/Sprinter.Cli -c Release -v q -nologo >/dev/null
mkdir -p "$out"
# A copy of the build, so that rebuilding the tree during the run changes nothing.
rm -rf "$out/bin" && cp -r src/Sprinter.Cli/bin/Release/net10.0 "$out/bin"
cli="$out/bin/Sprinter.Cli"
port=18517
serve() {   # serve DELAY_MS FAIL_RATE: starts the target server, waits until it answers
  "$cli" serve --mode ar --port $port --max-concurrent 1 --debug-delay-ms "$1" --debug-fail-rate "$2" --debug-seed 1 >"$out/serve-$1-$2.log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.5; done
  echo "server did not start" >&2; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
"$cli" bench --quick --prompts "$prompts" --out "$out/local" >"$out/local.txt"
for delay in 0 5 20 50; do
  serve "$delay" 0
  gammas=4; thresholds=calibrated
  [ "$delay" = 20 ] && gammas=4,2,3,6,8 && thresholds=calibrated,0.3
  "$cli" bench --dataset lm1b --sampling greedy --threshold "$thresholds" --gamma "$gammas" $([ "$delay" = 20 ] || echo --quick) \
    --prompts "$prompts" --target "http://127.0.0.1:$port/v1" --out "$out/delay-$delay" >"$out/delay-$delay.txt"
  stop
done
serve 0 0.05
"$cli" bench --quick --prompts "$prompts" --target "http://127.0.0.1:$port/v1" --target-retries 8 --out "$out/faults-5pct" >"$out/faults-5pct.txt"
stop
echo "done: $out"
