#!/usr/bin/python3
"""Checks what `cmake --install` puts where, and that the installed pieces work together.

Usage: install_test.py SOURCE_DIR BUILD_DIR

Two installs of the same (already built) tree:

- DESTDIR=<tmp> cmake --install BUILD_DIR --prefix /usr, the package's layout: exactly the
  expected files with their modes, the installed config naming /usr/share/sluice/schemas and
  /etc/sluice/blocked_senders.txt, the unit running /usr/bin/sluice as the user sluice, its
  systemd-analyze security exposure, and systemd-sysusers/systemd-tmpfiles applying the
  sysusers.d and tmpfiles.d entries inside that root;
- cmake --install BUILD_DIR --prefix <tmp>, without DESTDIR, so every path the installed files
  name is real: systemd-analyze verify on the installed unit (which names the installed
  binary), and the installed binary's check-config on the installed config, run from /.

Each check prints one line; the last line is `N passed, M failed`; the exit status is 1 when
any check failed. Needs cmake and the Debian package systemd (systemd-analyze, -sysusers,
-tmpfiles); runs as any user.
"""

import os
import re
import stat
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import CheckFailure, Checks, expect, run_command, tool  # noqa: E402  (found through the path just set)

# The package's files and modes (cmake/Packaging.cmake); anything else installed is a failure.
EXPECTED_FILES = {
    "usr/bin/sluice": 0o755,
    "etc/sluice/sluice.yaml": 0o644,
    "etc/sluice/blocked_senders.txt": 0o644,
    "etc/default/sluice": 0o600,
    "lib/systemd/system/sluice.service": 0o644,
    "usr/lib/sysusers.d/sluice.conf": 0o644,
    "usr/lib/tmpfiles.d/sluice.conf": 0o644,
}
# The most systemd-analyze security --offline may report for the unit (1.1 when written).
MAX_EXPOSURE = 2.0


def cmake_install(build_dir, prefix, destdir=None):
    environment = dict(os.environ)
    environment.pop("DESTDIR", None)
    if destdir:
        environment["DESTDIR"] = destdir
    result = run_command([tool("cmake", "cmake"), "--install", build_dir, "--prefix", prefix], env=environment)
    expect(result.returncode == 0, f"cmake --install --prefix {prefix} failed:\n{result.stdout}{result.stderr}")


