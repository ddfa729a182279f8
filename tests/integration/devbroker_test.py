#!/usr/bin/python3
"""End-to-end checks of sluice-devbroker, driven through kcat and the control channels.

Usage: /usr/bin/python3 devbroker_test.py DEVBROKER_BIN

Every wait is bounded: conditions are polled against a deadline, and every child process
gets a timeout. Whatever happens, the brokers this script started are killed at the end.
Prints one line per check and a final "N passed, M failed"; exits 1 on any failure.
"""

import errno
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

WAIT_S = 15.0  # upper bound for any single wait
POLL_S = 0.02  # interval when polling a condition
TOPIC = "t"
PARTITIONS = 3
MESSAGES = [(f"key-{i}", f"value-{i}") for i in range(10)]
HEADERS = "app=demo,trace=abc"


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   - {name}")
        else:
            self.failed += 1
            print(f"FAIL - {name}" + (f": {detail}" if detail else ""))
        return ok


class Broker:
    """One sluice-devbroker process; its stdout is read line by line on a thread."""

    def __init__(self, binary, args, workdir, name, stdin_pipe=False):
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        with open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(
                [binary, *args],
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                bufsize=1,
            )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of stdout

    def next_line(self, timeout=WAIT_S):
        """The next stdout line, or None at end of stdout or after the timeout."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def wait_exit(self, timeout=WAIT_S):
        """The exit status, or None if still running after the timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stderr_text(self):
        with open(self.stderr_path) as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT_S)


