#!/usr/bin/env bash
# Runs fedcred's whole test suite on a fresh machine: installs what the suite
# needs (a C compiler for the race detector, PostgreSQL for the second store
# backend and the replica tests, Chromium, and the Azure clients of the
# compatibility suite: az, python3-azure, Node packages), starts PostgreSQL if it is not running,
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
# The real Azure clients of the compatibility suite (test/compat; on CI a
# missing client fails it): Debian's azure-cli 2.45, which pulls python3-azure
# and python3-msal; Node with the npm packages pinned in
# test/compat/node/package-lock.json. The Go SDK modules (azidentity, armmsi,
# azsecrets) are in go.mod and come with 'go test'.
command -v az >/dev/null || apt_install azure-cli
/usr/bin/python3 -c 'import azure.identity, azure.mgmt.msi, azure.keyvault.secrets, msal' 2>/dev/null ||
  apt_install python3-azure python3-msal
command -v npm >/dev/null || apt_install nodejs npm
(cd test/compat/node && npm ci --no-audit --no-fund --loglevel=error)

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

# Fuzzing, bounded: each target runs a fixed number of executions (about ten
# seconds' worth on a 2-core machine) from its seed corpus (f.Add and
# testdata/fuzz); FEDCRED_FUZZ_TIME (e.g. 60s or 200000x) overrides the
# budget of every target, and FEDCRED_FUZZ=0 skips fuzzing. Budgets are counts
# rather than durations because Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a duration ends while a worker is
# busy (go.dev/issue/75804). A failing input is written to the package's
# testdata/fuzz to replay.
if [ "${FEDCRED_FUZZ:-1}" != 0 ]; then
  while read -r pkg target budget; do
    echo "fuzz $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FEDCRED_FUZZ_TIME:-$budget}" -timeout 10m "$pkg" </dev/null
  done <<'EOF'
./internal/sts FuzzParseTokenRequest 20000x
./internal/sts FuzzVerifyAssertion 60000x
./internal/sts FuzzSignedAssertion 4000x
./internal/arm FuzzValidateCredential 60000x
./pkg/accesstoken FuzzValidate 60000x
./pkg/accesstoken FuzzValidateSignedClaims 3000x
./internal/ratelimit FuzzClientKeys 50000x
EOF
fi
