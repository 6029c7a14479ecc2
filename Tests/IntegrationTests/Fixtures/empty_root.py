"""Runs the shipped (fully static) certtool and scrape-sidecar in an empty root, as in a `FROM scratch` image.

Run as root in fresh network and mount namespaces (`unshare --net --mount --fork python3 empty_root.py ...`).
The root holds nothing but the two binaries, /etc/hosts, an /etc/resolv.conf naming a DNS server this script
answers on 127.0.0.1:53, and /proc — no libc, no libcrypto, no ld.so. Inside it: `certtool init --encrypt-key`,
`certtool serve` with that key, `scrape-sidecar certs` enrolling with the CA under a name only DNS knows
(ca.meshca.test), and `scrape-sidecar serve` with the enrolled identity in front of an upstream; a client
outside the root then scrapes through it with a certificate the CA issued. Prints one "name value" line per
fact for the test to check, and the servers' output on failure. `certtool issue` runs under strace, which
shows that the static binary makes the system calls the store relies on (syncfs, fallocate, one getrandom for
the serial) rather than falling back.

Usage: empty_root.py CERTTOOL SIDECAR WORKDIR
"""
import fcntl
import http.server
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
CA_NAME = "ca.meshca.test"


def loopback_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14s", b"lo", 0, b"")))[1]
    fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def interpreter(path):
    """The ELF program interpreter (PT_INTERP) of a 64-bit little-endian executable, or None if it has none."""
    with open(path, "rb") as f:
        header = f.read(64)
        phoff, = struct.unpack_from("<Q", header, 32)
        phentsize, phnum = struct.unpack_from("<HH", header, 54)
        for index in range(phnum):
            f.seek(phoff + index * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


class DNS:
    """Answers A queries for CA_NAME with 127.0.0.1; other names NXDOMAIN, other types no records."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 53))
        self.answered = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            query, peer = self.socket.recvfrom(512)
            end = 12
            labels = []
            while query[end]:
                labels.append(query[end + 1:end + 1 + query[end]].decode().lower())
                end += 1 + query[end]
            qtype, = struct.unpack_from(">H", query, end + 1)
            question = query[12:end + 5]
            known = ".".join(labels) == CA_NAME
            answers = b""
            if known and qtype == 1:
                answers = struct.pack(">HHHIH4s", 0xC00C, 1, 1, 60, 4, socket.inet_aton("127.0.0.1"))
                self.answered += 1
            flags = 0x8180 if known else 0x8183
            header = query[:2] + struct.pack(">HHHHH", flags, 1, 1 if answers else 0, 0, 0)
            self.socket.sendto(header + question + answers, peer)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, log):
    for _ in range(200):
        if process.poll() is not None:
            fail(f"exited with {process.returncode} before listening", log)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    fail(f"nothing listens on {port}", log)


def fail(message, log=None):
    print(f"error {message}")
    if log:
        with open(log) as f:
            print(f.read())
    sys.exit(1)


def main():
    certtool, sidecar, work = sys.argv[1:4]
    loopback_up()
    dns = DNS()
    root = os.path.join(work, "root")
    for directory in ["bin", "etc", "proc", "out"]:
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    shutil.copy(certtool, os.path.join(root, "bin/certtool"))
    shutil.copy(sidecar, os.path.join(root, "bin/scrape-sidecar"))
    with open(os.path.join(root, "etc/hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n")
    with open(os.path.join(root, "etc/resolv.conf"), "w") as f:
        f.write("nameserver 127.0.0.1\n")
    with open(os.open(os.path.join(root, "pass"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("correct horse\n")
    subprocess.run(["mount", "-t", "proc", "proc", os.path.join(root, "proc")], check=True)
    for name in ["certtool", "scrape-sidecar"]:
        print(f"interpreter {name} {interpreter(os.path.join(root, 'bin', name))}")

    def inside(*args):
        return ["chroot", root] + list(args)

    def run(*args):
        result = subprocess.run(inside(*args), capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"{' '.join(args)} exited with {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    processes = []
    try:
        run("/bin/certtool", "init", "--pki", "/pki", "--encrypt-key", "--passphrase-file", "/pass")
        # Encrypted: openssl opens the key with the passphrase and refuses a wrong one (a plain key opens with any).
        def opens(passin):
            return subprocess.run(["openssl", "pkey", "-noout", "-in", os.path.join(root, "pki/private/ca.key"),
                                   "-passin", passin], capture_output=True).returncode == 0
        print("encrypted_ca_key " + str(opens("file:" + os.path.join(root, "pass")) and not opens("pass:not-the-passphrase")))
        token = run("/bin/certtool", "token", "--pki", "/pki", "--passphrase-file", "/pass",
                    "--server", "--san", "DNS:app.example.internal", "--ttl", "1h").strip()
        with open(os.open(os.path.join(root, "token"), os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(token + "\n")
        # Under strace: the GNU extensions the store relies on are called, not silently replaced by fallbacks.
        trace = os.path.join(work, "issue.strace")
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=syncfs,fallocate,getrandom", "-o", trace]
                       + inside("/bin/certtool", "issue", "prom", "--client", "--san", "DNS:prometheus.example.internal",
                                "--pki", "/pki", "--passphrase-file", "/pass"), check=True, capture_output=True)
        calls = open(trace).read()
        print(f"issue_syncfs {calls.count('syncfs(')}")
        print(f"issue_fallocate {calls.count('fallocate(')}")
        print(f"issue_serial_getrandom {sum(1 for line in calls.splitlines() if 'getrandom(' in line and line.endswith('= 16'))}")

        ca_port = free_port()
        ca_log = os.path.join(work, "ca.log")
        ca = subprocess.Popen(inside("/bin/certtool", "serve", "--pki", "/pki", "--passphrase-file", "/pass",
                                     "--listen", f"127.0.0.1:{ca_port}", "--san", f"DNS:{CA_NAME}"),
                              stdout=open(ca_log, "w"), stderr=subprocess.STDOUT)
        processes.append(ca)
        wait_for_port(ca_port, ca, ca_log)

        run("/bin/scrape-sidecar", "certs", "--ca-url", f"https://{CA_NAME}:{ca_port}", "--ca-bundle", "/pki/ca.crt",
            "--token", "/token", "--server", "--san", "DNS:app.example.internal", "--out", "/out", "--once")
        print(f"dns_answers {dns.answered}")
        print("enrolled " + " ".join(sorted(n for n in os.listdir(os.path.join(root, "out")) if not n.startswith(".."))))

        body = b"".join(b"metric_%d 1\n" % n for n in range(100))

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        port = free_port()
        sidecar_log = os.path.join(work, "sidecar.log")
        serve = subprocess.Popen(inside("/bin/scrape-sidecar", "serve", "--listen", f"127.0.0.1:{port}",
                                        "--upstream", f"http://127.0.0.1:{upstream.server_port}",
                                        "--cert", "/out/cert-chain.pem", "--key", "/out/key.pem",
                                        "--client-ca", "/pki/ca.crt", "--allow-san", "DNS:prometheus.example.internal",
                                        "--admin-listen", f"127.0.0.1:{free_port()}"),
                                 stdout=open(sidecar_log, "w"), stderr=subprocess.STDOUT)
        processes.append(serve)
        wait_for_port(port, serve, sidecar_log)

        context = ssl.create_default_context(cafile=os.path.join(root, "pki/ca.crt"))
        context.load_cert_chain(os.path.join(root, "pki/issued/prom.crt"), os.path.join(root, "pki/private/prom.key"))
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                context.wrap_socket(raw, server_hostname="app.example.internal") as tls:
            tls.sendall(b"GET /metrics HTTP/1.1\r\nHost: app.example.internal\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := tls.recv(65536):
                response += chunk
        head, _, received = response.partition(b"\r\n\r\n")
        print(f"scrape_status {head.split(b' ')[1].decode()}")
        print(f"scrape_body_matches {received == body}")
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        subprocess.run(["umount", os.path.join(root, "proc")])


main()