def wait_for_file(path, broker, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        if broker.proc.poll() is not None:
            return False
        time.sleep(POLL_S)
    return False


def write_fifo(path, text, timeout=WAIT_S):
    """Opens without blocking, so a dead broker fails the check instead of hanging it.
    ENXIO means no reader right now (the broker reopens the FIFO after each writer)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno not in (errno.ENXIO, errno.ENOENT) or time.monotonic() >= deadline:
                raise
            time.sleep(POLL_S)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def kcat(args, stdin_text=None):
    return subprocess.run(["kcat", *args], input=stdin_text, capture_output=True, text=True, timeout=WAIT_S)


def produce(bootstrap, lines, extra=()):
    return kcat(["-b", bootstrap, "-P", "-t", TOPIC, "-K:", *extra], "".join(f"{line}\n" for line in lines))


def main_scenario(binary, workdir, results, started):
    bootstrap_file = os.path.join(workdir, "bootstrap")
    control = os.path.join(workdir, "control")
    pid_file = os.path.join(workdir, "pid")
    broker = Broker(binary, ["--topic", f"{TOPIC}:{PARTITIONS}", "--bootstrap-file", bootstrap_file,
                             "--control", control, "--pid-file", pid_file, "--max-lifetime", "120"],
                    workdir, "main")
    started.append(broker)

    def command(text):
        write_fifo(control, text + "\n")
        return broker.next_line()

    if not results.check("bootstrap file appears", wait_for_file(bootstrap_file, broker),
                         broker.stderr_text()):
        return
    with open(bootstrap_file) as f:
        content = f.read()
    first_line = broker.next_line()
    results.check("first stdout line equals the bootstrap file", first_line is not None and
                  content == first_line + "\n", f"stdout {first_line!r}, file {content!r}")
    bootstrap = content.strip()
    results.check("bootstrap string is 127.0.0.1 host:port", re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap),
                  bootstrap)
    with open(pid_file) as f:
        pid_text = f.read()
    results.check("pid file holds the broker pid", pid_text == f"{broker.proc.pid}\n", pid_text)
    results.check("control FIFO was created", os.path.exists(control))

    header_args = [arg for h in HEADERS.split(",") for arg in ("-H", h)]
    result = produce(bootstrap, [f"{k}:{v}" for k, v in MESSAGES], header_args)
    results.check("kcat produces 10 keyed messages with headers", result.returncode == 0, result.stderr)

    result = kcat(["-b", bootstrap, "-C", "-t", TOPIC, "-o", "beginning", "-e", "-q", "-f", "%k|%s|%h|%p\n"])
    rows = [line.split("|") for line in result.stdout.splitlines()]
    results.check("kcat reads the 10 keys and values back", result.returncode == 0 and
                  sorted((r[0], r[1]) for r in rows if len(r) == 4) == sorted(MESSAGES),
                  f"rc {result.returncode}, rows {rows}, stderr {result.stderr}")
    results.check("every message carries the headers", len(rows) == len(MESSAGES) and
                  all(len(r) == 4 and r[2] == HEADERS for r in rows), str(rows))
    results.check("messages stay within the 3 partitions",
                  all(len(r) == 4 and r[3] in ("0", "1", "2") for r in rows), str(rows))

    result = kcat(["-b", bootstrap, "-L", "-J", "-t", TOPIC])
    try:
        topics = {t["topic"]: t for t in json.loads(result.stdout)["topics"]}
        partition_ids = sorted(p["partition"] for p in topics[TOPIC]["partitions"])
    except (ValueError, KeyError, TypeError) as e:
        partition_ids = f"unparsable metadata ({e}): {result.stdout!r}"
    results.check("kcat -L shows 3 partitions for t", partition_ids == [0, 1, 2], str(partition_ids))

    reply = command("ping")
    results.check("ping answers OK ping", reply == "OK ping", repr(reply))

    reply = command("err Produce TOPIC_AUTHORIZATION_FAILED")
    results.check("err command answers OK", reply == "OK err Produce TOPIC_AUTHORIZATION_FAILED", repr(reply))
    result = produce(bootstrap, ["key-x:denied"])
    results.check("the injected error fails the next produce", result.returncode != 0 and
                  "Topic authorization failed" in result.stderr, f"rc {result.returncode}: {result.stderr}")
    result = produce(bootstrap, ["key-y:allowed"])
    results.check("the injected error is used up after one request", result.returncode == 0, result.stderr)

    reply = command("frobnicate 1 2")
    results.check("unknown command answers ERR", reply is not None and
                  reply.startswith("ERR frobnicate 1 2: unknown command"), repr(reply))
    reply = command("leader t")
    results.check("missing arguments answer ERR with usage", reply is not None and
                  reply.startswith("ERR leader t: usage: leader <topic>"), repr(reply))
    reply = command("err Produce NO_SUCH_ERROR")
    results.check("unknown error name answers ERR", reply is not None and
                  reply.startswith("ERR err Produce NO_SUCH_ERROR: unknown error"), repr(reply))
    # The mock asserts on an unknown coordinator broker; the broker must refuse it instead.
    reply = command("coord group g 99")
    results.check("out-of-range broker answers ERR", reply is not None and
                  reply.startswith("ERR coord group g 99: broker must be 1..1"), repr(reply))
    reply = command("ping")
    results.check("broker still answers after bad input", reply == "OK ping", repr(reply))

    write_fifo(control, "rtt -1 0\nping\n")
    replies = [broker.next_line(), broker.next_line()]
    results.check("two commands in one write get two replies in order", replies == ["OK rtt -1 0", "OK ping"],
                  repr(replies))
    write_fifo(control, "ping")
    reply = broker.next_line()
    results.check("an unterminated line ends when its writer closes", reply == "OK ping", repr(reply))

    broker.proc.send_signal(signal.SIGTERM)
    status = broker.wait_exit()
    results.check("SIGTERM stops the broker with exit status 0", status == 0,
                  f"status {status}: {broker.stderr_text()}")
    leftovers = [p for p in (bootstrap_file, pid_file, control) if os.path.exists(p)]
    results.check("bootstrap file, pid file and FIFO are removed", not leftovers, str(leftovers))


def stdin_scenario(binary, workdir, results, started):
    broker = Broker(binary, ["--stdin-control", "--max-lifetime", "120"], workdir, "stdin", stdin_pipe=True)
    started.append(broker)
    first_line = broker.next_line()
    results.check("stdin mode prints the bootstrap line", first_line is not None and
                  re.fullmatch(r"127\.0\.0\.1:\d+", first_line), repr(first_line))
    broker.proc.stdin.write("ping\n")
    broker.proc.stdin.flush()
    reply = broker.next_line()
    results.check("stdin command answers OK ping", reply == "OK ping", repr(reply))
    broker.proc.stdin.close()
    status = broker.wait_exit()
    results.check("end of stdin stops the broker with exit status 0", status == 0, f"status {status}")


def lifetime_scenario(binary, workdir, results, started):
    begin = time.monotonic()
    broker = Broker(binary, ["--max-lifetime", "1"], workdir, "lifetime")
    started.append(broker)
    status = broker.wait_exit()
    elapsed = time.monotonic() - begin
    results.check("--max-lifetime 1 stops the broker by itself with status 0",
                  status == 0 and elapsed >= 1.0, f"status {status} after {elapsed:.2f} s")


def bad_arguments_scenario(binary, results):
    for args, expected in ((["--brokers", "0"], "--brokers must be"), (["--topic", "t"], "NAME:PARTITIONS"),
                           (["--missing-topic", "a/b"], "invalid topic name"),
                           (["--no-such-option"], "unknown option")):
        result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=WAIT_S)
        results.check(f"bad arguments {' '.join(args)} exit 2 with usage",
                      result.returncode == 2 and expected in result.stderr and "usage:" in result.stderr,
                      f"rc {result.returncode}: {result.stderr}")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    if shutil.which("kcat") is None:
        print("kcat is not installed", file=sys.stderr)
        return 2

    results = Results()
    started = []
    workdir = tempfile.mkdtemp(prefix="devbroker-test-")
    try:
        main_scenario(binary, workdir, results, started)
        stdin_scenario(binary, workdir, results, started)
        lifetime_scenario(binary, workdir, results, started)
        bad_arguments_scenario(binary, results)
    except Exception as e:  # an unexpected error is one more failure, after cleanup below
        results.check("test ran to completion", False, f"{type(e).__name__}: {e}")
    finally:
        for broker in started:
            broker.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
