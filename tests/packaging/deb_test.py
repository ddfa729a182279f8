#!/usr/bin/python3
"""Checks the Debian package that CPack makes of a build tree.

Usage: deb_test.py SOURCE_DIR BUILD_DIR

Runs scripts/package on BUILD_DIR (`--build-dir`: CPack's DEB generator on the tree's install
rules), into a temporary directory, and reads the .deb back with dpkg-deb: its control fields (Package, Version, Architecture, a Depends naming the
package of every library the binary loads), its conffiles and maintainer scripts, and its
file list. Without --build-dir, scripts/package makes the released .deb the same way from a
Release tree of its own; this test packages the tree it was built in (RelWithDebInfo, with tests), since a second build
would take longer than the whole check. What differs between the two is the binary's
optimisation, not what the package holds.

Each check prints one line; the last line is `N passed, M failed`; the exit status is 1 when
any check failed. Needs cmake (cpack) and dpkg (dpkg-deb, dpkg-architecture).
"""

import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import CheckFailure, Checks, expect, run_command, tool  # noqa: E402  (found through the path just set)

# The package's files (cmake/Packaging.cmake), besides /usr/share/sluice/schemas/*.json.
EXPECTED_FILES = {
    "./usr/bin/sluice",
    "./etc/sluice/sluice.yaml",
    "./etc/sluice/blocked_senders.txt",
    "./etc/default/sluice",
    "./lib/systemd/system/sluice.service",
    "./usr/lib/sysusers.d/sluice.conf",
    "./usr/lib/tmpfiles.d/sluice.conf",
}
CONFFILES = {"/etc/sluice/sluice.yaml", "/etc/sluice/blocked_senders.txt", "/etc/default/sluice"}
# The Debian 12 packages of the libraries `ldd sluice` lists (docker/runtime-packages.txt,
# checked against ldd by deployment_test.py); libjemalloc2 only with the jemalloc allocator.
RUNTIME_LIBRARIES = ["libc6", "libstdc++6", "librdkafka1", "libhiredis0.14", "libsqlite3-0", "libyaml-cpp0.7",
                     "libssl3", "libsystemd0", "libprometheus-cpp-core1.0"]


def project_version(source_dir):
    with open(os.path.join(source_dir, "CMakeLists.txt"), encoding="utf-8") as source:
        match = re.search(r"project\(sluice VERSION (\S+)", source.read())
    expect(match, "no project(sluice VERSION ...) in CMakeLists.txt")
    return match.group(1)


def make_package(source_dir, build_dir, output):
    """scripts/package itself, on the test's tree (it skips the configure step with --build-dir)."""
    environment = dict(os.environ)
    environment.pop("DESTDIR", None)
    environment.setdefault("JOBS", "1")  # sluice is built already; nothing to spread
    result = run_command([os.path.join(source_dir, "scripts", "package"), "--build-dir", build_dir, "--output", output],
                         cwd=source_dir, env=environment, timeout=300)
    expect(result.returncode == 0, f"scripts/package failed:\n{result.stdout}{result.stderr}")
    expect("scripts/package: " in result.stdout, "scripts/package did not name the .deb it made")
    debs = [name for name in os.listdir(output) if name.endswith(".deb")]
    expect(len(debs) == 1, f"scripts/package made {debs}, not one .deb")
    return os.path.join(output, debs[0])


def field(deb, name):
    result = run_command([tool("dpkg-deb", "dpkg"), "-f", deb, name])
    expect(result.returncode == 0, f"dpkg-deb -f {name} failed: {result.stderr}")
    return result.stdout.strip()


