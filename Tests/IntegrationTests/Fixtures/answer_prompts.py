"""Runs a command on a pseudo-terminal and types ANSWER after each prompt that ends with ': ' (as a person
would: getpass flushes typed-ahead input). Prints the command's output; exits with its status.

usage: answer_prompts.py ANSWER COMMAND [ARG...]
"""
import os
import pty
import sys

answer = sys.argv[1].encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
output = b""
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    output += chunk
    if chunk.rstrip(b"\r\n").endswith(b": "):
        os.write(fd, answer)
_, status = os.waitpid(pid, 0)
sys.stdout.write(output.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
