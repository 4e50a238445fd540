#!/usr/bin/env bash
# Starts the services the backend tests run against, as plain processes on 127.0.0.1 (no Docker engine here):
#   postgres  PostgreSQL from Debian's packages, a throw-away cluster under the state folder
#   redis     Redis from Debian's packages
#   minio     MinIO (S3-compatible), built once with the Go toolchain and cached, with a test bucket
#   tasks     the Cloud Tasks emulator (aertje/cloud-tasks-emulator v1.2.0), built once and cached, with a queue
#
# Usage: build/services/start.sh [postgres|redis|minio|tasks ...]   (no argument: all four)
# Prints the path of the env file on stdout (everything else goes to stderr), so a caller can do
#   . "$(build/services/start.sh)"
# The env file exports the BACKLESS_TEST_* variables the tests read. A second file, app.env beside it, exports the
# same endpoints under the names the server and worker read, for running them by hand against these services.
#
# Idempotent: a service already running from this state folder is reused. Stop them all with build/services/stop.sh.
# Missing binaries are installed with apt-get (as root) or the Go toolchain; nothing else is downloaded.
#
#   BACKLESS_SERVICES_DIR  state folder: data, logs, pid files, env (default /tmp/backless-services)
#   BACKLESS_CACHE         cache folder for the built binaries (default ${XDG_CACHE_HOME:-$HOME/.cache}/backless)
#   BACKLESS_PG_PORT, BACKLESS_REDIS_PORT, BACKLESS_MINIO_PORT, BACKLESS_TASKS_PORT   ports (55432 56379 59000 58123)
set -euo pipefail

# Pinned versions. MinIO publishes no semantic-version tags, so its module version is a pseudo-version (the newest
# the Go module proxy served when this was written; it builds with Go 1.26).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
TASKS_MODULE=github.com/aertje/cloud-tasks-emulator
TASKS_VERSION=v1.2.0

state=${BACKLESS_SERVICES_DIR:-/tmp/backless-services}
cache=${BACKLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/backless}
pg_port=${BACKLESS_PG_PORT:-55432}
redis_port=${BACKLESS_REDIS_PORT:-56379}
minio_port=${BACKLESS_MINIO_PORT:-59000}
tasks_port=${BACKLESS_TASKS_PORT:-58123}

