"""A stand-in for a PushProx proxy behind the front, speaking its HTTP paths.

POST /poll   reads the FQDN, holds the request --poll-wait seconds, answers 200 with a scrape request
POST /push   reads the pushed body, answers 200 with its length
GET  /echo   answers with the request headers it received, one "name: value" per line
Every request that arrives is logged as "REQUEST METHOD PATH BODY" on stdout.
"""
import argparse
import http.server
import socketserver
import time

parser = argparse.ArgumentParser()
parser.add_argument("--poll-wait", type=float, default=1.0)
args = parser.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(length) if length else b""

    def do_POST(self):
        body = self.body()
        print(f"REQUEST POST {self.path} {body[:80].decode(errors='replace')}", flush=True)
        if self.path == "/poll":
            time.sleep(args.poll_wait)
            fqdn = body.decode().strip()
            self.reply(f"GET http://{fqdn}:9100/metrics HTTP/1.1\r\nId: 1234\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n".encode())
        elif self.path == "/push":
            self.reply(f"pushed {len(body)}\n".encode())
        else:
            self.reply(b"not found\n", 404)

    def do_GET(self):
        print(f"REQUEST GET {self.path}", flush=True)
        if self.path == "/echo":
            self.reply("".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode())
        else:
            self.reply(b"not found\n", 404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
