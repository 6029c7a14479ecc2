"""Counts the delayed ACKs the kernel sends while a client makes requests through scrape-sidecar.

Run as root in a fresh network namespace (`unshare --net python3 delayed_acks.py ...`), so that the kernel's
TcpExt DelayedACKs counter sees only these connections. Brings loopback up, starts an upstream and
`scrape-sidecar serve` on free loopback ports, makes COUNT requests and prints "delayed_acks N" and
"requests N" (answered with 200). MODE:
  new-connections  each request on a new connection, the way a client that leaves Nagle's algorithm on does
                   (`ab`, `openssl s_client`): handshake, then the request as a separate write; the upstream
                   answers with one write
  split-upstream   all requests on one keep-alive connection; the upstream writes the head and the body
                   separately with Nagle on, as Python's http.server does

Usage: delayed_acks.py SIDECAR WORKSPACE COUNT MODE
"""
import fcntl
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14s", b"lo", 0, b"")))[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def delayed_acks():
    with open("/proc/net/netstat") as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    return int(dict(zip(lines[0], lines[1]))["DelayedACKs"])


def upstream(split):
    """A keep-alive HTTP/1.1 server on a free loopback port: each answer in one write, or head and body apart."""
    body = b"".join(b"metric_%d 1\n" % n for n in range(1000))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(connection):
        with connection:
            pending = b""
            while data := connection.recv(65536):
                pending += data
                while b"\r\n\r\n" in pending:
                    pending = pending.split(b"\r\n\r\n", 1)[1]
                    if split:
                        connection.sendall(head)
                        connection.sendall(body)
                    else:
                        connection.sendall(head + body)

    def accept():
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def started(command, prefix):
    """Starts command and returns (process, the rest of its first output line starting with prefix)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith(prefix):
            # keep reading what it logs, so that a full pipe never blocks it
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, line[len(prefix):]
    raise SystemExit(f"{command[0]} did not start")


def main():
    sidecar, workspace, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    os.chdir(workspace)
    loopback_up()
    proxy, rest = started([sidecar, "serve", "--listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{upstream(mode == 'split-upstream')}",
                           "--cert", "pki/issued/web.crt", "--key", "pki/private/web.key", "--client-ca", "pki/ca.crt"],
                          "listening on https://127.0.0.1:")
    proxy_port = int(rest.split()[0])
    try:
        context = ssl.create_default_context(cafile="pki/ca.crt")
        context.load_cert_chain("pki/issued/prom.crt", "pki/private/prom.key")
        before, answered = delayed_acks(), 0
        request = b"GET /metrics HTTP/1.1\r\nHost: web.example.internal\r\n\r\n"
        if mode == "new-connections":
            for _ in range(count):
                with socket.create_connection(("127.0.0.1", proxy_port)) as raw:  # Nagle left on
                    with context.wrap_socket(raw, server_hostname="web.example.internal") as tls:
                        tls.sendall(request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
                        response = b""
                        while chunk := tls.recv(65536):
                            response += chunk
                        answered += response.startswith(b"HTTP/1.1 200")
        else:
            with socket.create_connection(("127.0.0.1", proxy_port)) as raw:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with context.wrap_socket(raw, server_hostname="web.example.internal") as tls:
                    for _ in range(count):
                        tls.sendall(request)
                        response = b""
                        while b"\r\n0\r\n\r\n" not in response and not response.endswith(b"metric_999 1\n"):
                            response += tls.recv(65536)
                        answered += response.startswith(b"HTTP/1.1 200")
        print(f"delayed_acks {delayed_acks() - before}")
        print(f"requests {answered}")
    finally:
        proxy.kill()
        proxy.wait()


main()
