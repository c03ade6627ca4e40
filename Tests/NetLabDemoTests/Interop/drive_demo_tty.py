"""Drives `netlab demo` through a pseudo-terminal, as a student at a keyboard would.

usage: drive_demo_tty.py NETLAB_BINARY

Enter until the first HTTP step, `w` for its wiretap, Enter once more, then `q`. Checks the
prompt, the wiretap (ciphertext below TLS, plaintext above it) and the quit; prints "PTY OK"
and exits 0, or exits 1 with the transcript's tail.
"""
import os
import pty
import select
import sys
import time

binary = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.environ["COLUMNS"] = "110"
    os.environ.pop("NO_COLOR", None)
    os.execv(binary, [binary, "demo", "--scenario", "card-deny"])

transcript = b""


def fail(why):
    text = transcript.decode(errors="replace")
    print(f"FAIL: {why}\n--- last output ---\n{text[-3000:]}")
    try:
        os.kill(pid, 9)
    except OSError:
        pass
    sys.exit(1)


def read_until(needle, timeout=30.0, since=0):
    """Reads until `needle` appears after offset `since` (a guard of `timeout` seconds)."""
    global transcript
    deadline = time.time() + timeout
    while needle not in transcript[since:]:
        if time.time() > deadline:
            fail(f"timed out waiting for {needle!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                fail(f"the demo ended before {needle!r}")
            if not data:
                fail(f"the demo ended before {needle!r}")
            transcript += data
    return transcript.index(needle, since)


def press(key):
    os.write(fd, key)


prompt = b"[Enter] next"
mark = read_until(prompt) + len(prompt)
# Enter until an HTTP step is on screen, then stop there.
for _ in range(12):
    if b"\xc2\xb7 HTTP \xc2\xb7" in transcript[:mark]:
        break
    press(b"\r")
    mark = read_until(prompt, since=mark) + len(prompt)
else:
    fail("no HTTP step within 12 presses of Enter")

press(b"w")
read_until(b"below TLS", since=mark)
read_until(b"above TLS", since=mark)
mark = read_until(prompt, since=mark) + len(prompt)
press(b"\r")
mark = read_until(prompt, since=mark) + len(prompt)
press(b"q")
read_until(b"stopped at step", since=mark)

_, status = os.waitpid(pid, 0)
if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
    fail(f"exit status {status}")
print("PTY OK")
