#!/bin/sh
# Entry point of docker-compose.yml's postgres service: takes the user, password and database from DATABASE_URL (the
# URL the server and workers connect with) and starts the official image's own entry point with them, so that .env
# holds the database password once. Like POSTGRES_PASSWORD, they only take effect when the data volume is first
# initialised; to change the password later, change it in the database too (ALTER ROLE).
#
# The password is used as written: keep to letters, digits and - . _ ~ , which need no percent-encoding in a URL.
set -eu

die() {
	echo "postgres-from-url: $*" >&2
	exit 1
}

[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set (see .env.example)"
rest=${DATABASE_URL#*://}   # user:password@host:port/db?params
case $rest in
*@*) ;;
*) die "DATABASE_URL has no user:password@ part" ;;
esac
creds=${rest%%@*}
case $creds in
*:*) ;;
*) die "DATABASE_URL has no password" ;;
esac
user=${creds%%:*}
password=${creds#*:}
db=${rest#*@}
case $db in
*/*) db=${db#*/} ;;
*) db= ;;
esac
db=${db%%\?*}

[ -n "$user" ] || die "DATABASE_URL has an empty user name"
[ -n "$password" ] || die "DATABASE_URL has an empty password"
case $password in
*%*) die "DATABASE_URL's password is percent-encoded; use letters, digits and - . _ ~ only" ;;
esac

POSTGRES_USER=$user
POSTGRES_PASSWORD=$password
POSTGRES_DB=${db:-$user}
export POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB
unset DATABASE_URL
exec docker-entrypoint.sh "$@"
