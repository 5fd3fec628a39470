#!/usr/bin/env python3
"""Tessera beside its peers, measured from outside: see bench/README.md (`bench/compare.sh`).

Builds Tessera (release), sets up the peers from their registries into a cache directory, starts
every server on loopback, and drives each workload with wrk and bench/lua/oauth.lua, interleaved
over rounds, in one run. Prints one table. Python standard library only.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
LUA = os.path.join(BENCH, "lua", "oauth.lua")
PEERS = os.path.join(BENCH, "peers")

USERNAME = "bench"
PASSWORD = "correct horse battery staple"
SCOPE = "read write"

# Scenario key -> what it measures. Order is the order of the table.
SCENARIOS = {
    "refresh_token": "POST /oauth/token grant_type=refresh_token, chained (the headline)",
    "client_credentials": "POST /oauth/token grant_type=client_credentials",
    "bearer": "GET the protected resource with a valid bearer token",
    "introspection": "POST /oauth/introspect of a valid access token",
    "healthz": "GET /healthz, the same-run baseline",
    "password": "POST /oauth/token grant_type=password (Argon2id-bound on Tessera)",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


# ---- HTTP (set-up only: tokens for seeding; the load itself is wrk's) -------------------------

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_form(url: str, fields: dict[str, str], timeout: float = 60) -> tuple[int, dict]:
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, {"raw": body[:200].decode(errors="replace")}


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _NO_PROXY.open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pids: list[int]) -> int | None:
    """Sum of VmRSS over the given processes (kB), from /proc/PID/status."""
    total, seen = 0, False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        seen = True
        except OSError:
            pass
    return total if seen else None


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


# ---- servers ------------------------------------------------------------------------------


@dataclass
class Server:
    key: str  # tessera-sqlite, tessera-postgres, node, authlib
    name: str
    backend: str
    base: str = ""
    client_id: str = ""
    client_secret: str = ""
    token_path: str = "/oauth/token"
    me_path: str = "/api/1.0/users/me"
    introspect_path: str | None = None
    scenarios: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    access_token: str = ""
    ready_ms: float | None = None
    idle_rss_kib: int | None = None
    seed_pool: list[str] = field(default_factory=list)  # --seed store: chains written before start
    seeded_rss_kib: int | None = None  # right after the password grants that seed the chains
    cleanup: list = field(default_factory=list)

    def pids(self) -> list[int]:
        if not self.process:
            return []
        # gunicorn: the arbiter and its workers together are the server.
        return [self.process.pid] + children(self.process.pid)

    def password_grant(self) -> dict:
        status, body = post_form(
            self.base + self.token_path,
            {
                "grant_type": "password",
                "username": USERNAME,
                "password": PASSWORD,
                "scope": SCOPE,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        if status != 200 or "refresh_token" not in body:
            raise RuntimeError(f"{self.name}: password grant answered {status}: {body}")
        return body

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for action in reversed(self.cleanup):
            try:
                action()
            except Exception as error:  # cleanup must go on
                log(f"{self.name}: cleanup failed: {error}")


def wait_for_line(process: subprocess.Popen, pattern: str, timeout: float, logfile: str) -> re.Match:
    """Reads the process's stdout (a binary pipe) until a line matches; the server prints no more there."""
    import select

    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.01)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            match = re.search(pattern, buffer.decode(errors="replace"))
            if match:
                return match
        elif process.poll() is not None:
            break
    raise RuntimeError(f"server did not come up (see {logfile}); output so far: {buffer[-500:]!r}")


def run_cli(binary: str, args: list[str], env: dict, stdin: str | None = None) -> str:
    result = subprocess.run([binary, *args], env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"tessera {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def tessera_env(database_url: str, master_key: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") or k in ("TESSERA_LOG",)}
    env["TESSERA_DATABASE_URL"] = database_url
    env["TESSERA_LISTEN"] = "127.0.0.1:0"
    # The password scenario is one user signing in from one address over 32 connections at
    # once: the sign-in throttle (issue 10) would answer most of it 429. The peers have no such
    # throttle, and the scenario measures Argon2id, so the limits are lifted here (only here).
    env["TESSERA_MAX_LOGIN_ATTEMPTS_PER_ADDRESS"] = "1000000000"
    env["TESSERA_MAX_LOGIN_ATTEMPTS_PER_USERNAME"] = "1000000000"
    if master_key:
        env["TESSERA_MASTER_KEY"] = master_key
    return env


