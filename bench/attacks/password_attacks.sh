#!/bin/sh
# usage: bench/attacks/password_attacks.sh BINARY PORT (issue 10, items 1 and 2) — a fresh SQLite server with one client and user alice, then the attacks.
set -eu
HERE=$(dirname "$0")
BIN=$1; PORT=$2; DIR=$(mktemp -d); DB="sqlite://$DIR/tessera.db"
"$BIN" client create --name attack --json --database-url "$DB" > "$DIR/client.json"
ID=$(python3 -c "import json,sys;print(json.load(open('$DIR/client.json'))['client_id'])")
SECRET=$(python3 -c "import json,sys;print(json.load(open('$DIR/client.json'))['client_secret'])")
echo 'correct horse battery staple' | "$BIN" user create --username alice --password-stdin --database-url "$DB" >/dev/null
"$BIN" serve --listen 127.0.0.1:$PORT --database-url "$DB" > "$DIR/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
until curl -sf http://127.0.0.1:$PORT/healthz >/dev/null; do sleep 0.2; done
echo "== 200 concurrent wrong passwords for alice from 127.0.0.2, released at once"
python3 "$HERE/password_burst.py" $PORT "$ID" "$SECRET" 200 same 127.0.0.2
echo "== then alice's right password from 127.0.0.3"
python3 "$HERE/password_burst.py" $PORT "$ID" "$SECRET" 1 same 127.0.0.3 'correct horse battery staple'
echo "== then the right password from the attacker's 127.0.0.2"
python3 "$HERE/password_burst.py" $PORT "$ID" "$SECRET" 1 same 127.0.0.2 'correct horse battery staple'
echo "== 200 concurrent sign-ins for 200 distinct unknown usernames (the Argon2 queue), from 127.0.0.4"
python3 "$HERE/password_burst.py" $PORT "$ID" "$SECRET" 200 distinct 127.0.0.4
