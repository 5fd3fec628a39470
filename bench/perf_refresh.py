#!/usr/bin/env python3
"""CPU cost of the refresh grant: starts `tessera serve` (release) on a fresh store, drives
chained refreshes with wrk and bench/lua/oauth.lua, and measures the server process's CPU time
(`perf stat -e task-clock`) and, where the machine has hardware counters, its instructions,
while it runs; optionally records a `perf` profile. CPU per request moves much less with the
load of a shared machine than req/s do. (For exact instruction counts on a machine without
counters, run the server under `valgrind --tool=callgrind`, see bench/README.md.)

    bench/perf_refresh.py [--binary PATH] [--duration 5] [--connections 32] [--preload N]
                          [--postgres] [--record FILE]

Prints requests, req/s, CPU µs and instructions per request; with --record, the
profile's top entries (`perf report --no-children`). Python standard library only, and
compare.py's helpers.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (bench/compare.py, beside this file)


def perf_counts(output: str) -> dict[str, int]:
    counts = {}
    for line in output.splitlines():
        parts = line.split(",")
        try:
            counts[parts[2]] = float(parts[0])
        except (IndexError, ValueError):  # "<not supported>" on a machine without counters
            pass
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(compare.ROOT, "target-bench"))
    parser.add_argument("--binary", default=os.path.join(target, "release", "tessera"))
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--preload", type=int, default=0)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--record", default=None, help="also record a call-graph profile into this file")
    args = parser.parse_args()

    wrk = compare.ensure_wrk()
    workdir = tempfile.mkdtemp(prefix="tessera-perf-")
    backend = "postgres" if args.postgres else "sqlite"
    server = compare.Server(key=f"tessera-{backend}", name="Tessera", backend=backend)
    servers: list[compare.Server] = []
    # The chains' first tokens written into the store before it starts (compare.py's `--seed
    # store`), for the warm-up and the measurement: no Argon2id check inside the measurement.
    chains = 2 * args.connections
    try:
        if args.postgres:
            admin = os.environ.get("TESSERA_TEST_POSTGRES_URL", "")
            server = compare.start_tessera_postgres(servers, args.binary, args.preload, workdir, chains, admin)
        else:
            server = compare.start_tessera_sqlite(servers, args.binary, args.preload, workdir, chains)
        pid = server.process.pid
        compare.run_wrk(wrk, server, "refresh_token", args, workdir, 1)  # warm-up, untimed
        events = "task-clock,instructions:u,instructions:k"
        stat = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", events, "-p", str(pid)],
            stderr=subprocess.PIPE, text=True,
        )
        record = None
        if args.record:
            record = subprocess.Popen(
                ["perf", "record", "-q", "-e", "cpu-clock", "-g", "-F", "499", "-o", args.record, "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        time.sleep(0.2)
        sample = compare.run_wrk(wrk, server, "refresh_token", args, workdir, args.duration)
        for process in (stat, record):
            if process:
                process.send_signal(signal.SIGINT)
        _, err = stat.communicate(timeout=30)
        if record:
            record.wait(timeout=60)
        counts = perf_counts(err)
        requests = max(sample.requests, 1)
        cpu_us = counts.get("task-clock", 0) * 1000 / requests  # task-clock is in milliseconds
        instructions = counts.get("instructions:u", 0) + counts.get("instructions:k", 0)
        print(
            f"{backend}: {sample.requests:,} requests, {sample.ok_per_s:,.0f} ok/s, p99 {sample.p99_ms:.1f} ms, "
            f"errors {sample.errors}; server CPU {cpu_us:,.0f} µs/request"
            + (f", {instructions / requests:,.0f} instructions/request" if instructions else "")
            + f"; preload {args.preload:,}"
        )
        if record:
            report = subprocess.run(
                ["perf", "report", "-i", args.record, "--no-children", "--stdio", "--percent-limit", "1.5",
                 "-g", "none", "--sort", "symbol"],
                capture_output=True, text=True,
            )
            lines = (" ".join(l.split()) for l in report.stdout.splitlines() if l.strip() and not l.startswith("#"))
            print("\n".join(lines))
    finally:
        for s in servers or [server]:
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