def setup_tessera(server: Server, binary: str, env: dict, preload: int, workdir: str, seed_chains: int) -> None:
    created = json.loads(
        run_cli(
            binary,
            [
                "client", "create", "--name", "bench", "--scope", SCOPE,
                "--grant", "password", "--grant", "refresh_token", "--grant", "client_credentials",
                "--json",
            ],
            env,
        )
    )
    server.client_id, server.client_secret = created["client_id"], created["client_secret"]
    run_cli(binary, ["user", "create", "--username", USERNAME, "--password-stdin"], env, stdin=PASSWORD + "\n")
    if preload:
        started = time.monotonic()
        if server.backend == "sqlite":
            preload_sqlite(env["TESSERA_DATABASE_URL"], server.client_id, preload)
        else:
            preload_postgres(env["TESSERA_DATABASE_URL"], server.client_id, preload)
        log(f"{server.key}: preloaded {preload:,} live refresh tokens in {time.monotonic() - started:.1f} s")
    if seed_chains:
        # --seed store: the chains' first tokens written as a password grant would write them,
        # without the Argon2id checks (whose memory would dominate the server's RSS).
        tokens = [new_refresh_token() for _ in range(seed_chains)]
        if server.backend == "sqlite":
            preload_sqlite(env["TESSERA_DATABASE_URL"], server.client_id, len(tokens), tokens)
        else:
            store_chains_postgres(env["TESSERA_DATABASE_URL"], server.client_id, tokens)
        server.seed_pool = tokens
    logfile = os.path.join(workdir, f"{server.key}.log")
    started = time.monotonic()
    server.process = subprocess.Popen(
        [binary, "serve"], env=env, stdout=subprocess.PIPE, stderr=open(logfile, "w"), start_new_session=True,
    )
    match = wait_for_line(server.process, r"tessera listening on (http://\S+)", 60, logfile)
    server.ready_ms = (time.monotonic() - started) * 1000
    server.base = match.group(1)
    # stdout is not read after this: the server prints nothing else there (logs go to stderr).


# Preload: N live refresh tokens, each the head of its own family, for the bench client and user,
# exactly as the store writes them (crates/tessera-server/src/store/mod.rs, insert_family): the
# token is tsr_ + base64url(32 random bytes), stored as its SHA-256 hex; the family id a UUIDv4;
# times in Unix milliseconds, idle expiry 30 d and family expiry 90 d ahead (the defaults).
DAY_MS = 24 * 3600 * 1000


def new_refresh_token() -> str:
    return "tsr_" + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def _preload_rows(client_id: str, user_id: str, n: int, now: int, tokens=None):
    for i in range(n):
        token = tokens[i] if tokens is not None else new_refresh_token()
        yield (
            str(uuid.uuid4()), client_id, user_id, SCOPE, now, now + 90 * DAY_MS,
            hashlib.sha256(token.encode()).hexdigest(), now + 30 * DAY_MS,
        )


def preload_sqlite(database_url: str, client_id: str, n: int, tokens: list[str] | None = None) -> None:
    path = database_url.split("://", 1)[1]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB for the load; the server sets its own
    (user_id,) = conn.execute("SELECT user_id FROM users WHERE username = ?", (USERNAME,)).fetchone()
    now = int(time.time() * 1000)
    batch = 50_000
    with conn:
        done = 0
        while done < n:
            chunk = None if tokens is None else tokens[done : done + batch]
            rows = list(_preload_rows(client_id, user_id, min(batch, n - done), now, chunk))
            conn.executemany(
                "INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (r[:6] for r in rows),
            )
            conn.executemany(
                "INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at) VALUES (?, ?, ?, ?)",
                ((r[6], r[0], r[4], r[7]) for r in rows),
            )
            done += len(rows)
    conn.execute("ANALYZE")
    conn.close()


