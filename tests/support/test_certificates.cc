#include "support/test_certificates.h"

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "support/process.h"

namespace sluice::test {
namespace {

// Our own configuration, so that the system's openssl.cnf adds nothing unexpected.
constexpr char kConfig[] = R"([req]
distinguished_name = dn
prompt = no

[dn]
CN = placeholder

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid

[wrong_host_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
authorityKeyIdentifier = keyid

[self_signed_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
)";

// openssl reports progress on stderr; it goes to openssl.log in `dir`, and into the exception
// when a step fails.
void openssl(const std::string& dir, const std::vector<std::string>& arguments) {
  const std::string log = dir + "/openssl.log";
  std::vector<std::string> command = {"sh", "-c", "exec openssl \"$@\" 2>>\"$0\"", log};
  command.insert(command.end(), arguments.begin(), arguments.end());
  std::string ignored;
  const int status = run_command(command, &ignored);
  if (status != 0) {
    std::string shown = "openssl";
    for (const std::string& argument : arguments) shown += " " + argument;
    throw std::runtime_error("openssl failed (status " + std::to_string(status) + "): " + shown + "\n" +
                             read_file(log));
  }
}

// Also creates `dir` when it does not exist yet.
std::string write_config(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/openssl.cnf";
  write_file(path, kConfig);
  return path;
}

// Options that make a new unencrypted P-256 key in `key_file`.
std::vector<std::string> with_new_key(std::vector<std::string> arguments, const std::string& key_file) {
  const std::vector<std::string> key = {"-newkey", "ec",      "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                        "-nodes",  "-keyout", key_file};
  arguments.insert(arguments.end(), key.begin(), key.end());
  return arguments;
}

CertificateFiles self_signed(const std::string& dir, const std::string& name, const std::string& subject,
                             const std::string& extensions, const std::string& config) {
  CertificateFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  std::vector<std::string> arguments = with_new_key({"req", "-x509", "-new"}, files.key_file);
  const std::vector<std::string> rest = {"-out",  files.cert_file, "-days", "3650",        "-subj",
                                         subject, "-config",       config,  "-extensions", extensions};
  arguments.insert(arguments.end(), rest.begin(), rest.end());
  openssl(dir, arguments);
  return files;
}

CertificateFiles signed_by(const CertificateFiles& ca, const std::string& dir, const std::string& name,
                           const std::string& subject, const std::string& extensions, const std::string& config,
                           int serial) {
  CertificateFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  const std::string request = dir + "/" + name + ".csr";
  std::vector<std::string> make_request = with_new_key({"req", "-new"}, files.key_file);
  const std::vector<std::string> request_rest = {"-out", request, "-subj", subject, "-config", config};
  make_request.insert(make_request.end(), request_rest.begin(), request_rest.end());
  openssl(dir, make_request);
  const std::vector<std::string> sign = {
      "x509",       "-req",        "-in",       request,         "-CA",
      ca.cert_file, "-CAkey",      ca.key_file, "-set_serial",   std::to_string(serial),
      "-days",      "3650",        "-out",      files.cert_file, "-extfile",
      config,       "-extensions", extensions};
  openssl(dir, sign);
  return files;
}

}  // namespace

TestCertificates make_test_certificates(const std::string& dir) {
  const std::string config = write_config(dir);
  TestCertificates certificates;
  certificates.ca = self_signed(dir, "ca", "/CN=sluice test CA", "ca_ext", config);
  certificates.server = signed_by(certificates.ca, dir, "server", "/CN=localhost", "server_ext", config, 1001);
  certificates.wrong_host =
      signed_by(certificates.ca, dir, "wrong_host", "/CN=wrong.example", "wrong_host_ext", config, 1002);
  return certificates;
}

CertificateFiles make_self_signed_certificate(const std::string& dir) {
  return self_signed(dir, "self_signed", "/CN=localhost", "self_signed_ext", write_config(dir));
}

}  // namespace sluice::test
