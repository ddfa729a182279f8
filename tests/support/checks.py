"""The check runner of the Python tests of deployment artifacts and packaging
(tests/integration/deployment_test.py, tests/packaging/*_test.py): each check prints one line,
ok or FAIL with the reason, and one failed check does not stop the others."""

import shutil
import subprocess
import sys
import traceback


class CheckFailure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailure(message)


def tool(name, package):
    path = shutil.which(name)
    expect(path is not None, f"{name} not found; install the Debian package {package}")
    return path


def run_command(argv, timeout=120, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, function, *args):
        try:
            note = function(*args)
        except CheckFailure as failure:
            self.failed += 1
            print(f"FAIL {name}: {failure}")
        except Exception:  # a crash in a check is a failure of that check, not of the run
            self.failed += 1
            print(f"FAIL {name}: unexpected error")
            traceback.print_exc(file=sys.stdout)
        else:
            self.passed += 1
            print(f"ok   {name}" + (f" ({note})" if note else ""))
        return note

    def summary(self):
        """Prints `N passed, M failed`; the exit status: 1 when any check failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
