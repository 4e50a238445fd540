#!/usr/bin/env bash
# Installs the Debian packages the desktop app needs, only those that are missing:
#   build   libgtk-3-dev libwebkit2gtk-4.1-dev (cgo headers and pkg-config files for Wails' Linux frontend)
#   smoke   xvfb xauth (a display for the real binary in CI), imagemagick (import: screenshot; identify: checks)
#
# Usage: build/desktop-deps.sh [build|smoke ...]   (no argument: both)
# Idempotent and quiet when everything is there; runs `apt-get update` once, only when something must be installed.
set -euo pipefail

log() { printf 'desktop-deps: %s\n' "$*" >&2; }

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build smoke)

want=()
for g in "${groups[@]}"; do
	case "$g" in
	build) want+=(libgtk-3-dev libwebkit2gtk-4.1-dev pkg-config gcc) ;;
	smoke) want+=(xvfb xauth imagemagick) ;;
	*)
		log "unknown group $g (want build or smoke)"
		exit 2
		;;
	esac
done

missing=()
for p in "${want[@]}"; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -gt 0 ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
	log "missing ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
	exit 1
fi
aptlog=$(mktemp)
trap 'rm -f "$aptlog"' EXIT
apt() {
	if ! DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$aptlog" 2>&1; then
		tail -n 30 "$aptlog" >&2
		log "apt-get $1 failed"
		exit 1
	fi
}
log "apt-get update"
apt update -qq
log "apt-get install ${missing[*]}"
apt install -y -qq --no-install-recommends "${missing[@]}"
