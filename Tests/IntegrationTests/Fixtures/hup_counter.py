"""Writes its pid to argv[2] and appends a line to argv[1] on every SIGHUP (a stand-in for Prometheus)."""
import os
import signal
import sys
import time

# The test runner hands its children a blocked signal mask.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
signal.signal(signal.SIGHUP, lambda *_: open(sys.argv[1], "a").write("hup\n"))
with open(sys.argv[2], "w") as pidfile:
    pidfile.write(f"{os.getpid()}\n")
print("ready", flush=True)
while True:
    time.sleep(1)
