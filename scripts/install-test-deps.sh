#!/usr/bin/env bash
# Installs what the tests run besides Rust: Python `requests` and PyJWT (the guide's
# Python recipe and an independent JWT verifier), Authlib (the independent OpenID Connect
# relying party of the server's browser test), openapi-spec-validator (an independent check
# of /openapi.json), Node.js `axios` (the guide's Node.js recipe) and `newman` (Postman's
# runner, for interop/postman/), the latter two into target/recipes/ so nothing global
# changes, and Chromium with
# chromedriver (the browser tests of the authorization-code flow drive a real browser
# through `tessera_testkit::webdriver`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import requests, jwt, cryptography' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check requests 'pyjwt[crypto]'
python3 -c 'import authlib' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check authlib
python3 -c 'import openapi_spec_validator' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'openapi-spec-validator>=0.7'
node_packages=()
[ -d target/recipes/node_modules/axios ] || node_packages+=(axios)
[ -x target/recipes/node_modules/.bin/newman ] || node_packages+=(newman@6)
if [ "${#node_packages[@]}" -gt 0 ]; then
  mkdir -p target/recipes
  npm install --silent --no-audit --no-fund --prefix target/recipes "${node_packages[@]}" >/dev/null
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
