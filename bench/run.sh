#!/usr/bin/env bash
# Refresh-token throughput on SQLite and PostgreSQL against same-run baselines (see bench/README.md).
#
#   bench/run.sh [--workers N] [--duration SECONDS] [--rounds N] [--warmup SECONDS] [--connections N] [--scenarios LIST]
#   bench/run.sh --help
#
# Arguments go to the benchmark unchanged; TESSERA_BENCH_* variables work too (arguments win).
# TESSERA_TEST_POSTGRES_URL defaults to the CI server on loopback; set it to "" to run SQLite only.
# CARGO_TARGET_DIR defaults to target-bench so a benchmark build never waits on the main target's lock.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-bench}"
export TESSERA_TEST_POSTGRES_URL="${TESSERA_TEST_POSTGRES_URL-postgres://postgres@127.0.0.1:5432/test}"

exec cargo bench -p tessera-server --bench refresh_load -- "$@"
