#!/usr/bin/python3
"""Checks `sluice fingerprint` against Python's fingerprint, message by message.

    fingerprint_cli_test.py SLUICE_BIN [--count N] [--seed S]

Generates a corpus with tests/support/fingerprint_corpus.py, runs `SLUICE_BIN fingerprint`
once per message with the raw bytes on stdin, and expects exactly the Python hex digest and a
newline on stdout. Prints one line per mismatch and a final `<n> passed, <m> failed`; exits 0
only when every message matched.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import fingerprint_corpus  # noqa: E402  (found through the path set just above)

TIMEOUT_SECONDS = 10


def check(binary, raw, expected):
    """None when `binary fingerprint` prints `expected`, else a description of what went wrong."""
    try:
        result = subprocess.run([binary, "fingerprint"], input=raw, capture_output=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return "no answer within %d s" % TIMEOUT_SECONDS
    want = (expected + "\n").encode("ascii")
    if result.returncode != 0:
        return "exit status %d, stderr %r" % (result.returncode, result.stderr.decode("utf-8", "replace").strip())
    if result.stdout != want:
        return "stdout %r, expected %r" % (result.stdout, want)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the sluice executable")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args()

    if not os.access(args.binary, os.X_OK):
        print("not an executable: %s" % args.binary)
        return 2

    corpus = fingerprint_corpus.generate(args.count, args.seed)
    passed = 0
    failed = 0
    for index, (raw, expected) in enumerate(corpus):
        problem = check(args.binary, raw, expected)
        if problem is None:
            passed += 1
            continue
        failed += 1
        print("MISMATCH message %d (seed %d): %s" % (index, args.seed, problem))
        print("  raw: %r" % raw[:400])
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed == len(corpus) else 1


if __name__ == "__main__":
    sys.exit(main())
