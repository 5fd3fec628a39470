#!/usr/bin/env python3
"""The refresh loop of issue 10, item 4, against the real binary: one client refreshes one chain
as fast as it can for N refreshes (or S seconds), then the rows the family left are counted.

    bench/family_loop.py [--binary PATH] [--refreshes 2000] [--seconds S] [--postgres]

SQLite by default (a temporary database); `--postgres` uses a fresh database on the server of
TESSERA_TEST_POSTGRES_URL (loopback only). Prints one line: refreshes, seconds, rows. Python
standard library only, and compare.py's helpers.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (bench/compare.py, beside this file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(compare.ROOT, "target-bench"))
    parser.add_argument("--binary", default=os.path.join(target, "release", "tessera"))
    parser.add_argument("--refreshes", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=None, help="refresh for this long instead")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="tessera-family-loop-")
    server = compare.Server(key="tessera", name="Tessera", backend="postgres" if args.postgres else "sqlite")
    if args.postgres:
        admin = os.environ.get("TESSERA_TEST_POSTGRES_URL")
        if not admin or not compare.is_loopback_url(admin):
            compare.fail("--postgres needs TESSERA_TEST_POSTGRES_URL on loopback")
        name = f"tessera_loop_{os.getpid()}"
        subprocess.run(["psql", "-X", "-q", admin, "-c", f"CREATE DATABASE {name}"], check=True)
        url = admin.rsplit("/", 1)[0] + "/" + name
        server.cleanup.append(
            lambda: subprocess.run(["psql", "-X", "-q", admin, "-c", f"DROP DATABASE {name} WITH (FORCE)"], check=False)
        )
        env = compare.tessera_env(url, os.environ.get("TESSERA_MASTER_KEY") or os.urandom(32).hex())
    else:
        url = "sqlite://" + os.path.join(workdir, "tessera.db")
        env = compare.tessera_env(url, None)
    try:
        compare.setup_tessera(server, args.binary, env, 0, workdir, 0)
        token = server.password_grant()["refresh_token"]
        form = {"grant_type": "refresh_token", "client_id": server.client_id, "client_secret": server.client_secret}
        started, done = time.monotonic(), 0
        while (done < args.refreshes) if args.seconds is None else (time.monotonic() - started < args.seconds):
            status, body = compare.post_form(server.base + "/oauth/token", {**form, "refresh_token": token})
            if status != 200:
                compare.fail(f"refresh {done + 1} answered {status}: {body}")
            token, done = body["refresh_token"], done + 1
        elapsed = time.monotonic() - started
        if args.postgres:
            out = subprocess.run(
                ["psql", "-X", "-At", url, "-c", "SELECT COUNT(*) FROM refresh_tokens"],
                capture_output=True, text=True, check=True,
            )
            rows = int(out.stdout.strip())
        else:
            with sqlite3.connect(url.split("://", 1)[1]) as conn:
                (rows,) = conn.execute("SELECT COUNT(*) FROM refresh_tokens").fetchone()
        print(f"{done:,} refreshes of one chain in {elapsed:.1f} s -> {rows:,} refresh-token rows ({server.backend})")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
