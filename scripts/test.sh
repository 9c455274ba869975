#!/usr/bin/env bash
# Runs fedcred's whole test suite on a fresh machine: installs what the suite
# needs (a C compiler for the race detector, PostgreSQL for the second store
# backend and the replica tests), starts PostgreSQL if it is not running,
# then checks formatting, vets, and runs every test with the race detector.
#
# FEDCRED_TEST_POSTGRES_URL picks the PostgreSQL to test against; by default
# the local server on 127.0.0.1:5432, database "test", trust authentication.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v go >/dev/null || { echo "go is required (Go 1.26 or newer): https://go.dev/dl" >&2; exit 1; }
command -v gcc >/dev/null || apt_install gcc   # the race detector needs cgo
# Debian's chromium: the portal's browser tests (test/portal) drive it headless.
[ -x /usr/bin/chromium ] || apt_install chromium

# PostgreSQL: use the one given, else make sure the local one runs.
if [ -z "${FEDCRED_TEST_POSTGRES_URL:-}" ]; then
  if ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql postgresql-client
    installed_postgres=1
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    if [ "${installed_postgres:-0}" = 1 ]; then
      # A fresh install: let local TCP clients in without a password, as the
      # suite expects (this machine only; 127.0.0.1 and ::1).
      hba=/etc/postgresql/$version/main/pg_hba.conf
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
  fi
  export FEDCRED_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
fi

unformatted=$(gofmt -l cmd internal pkg test)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 15m ./...
