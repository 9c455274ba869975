#!/usr/bin/env bash
# Runs fedcred's whole test suite on a fresh machine: installs what the suite
# needs, then vets and tests every package with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v go >/dev/null || { echo "go is required (Go 1.26 or newer): https://go.dev/dl" >&2; exit 1; }
command -v gcc >/dev/null || need_apt+=(gcc)   # the race detector needs cgo
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"
  fi
fi

unformatted=$(gofmt -l cmd internal pkg test)
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 15m ./...
