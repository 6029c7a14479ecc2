"""Opens a TLS connection and trickles REQUEST one byte every INTERVAL seconds (slowloris), or, with an empty
REQUEST, sends one whole GET and then stays idle. Prints how long the server kept the connection open.

usage: slow_client.py HOST PORT CA CERT KEY INTERVAL LIMIT [REQUEST]
"""
import socket
import ssl
import sys
import time

host, port, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
interval, limit = float(sys.argv[6]), float(sys.argv[7])
request = sys.argv[8].encode().decode("unicode_escape").encode() if len(sys.argv) > 8 else b""

context = ssl.create_default_context(cafile=ca)
context.check_hostname = False
context.load_cert_chain(cert, key)
connection = context.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
start = time.monotonic()
if not request:
    connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    response = b""
    while b"\r\n\r\n" not in response:
        response += connection.recv(65536)
    print("answered", response.split(b"\r\n", 1)[0].decode(), flush=True)
    start = time.monotonic()
connection.settimeout(interval)
sent = 0
while time.monotonic() - start < limit:
    try:
        if request and sent < len(request):
            connection.sendall(request[sent:sent + 1])
            sent += 1
        data = connection.recv(65536)
        if not data:
            break
    except socket.timeout:
        continue
    except (ConnectionError, ssl.SSLError, OSError):
        break
else:
    print(f"still open after {limit:.0f}s", flush=True)
    sys.exit(0)
print(f"closed after {time.monotonic() - start:.1f}s", flush=True)