def preload_postgres(database_url: str, client_id: str, n: int) -> None:
    # Same rows, generated by PostgreSQL itself (seconds for a million): 32 random bytes from two
    # UUIDv4s, base64url-encoded as the store's tokens are, then SHA-256 hex of "tsr_" + that.
    now = int(time.time() * 1000)
    sql = f"""
BEGIN;
WITH families AS (
  INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT gen_random_uuid()::text, '{client_id}', u.user_id, '{SCOPE}', {now}, {now + 90 * DAY_MS}
    FROM generate_series(1, {int(n)}) CROSS JOIN (SELECT user_id FROM users WHERE username = '{USERNAME}') u
    RETURNING family_id)
INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at)
  SELECT encode(sha256(convert_to('tsr_' || rtrim(translate(encode(
             uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '='),
             'UTF8')), 'hex'),
         family_id, {now}, {now + 30 * DAY_MS}
  FROM families;
COMMIT;
ANALYZE refresh_families;
ANALYZE refresh_tokens;
"""
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", database_url], input=sql, text=True, check=True)


def store_chains_postgres(database_url: str, client_id: str, tokens: list[str]) -> None:
    """Known tokens (a few hundred), each the head of its own family, as in preload_postgres."""
    now = int(time.time() * 1000)
    rows = _preload_rows(client_id, "", len(tokens), now, tokens)
    values = ",\n".join(f"('{r[0]}', '{r[6]}')" for r in rows)  # UUIDs and hex only: nothing to quote
    sql = f"""
BEGIN;
CREATE TEMP TABLE seed (family_id TEXT, token_hash TEXT) ON COMMIT DROP;
INSERT INTO seed VALUES {values};
INSERT INTO refresh_families (family_id, client_id, user_id, scope, created_at, expires_at)
  SELECT s.family_id, '{client_id}', u.user_id, '{SCOPE}', {now}, {now + 90 * DAY_MS}
  FROM seed s CROSS JOIN (SELECT user_id FROM users WHERE username = '{USERNAME}') u;
INSERT INTO refresh_tokens (token_hash, family_id, created_at, idle_expires_at)
  SELECT token_hash, family_id, {now}, {now + 30 * DAY_MS} FROM seed;
COMMIT;
"""
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", database_url], input=sql, text=True, check=True)


