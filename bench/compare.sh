#!/usr/bin/env bash
# Tessera beside its peers (@node-oauth/oauth2-server, Authlib), measured from outside with wrk,
# interleaved, in one run. See bench/README.md.
#
#   bench/compare.sh [--duration S] [--connections N] [--threads N] [--rounds K] [--warmup S]
#                    [--preload N] [--scenarios LIST] [--servers LIST] [--no-build] [--keep]
#
# CARGO_TARGET_DIR defaults to target-bench (so the release build never waits on the main
# target's lock); the peers' packages are installed into $CARGO_TARGET_DIR/peers.
# Set TESSERA_TEST_POSTGRES_URL (loopback) to include Tessera on PostgreSQL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-bench}"
exec python3 "$root/bench/compare.py" "$@"
