"""A stand-in for an application's metrics port, for the sidecar tests.

GET /metrics         the bytes of the file named by --metrics (Content-Type text/plain)
GET /echo-headers    the request headers, one "name: value" per line
GET /slow            waits --slow seconds, then answers 200
GET /big             --big-mb megabytes of metric lines, written in 64 KiB chunks
With "Accept-Encoding: gzip", /metrics answers gzip (mtime 0, so the bytes are reproducible).
Prints "listening on PORT" once bound to 127.0.0.1 (port 0 = any free port).
"""
import argparse
import gzip
import http.server
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--metrics", required=True)
    parser.add_argument("--slow", type=float, default=5.0)
    parser.add_argument("--big-mb", type=int, default=50)
    args = parser.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path.startswith("/metrics"):
                with open(args.metrics, "rb") as f:
                    body = f.read()
                if "gzip" in self.headers.get("Accept-Encoding", ""):
                    self.reply(gzip.compress(body, mtime=0), encoding="gzip")
                else:
                    self.reply(body)
            elif self.path == "/big":
                chunk = b"".join(b"big_metric{n=\"%06d\"} 1\n" % i for i in range(2730))[:65536]
                count = args.big_mb * 16
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(chunk) * count))
                self.end_headers()
                for _ in range(count):
                    self.wfile.write(chunk)
            elif self.path == "/echo-headers":
                self.reply("".join(f"{k.lower()}: {v}\n" for k, v in self.headers.items()).encode())
            elif self.path == "/slow":
                time.sleep(args.slow)
                self.reply(b"slow\n")
            else:
                self.reply(b"not found\n", status=404)

        def reply(self, body, status=200, encoding=None):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    http.server.ThreadingHTTPServer.request_queue_size = 1024  # the load tests open hundreds at once
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