pg_user=postgres
pg_password=backless
pg_db=backless_test
s3_bucket=backless-test
s3_region=us-east-1
s3_access_key=backless
s3_secret_key=backless-secret-key
tasks_project=backless-test
tasks_region=local
tasks_queue=remove-background

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_for NAME SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds or the time is up.
wait_for() {
	local name=$1 secs=$2
	shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || die "$name did not come up within ${secs}s; see its log under $state"
		sleep 0.2
	done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

apt_updated=false
apt_install() {
	[ "$(id -u)" -eq 0 ] || die "need $* but not root: install it with apt-get yourself"
	mkdir -p "$state"
	if ! $apt_updated; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update >"$state/apt.log" 2>&1 ||
			die "apt-get update failed; see $state/apt.log"
		apt_updated=true
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$state/apt.log" 2>&1 ||
		die "apt-get install $* failed; see $state/apt.log"
}

# go_tool NAME MODULE VERSION: prints the path of a cached binary, building it with go install on first use. The
# version is part of the path, so changing the pin rebuilds.
go_tool() {
	local name=$1 module=$2 version=$3
	local dir="$cache/bin/$name-$version"
	if [ ! -x "$dir/$name" ]; then
		command -v go >/dev/null || die "the Go toolchain is needed to build $name"
		log "building $module@$version (first run only; this can take minutes)"
		mkdir -p "$dir"
		# In a scratch module rather than 'go install module@version': that form also asks the module proxy for the
		# module's version list, which is refused for some modules (the emulator's among them); 'go get' of an exact
		# version is not. The scratch module also keeps the project's go.mod and any GOFLAGS=-mod=... out of it.
		local scratch
		scratch=$(mktemp -d)
		(
			cd "$scratch" &&
				GOFLAGS='' go mod init backless.invalid/tools >/dev/null 2>&1 &&
				GOFLAGS='' go get "$module@$version" &&
				GOBIN="$dir" GOFLAGS='' go install "$module"
		) >&2 || {
			rm -rf "$scratch"
			die "building $module@$version failed"
		}
		rm -rf "$scratch"
	fi
	printf '%s\n' "$dir/$name"
}

start_postgres() {
	local bindir
	bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
		apt_install postgresql
		bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	fi
	local data="$state/pg/data" sock="$state/pg/sock"
	# The cluster must belong to a non-root user: postgres refuses to run as root.
	local run=()
	if [ "$(id -u)" -eq 0 ]; then
		run=(runuser -u postgres --)
	fi
	if "${run[@]}" "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
		log "postgres already running on port $pg_port"
	else
		mkdir -p "$state/pg" "$sock"
		if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$state/pg"; fi
		if [ ! -f "$data/PG_VERSION" ]; then
			local pw="$state/pg/pwfile"
			printf '%s\n' "$pg_password" >"$pw"
			if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pw"; fi
			"${run[@]}" "$bindir/initdb" -D "$data" -U "$pg_user" --pwfile="$pw" --auth-local=trust \
				--auth-host=scram-sha-256 -E UTF8 --no-locale >"$state/pg/initdb.log" 2>&1 ||
				die "initdb failed; see $state/pg/initdb.log"
			rm -f "$pw"
		fi
		log "starting postgres on 127.0.0.1:$pg_port"
		# Durability settings off: this cluster is thrown away, and the tests go faster without fsync.
		"${run[@]}" "$bindir/pg_ctl" start -D "$data" -l "$state/pg/postgres.log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $pg_port -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			>&2 || die "postgres did not start; see $state/pg/postgres.log"
	fi
	if ! "${run[@]}" "$bindir/psql" -h "$sock" -p "$pg_port" -U "$pg_user" -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = '$pg_db'" | grep -q 1; then
		"${run[@]}" "$bindir/createdb" -h "$sock" -p "$pg_port" -U "$pg_user" "$pg_db" >&2
	fi
	env_test+=("BACKLESS_TEST_DATABASE_URL=postgres://$pg_user:$pg_password@127.0.0.1:$pg_port/$pg_db?sslmode=disable")
	env_app+=("DATABASE_URL=postgres://$pg_user:$pg_password@127.0.0.1:$pg_port/$pg_db?sslmode=disable")
}

start_redis() {
	command -v redis-server >/dev/null || apt_install redis-server
	local dir="$state/redis" pidf="$state/redis/redis.pid"
	mkdir -p "$dir"
	if pid_alive "$pidf" && redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; then
		log "redis already running on port $redis_port"
	else
		log "starting redis on 127.0.0.1:$redis_port"
		# No persistence: pub/sub needs none and the data is throw-away.
		redis-server --bind 127.0.0.1 --port "$redis_port" --protected-mode yes --dir "$dir" --save '' \
			--appendonly no --daemonize yes --pidfile "$pidf" --logfile "$dir/redis.log" >&2
		wait_for redis 30 sh -c "redis-cli -h 127.0.0.1 -p $redis_port ping | grep -q PONG"
	fi
	env_test+=("BACKLESS_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0")
	env_app+=("REDIS_URL=redis://127.0.0.1:$redis_port/0")
}

start_minio() {
	command -v curl >/dev/null || apt_install curl ca-certificates
	local bin dir="$state/minio" pidf="$state/minio/minio.pid"
	bin=$(go_tool minio "$MINIO_MODULE" "$MINIO_VERSION")
	mkdir -p "$dir/data"
	local endpoint="http://127.0.0.1:$minio_port"
	if pid_alive "$pidf" && curl -fsS "$endpoint/minio/health/live" >/dev/null 2>&1; then
		log "minio already running on port $minio_port"
	else
		log "starting minio on 127.0.0.1:$minio_port"
		# The console and update checks are off: nothing here may call out, and the console is not needed.
		MINIO_ROOT_USER=$s3_access_key MINIO_ROOT_PASSWORD=$s3_secret_key MINIO_BROWSER=off MINIO_UPDATE=off \
			MINIO_CALLHOME_ENABLE=off MINIO_REGION=$s3_region \
			setsid nohup "$bin" server "$dir/data" --address "127.0.0.1:$minio_port" \
			--console-address "127.0.0.1:$((minio_port + 1))" --quiet >"$dir/minio.log" 2>&1 </dev/null &
		echo $! >"$pidf"
		wait_for minio 60 curl -fsS "$endpoint/minio/health/ready"
	fi
	# Create the bucket with a signed PUT (curl signs SigV4 itself, so no MinIO client is needed). 409 means it exists.
	# MinIO reports ready a moment before it accepts bucket operations (503 XMinioServerNotInitialized), so retry.
	local code deadline=$((SECONDS + 60))
	while :; do
		code=$(curl -sS -o "$dir/mkbucket.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$s3_region:s3" \
			--user "$s3_access_key:$s3_secret_key" "$endpoint/$s3_bucket" || echo 000)
		case $code in
		200 | 409) break ;;
		esac
		[ "$SECONDS" -lt "$deadline" ] || die "creating bucket $s3_bucket: HTTP $code: $(cat "$dir/mkbucket.out")"
		sleep 0.5
	done
	env_test+=("BACKLESS_TEST_S3_ENDPOINT=$endpoint" "BACKLESS_TEST_S3_BUCKET=$s3_bucket"
		"BACKLESS_TEST_S3_REGION=$s3_region" "BACKLESS_TEST_S3_ACCESS_KEY=$s3_access_key"
		"BACKLESS_TEST_S3_SECRET_KEY=$s3_secret_key")
	env_app+=("STORAGE=s3" "S3_ENDPOINT=$endpoint" "S3_BUCKET=$s3_bucket" "S3_REGION=$s3_region"
		"S3_PATH_STYLE=true" "AWS_ACCESS_KEY_ID=$s3_access_key" "AWS_SECRET_ACCESS_KEY=$s3_secret_key")
}

