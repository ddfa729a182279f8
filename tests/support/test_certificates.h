#pragma once
// Certificates for TLS tests, made with the openssl command line tool into a directory the
// test owns (created if missing). EC P-256 keys, which are quick to generate. Throws when
// openssl fails.

#include <string>

namespace sluice::test {

struct CertificateFiles {
  std::string cert_file;  // PEM
  std::string key_file;   // PEM, unencrypted
};

struct TestCertificates {
  CertificateFiles ca;          // self-signed CA: pass ca.cert_file as a client's ca_file
  CertificateFiles server;      // signed by `ca` for CN=localhost, DNS:localhost and IP:127.0.0.1
  CertificateFiles wrong_host;  // signed by `ca`, but for DNS:wrong.example only
};

TestCertificates make_test_certificates(const std::string& dir);

// A self-signed certificate for localhost and 127.0.0.1 that no CA vouches for.
CertificateFiles make_self_signed_certificate(const std::string& dir);

}  // namespace sluice::test
