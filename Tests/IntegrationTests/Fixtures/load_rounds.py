"""Rounds of many mutual-TLS clients against one listener, watching the server process for leaks.

Each round is a reconnect storm: CONNECTIONS clients connect and handshake at once (a refused or reset
attempt is retried, counted as a retry), then hold their connections for HOLD seconds while each scrapes PATH
over keep-alive every INTERVAL seconds (first scrape at a random offset: a steady load). Then all close.
Before the first round a warm-up round of 50 clients sets the baseline; after each round the server's open
file descriptors and RSS are read from /proc/PID once its descriptor count has settled and QUIET seconds more.

Prints one JSON object per round (and one for the baseline) on stdout, e.g.
{"round": 1, "connected": 2000, "retries": 0, "storm_s": 3.1, "scrapes": 8000, "errors": [],
 "rss_held_kib": 141000, "fds_held": 2013, "rss_after_kib": 60000, "fds_after": 14}
With --upstream-port, each round also reports "upstream_fds_after": how many of those descriptors are
connections to the upstream (idle in the server's pool, which a round may leave fuller than the one before).
An error is any failed handshake after all retries, a status other than 200, a short or cut response.
Usage: load_rounds.py --port P --pid PID --ca CA --cert CERT --key KEY [--connections 2000] [--rounds 3]
       [--hold 10] [--first-hold 60] [--interval 5] [--quiet 11] [--path /metrics] [--server-name web.example.internal]
       [--upstream-port PORT]
"""
import argparse
import asyncio
import json
import os
import random
import resource
import ssl
import time


def server_state(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def connections_to(pid, port):
    """How many of the process's descriptors are TCP connections to `port` (its pooled upstream connections)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                    count += 1
    return count


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise ValueError("response without a length on a keep-alive connection")
    return status


class Round:
    def __init__(self, args, context):
        self.args, self.context = args, context
        self.retries, self.scrapes, self.errors = 0, 0, []
        self.request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.server_name}\r\n"
                        f"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n").encode()

    async def connect(self):
        for attempt in range(30):
            try:
                return await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", self.args.port, ssl=self.context, server_hostname=self.args.server_name,
                    ssl_handshake_timeout=60), 90)
            except (ConnectionError, OSError, ssl.SSLError, asyncio.TimeoutError) as error:
                self.retries += 1
                last = error
                await asyncio.sleep(0.05 * (attempt + 1))
        self.errors.append(f"connect: {last!r}")
        return None

    async def scrape_until(self, connection, deadline):
        reader, writer = connection
        await asyncio.sleep(random.uniform(0, self.args.interval))
        while time.monotonic() < deadline:
            try:
                writer.write(self.request)
                status = await asyncio.wait_for(read_response(reader), 30)
                if status != 200:
                    self.errors.append(f"status {status}")
                self.scrapes += 1
            except Exception as error:  # a cut, a reset, a short body: all count
                self.errors.append(f"scrape: {error!r}")
                return
            await asyncio.sleep(self.args.interval)

    async def run(self, count, hold, pid):
        start = time.monotonic()
        connections = await asyncio.gather(*(self.connect() for _ in range(count)))
        storm = time.monotonic() - start
        held = [c for c in connections if c]
        deadline = time.monotonic() + hold
        tasks = [asyncio.create_task(self.scrape_until(c, deadline)) for c in held]
        await asyncio.sleep(hold / 2)
        rss_held, fds_held = server_state(pid)
        await asyncio.gather(*tasks)
        for _, writer in held:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for _, writer in held), return_exceptions=True)
        return {"connected": len(held), "retries": self.retries, "storm_s": round(storm, 2), "scrapes": self.scrapes,
                "errors": sorted(set(self.errors))[:5], "error_count": len(self.errors),
                "rss_held_kib": rss_held, "fds_held": fds_held}


async def settle(pid, quiet):
    """The server's state once its descriptor count has not changed for 2 s (or after 20 s), then `quiet`
    seconds more (servers hand freed memory back every 10 s)."""
    deadline = time.monotonic() + 20
    last, stable_since = None, time.monotonic()
    while True:
        rss, fds = server_state(pid)
        if fds != last:
            last, stable_since = fds, time.monotonic()
        elif time.monotonic() - stable_since >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(quiet)
    return server_state(pid)


async def main():
    parser = argparse.ArgumentParser()
    for name in ("--ca", "--cert", "--key"):
        parser.add_argument(name, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=10)
    parser.add_argument("--first-hold", type=float)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--path", default="/metrics")
    parser.add_argument("--server-name", default="web.example.internal")
    parser.add_argument("--quiet", type=float, default=11, help="seconds to wait after a round before measuring")
    parser.add_argument("--upstream-port", type=int, help="also report the server's connections to this port")
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    context = ssl.create_default_context(cafile=args.ca)
    context.load_cert_chain(args.cert, args.key)

    warmup = await Round(args, context).run(50, 1, args.pid)
    rss, fds = await settle(args.pid, args.quiet)
    print(json.dumps({"round": 0, **warmup, "rss_after_kib": rss, "fds_after": fds}), flush=True)
    for number in range(1, args.rounds + 1):
        hold = args.first_hold if number == 1 and args.first_hold else args.hold
        result = await Round(args, context).run(args.connections, hold, args.pid)
        rss, fds = await settle(args.pid, args.quiet)
        upstream = {"upstream_fds_after": connections_to(args.pid, args.upstream_port)} if args.upstream_port else {}
        print(json.dumps({"round": number, "hold_s": hold, **result, "rss_after_kib": rss, "fds_after": fds, **upstream}),
              flush=True)


asyncio.run(main())
