"""EST simpleenroll clients over keep-alive HTTPS, one enrollment per one-time token.
Usage: token_enroll_clients.py URL CA CSR_B64_FILE TOKENS_FILE CONCURRENCY — prints "RATE CODES"
(enrollments per second, and the HTTP statuses counted)."""
import http.client
import ssl
import sys
import threading
import time
import urllib.parse

url, ca, csr_file, tokens_file, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
target = urllib.parse.urlparse(url)
csr = open(csr_file, "rb").read()
tokens = iter(open(tokens_file).read().split())
lock = threading.Lock()
codes = {}
context = ssl.create_default_context(cafile=ca)


def client():
    connection = http.client.HTTPSConnection(target.hostname, target.port, context=context)
    while True:
        with lock:
            token = next(tokens, None)
        if token is None:
            return
        connection.request("POST", "/.well-known/est/simpleenroll", body=csr,
                           headers={"Content-Type": "application/pkcs10", "Authorization": "Bearer " + token})
        response = connection.getresponse()
        response.read()
        with lock:
            codes[response.status] = codes.get(response.status, 0) + 1


start = time.monotonic()
threads = [threading.Thread(target=client) for _ in range(concurrency)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(f"{sum(codes.values()) / (time.monotonic() - start):.0f} {','.join(f'{k}:{v}' for k, v in sorted(codes.items()))}")