def check_control(deb, source_dir, build_dir):
    version = project_version(source_dir)
    architecture = run_command([tool("dpkg", "dpkg"), "--print-architecture"]).stdout.strip()
    expect(field(deb, "Package") == "sluice", f"Package is {field(deb, 'Package')!r}")
    expect(field(deb, "Version") == version, f"Version is {field(deb, 'Version')!r}, not {version}")
    expect(field(deb, "Architecture") == architecture, f"Architecture is {field(deb, 'Architecture')!r}")
    expect(field(deb, "Maintainer"), "no Maintainer")
    expect(os.path.basename(deb) == f"sluice_{version}_{architecture}.deb", f"the file is named {os.path.basename(deb)}")
    depends = {re.split(r"[ (]", entry.strip())[0] for entry in field(deb, "Depends").split(",")}
    needed = list(RUNTIME_LIBRARIES) + ["ca-certificates"]
    # Sanitizer and fuzzing builds keep the system malloc (CMakeLists.txt, SLUICE_ALLOCATOR).
    linked = run_command(["ldd", os.path.join(build_dir, "bin/sluice")]).stdout
    if "libjemalloc" in linked:
        needed.append("libjemalloc2")
    missing = [name for name in needed if name not in depends]
    expect(not missing, f"Depends lacks {missing}: {field(deb, 'Depends')}")
    return f"{field(deb, 'Package')} {field(deb, 'Version')} {field(deb, 'Architecture')}; Depends: {field(deb, 'Depends')}"


def check_control_files(deb):
    with tempfile.TemporaryDirectory() as control:
        result = run_command([tool("dpkg-deb", "dpkg"), "-e", deb, control])
        expect(result.returncode == 0, f"dpkg-deb -e failed: {result.stderr}")
        with open(os.path.join(control, "conffiles"), encoding="utf-8") as source:
            conffiles = {line.strip() for line in source if line.strip()}
        expect(conffiles == CONFFILES, f"conffiles are {sorted(conffiles)}, expected {sorted(CONFFILES)}")
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            expect(os.path.isfile(path) and os.stat(path).st_mode & 0o777 == 0o755, f"{script} is missing or not 0755")
            result = run_command(["/bin/sh", "-n", path])
            expect(result.returncode == 0, f"{script} is not valid sh: {result.stderr}")
        with open(os.path.join(control, "postinst"), encoding="utf-8") as source:
            postinst = source.read()
        expect("systemd-sysusers" in postinst and "systemd-tmpfiles" in postinst and "daemon-reload" in postinst,
               "postinst does not apply sysusers.d and tmpfiles.d and reload systemd")
        expect(not re.search(r"systemctl\s+(enable|start)", postinst), "postinst enables or starts the service")


def check_files(deb, source_dir):
    result = run_command([tool("dpkg-deb", "dpkg"), "-c", deb])
    expect(result.returncode == 0, f"dpkg-deb -c failed: {result.stderr}")
    entries = {}
    for line in result.stdout.splitlines():
        parts = line.split(None, 5)
        entries[parts[5].split(" -> ")[0]] = (parts[0], parts[1])
    files = {path for path, (mode, _) in entries.items() if not mode.startswith("d")}
    schemas = {f"./usr/share/sluice/schemas/{name}" for name in os.listdir(os.path.join(source_dir, "config/schemas"))
               if name.endswith(".json")}
    expected = EXPECTED_FILES | schemas
    expect(files == expected, f"missing {sorted(expected - files)}, unexpected {sorted(files - expected)}")
    expect(entries["./etc/default/sluice"][0] == "-rw-------", "/etc/default/sluice is not 0600")
    expect(entries["./usr/bin/sluice"][0] == "-rwxr-xr-x", "/usr/bin/sluice is not 0755")
    owners = {owner for _, owner in entries.values()}
    expect(owners == {"root/root"}, f"files owned by {sorted(owners)}, not root/root")
    return f"{len(files)} files"


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source_dir, build_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="sluice-deb-") as output:
        deb = checks.run("scripts/package --build-dir on the build tree", make_package, source_dir, build_dir, output)
        if deb:
            checks.run("control: Package, Version, Architecture, Depends", check_control, deb, source_dir, build_dir)
            checks.run("control: conffiles and maintainer scripts", check_control_files, deb)
            checks.run("data: exactly the package's files, modes and owners", check_files, deb, source_dir)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