start_tasks() {
	local bin dir="$state/tasks" pidf="$state/tasks/tasks.pid"
	bin=$(go_tool cloud-tasks-emulator "$TASKS_MODULE" "$TASKS_VERSION")
	mkdir -p "$dir"
	local queue="projects/$tasks_project/locations/$tasks_region/queues/$tasks_queue"
	if pid_alive "$pidf" && port_open "$tasks_port"; then
		log "cloud tasks emulator already running on port $tasks_port"
	else
		log "starting the cloud tasks emulator on 127.0.0.1:$tasks_port"
		# No -openid-issuer: that would open a second listener on all interfaces. Tokens are still signed.
		setsid nohup "$bin" -host 127.0.0.1 -port "$tasks_port" -queue "$queue" \
			>"$dir/tasks.log" 2>&1 </dev/null &
		echo $! >"$pidf"
		wait_for "cloud tasks emulator" 30 port_open "$tasks_port"
	fi
	env_test+=("BACKLESS_TEST_CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:$tasks_port"
		"BACKLESS_TEST_PROJECT_NAME=$tasks_project" "BACKLESS_TEST_QUEUE_REGION=$tasks_region"
		"BACKLESS_TEST_QUEUE_ID=$tasks_queue")
	env_app+=("CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:$tasks_port" "PROJECT_NAME=$tasks_project"
		"QUEUE_REGION=$tasks_region" "QUEUE_ID=$tasks_queue")
}

services=("$@")
[ ${#services[@]} -gt 0 ] || services=(postgres redis minio tasks)
for s in "${services[@]}"; do
	case $s in
	postgres | redis | minio | tasks) ;;
	*) die "unknown service '$s' (known: postgres redis minio tasks)" ;;
	esac
done

mkdir -p "$state"
# Other users (postgres) must be able to reach their folders inside.
chmod 755 "$state"

# write_env FILE NAME=VALUE...: writes export lines atomically, so a concurrent reader never sees half a file.
write_env() {
	local file=$1
	shift
	{
		printf '# Written by build/services/start.sh; source it.\n'
		# Single quotes, with any single quote in a value written as '\'', so the file is plain to read.
		local kv v q="'\\''"
		for kv in "$@"; do
			v=${kv#*=}
			printf "export %s='%s'\n" "${kv%%=*}" "${v//\'/$q}"
		done
	} >"$file.tmp"
	mv "$file.tmp" "$file"
}

# Each service leaves its variables in a fragment (removed by stop.sh); the env files join the fragments of every
# service running from this state folder, so starting one service later does not drop the others' variables.
for s in "${services[@]}"; do
	env_test=()
	env_app=()
	"start_$s"
	write_env "$state/$s.env.part" "${env_test[@]}"
	write_env "$state/$s.app.env.part" "${env_app[@]}"
done
join_env() {
	local out=$1 suffix=$2 s
	{
		printf '# Written by build/services/start.sh; source it.\n'
		for s in postgres redis minio tasks; do
			[ -f "$state/$s.$suffix" ] && grep -h '^export ' "$state/$s.$suffix"
		done
		true
	} >"$out.tmp"
	mv "$out.tmp" "$out"
}
join_env "$state/env" env.part
join_env "$state/app.env" app.env.part
log "ready: ${services[*]}; env in $state/env"
printf '%s\n' "$state/env"
