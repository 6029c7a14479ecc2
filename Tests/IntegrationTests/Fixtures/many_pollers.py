"""N PushProx poll clients in one process (asyncio), all with one certificate carrying their N FQDNs, then
one scrape of every FQDN through the proxy's plain scrape listener.

usage: many_pollers.py PROXY_PORT SCRAPE_PORT CA CERT KEY N
Prints "registered N", then "scraped K/N" and exits 0 when every scrape returned its own host's body.
"""
import asyncio
import json
import ssl
import sys

proxy_port, scrape_port, ca, cert, key, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
context = ssl.create_default_context(cafile=ca)
context.check_hostname = False
context.load_cert_chain(cert, key)


async def request(reader, writer, method, path, body=b"", headers=()):
    head = f"{method} {path} HTTP/1.1\r\nHost: proxy\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    return int(status_line.split()[1]), await reader.readexactly(length)


async def poller(index):
    fqdn = f"node{index}.example.internal"
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port, ssl=context)
    while True:
        status, body = await request(reader, writer, "POST", "/poll", fqdn.encode())
        if status != 200:
            await asyncio.sleep(0.5)
            continue
        scrape_id = next(line.split(":", 1)[1].strip() for line in body.decode().split("\r\n") if line.lower().startswith("id:"))
        payload = f"value_{index} 1\n".encode()
        response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
        push_reader, push_writer = await asyncio.open_connection("127.0.0.1", proxy_port, ssl=context)
        await request(push_reader, push_writer, "POST", "/push", response, [("Id", scrape_id)])
        push_writer.close()


async def scrape(index, limit):
    async with limit:
        reader, writer = await asyncio.open_connection("127.0.0.1", scrape_port)
        status, body = await request(reader, writer, "GET", f"http://node{index}.example.internal:9100/metrics",
                                     headers=[("X-Prometheus-Scrape-Timeout-Seconds", "20")])
        writer.close()
        return status == 200 and body == f"value_{index} 1\n".encode()


async def main():
    tasks = [asyncio.create_task(poller(i)) for i in range(count)]
    for _ in range(600):
        reader, writer = await asyncio.open_connection("127.0.0.1", scrape_port)
        _, body = await request(reader, writer, "GET", "/clients")
        writer.close()
        if len(json.loads(body)) >= count:
            break
        await asyncio.sleep(0.1)
    print(f"registered {len(json.loads(body))}", flush=True)
    limit = asyncio.Semaphore(50)
    results = await asyncio.gather(*(scrape(i, limit) for i in range(count)))
    print(f"scraped {sum(results)}/{count}", flush=True)
    # Stay connected (polls open) until the test has measured the proxy, then exit.
    await asyncio.sleep(float(sys.argv[7]) if len(sys.argv) > 7 else 0)
    for task in tasks:
        task.cancel()


asyncio.run(main())
