"""Open N mutual-TLS connections to 127.0.0.1:PORT, complete the handshakes, hold them idle, and report.

Usage: hold_connections.py PORT N CA CERT KEY — prints "held N" once all are open, then waits for stdin EOF.
"""
import resource
import socket
import ssl
import sys


def main():
    port, count, ca, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    context.check_hostname = False
    held = []
    for _ in range(count):
        raw = socket.create_connection(("127.0.0.1", port))
        held.append(context.wrap_socket(raw, server_hostname="web.example.internal"))
    print(f"held {len(held)}", flush=True)
    sys.stdin.read()
    for connection in held:
        connection.close()


if __name__ == "__main__":
    main()
