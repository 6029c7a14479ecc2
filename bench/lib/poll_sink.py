"""A stand-in PushProx proxy that holds every POST /poll open and never answers; it writes how many polls
have arrived to COUNTFILE. Usage: poll_sink.py PORT COUNTFILE"""
import asyncio
import resource
import sys

port, count_file = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
count = 0


async def handle(reader, writer):
    global count
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")), 0)
    await reader.readexactly(length)
    count += 1
    with open(count_file, "w") as f:
        f.write(str(count))
    await reader.read()  # hold until the proxy closes the connection


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=8192)
    async with server:
        await server.serve_forever()

asyncio.run(main())
