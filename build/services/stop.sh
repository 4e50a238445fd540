#!/usr/bin/env bash
# Stops the services started by build/services/start.sh from the same state folder.
#
# Usage: build/services/stop.sh [--clean] [postgres|redis|minio|tasks ...]   (no service named: all four)
#   --clean  also delete the state folder (data, logs, env files) once everything is stopped
#
#   BACKLESS_SERVICES_DIR  state folder (default /tmp/backless-services)
set -euo pipefail

state=${BACKLESS_SERVICES_DIR:-/tmp/backless-services}
log() { printf 'services: %s\n' "$*" >&2; }

clean=false
services=()
for a in "$@"; do
	case $a in
	--clean) clean=true ;;
	postgres | redis | minio | tasks) services+=("$a") ;;
	*)
		log "unknown argument '$a'"
		exit 2
		;;
	esac
done
[ ${#services[@]} -gt 0 ] || services=(postgres redis minio tasks)

# stop_pid NAME PIDFILE: TERM, up to 15 s for a clean exit, then KILL. Only the process whose id this script's
# sibling recorded is signalled.
stop_pid() {
	local name=$1 pidf=$2 pid
	[ -f "$pidf" ] || return 0
	pid=$(cat "$pidf")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 75); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name did not exit; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pidf"
}

stop_postgres() {
	local data="$state/pg/data" bindir
	[ -f "$data/postmaster.pid" ] || return 0
	bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	local run=()
	if [ "$(id -u)" -eq 0 ]; then
		run=(runuser -u postgres --)
	fi
	if [ -n "$bindir" ] && "${run[@]}" "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		log "stopping postgres"
		"${run[@]}" "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 30 >&2 || true
	fi
}

stop_redis() { stop_pid redis "$state/redis/redis.pid"; }
stop_minio() { stop_pid minio "$state/minio/minio.pid"; }
stop_tasks() { stop_pid "cloud tasks emulator" "$state/tasks/tasks.pid"; }

[ -d "$state" ] || exit 0
for s in "${services[@]}"; do
	"stop_$s"
	rm -f "$state/$s.env.part" "$state/$s.app.env.part"
done

# Rewrite the env files from the fragments of the services still running.
for pair in "env:env.part" "app.env:app.env.part"; do
	out="$state/${pair%%:*}"
	suffix=${pair#*:}
	{
		printf '# Written by build/services/stop.sh; source it.\n'
		for s in postgres redis minio tasks; do
			[ -f "$state/$s.$suffix" ] && grep -h '^export ' "$state/$s.$suffix"
		done
		true
	} >"$out.tmp"
	mv "$out.tmp" "$out"
done

if $clean; then
	if [ ${#services[@]} -eq 4 ]; then
		log "removing $state"
		rm -rf "$state"
	else
		log "--clean ignored: some services may still use $state"
	fi
fi
