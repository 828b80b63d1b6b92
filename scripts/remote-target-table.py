#!/usr/bin/env python3
"""Summarises scripts/bench-remote-target.sh's output folder: per delay and method tokens/s, target
calls and HTTP calls per token, ROUGE-L; the token-for-token check of greedy SD and strict-on-call
through HTTP against local AR; and the 5%-fault run against the fault-free one. Usage: OUT_DIR"""
import json, os, sys

out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, name, "results.json")))
def runs(results):
    return {(r["id"], r["method"]): r for r in results["runs"]}

local = runs(load("local"))
local_ar = {i: r["output"] for (i, m), r in local.items() if m == "ar"}

print("| added delay | method | tokens/s | target calls / token | HTTP calls / token | ROUGE-L |")
print("|---:|---|---:|---:|---:|---:|")
for delay in (0, 5, 20, 50):
    name = f"delay-{delay}"
    if not os.path.exists(os.path.join(out, name, "results.json")): continue
    res = load(name)
    by_method = {}
    for r in res["runs"]: by_method.setdefault(r["method"], []).append(r)
    for m in res["methods"]:
        rs = by_method[m["name"]]
        http = sum(r["http_calls"] or 0 for r in rs) / sum(r["new_tokens"] for r in rs)
        print(f"| {delay} ms | {m['name']} | {1000 / m['ms_per_token']:.1f} | {m['target_calls_per_token']:.3f} | {http:.3f} | {m['rouge_l']:.2f} |")

print()
for delay in (0, 5, 20, 50):
    name = f"delay-{delay}"
    if not os.path.exists(os.path.join(out, name, "results.json")): continue
    remote = runs(load(name))
    for method in sorted({m for (_, m) in remote}):
        if not (method.startswith("sd-") or "strict-on-call" in method or method == "ar"): continue
        pairs = [(r["output"], local_ar[i]) for (i, m), r in remote.items() if m == method]
        same = sum(a == b for a, b in pairs)
        print(f"{name} {method}: {same}/{len(pairs)} prompts equal local AR token for token")

faults = os.path.join(out, "faults-5pct", "results.json")
if os.path.exists(faults):
    f, clean = runs(load("faults-5pct")), runs(load("delay-0"))
    same = sum(f[k]["output"] == clean[k]["output"] for k in f if k in clean)
    lost = sum(abs(len(f[k]["output"]) - len(clean[k]["output"])) for k in f if k in clean)
    calls = sum(r["http_calls"] or 0 for r in f.values()); retries = sum(r["http_retries"] or 0 for r in f.values())
    print(f"faults-5pct: {same}/{len(f)} runs give the fault-free output; length differences {lost}; {retries} retries in {calls} HTTP calls ({100 * retries / max(calls, 1):.1f}%)")
