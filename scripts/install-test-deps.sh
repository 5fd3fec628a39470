#!/usr/bin/env bash
# Installs what the tests run besides Rust: Python `requests` and PyJWT (the guide's
# Python recipe and an independent JWT verifier), Authlib (the independent OpenID Connect
# relying party of the server's browser test), Node.js `axios` (the guide's Node.js
# recipe), the latter into target/recipes/ so nothing global changes, and Chromium with
# chromedriver (the browser tests of the authorization-code flow drive a real browser
# through `tessera_testkit::webdriver`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import requests, jwt, cryptography' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check requests 'pyjwt[crypto]'
python3 -c 'import authlib' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check authlib
if [ ! -d target/recipes/node_modules/axios ]; then
  mkdir -p target/recipes
  npm install --silent --no-audit --no-fund --prefix target/recipes axios >/dev/null
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  # Debian packages; sudo only when not already root (CI containers often are). `env` rather
  # than an exported variable, because sudo drops the environment.
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
