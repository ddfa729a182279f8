#!/usr/bin/python3
"""Checks sluice's deployment artifacts against each other and against the binary.

Usage: deployment_test.py SOURCE_DIR SLUICE_BIN BUILD_DIR

- systemd/sluice.service: its systemd-analyze security exposure, that systemd-analyze verify
  has nothing to say about it, and the directives the daemon relies on (notify, watchdog, a
  stop timeout above the drain timeout, the state directory);
- docker/prometheus: promtool check config/rules and the rule unit tests; every metric and
  label the alerts use exists;
- docker/grafana/sluice-dashboard.json: valid JSON and valid PromQL over existing metrics and
  labels only;
- docker/runtime-packages.txt: provides every shared library `ldd SLUICE_BIN` lists, and
  lists nothing else but the documented extras;
- docker/Dockerfile: the image contract (user, workdir, entrypoint, ports, volume) and that
  the config it ships, installed from BUILD_DIR's install rules as the Dockerfile installs
  it, loads with SLUICE_BIN;
- docker/k8s: the native sidecar, its probes, mounts, security context and grace period, a
  dedup store shared by the replicas, and that the config in configmap.yaml, written out as the pod sees it, passes
  `SLUICE_BIN check-config`.

Each check prints one line; the last line is `N passed, M failed`; the exit status is 1 when
any check failed. Needs the Debian packages systemd (systemd-analyze), prometheus (promtool),
python3-yaml, dpkg and libc-bin (ldd).
"""

import json
import os
import re
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import CheckFailure, Checks, expect, run_command, tool  # noqa: E402  (found through the path just set)

# Every metric sluice exports, with its type and labels: read from `SLUICE_BIN
# metrics-reference` (the table of daemon/src/metrics/metrics.cc) by main(). A name missing
# there makes the alert or panel that uses it fail this test.
KNOWN_METRICS = {}


def load_known_metrics(sluice_bin):
    result = run_command([sluice_bin, "metrics-reference"])
    if result.returncode != 0:
        raise RuntimeError(f"{sluice_bin} metrics-reference failed:\n{result.stderr}")
    for row in re.finditer(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|", result.stdout, re.M):
        KNOWN_METRICS[row.group(1)] = (row.group(2), set(re.findall(r"`([a-z_]+)`", row.group(3))))
    if not KNOWN_METRICS:
        raise RuntimeError(f"no metric in the output of {sluice_bin} metrics-reference")


# Label values of closed sets, as the daemon writes them.
KNOWN_LABEL_VALUES = {
    "outcome": {"forwarded", "filtered", "duplicate", "retry", "dlq"},
    "result": {"hit", "miss", "busy", "error", "unchecked", "ok", "failed", "aborted"},
    "to": {"open", "half_open", "closed"},
    "class": {"transient", "bad_data"},
}

# Labels the scrape adds to every series (static targets, kubernetes pods, the Prometheus
# Operator), which queries may group by.
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint"}

# Series Prometheus itself records per target; only alert rules may use them.
SCRAPE_SERIES = {"up"}

# Packages in docker/runtime-packages.txt that ldd does not show, and why they are there.
DOCUMENTED_EXTRA_PACKAGES = {
    "ca-certificates": "CA bundle for TLS to brokers and https:// routes: data, not a library",
}

# Shared libraries of sanitizer builds; a release image never carries them.
SANITIZER_RUNTIMES = re.compile(r"lib(asan|ubsan|tsan|lsan)\.so")

# Packages only a release build loads: a sanitizer build keeps the system malloc, which the
# sanitizer replaces (CMakeLists.txt, SLUICE_ALLOCATOR).
RELEASE_ONLY_PACKAGES = {"libjemalloc2"}

# The drain must finish, and then the producer flush, dedup write, offset commit and group
# leave: every supervisor's stop budget exceeds shutdown.drain_timeout by at least this.
FLUSH_MARGIN_SECONDS = 10

# The image's fixed identity (docker/Dockerfile) and admin port (admin.listen's default).
IMAGE_UID = 65532
ADMIN_PORT = 9464

PROMQL_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta",
    "deriv", "histogram_quantile", "time", "abs", "absent", "clamp_min", "clamp_max", "vector",
    "scalar", "label_replace", "label_join", "sort", "sort_desc", "resets", "changes",
    "avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "timestamp", "humanize", "inf", "nan", "le",
}


# Durations ----------------------------------------------------------------------------------

