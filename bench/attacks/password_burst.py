#!/usr/bin/env python3
"""Fires N password-grant requests at once (a barrier releases them together) and tallies the
answers: checked (400 "incorrect"), refused (status + whether Retry-After came), others.
usage: password_burst.py PORT CLIENT_ID CLIENT_SECRET N [same|distinct] [SOURCE_IP] [PASSWORD]"""
import collections, http.client, json, sys, threading, time, urllib.parse

port, client_id, secret, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
usernames = sys.argv[5] if len(sys.argv) > 5 else "same"
source = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.1"
password = sys.argv[7] if len(sys.argv) > 7 else None
barrier = threading.Barrier(n)
results = [None] * n

def one(i):
    username = "alice" if usernames == "same" else f"nobody{i}"
    body = urllib.parse.urlencode({"grant_type": "password", "username": username,
        "password": password or f"guess {i}", "client_id": client_id, "client_secret": secret})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    connection.connect()
    barrier.wait()
    started = time.monotonic()
    connection.request("POST", "/oauth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    text = response.read().decode()
    elapsed = time.monotonic() - started
    try:
        description = json.loads(text).get("error_description", "")
    except ValueError:
        description = text
    results[i] = (response.status, response.getheader("Retry-After"), description, elapsed)

threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for thread in threads: thread.start()
for thread in threads: thread.join()
tally = collections.Counter()
for status, retry_after, description, _ in results:
    if status == 400 and "incorrect" in description:
        tally["checked (400 incorrect)"] += 1
    else:
        tally[f"{status} retry-after={'yes' if retry_after else 'no'}: {description}"] += 1
for line, count in sorted(tally.items(), key=lambda item: -item[1]):
    print(f"{count:5d}  {line}")
latencies = sorted(result[3] for result in results)
print(f"latency: median {latencies[len(latencies)//2]*1000:.0f} ms, max {latencies[-1]*1000:.0f} ms")
