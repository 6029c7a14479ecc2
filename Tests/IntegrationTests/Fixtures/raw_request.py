"""Sends raw bytes (argv[7], with \\r\\n escapes; or a hex blob after "hex:") to a server and prints the status
line of the answer, or "closed" if the server closed without one. TLS with a client certificate unless
MODE is "plain" (bytes on the TLS port without TLS).

usage: raw_request.py MODE PORT CA CERT KEY unused PAYLOAD
"""
import socket
import ssl
import sys

mode, port, ca, cert, key, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[7]
data = bytes.fromhex(payload[4:]) if payload.startswith("hex:") else payload.encode().decode("unicode_escape").encode("latin-1")
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
if mode == "tls":
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = False
    context.load_cert_chain(cert, key)
    connection = context.wrap_socket(raw, server_hostname="localhost")
else:
    connection = raw
try:
    connection.sendall(data)
    answer = b""
    while b"\r\n" not in answer:
        chunk = connection.recv(4096)
        if not chunk:
            break
        answer += chunk
except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
    answer = b""
line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
print(line if line.startswith("HTTP/") else "closed", flush=True)
