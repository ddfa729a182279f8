#pragma once
// The `sluice` command line: run, check-config, fingerprint, replay, config-reference,
// --version, --help; `sluice <command> --help` prints a command's options (exit 0). Exit codes: 0 success; 1 a runtime failure (e.g. the dedup store cannot be opened,
// a fatal Kafka client error); 2 usage or configuration errors (every one printed).

namespace sluice::app {

int run_cli(int argc, char** argv);

}  // namespace sluice::app
