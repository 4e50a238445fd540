#!/usr/bin/env bash
# Smoke test of the desktop app: the real binary, on a virtual display (Xvfb), with the real engine and model.
#
#   1. starts Xvfb on a free display and the app with -smoke PHOTO: inside the real page, the photo is dropped on the
#      window as a user would, the page submits it to the Go side (local mode), shows the cutout, and its
#      "Download PNG" button saves it through the same binding the native save dialog uses (the program answers
#      the dialog, nobody else is there); the app checks what the page showed and prints "smoke: ok …";
#   2. checks the saved PNG here too, independently: the photo's size, an alpha channel with both clear and solid
#      pixels;
#   3. takes a screenshot of the display and checks it is not blank (many colours, not one flat tone);
#   4. sends SIGTERM and checks that the app exits cleanly (status 0) in time.
#
# Usage: build/desktop-smoke.sh [BINARY]        (default bin/backless-desktop; build it with `make desktop`)
#   SMOKE_PHOTO      photo to process (default shared/testdata/coffee.jpg)
#   SMOKE_ARTIFACTS  folder for screen.png, cutout.png and the app's logs (default bin/desktop-smoke)
#   SMOKE_TIMEOUT    seconds the app may take to show and save the result (default 300)
# Needs xvfb and imagemagick (build/desktop-deps.sh smoke) and the engine's files (make setup).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/bin/backless-desktop}
photo=${SMOKE_PHOTO:-$root/shared/testdata/coffee.jpg}
art=${SMOKE_ARTIFACTS:-$root/bin/desktop-smoke}
limit=${SMOKE_TIMEOUT:-300}

log() { printf 'desktop-smoke: %s %s\n' "$(date +%T)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	for f in "$art/app.stdout" "$art/app.stderr"; do
		[ -s "$f" ] && { log "--- $f (last lines)"; tail -n 25 "$f" >&2; }
	done
	exit 1
}
for c in Xvfb import identify; do
	command -v "$c" >/dev/null || fail "missing $c: run build/desktop-deps.sh smoke"
done
[ -x "$bin" ] || fail "no binary at $bin: run make desktop"
[ -f "$photo" ] || fail "no photo at $photo"

mkdir -p "$art"
rm -f "$art/cutout.png" "$art/screen.png" "$art/app.stdout" "$art/app.stderr"
work=$(mktemp -d)
xvfb_pid='' app_pid=''
cleanup() {
	if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null || true; fi
	if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# Xvfb picks a free display itself and writes its number to the file descriptor given.
Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
	[ -s "$work/display" ] && break
	kill -0 "$xvfb_pid" 2>/dev/null || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
	sleep 0.1
done
[ -s "$work/display" ] || fail "Xvfb did not report its display"
display=":$(tr -d '[:space:]' <"$work/display")"
log "Xvfb on $display"

# A private settings file: the test run never touches the user's own.
DISPLAY=$display BACKLESS_DESKTOP_SETTINGS="$work/settings.json" \
	"$bin" -smoke "$photo" -smoke-out "$art/cutout.png" -smoke-timeout "${limit}s" \
	>"$art/app.stdout" 2>"$art/app.stderr" &
app_pid=$!

deadline=$((SECONDS + limit + 60))
until grep -q '^smoke: ' "$art/app.stdout"; do
	kill -0 "$app_pid" 2>/dev/null || fail "the app exited before reporting"
	[ $SECONDS -lt $deadline ] || fail "no report from the app within $((limit + 60)) s"
	sleep 0.5
done
grep -q '^smoke: ok' "$art/app.stdout" || fail "$(grep '^smoke: ' "$art/app.stdout")"
log "$(grep '^smoke: ok' "$art/app.stdout")"

# The saved cutout, checked with other tools than the app's own.
[ -s "$art/cutout.png" ] || fail "no cutout at $art/cutout.png"
want=$(identify -format '%wx%h' "${photo}[0]")
read -r format size channels amin amax < <(identify -format '%m %wx%h %[channels] %[fx:round(minima.a*255)] %[fx:round(maxima.a*255)]\n' "$art/cutout.png")
[ "$format" = PNG ] || fail "cutout is $format, not PNG"
[ "$size" = "$want" ] || fail "cutout is $size, the photo $want"
[[ $channels == *a ]] || fail "cutout has no alpha channel ($channels)"
if [ "$amin" -ne 0 ] || [ "$amax" -lt 250 ]; then
	fail "cutout alpha spans $amin..$amax; a cutout has clear and solid parts"
fi
log "cutout ok: $format $size $channels, alpha $amin..$amax"

# The window, as the user sees it.
DISPLAY=$display import -window root "$art/screen.png" || fail "screenshot failed"
read -r colours spread < <(identify -format '%k %[fx:standard_deviation]\n' "$art/screen.png")
[ "$colours" -ge 1000 ] || fail "screenshot has only $colours colours: the window looks blank"
awk -v s="$spread" 'BEGIN { exit !(s >= 0.05) }' || fail "screenshot is nearly flat (standard deviation $spread)"
log "screenshot ok: $colours colours, standard deviation $spread: $art/screen.png"

# A clean exit on SIGTERM, as from a session's logout.
kill -TERM "$app_pid"
for _ in $(seq 300); do
	kill -0 "$app_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$app_pid" 2>/dev/null; then
	fail "the app did not exit within 30 s of SIGTERM"
fi
status=0
wait "$app_pid" || status=$?
app_pid=
[ "$status" -eq 0 ] || fail "the app exited with status $status"
log "ok: the app exited cleanly"
