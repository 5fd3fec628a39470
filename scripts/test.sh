#!/usr/bin/env bash
# The whole test suite: installs the recipe tests' Python and Node.js packages if missing,
# then runs every crate's tests. Set TESSERA_TEST_POSTGRES_URL to include PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo test --workspace --locked "$@"
