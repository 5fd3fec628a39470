#!/usr/bin/env bash
# Installs what the recipe tests run besides Rust: Python `requests` and PyJWT (the guide's
# Python recipe and an independent JWT verifier) and Node.js `axios` (the guide's Node.js
# recipe), the latter into target/recipes/ so nothing global changes.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import requests, jwt, cryptography' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check requests 'pyjwt[crypto]'
if [ ! -d target/recipes/node_modules/axios ]; then
  mkdir -p target/recipes
  npm install --silent --no-audit --no-fund --prefix target/recipes axios >/dev/null
fi
