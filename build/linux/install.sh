#!/usr/bin/env bash
# Installs the desktop app for the current user, so that it appears in the desktop's application menu:
#   ~/.local/bin/backless-desktop, the icon, and the menu entry (build/linux/backless.desktop).
#
# Usage: build/linux/install.sh [BINARY]     (default bin/backless-desktop; build it with `make desktop`)
#        build/linux/install.sh --uninstall
#   PREFIX  install under this folder instead of ~/.local
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prefix=${PREFIX:-$HOME/.local}
bin_dir=$prefix/bin
icon=$prefix/share/icons/hicolor/512x512/apps/backless.png
entry=$prefix/share/applications/backless.desktop

if [ "${1:-}" = --uninstall ]; then
	rm -f "$bin_dir/backless-desktop" "$icon" "$entry"
	echo "removed Backless from $prefix"
	exit 0
fi

bin=${1:-$root/bin/backless-desktop}
[ -x "$bin" ] || { echo "no binary at $bin: run make desktop" >&2; exit 1; }
install -D -m 0755 "$bin" "$bin_dir/backless-desktop"
install -D -m 0644 "$root/build/appicon.png" "$icon"
# The entry names the binary by its full path, since ~/.local/bin is not always on a session's PATH.
install -d "$(dirname "$entry")"
sed "s|^Exec=.*|Exec=$bin_dir/backless-desktop|" "$here/backless.desktop" >"$entry"
chmod 0644 "$entry"
if command -v update-desktop-database >/dev/null; then
	update-desktop-database -q "$(dirname "$entry")" || true
fi
echo "installed Backless: $bin_dir/backless-desktop (menu entry $entry)"