def installed_files(root):
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            files[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return files


def read_unit_service(path):
    service = {}
    section = None
    with open(path, encoding="utf-8") as source:
        for line in source:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Service":
                key, _, value = line.partition("=")
                service.setdefault(key, []).append(value)
    return service


# The package layout (DESTDIR, prefix /usr) ---------------------------------------------------

def check_layout(source_dir, root):
    files = installed_files(root)
    schemas = sorted(name for name in os.listdir(os.path.join(source_dir, "config/schemas")) if name.endswith(".json"))
    expected = dict(EXPECTED_FILES)
    expected.update({f"usr/share/sluice/schemas/{name}": 0o644 for name in schemas})
    missing = sorted(set(expected) - set(files))
    extra = sorted(set(files) - set(expected))
    expect(not missing, f"not installed: {missing}")
    expect(not extra, f"installed but not expected (dev tools, tests?): {extra}")
    wrong = [f"{path} {mode:o} (expected {expected[path]:o})" for path, mode in files.items() if mode != expected[path]]
    expect(not wrong, "wrong modes: " + ", ".join(wrong))
    for name in schemas:
        with open(os.path.join(source_dir, "config/schemas", name), "rb") as original, \
                open(os.path.join(root, "usr/share/sluice/schemas", name), "rb") as installed:
            expect(original.read() == installed.read(), f"the installed schema {name} differs from config/schemas/")
    return f"{len(files)} files"


def check_installed_config(root):
    with open(os.path.join(root, "etc/sluice/sluice.yaml"), encoding="utf-8") as source:
        config = yaml.safe_load(source)
    pipeline = config["pipeline"]
    expect(pipeline["schemas_dir"] == "/usr/share/sluice/schemas",
           f"schemas_dir is {pipeline['schemas_dir']!r}, not /usr/share/sluice/schemas")
    expect(pipeline["filter"]["blocked_senders_file"] == "/etc/sluice/blocked_senders.txt",
           f"blocked_senders_file is {pipeline['filter']['blocked_senders_file']!r}")
    expect(pipeline["dedup"]["sqlite_path"].endswith("/var/lib/sluice}/dedup.db"),
           f"sqlite_path {pipeline['dedup']['sqlite_path']!r} is not under /var/lib/sluice")


def check_installed_unit(root):
    service = read_unit_service(os.path.join(root, "lib/systemd/system/sluice.service"))
    expect(service.get("ExecStart", [""])[-1].startswith("/usr/bin/sluice run --config /etc/sluice/sluice.yaml"),
           f"ExecStart= is {service.get('ExecStart')}")
    expect(service.get("User") == ["sluice"] and service.get("Group") == ["sluice"], "User= and Group= are not sluice")
    expect("DynamicUser" not in service, "DynamicUser= is set besides the static user")
    expect(service.get("EnvironmentFile") == ["-/etc/default/sluice"], "EnvironmentFile= is not -/etc/default/sluice")
    expect(service.get("StateDirectory") == ["sluice"], "StateDirectory= is not sluice")
    expect(os.access(os.path.join(root, "usr/bin/sluice"), os.X_OK), "usr/bin/sluice is not executable")


def check_exposure(root):
    analyze = tool("systemd-analyze", "systemd")
    result = run_command([analyze, "security", "--offline=true", f"--root={root}", "--no-pager", "sluice.service"],
                         env=dict(os.environ, SYSTEMD_COLORS="0"))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    expect(match is not None, f"no exposure level in the output:\n{result.stdout}{result.stderr}")
    exposure = float(match.group(1))
    expect(exposure <= MAX_EXPOSURE, f"exposure {exposure} is above {MAX_EXPOSURE}")
    return f"exposure {exposure}"


def check_sysusers_tmpfiles(root):
    sysusers = tool("systemd-sysusers", "systemd")
    tmpfiles = tool("systemd-tmpfiles", "systemd")
    result = run_command([sysusers, f"--root={root}"])
    expect(result.returncode == 0, f"systemd-sysusers --root failed:\n{result.stderr}")
    with open(os.path.join(root, "etc/passwd"), encoding="utf-8") as source:
        users = {line.split(":")[0]: line.rstrip("\n").split(":") for line in source if line.strip()}
    expect("sluice" in users, "sysusers.d created no user sluice")
    user = users["sluice"]
    expect(0 < int(user[2]) < 1000, f"sluice has uid {user[2]}, not a system uid")
    expect(user[5] == "/var/lib/sluice" and user[6].endswith("nologin"),
           f"sluice's home or shell is {user[5]!r}, {user[6]!r}")
    result = run_command([tmpfiles, f"--root={root}", "--create"])
    expect(result.returncode == 0, f"systemd-tmpfiles --root --create failed:\n{result.stderr}")
    state = os.stat(os.path.join(root, "var/lib/sluice"))
    expect(stat.S_ISDIR(state.st_mode) and stat.S_IMODE(state.st_mode) == 0o700,
           "var/lib/sluice is not a directory of mode 0700")
    if os.geteuid() == 0:   # only root can give a file away
        expect(state.st_uid == int(user[2]), f"var/lib/sluice belongs to uid {state.st_uid}, not sluice's")
    return f"uid {user[2]}"


# A real install (prefix <tmp>, no DESTDIR) ------------------------------------------------------

def check_unit_verifies(prefix):
    analyze = tool("systemd-analyze", "systemd")
    unit = os.path.join(prefix, "lib/systemd/system/sluice.service")
    service = read_unit_service(unit)
    expect(service["ExecStart"][-1].startswith(os.path.join(prefix, "bin/sluice") + " run"),
           f"the unit does not run the binary installed under {prefix}")
    result = run_command([analyze, "verify", "--man=no", unit])
    remarks = [line for line in (result.stdout + result.stderr).splitlines() if "sluice.service" in line]
    expect(result.returncode == 0 and not remarks,
           f"systemd-analyze verify exit {result.returncode}:\n" + "\n".join(remarks or [result.stderr]))


def check_config_loads(prefix):
    config = os.path.join(prefix, "etc/sluice/sluice.yaml")
    with open(config, encoding="utf-8") as source:
        schemas_dir = yaml.safe_load(source)["pipeline"]["schemas_dir"]
    expect(schemas_dir == os.path.join(prefix, "share/sluice/schemas"),
           f"schemas_dir is {schemas_dir!r}, not the schemas installed under {prefix}")
    state = os.path.join(prefix, "state")
    os.makedirs(state)
    # From /, so that nothing resolves against the repository or the build tree.
    result = run_command([os.path.join(prefix, "bin/sluice"), "check-config", "--config", config], cwd="/",
                         env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "STATE_DIRECTORY": state})
    expect(result.returncode == 0, f"check-config exit {result.returncode}:\n{result.stdout}{result.stderr}")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source_dir, build_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="sluice-install-") as scratch:
        root = os.path.join(scratch, "destdir")
        prefix = os.path.join(scratch, "prefix")
        checks.run("DESTDIR install with --prefix /usr", cmake_install, build_dir, "/usr", root)
        if checks.failed:
            return checks.summary()
        checks.run("/usr: exactly the package's files, with their modes", check_layout, source_dir, root)
        checks.run("/usr: sluice.yaml names the installed schemas and blocked senders", check_installed_config, root)
        checks.run("/usr: the unit runs /usr/bin/sluice as the user sluice", check_installed_unit, root)
        checks.run(f"/usr: systemd-analyze security exposure is at most {MAX_EXPOSURE}", check_exposure, root)
        checks.run("/usr: sysusers.d creates sluice, tmpfiles.d its state directory", check_sysusers_tmpfiles, root)
        checks.run("install with --prefix <tmp>", cmake_install, build_dir, prefix)
        checks.run("<tmp>: systemd-analyze verify has no remarks on the installed unit", check_unit_verifies, prefix)
        checks.run("<tmp>: the installed binary's check-config accepts the installed config", check_config_loads, prefix)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