DURATION_UNITS = {
    "ms": 0.001, "msec": 0.001, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60,
    "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}


def parse_duration(text):
    """Seconds in a systemd time span ("40s", "1min 30s", "90") or a sluice duration ("1h30m")."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0.0
    position = 0
    for match in re.finditer(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        expect(match.start() == position, f"cannot read the duration {text!r}")
        expect(match.group(2) in DURATION_UNITS, f"unknown unit in the duration {text!r}")
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        position = match.end()
    expect(position == len(text) and position > 0, f"cannot read the duration {text!r}")
    return total


def drain_timeout_seconds(config):
    return parse_duration((config.get("shutdown") or {}).get("drain_timeout", "25s"))


# systemd ----------------------------------------------------------------------------------

def read_unit(path):
    """{section: {key: [values in order]}}; continuation lines and comments handled."""
    sections = {}
    current = None
    pending = ""
    with open(path, encoding="utf-8") as unit:
        for raw in unit:
            line = raw.rstrip("\n")
            if pending:
                line = pending + line.lstrip()
                pending = ""
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                current = sections.setdefault(stripped[1:-1], {})
                continue
            expect(current is not None and "=" in stripped, f"{path}: stray line {stripped!r}")
            key, value = stripped.split("=", 1)
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def check_unit_exposure(unit_path):
    analyze = tool("systemd-analyze", "systemd")
    result = run_command([analyze, "security", "--offline=true", "--no-pager", unit_path],
                         env=dict(os.environ, SYSTEMD_COLORS="0"))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    expect(match is not None, f"no exposure level in the output:\n{result.stdout}{result.stderr}")
    exposure = float(match.group(1))
    expect(exposure <= 2.0, f"exposure {exposure} is above 2.0")
    return f"exposure {exposure}"


def check_unit_verifies(unit_path, sluice_bin):
    # verify insists that every Exec*= binary exists, so the copy names the binary under test
    # in place of /usr/bin/sluice. Any remark about the unit (an unknown key, a value it
    # cannot parse) is a failure, although verify itself still exits 0 for those.
    analyze = tool("systemd-analyze", "systemd")
    with tempfile.TemporaryDirectory() as directory:
        copy = os.path.join(directory, "sluice.service")
        with open(unit_path, encoding="utf-8") as source, open(copy, "w", encoding="utf-8") as target:
            target.write(source.read().replace("/usr/bin/sluice", os.path.abspath(sluice_bin)))
        result = run_command([analyze, "verify", "--man=no", copy])
        remarks = [line for line in (result.stdout + result.stderr).splitlines()
                   if "sluice.service" in line]
        expect(result.returncode == 0 and not remarks,
               f"systemd-analyze verify exit {result.returncode}:\n" + "\n".join(remarks or [result.stderr]))


def check_unit_directives(unit_path, config):
    unit = read_unit(unit_path)
    service = unit.get("Service", {})

    def one(key):
        values = service.get(key)
        expect(values, f"[Service] has no {key}=")
        return values[-1]

    expect(one("Type") == "notify", "Type= is not notify")
    expect(one("NotifyAccess") == "main", "NotifyAccess= is not main")
    expect(parse_duration(one("WatchdogSec")) > 0, "WatchdogSec= is not set")
    expect(one("WatchdogSignal"), "WatchdogSignal= is empty")
    drain = drain_timeout_seconds(config)
    stop = parse_duration(one("TimeoutStopSec"))
    expect(stop >= drain + FLUSH_MARGIN_SECONDS,
           f"TimeoutStopSec={stop:g}s leaves less than {FLUSH_MARGIN_SECONDS}s after the {drain:g}s drain")
    expect(one("StateDirectory") == "sluice", "StateDirectory= is not sluice")
    expect(one("ConfigurationDirectory") == "sluice", "ConfigurationDirectory= is not sluice")
    expect(one("User") == "sluice" and one("Group") == "sluice",
           "User= and Group= are not sluice (the package's sysusers.d user)")
    expect("DynamicUser" not in service, "DynamicUser= is set besides the static user sluice")
    expect(one("Restart") == "on-failure", "Restart= is not on-failure")
    expect("check-config" in one("ExecStartPre"), "ExecStartPre= does not run check-config")
    expect(one("ExecStart").startswith("/usr/bin/sluice run --config /etc/sluice/sluice.yaml"),
           "ExecStart= does not run /usr/bin/sluice run --config /etc/sluice/sluice.yaml")
    expect(re.search(r"kill -HUP \$MAINPID", one("ExecReload")), "ExecReload= does not send SIGHUP")
    families = " ".join(service.get("RestrictAddressFamilies", [])).split()
    expect({"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families),
           "RestrictAddressFamilies= must keep AF_UNIX (NOTIFY_SOCKET), AF_INET and AF_INET6")
    return f"TimeoutStopSec {stop:g}s, drain {drain:g}s"


# PromQL -------------------------------------------------------------------------------------

def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr):
    """Metric names in a PromQL expression (identifiers not followed by "(" or used as labels)."""
    bare = strip_strings(expr)
    bare = re.sub(r"\{[^}]*\}", "{}", bare)                                 # matchers
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)                                  # ranges
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
        word = match.group(0)
        following = bare[match.end():].lstrip()
        if following.startswith("("):
            continue                                                        # a function
        if word.lower() in PROMQL_KEYWORDS or word.startswith("$"):
            continue
        if match.start() > 0 and bare[match.start() - 1] in "$.0123456789":
            continue                                                        # $var, 1e3, 5m
        names.add(word)
    return names


def base_metric(name):
    if name in KNOWN_METRICS:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and KNOWN_METRICS.get(name[: -len(suffix)], ("",))[0] == "histogram":
            return name[: -len(suffix)]
    return None


def used_labels(expr):
    """Label names in matchers and in by/without/on/ignoring clauses, and matcher values."""
    labels = set()
    values = []
    for clause in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", strip_strings(expr)):
        labels.update(word.strip() for word in clause.group(1).split(",") if word.strip())
    for block in re.finditer(r"\{([^}]*)\}", expr):
        for matcher in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', block.group(1)):
            labels.add(matcher.group(1))
            values.append((matcher.group(1), matcher.group(2), matcher.group(3)))
    return labels, values


def check_expression(expr, allow_scrape_series=False):
    """Every metric exists, and every label belongs to one of the metrics used (or the target)."""
    names = metric_names(expr)
    expect(names, f"no metric in {expr!r}")
    allowed = set(TARGET_LABELS)
    bases = set()
    for name in names:
        if allow_scrape_series and name in SCRAPE_SERIES:
            continue
        base = base_metric(name)
        expect(base is not None, f"unknown metric {name} in {expr!r}")
        bases.add(base)
        allowed |= KNOWN_METRICS[base][1]
        if name.endswith("_bucket"):
            allowed.add("le")
    if "histogram_quantile" in expr:
        expect("_bucket" in expr and re.search(r"\bby\s*\([^)]*\ble\b", expr),
               f"histogram_quantile needs *_bucket summed by le: {expr!r}")
    labels, values = used_labels(expr)
    unknown = labels - allowed
    expect(not unknown, f"labels {sorted(unknown)} belong to none of {sorted(names)} in {expr!r}")
    for label, operator, value in values:
        if label in KNOWN_LABEL_VALUES and operator in ("=", "!="):
            expect(value in KNOWN_LABEL_VALUES[label], f"{label}={value!r} is never written, in {expr!r}")
        if label in KNOWN_LABEL_VALUES and operator == "=~" and "$" not in value:
            for alternative in value.split("|"):
                expect(alternative in KNOWN_LABEL_VALUES[label],
                       f"{label}=~ alternative {alternative!r} is never written, in {expr!r}")
    return bases


def check_promql_syntax(expressions):
    """promtool parses each expression as a recording rule (Grafana variables filled in)."""
    promtool = tool("promtool", "prometheus")
    rules = []
    for index, expr in enumerate(expressions):
        concrete = (expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
                    .replace("$__interval", "1m").replace("$instance", ".*"))
        rules.append({"record": f"check:expression_{index}", "expr": concrete})
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "expressions.yml")
        with open(path, "w", encoding="utf-8") as out:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, out)
        result = run_command([promtool, "check", "rules", path])
        expect(result.returncode == 0, f"promtool rejects an expression:\n{result.stdout}{result.stderr}")


# Prometheus -------------------------------------------------------------------------------

def check_promtool(arguments, directory):
    promtool = tool("promtool", "prometheus")
    result = run_command([promtool] + arguments, cwd=directory)
    expect(result.returncode == 0, f"promtool {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")


def check_alert_rules(alerts_path):
    with open(alerts_path, encoding="utf-8") as source:
        document = yaml.safe_load(source)
    watched = set()
    count = 0
    for group in document["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            expect(name, f"a rule of group {group['name']} is not an alert")
            expect("for" in rule, f"{name} has no for:")
            expect(rule.get("labels", {}).get("severity") in ("critical", "warning"),
                   f"{name} has no severity of critical or warning")
            annotations = rule.get("annotations", {})
            expect(annotations.get("summary") and annotations.get("description"),
                   f"{name} lacks a summary or description")
            watched |= check_expression(rule["expr"], allow_scrape_series=True)
            if "up{" in rule["expr"]:
                watched.add("up")
            count += 1
    needed = {
        "sluice_breaker_state": "breaker open",
        "sluice_pipeline_outcomes_total": "DLQ rate",
        "sluice_consumer_lag_records": "consumer lag",
        "sluice_pipeline_stalled_partitions": "stalled partition",
        "sluice_dedup_lookups_total": "dedup errors",
        "sluice_pipeline_last_progress_timestamp_seconds": "no progress",
        "up": "daemon down",
    }
    missing = [what for metric, what in needed.items() if metric not in watched]
    expect(not missing, f"no alert for: {', '.join(missing)}")
    return f"{count} alerts"


# Grafana ------------------------------------------------------------------------------------

def dashboard_panels(panels):
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def check_dashboard(dashboard_path):
    with open(dashboard_path, encoding="utf-8") as source:
        dashboard = json.load(source)
    expect(dashboard.get("schemaVersion", 0) >= 36, "schemaVersion is below 36")
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    datasource = variables.get("datasource")
    expect(datasource and datasource["type"] == "datasource" and datasource["query"] == "prometheus",
           "no ${datasource} variable of type datasource for prometheus")
    expressions = []
    for variable in variables.values():
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*[A-Za-z_]+\)", query)
            expect(inner, f"variable {variable['name']}: unexpected query {query!r}")
            check_expression(inner.group(1))
    referenced = set()
    for panel in dashboard_panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        expect(panel.get("datasource", {}).get("uid") == "${datasource}",
               f"panel {panel['title']!r} does not use ${{datasource}}")
        expect(panel.get("targets"), f"panel {panel['title']!r} has no query")
        for target in panel["targets"]:
            expect(target.get("datasource", {}).get("uid", "${datasource}") == "${datasource}",
                   f"a query of panel {panel['title']!r} does not use ${{datasource}}")
            referenced |= check_expression(target["expr"])
            expressions.append(target["expr"])
    check_promql_syntax(expressions)
    needed = {
        "sluice_pipeline_outcomes_total": "throughput by outcome, DLQ by reason",
        "sluice_breaker_state": "breaker state",
        "sluice_consumer_lag_records": "consumer lag",
        "sluice_pipeline_in_flight_records": "records in flight",
        "sluice_pipeline_in_flight_bytes": "bytes in flight",
        "sluice_pipeline_stage_duration_seconds": "stage latency",
        "sluice_pipeline_end_to_end_latency_seconds": "end-to-end latency",
        "sluice_dedup_lookups_total": "dedup results",
        "sluice_retry_tier_sends_total": "retry tier sends",
    }
    missing = [what for metric, what in needed.items() if metric not in referenced]
    expect(not missing, f"no panel for: {', '.join(missing)}")
    return f"{len(expressions)} queries over {len(referenced)} metrics"


# Runtime packages ---------------------------------------------------------------------------

def package_of(path):
    """The Debian package that installed a file, trying the merged-/usr spellings of it."""
    candidates = [path, os.path.realpath(path)]
    for candidate in list(candidates):
        if candidate.startswith("/lib"):
            candidates.append("/usr" + candidate)
        elif candidate.startswith("/usr/lib"):
            candidates.append(candidate[len("/usr"):])
    for candidate in candidates:
        result = run_command(["dpkg", "-S", candidate])
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    raise CheckFailure(f"no installed package owns {path}")


def dependency_closure(packages):
    """The packages and everything they depend on, as installed here."""
    closure = set()
    queue = list(packages)
    while queue:
        package = queue.pop()
        if package in closure:
            continue
        closure.add(package)
        result = run_command(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package])
        expect(result.returncode == 0, f"{package} is not installed here")
        for dependency in result.stdout.split(","):
            # "a (>= 1) | b": any installed alternative will do; arch qualifiers dropped.
            for alternative in dependency.split("|"):
                name = alternative.strip().split(" ", 1)[0].split(":", 1)[0]
                if name and run_command(["dpkg-query", "-W", name]).returncode == 0:
                    queue.append(name)
                    break
    return closure


def check_runtime_packages(source_dir, sluice_bin):
    tool("ldd", "libc-bin")
    tool("dpkg", "dpkg")
    with open(os.path.join(source_dir, "docker/runtime-packages.txt"), encoding="utf-8") as source:
        listed = [line.strip() for line in source if line.strip()]
    expect(len(listed) == len(set(listed)), "a package is listed twice")
    expect(all(re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name) for name in listed),
           "runtime-packages.txt holds something other than one package name per line")
    result = run_command(["ldd", sluice_bin])
    expect(result.returncode == 0, f"ldd failed: {result.stderr}")
    libraries = {}
    skipped = []
    for line in result.stdout.splitlines():
        match = re.match(r"\s*(\S+)(?: => (\S+))? \(0x", line)
        expect(match or "statically linked" in line, f"cannot read the ldd line {line!r}")
        if not match:
            continue
        soname, path = match.group(1), match.group(2) or match.group(1)
        expect(path != "not", f"{soname} is not found")
        if soname.startswith("linux-vdso") or "ld-linux" in soname:
            continue                                           # the kernel's and the loader
        if SANITIZER_RUNTIMES.search(soname):
            skipped.append(soname)
            continue
        libraries[soname] = package_of(path)
    closure = dependency_closure(listed)
    unprovided = sorted(f"{soname} ({package})" for soname, package in libraries.items() if package not in closure)
    expect(not unprovided, "not provided by the listed packages: " + ", ".join(unprovided))
    owners = set(libraries.values())
    sanitized = bool(skipped)
    unneeded = [name for name in listed if name not in owners and name not in DOCUMENTED_EXTRA_PACKAGES
                and not (sanitized and name in RELEASE_ONLY_PACKAGES)]
    expect(not unneeded, "listed but owning no library the binary loads: " + ", ".join(unneeded))
    extras = [name for name in listed if name not in owners]
    note = f"{len(libraries)} libraries from {len(owners)} packages"
    if extras:
        note += "; documented extras: " + ", ".join(extras)
    if skipped:
        note += "; sanitizer runtimes ignored: " + ", ".join(skipped)
    return note


# Dockerfile -------------------------------------------------------------------------------

def read_dockerfile(path):
    """(instruction, arguments) pairs with continuations joined and comments dropped."""
    instructions = []
    pending = ""
    with open(path, encoding="utf-8") as source:
        for raw in source:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if pending and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            instruction, _, arguments = line.strip().partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def runtime_stage(instructions):
    stages = []
    for instruction, arguments in instructions:
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, arguments))
    expect(len(stages) >= 2, "the Dockerfile is not multi-stage")
    return stages[0], stages[-1]


def setup_packages(source_dir):
    with open(os.path.join(source_dir, "scripts/setup"), encoding="utf-8") as source:
        text = source.read()
    block = re.search(r"packages=\((.*?)\n\)", text, re.S)
    expect(block, "scripts/setup has no packages=( ... ) list")
    words = []
    for line in block.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return set(words)


def check_dockerfile(source_dir):
    path = os.path.join(source_dir, "docker/Dockerfile")
    instructions = read_dockerfile(path)
    build, runtime = runtime_stage(instructions)
    args = dict(re.match(r"(\w+)=?(.*)", arguments).groups() for instruction, arguments in instructions
                if instruction == "ARG" and "=" in arguments)
    for stage in (build, runtime):
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)
        expect(image == "debian:bookworm-slim", f"a stage is based on {image}, not debian:bookworm-slim")

    build_installs = " ".join(arguments for instruction, arguments in build if instruction == "RUN"
                              and "apt-get install" in arguments)
    match = re.search(r"apt-get install (.*?)(?:&&|$)", build_installs)
    expect(match, "the build stage installs no packages")
    build_packages = {word for word in match.group(1).split() if not word.startswith("-")}
    missing = build_packages - setup_packages(source_dir)
    expect(not missing, f"build packages missing from scripts/setup: {sorted(missing)}")

    def last(instruction):
        values = [arguments for name, arguments in runtime if name == instruction]
        expect(values, f"the runtime stage has no {instruction}")
        return values[-1]

    installs = dockerfile_install_components(build)
    expect({"daemon", "config"} <= set(installs), f"the build stage installs the components {installs}, not daemon and config")
    expect(any(name == "COPY" and arguments.split() == ["--from=build", "/staging/", "/"] for name, arguments in runtime),
           "the runtime stage does not copy the installed tree (COPY --from=build /staging/ /)")
    runs = " ".join(arguments for name, arguments in runtime if name == "RUN")
    expect("runtime-packages.txt" in runs and "--no-install-recommends" in runs,
           "the runtime stage does not install docker/runtime-packages.txt without recommends")
    expect("rm -rf /var/lib/apt/lists" in runs, "the runtime stage keeps the apt lists")
    expect(json.loads(last("ENTRYPOINT")) == ["/usr/bin/sluice"], "ENTRYPOINT is not exec-form /usr/bin/sluice")
    expect(json.loads(last("CMD")) == ["run", "--config", "/etc/sluice/sluice.yaml"],
           "CMD is not run --config /etc/sluice/sluice.yaml")
    expect(last("USER").split(":")[0] == str(IMAGE_UID), f"USER is not the numeric uid {IMAGE_UID}")
    expect(last("WORKDIR") == "/etc/sluice", "WORKDIR is not /etc/sluice")
    expect("/var/lib/sluice" in last("VOLUME"), "VOLUME is not /var/lib/sluice")
    expect(str(ADMIN_PORT) in last("EXPOSE").split(), f"EXPOSE does not name {ADMIN_PORT}")
    expect(last("STOPSIGNAL") == "SIGTERM", "STOPSIGNAL is not SIGTERM")
    expect(any(name == "LABEL" and "org.opencontainers.image." in arguments for name, arguments in runtime),
           "no OCI labels")


def clean_environment(extra):
    environment = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    environment.update(extra)
    return environment


def dockerfile_install_components(build):
    """The components the build stage installs, each with `cmake --install ... --prefix /usr`."""
    runs = " ".join(arguments for instruction, arguments in build if instruction == "RUN")
    components = []
    for command in re.findall(r"cmake --install [^&]*", runs):
        expect("--prefix /usr" in command, f"an install without --prefix /usr: {command.strip()!r}")
        match = re.search(r"--component (\S+)", command)
        expect(match, f"an install of every component (the unit, sysusers.d): {command.strip()!r}")
        components.append(match.group(1))
    expect(components, "the build stage runs no cmake --install")
    return components


def check_image_config(source_dir, sluice_bin, build_dir):
    """The config the image ships loads with SLUICE_BIN: the components the Dockerfile
    installs, installed from BUILD_DIR with a temporary prefix so that the absolute paths in
    the installed config are real (the image's differ only by the prefix /usr)."""
    build = runtime_stage(read_dockerfile(os.path.join(source_dir, "docker/Dockerfile")))[0]
    cmake = tool("cmake", "cmake")
    with tempfile.TemporaryDirectory() as prefix:
        environment = {key: value for key, value in os.environ.items() if key != "DESTDIR"}
        for component in dockerfile_install_components(build):
            if component == "daemon":
                continue                        # the binary under test stands in for it
            result = run_command([cmake, "--install", build_dir, "--prefix", prefix, "--component", component],
                                 env=environment)
            expect(result.returncode == 0, f"cmake --install --component {component} failed:\n{result.stderr}")
        config = os.path.join(prefix, "etc/sluice/sluice.yaml")
        expect(os.path.isfile(config), "the image has no /etc/sluice/sluice.yaml")
        # From /, so that nothing resolves against the repository.
        result = run_command([os.path.abspath(sluice_bin), "check-config", "--config", config],
                             cwd="/", env=clean_environment({}))
        expect(result.returncode == 0, f"check-config exit {result.returncode}:\n{result.stderr}")


# Kubernetes -------------------------------------------------------------------------------

def load_manifest(source_dir, name):
    with open(os.path.join(source_dir, "docker/k8s", name), encoding="utf-8") as source:
        documents = [document for document in yaml.safe_load_all(source) if document]
    expect(len(documents) == 1, f"{name} should hold one object")
    return documents[0]


def sidecar_of(deployment):
    spec = deployment["spec"]["template"]["spec"]
    sidecars = [c for c in spec.get("initContainers", []) if c["name"] == "sluice"]
    expect(sidecars, "no initContainer named sluice")
    expect(not any(c["name"] == "sluice" for c in spec.get("containers", [])),
           "sluice is also a regular container")
    return spec, sidecars[0]


def sluice_config_of(configmap):
    return yaml.safe_load(configmap["data"]["sluice.yaml"])


def check_k8s_sidecar(source_dir):
    deployment = load_manifest(source_dir, "deployment.yaml")
    configmap = load_manifest(source_dir, "configmap.yaml")
    expect(deployment["kind"] == "Deployment" and configmap["kind"] == "ConfigMap", "unexpected kinds")
    spec, sidecar = sidecar_of(deployment)
    expect(sidecar.get("restartPolicy") == "Always", "the sluice initContainer lacks restartPolicy: Always")

    ports = {port.get("name"): port["containerPort"] for port in sidecar.get("ports", [])}
    expect(ports.get("metrics") == ADMIN_PORT, f"no container port named metrics on {ADMIN_PORT}")
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = sidecar.get(probe, {}).get("httpGet", {})
        expect(get.get("path") == path, f"{probe} does not GET {path}")
        expect(get.get("port") in ("metrics", ADMIN_PORT), f"{probe} does not use the admin port")

    drain = drain_timeout_seconds(sluice_config_of(configmap))
    grace = spec.get("terminationGracePeriodSeconds", 30)
    expect(grace >= drain + FLUSH_MARGIN_SECONDS,
           f"terminationGracePeriodSeconds {grace} leaves less than {FLUSH_MARGIN_SECONDS}s after the {drain:g}s drain")

    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    mounts = {mount["mountPath"]: mount for mount in sidecar.get("volumeMounts", [])}
    config_mount = mounts.get("/etc/sluice")
    expect(config_mount, "nothing is mounted at /etc/sluice")
    config_volume = volumes[config_mount["name"]]
    expect(config_volume.get("configMap", {}).get("name") == configmap["metadata"]["name"],
           "/etc/sluice is not the ConfigMap of configmap.yaml")
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        for mount in container.get("volumeMounts", []):
            if mount["name"] == config_mount["name"]:
                expect("subPath" not in mount and "subPathExpr" not in mount,
                       f"container {container['name']} mounts the ConfigMap with subPath")
    items = config_volume["configMap"].get("items")
    if items is not None:
        projected = {item["key"] for item in items}
        unprojected = set(configmap["data"]) - projected
        expect(not unprojected, f"ConfigMap keys not mounted: {sorted(unprojected)}")
    # Replicas split the partitions and a rebalance moves them, so a redelivered message may
    # reach another pod: with more than one, the fingerprints must be in a shared store.
    dedup = (sluice_config_of(configmap).get("pipeline") or {}).get("dedup") or {}
    backend = dedup.get("backend", "sqlite")
    replicas = deployment["spec"].get("replicas", 1)
    if replicas > 1:
        expect(backend == "redis", f"{replicas} replicas with the {backend} dedup backend: each pod keeps its own fingerprints")
    if backend == "redis":
        url = str(dedup.get("redis_url", "redis://127.0.0.1:6379/0"))
        expect(not re.search(r"@?(127\.0\.0\.1|localhost|\[::1\])[:/]", url),
               f"redis_url {url} is the pod's own loopback, not a shared Redis")
    else:
        state = mounts.get("/var/lib/sluice")
        expect(state and "readOnly" not in state, "the sqlite backend has no writable /var/lib/sluice")

    pod_security = spec.get("securityContext", {})
    security = sidecar.get("securityContext", {})
    merged = dict(pod_security, **security)
    expect(merged.get("runAsNonRoot") is True, "runAsNonRoot is not true")
    expect(merged.get("runAsUser", IMAGE_UID) == IMAGE_UID, f"runAsUser is not the image's uid {IMAGE_UID}")
    expect(security.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is not true")
    expect(security.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is not false")
    expect("ALL" in security.get("capabilities", {}).get("drop", []), "capabilities do not drop ALL")
    expect(merged.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccompProfile is not RuntimeDefault")
    resources = sidecar.get("resources", {})
    expect(resources.get("requests") and resources.get("limits", {}).get("memory"),
           "the sidecar lacks resource requests or a memory limit")

    env = {variable["name"]: variable for variable in sidecar.get("env", [])}
    expect(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
           "POD_NAME does not come from the Downward API")
    kafka = sluice_config_of(configmap).get("kafka", {})
    for key in ("transactional_id", "client_id"):
        expect("${POD_NAME" in str(kafka.get(key, "")), f"kafka.{key} does not use ${{POD_NAME}}")

    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    expect(annotations.get("prometheus.io/scrape") == "true", "no prometheus.io/scrape annotation")
    expect(annotations.get("prometheus.io/port") == str(ADMIN_PORT), "prometheus.io/port is not the admin port")
    return f"grace {grace}s, drain {drain:g}s"


def check_podmonitor(source_dir):
    monitor = load_manifest(source_dir, "podmonitor.yaml")
    deployment = load_manifest(source_dir, "deployment.yaml")
    expect(monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "PodMonitor",
           "not a monitoring.coreos.com/v1 PodMonitor")
    endpoints = monitor["spec"]["podMetricsEndpoints"]
    expect(any(endpoint.get("port") == "metrics" for endpoint in endpoints), "no endpoint on port metrics")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = monitor["spec"]["selector"].get("matchLabels", {})
    expect(selector and all(pod_labels.get(key) == value for key, value in selector.items()),
           "the selector does not match the deployment's pods")


def write_configmap(configmap, deployment, directory):
    """Lays the ConfigMap's keys out as the deployment's volume projects them."""
    spec, sidecar = sidecar_of(deployment)
    mount = next(m for m in sidecar["volumeMounts"] if m["mountPath"] == "/etc/sluice")
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    items = volume["configMap"].get("items") or [{"key": key, "path": key} for key in configmap["data"]]
    for item in items:
        path = os.path.join(directory, item["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            out.write(configmap["data"][item["key"]])
    environment = {}
    for variable in sidecar.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif variable.get("valueFrom", {}).get("fieldRef"):
            environment[variable["name"]] = "inbox-app-7d9f8c6b5-x2x7q"   # what the kubelet fills in
    return environment


def check_configmap_config(source_dir, sluice_bin):
    configmap = load_manifest(source_dir, "configmap.yaml")
    deployment = load_manifest(source_dir, "deployment.yaml")
    binary = os.path.abspath(sluice_bin)
    with tempfile.TemporaryDirectory() as directory:
        environment = write_configmap(configmap, deployment, directory)
        # The image's WORKDIR is the mount point, so relative paths resolve there.
        result = run_command([binary, "check-config", "--config", os.path.join(directory, "sluice.yaml")],
                             cwd=directory, env=clean_environment(environment))
        expect(result.returncode == 0, f"check-config exit {result.returncode}:\n{result.stderr}")
        # Without the Downward API variable the config must refuse to load, not fall back.
        without = {key: value for key, value in environment.items() if key != "POD_NAME"}
        result = run_command([binary, "check-config", "--config", os.path.join(directory, "sluice.yaml")],
                             cwd=directory, env=clean_environment(without))
        expect(result.returncode == 2 and "POD_NAME" in result.stderr,
               f"without POD_NAME check-config exit {result.returncode}, expected 2 naming POD_NAME")


def check_configmap_schemas(source_dir):
    """Every schema of config/schemas/ lands, unchanged, in the mounted pipeline.schemas_dir."""
    configmap = load_manifest(source_dir, "configmap.yaml")
    deployment = load_manifest(source_dir, "deployment.yaml")
    schemas_dir = (sluice_config_of(configmap).get("pipeline") or {}).get("schemas_dir", "config/schemas")
    repository_schemas = os.path.join(source_dir, "config/schemas")
    with tempfile.TemporaryDirectory() as directory:
        write_configmap(configmap, deployment, directory)
        for name in sorted(os.listdir(repository_schemas)):
            mounted = os.path.join(directory, schemas_dir, name)
            expect(os.path.isfile(mounted), f"{name} is not mounted in {schemas_dir}/")
            with open(mounted, encoding="utf-8") as pod_copy, \
                    open(os.path.join(repository_schemas, name), encoding="utf-8") as original:
                expect(json.load(pod_copy) == json.load(original),
                       f"the schema {name} in configmap.yaml differs from config/schemas/{name}")


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source_dir, sluice_bin, build_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    load_known_metrics(sluice_bin)
    unit = os.path.join(source_dir, "systemd/sluice.service")
    prometheus_dir = os.path.join(source_dir, "docker/prometheus")
    with open(os.path.join(source_dir, "config/sluice.yaml"), encoding="utf-8") as source:
        example_config = yaml.safe_load(source)

    checks = Checks()
    checks.run("systemd: security exposure is at most 2.0", check_unit_exposure, unit)
    checks.run("systemd: systemd-analyze verify has no remarks", check_unit_verifies, unit, sluice_bin)
    checks.run("systemd: notify, watchdog, stop timeout above the drain, state directory",
               check_unit_directives, unit, example_config)
    checks.run("prometheus: promtool check config", check_promtool, ["check", "config", "prometheus.yml"], prometheus_dir)
    checks.run("prometheus: promtool check rules", check_promtool, ["check", "rules", "alerts.yml"], prometheus_dir)
    checks.run("prometheus: promtool test rules", check_promtool, ["test", "rules", "alerts_test.yml"], prometheus_dir)
    checks.run("prometheus: alerts use known metrics and labels, each with for, severity and text",
               check_alert_rules, os.path.join(prometheus_dir, "alerts.yml"))
    checks.run("grafana: dashboard is valid, its PromQL parses and uses known metrics and labels only",
               check_dashboard, os.path.join(source_dir, "docker/grafana/sluice-dashboard.json"))
    checks.run("docker: runtime-packages.txt provides exactly what ldd needs",
               check_runtime_packages, source_dir, sluice_bin)
    checks.run("docker: Dockerfile stages, user, workdir, entrypoint, port, volume", check_dockerfile, source_dir)
    checks.run("docker: the image's config loads with check-config", check_image_config, source_dir, sluice_bin, build_dir)
    checks.run("k8s: native sidecar, probes, mounts, security, grace period, shared dedup", check_k8s_sidecar, source_dir)
    checks.run("k8s: PodMonitor scrapes the metrics port of the deployment's pods", check_podmonitor, source_dir)
    checks.run("k8s: the ConfigMap's config passes check-config as mounted", check_configmap_config, source_dir, sluice_bin)
    checks.run("k8s: config/schemas are mounted in schemas_dir, unchanged", check_configmap_schemas, source_dir)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
