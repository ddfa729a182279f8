#pragma once
// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// SLUICE_KEEP_TEST_DIRS is set (then its path is printed, for looking at logs).

#include <string>

namespace sluice::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace sluice::test
