"""N mTLS clients that each send one POST /poll through a front and wait for the answer, all at once.
Usage: poll_clients.py PORT N CA CERT KEY COUNTFILE — prints "storm N S" (seconds until the upstream's
COUNTFILE shows all N polls), then holds the connections until stdin closes."""
import asyncio
import os
import resource
import ssl
import sys
import time

port, n, ca, cert, key, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
context = ssl.create_default_context(cafile=ca)
context.check_hostname = False
context.load_cert_chain(cert, key)
body = b"node.example.internal"
request = b"POST /poll HTTP/1.1\r\nHost: proxy\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def poll(held):
    for attempt in range(20):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writer.write(request)
            await writer.drain()
            held.append(writer)
            return
        except (ConnectionError, OSError, ssl.SSLError):
            await asyncio.sleep(0.05 * (attempt + 1))


def polls_seen():
    try:
        return int(open(count_file).read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


async def main():
    held = []
    base = polls_seen()
    start = time.monotonic()
    await asyncio.gather(*(poll(held) for _ in range(n)))
    while polls_seen() - base < n and time.monotonic() - start < 120:
        await asyncio.sleep(0.02)
    print(f"storm {polls_seen() - base} {time.monotonic() - start:.2f}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in held:
        writer.close()

asyncio.run(main())
