"""EST simplereenroll over keep-alive HTTPS from several threads, until the server goes away.
Usage: reenroll_until_gone.py URL CA CERT KEY CSR_B64_FILE THREADS OUT — appends every 200 answer (base64 DER,
one per line) to OUT, and prints "answered N" once every thread has lost its connection."""
import http.client
import ssl
import sys
import threading
import urllib.parse

url, ca, cert, key, csr_file, threads, out = sys.argv[1:8]
target = urllib.parse.urlparse(url)
csr = open(csr_file, "rb").read()
context = ssl.create_default_context(cafile=ca)
context.load_cert_chain(cert, key)
lock = threading.Lock()
answers = open(out, "w")
count = 0


def client():
    global count
    connection = http.client.HTTPSConnection(target.hostname, target.port, context=context, timeout=20)
    while True:
        try:
            connection.request("POST", "/.well-known/est/simplereenroll", body=csr,
                               headers={"Content-Type": "application/pkcs10"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            return
        if response.status == 200:
            with lock:
                answers.write("".join(body.decode().split()) + "\n")
                answers.flush()
                count += 1


workers = [threading.Thread(target=client) for _ in range(int(threads))]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(f"answered {count}", flush=True)