def is_loopback_url(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def start_tessera_sqlite(servers: list[Server], binary: str, preload: int, workdir: str, seed_chains: int) -> Server:
    server = Server("tessera-sqlite", "tessera", "sqlite", introspect_path="/oauth/introspect")
    servers.append(server)
    directory = os.path.join(workdir, "tessera-sqlite")
    os.makedirs(directory)
    env = tessera_env(f"sqlite://{directory}/tessera.db", None)  # the key file beside it, as by default
    setup_tessera(server, binary, env, preload, workdir, seed_chains)
    return server


def start_tessera_postgres(
    servers: list[Server], binary: str, preload: int, workdir: str, seed_chains: int, admin_url: str
) -> Server:
    server = Server("tessera-postgres", "tessera", "postgres", introspect_path="/oauth/introspect")
    servers.append(server)
    name = f"tessera_bench_{os.getpid()}_{secrets.token_hex(3)}"
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", f"CREATE DATABASE {name}"], check=True)
    server.cleanup.append(
        lambda: subprocess.run(
            ["psql", "-X", "-q", admin_url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True
        )
    )
    parts = urllib.parse.urlsplit(admin_url)
    database_url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    master_key = os.environ.get("TESSERA_MASTER_KEY") or secrets.token_urlsafe(32)
    env = tessera_env(database_url, master_key)
    setup_tessera(server, binary, env, preload, workdir, seed_chains)
    return server


def start_node(servers: list[Server], cache: str, workdir: str) -> Server:
    server = Server("node", "node-oauth2-server", "memory", me_path="/me")
    servers.append(server)
    server.client_id, server.client_secret = "bench-client", secrets.token_urlsafe(32)
    env = dict(os.environ)
    env.update(
        PORT="0", NODE_ENV="production", NODE_PATH=os.path.join(cache, "node", "node_modules"),
        PEER_CLIENT_ID=server.client_id, PEER_CLIENT_SECRET=server.client_secret,
        PEER_USERNAME=USERNAME, PEER_PASSWORD=PASSWORD,
    )
    logfile = os.path.join(workdir, "node.log")
    started = time.monotonic()
    server.process = subprocess.Popen(
        ["node", os.path.join(PEERS, "node", "server.js")], env=env, stdout=subprocess.PIPE,
        stderr=open(logfile, "w"), start_new_session=True,
    )
    match = wait_for_line(server.process, r"listening on (http://\S+)", 30, logfile)
    server.ready_ms = (time.monotonic() - started) * 1000
    server.base = match.group(1)
    return server


def start_authlib(servers: list[Server], cache: str, workdir: str) -> Server:
    server = Server("authlib", "authlib", "sqlite", me_path="/me")
    servers.append(server)
    server.client_id, server.client_secret = "bench-client", secrets.token_urlsafe(32)
    venv = os.path.join(cache, "authlib-venv", "bin")
    env = dict(os.environ)
    env["PEER_DB"] = os.path.join(workdir, "authlib.db")
    subprocess.run(
        [os.path.join(venv, "python"), os.path.join(PEERS, "authlib", "app.py"), "init",
         server.client_id, server.client_secret, USERNAME, PASSWORD],
        env=env, check=True,
    )
    port = free_port()
    logfile = os.path.join(workdir, "authlib.log")
    started = time.monotonic()
    server.process = subprocess.Popen(
        [os.path.join(venv, "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "--no-control-socket",
         "--chdir", os.path.join(PEERS, "authlib"), "app:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(logfile, "w"), start_new_session=True,
    )
    server.base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if get(server.base + "/healthz", timeout=2) == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError(f"the Authlib peer did not come up (see {logfile})")
        time.sleep(0.02)
    server.ready_ms = (time.monotonic() - started) * 1000
    return server


# ---- set-up of the build and the peers ------------------------------------------------------


def build_tessera(target_dir: str) -> str:
    log(f"building tessera (release, CARGO_TARGET_DIR={target_dir}) ...")
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "tessera"], cwd=ROOT, env=env, check=True)
    return os.path.join(target_dir, "release", "tessera")


def _fingerprint(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def setup_peers(cache: str, wanted: set[str]) -> None:
    """Install the peers' pinned dependencies from PyPI and npm into the cache, once."""
    os.makedirs(cache, exist_ok=True)
    if "authlib" in wanted:
        requirements = os.path.join(PEERS, "authlib", "requirements.txt")
        venv = os.path.join(cache, "authlib-venv")
        stamp = os.path.join(venv, ".installed")
        if not (os.path.exists(stamp) and open(stamp).read() == _fingerprint(requirements)):
            log(f"installing the Authlib peer's packages (PyPI) into {venv} ...")
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run(
                [os.path.join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
                 "-r", requirements],
                check=True,
            )
            with open(stamp, "w") as f:
                f.write(_fingerprint(requirements))
    if "node" in wanted:
        if not shutil.which("node") or not shutil.which("npm"):
            fail("node and npm are needed for the node peer (apt-get install -y nodejs npm), or leave it out with --servers")
        package = os.path.join(PEERS, "node", "package.json")
        prefix = os.path.join(cache, "node")
        stamp = os.path.join(prefix, ".installed")
        if not (os.path.exists(stamp) and open(stamp).read() == _fingerprint(package)):
            log(f"installing the node peer's packages (npm) into {prefix} ...")
            shutil.rmtree(prefix, ignore_errors=True)
            os.makedirs(prefix)
            shutil.copy(package, prefix)
            subprocess.run(
                ["npm", "install", "--prefix", prefix, "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
                check=True,
            )
            with open(stamp, "w") as f:
                f.write(_fingerprint(package))


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk ...")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, check=True)
            subprocess.run(install, stdout=subprocess.DEVNULL, check=True)
        path = shutil.which("wrk")
    if not path:
        fail("wrk is needed (Debian: apt-get install -y wrk)")
    return path


# ---- measurements ---------------------------------------------------------------------------


@dataclass
class Sample:
    ok_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    rss_kib: int | None
    first_error: str


def seed_tokens(server: Server, n: int) -> list[str]:
    """n fresh refresh tokens from password grants: one chain per connection (untimed)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return [body["refresh_token"] for body in pool.map(lambda _: server.password_grant(), range(n))]


def wrk_workload(server: Server, scenario: str, workdir: str, connections: int) -> dict[str, str]:
    secret = {"client_id": server.client_id, "client_secret": server.client_secret}
    env = {"BENCH_PATH": server.token_path}
    if scenario == "refresh_token":
        if len(server.seed_pool) >= connections:
            tokens, server.seed_pool = server.seed_pool[:connections], server.seed_pool[connections:]
        else:
            tokens = seed_tokens(server, connections)
            after = rss_kib(server.pids())
            if after is not None:
                server.seeded_rss_kib = max(after, server.seeded_rss_kib or 0)
        token_file = os.path.join(workdir, f"seed-{server.key}.txt")
        with open(token_file, "w") as f:
            f.write("\n".join(tokens) + "\n")
        env.update(
            BENCH_MODE="refresh", BENCH_TOKENS=token_file,
            BENCH_BODY=urllib.parse.urlencode({"grant_type": "refresh_token", **secret}) + "&refresh_token=",
        )
    elif scenario == "client_credentials":
        env.update(BENCH_MODE="post", BENCH_BODY=urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": SCOPE, **secret}))
    elif scenario == "password":
        env.update(BENCH_MODE="post", BENCH_BODY=urllib.parse.urlencode(
            {"grant_type": "password", "username": USERNAME, "password": PASSWORD, "scope": SCOPE, **secret}))
    elif scenario == "introspection":
        env.update(BENCH_MODE="post", BENCH_PATH=server.introspect_path or "", BENCH_BODY=urllib.parse.urlencode(
            {"token": server.access_token, **secret}))
    elif scenario == "bearer":
        env.update(BENCH_MODE="get", BENCH_PATH=server.me_path, BENCH_AUTH=f"Bearer {server.access_token}")
    elif scenario == "healthz":
        env.update(BENCH_MODE="get", BENCH_PATH="/healthz")
    else:
        raise ValueError(scenario)
    return env


def run_wrk(wrk: str, server: Server, scenario: str, args, workdir: str, duration: int) -> Sample:
    env = dict(os.environ)
    env.update(wrk_workload(server, scenario, workdir, args.connections))
    env["BENCH_THREADS"] = str(args.threads)
    command = [
        wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration}s",
        "--timeout", "10s", "-s", LUA, server.base,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    line = next((l for l in result.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed on {server.key}/{scenario}: {result.stderr.strip()} {result.stdout[-500:]}")
    r = json.loads(line.split(" ", 1)[1])
    transport = r["connect"] + r["read"] + r["write"] + r["timeout"]
    errors = r["non200"] + transport
    seconds = r["duration_us"] / 1e6
    return Sample(
        ok_per_s=(r["requests"] - r["non200"]) / seconds if seconds else 0.0,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        errors=errors,
        requests=r["requests"],
        rss_kib=rss_kib(server.pids()),
        first_error=r["first_error"] or (f"{transport} transport errors" if transport else ""),
    )


# ---- the report -----------------------------------------------------------------------------


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def print_table(headers: list[str], rows: list[list[str]], right: set[int]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    print(line(headers))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))


def median_sample(samples: list[Sample]) -> Sample:
    ordered = sorted(samples, key=lambda s: s.ok_per_s)
    return ordered[(len(ordered) - 1) // 2]


def report(servers: list[Server], results: dict, args, wrk_version: str) -> None:
    cores = os.cpu_count()
    print()
    print(f"# Tessera beside its peers — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print(
        f"wrk {wrk_version}: {args.threads} threads, {args.connections} connections, {args.duration} s per "
        f"measurement, {args.rounds} interleaved round(s) (the median round is shown; errors summed over all "
        f"rounds), preload {args.preload:,} live refresh tokens in Tessera's store, refresh chains seeded by "
        f"{'password grants' if args.seed == 'password' else 'tokens written into the store before start (Tessera)'}."
    )
    print(
        f"The load generator (wrk) shares this machine's {cores} cores with the server under test "
        f"(and with PostgreSQL, and with anything else running): figures are comparable within this run only."
    )
    print()
    headers = ["server", "backend", "scenario", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "rounds req/s"]
    rows = []
    medians: dict[tuple[str, str], Sample] = {}
    for server in servers:
        for scenario in SCENARIOS:
            samples = results.get((server.key, scenario))
            if not samples:
                continue
            m = median_sample(samples)
            medians[(server.key, scenario)] = m
            rss = max((s.rss_kib for s in samples if s.rss_kib is not None), default=None)
            spread = "–".join(fmt_rate(x) for x in sorted({min(s.ok_per_s for s in samples), max(s.ok_per_s for s in samples)}))
            rows.append([
                server.name, server.backend, scenario, fmt_rate(m.ok_per_s), fmt_ms(m.p50_ms), fmt_ms(m.p99_ms),
                str(sum(s.errors for s in samples)), "-" if rss is None else f"{rss / 1024:.0f}", spread,
            ])
    print_table(headers, rows, right={3, 4, 5, 6, 7, 8})
    print()

    def rate(key, scenario):
        sample = medians.get((key, scenario))
        return sample.ok_per_s if sample else None

    ratios = []
    for tessera in (s for s in servers if s.name == "tessera"):
        mine = rate(tessera.key, "refresh_token")
        for peer in ("node", "authlib"):
            theirs = rate(peer, "refresh_token")
            if mine and theirs:
                ratios.append((f"{tessera.key} refresh_token ÷ {peer} refresh_token", mine / theirs))
    for server in servers:
        bearer, health, refresh = rate(server.key, "bearer"), rate(server.key, "healthz"), rate(server.key, "refresh_token")
        if bearer and health:
            ratios.append((f"{server.key} bearer ÷ {server.key} healthz", bearer / health))
        if refresh and health:
            ratios.append((f"{server.key} refresh_token ÷ {server.key} healthz", refresh / health))
    if ratios:
        print_table(["ratio (median rounds)", "value"], [[name, f"{value:.2f}"] for name, value in ratios], right={1})
        print()
    notes = []
    for server in servers:
        if server.ready_ms is not None:
            idle = "" if server.idle_rss_kib is None else f", RSS {server.idle_rss_kib / 1024:.0f} MiB before the load"
            if server.seeded_rss_kib is not None:
                idle += f" and {server.seeded_rss_kib / 1024:.0f} MiB right after seeding (untimed password grants)"
            notes.append(f"{server.key} {server.ready_ms:.0f} ms{idle}")
    print("Start to ready (process start to accepting requests): " + "; ".join(notes) + ".")
    print(
        "RSS is the largest VmRSS read right after each of the row's measurements (gunicorn: arbiter + 2 workers; "
        "PostgreSQL's own processes are not counted). Tessera's RSS does not come back down: the password rows run "
        "after all the others, but the seeding before each refresh_token measurement is password grants too "
        "(Argon2id, 19 MiB per check), and what the allocator keeps of that shows in every row measured after it; "
        "--seed store leaves it out."
    )
    errors = [(k, s) for k, samples in results.items() for s in samples if s.errors]
    for (key, scenario), sample in errors[:8]:
        print(f"First error, {key} {scenario}: {sample.first_error}")


# ---- main -----------------------------------------------------------------------------------

SERVER_KEYS = ["tessera-sqlite", "tessera-postgres", "node", "authlib"]
PEER_SCENARIOS = ["refresh_token", "client_credentials", "bearer", "healthz"]


def parse_args():
    p = argparse.ArgumentParser(
        prog="bench/compare.sh",
        description="Tessera beside @node-oauth/oauth2-server and Authlib, under wrk, interleaved, in one run.",
    )
    p.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed seconds per server and scenario before round 1 (default 1; 0 = none)")
    p.add_argument("--preload", type=int, default=0, help="live refresh tokens put into Tessera's store first (default 0)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--servers", default=",".join(SERVER_KEYS), help=f"comma-separated subset of {','.join(SERVER_KEYS)}")
    p.add_argument(
        "--seed", choices=["password", "store"], default="password",
        help="where the refresh chains of Tessera start: password grants before each measurement (default), or "
        "tokens written into its store before it starts, as a password grant writes them (no Argon2id: for RSS)",
    )
    p.add_argument("--no-build", action="store_true", help="use the tessera binary already in CARGO_TARGET_DIR")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, server logs)")
    args = p.parse_args()
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.servers = [s for s in args.servers.split(",") if s]
    for s in args.scenarios:
        if s not in SCENARIOS:
            fail(f"unknown scenario {s!r} (known: {', '.join(SCENARIOS)})")
    for s in args.servers:
        if s not in SERVER_KEYS:
            fail(f"unknown server {s!r} (known: {', '.join(SERVER_KEYS)})")
    if args.duration < 1 or args.rounds < 1 or args.threads < 1 or args.connections < args.threads:
        fail("need --duration ≥ 1, --rounds ≥ 1, --threads ≥ 1 and --connections ≥ --threads")
    if args.connections % args.threads:
        fail("--connections must be a multiple of --threads (wrk deals connections out evenly)")
    return args


def main() -> int:
    args = parse_args()
    wrk = ensure_wrk()
    wrk_version = (subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split() or ["?", "?"])[1]
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target-bench")
    cache = os.environ.get("TESSERA_BENCH_PEERS") or os.path.join(target_dir, "peers")

    pg_url = os.environ.get("TESSERA_TEST_POSTGRES_URL", "")
    if "tessera-postgres" in args.servers:
        if not pg_url:
            log("TESSERA_TEST_POSTGRES_URL is not set: SKIPPED tessera-postgres")
            args.servers.remove("tessera-postgres")
        elif not is_loopback_url(pg_url):
            log("TESSERA_TEST_POSTGRES_URL does not point at loopback: SKIPPED tessera-postgres")
            args.servers.remove("tessera-postgres")

    binary = os.path.join(target_dir, "release", "tessera")
    if any(k.startswith("tessera") for k in args.servers):
        if not args.no_build:
            binary = build_tessera(target_dir)
        if not os.path.exists(binary):
            fail(f"{binary} does not exist (build it, or drop --no-build)")
    setup_peers(cache, set(args.servers))

    seed_chains = 0
    if args.seed == "store" and "refresh_token" in args.scenarios:
        seed_chains = args.connections * (args.rounds + (1 if args.warmup else 0))
    workdir = tempfile.mkdtemp(prefix="tessera-compare-")
    servers: list[Server] = []
    try:
        for key in args.servers:
            log(f"starting {key} ...")
            if key == "tessera-sqlite":
                server = start_tessera_sqlite(servers, binary, args.preload, workdir, seed_chains)
            elif key == "tessera-postgres":
                server = start_tessera_postgres(servers, binary, args.preload, workdir, seed_chains, pg_url)
            elif key == "node":
                server = start_node(servers, cache, workdir)
            else:
                server = start_authlib(servers, cache, workdir)
            server.scenarios = [
                s for s in args.scenarios
                if key.startswith("tessera") or s in PEER_SCENARIOS
            ]
            server.access_token = server.password_grant()["access_token"]
            status = get(server.base + server.me_path, {"Authorization": f"Bearer {server.access_token}"})
            if status != 200:
                raise RuntimeError(f"{key}: a fresh access token gets {status} from {server.me_path}")
            server.idle_rss_kib = rss_kib(server.pids())
            log(f"{key} ready at {server.base} in {server.ready_ms:.0f} ms")

        # The password grant runs after everything else: Argon2id takes 19 MiB per check, and memory
        # the server's allocator does not give back would show in the RSS of every later row.
        pairs = [(server, scenario) for server in servers for scenario in server.scenarios if scenario != "password"]
        last = [(server, scenario) for server in servers for scenario in server.scenarios if scenario == "password"]
        results: dict[tuple[str, str], list[Sample]] = {}

        def measure(label: str, server: Server, scenario: str) -> None:
            sample = run_wrk(wrk, server, scenario, args, workdir, args.duration)
            results.setdefault((server.key, scenario), []).append(sample)
            log(
                f"{label} {server.key:16} {scenario:18} {sample.ok_per_s:9,.0f}/s "
                f"p50 {fmt_ms(sample.p50_ms)} ms p99 {fmt_ms(sample.p99_ms)} ms errors {sample.errors}"
            )
            if server.process and server.process.poll() is not None:
                raise RuntimeError(f"{server.key} exited during the run (see {workdir})")

        if args.warmup and pairs:
            log(f"warm-up: {args.warmup} s for each of {len(pairs)} server × scenario pairs (untimed)")
            for server, scenario in pairs:
                run_wrk(wrk, server, scenario, args, workdir, args.warmup)
        for round_no in range(args.rounds):
            # Rotate the order every round and reverse it every other round, so that no pair always
            # runs first, or right after the same neighbour.
            shift = round_no * len(pairs) // args.rounds
            order = pairs[shift:] + pairs[:shift]
            if round_no % 2:
                order.reverse()
            for server, scenario in order:
                measure(f"round {round_no + 1}/{args.rounds}", server, scenario)
        for round_no in range(args.rounds):
            for server, scenario in last:
                measure(f"password round {round_no + 1}/{args.rounds}", server, scenario)
        report(servers, results, args, wrk_version)
    finally:
        for server in servers:
            server.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
