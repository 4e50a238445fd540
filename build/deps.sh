#!/usr/bin/env bash
# Installs the Debian packages Backless's build and tests need, if any is missing. Idempotent and quiet when all
# are present. Usage: build/deps.sh [run|test]  (run: what `make run` needs; test: everything the tests use)
set -euo pipefail

run_pkgs=(gcc make git curl nodejs npm)
test_pkgs=(postgresql redis-server chromium xvfb xauth x11-apps imagemagick libgtk-3-dev libwebkit2gtk-4.1-dev pkg-config docker-compose)

want=("${run_pkgs[@]}")
[ "${1:-test}" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  # A tool the machine already has from elsewhere (e.g. Node.js installed outside apt) counts as present.
  case $p in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
    gcc|make|git|curl) command -v "$p" >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
