#pragma once
// JSON Pointer (RFC 6901) pieces the schema checks share.

#include <string>
#include <string_view>

namespace sluice::stages {

// Appends one reference token to `pointer`, escaped ("~" as "~0", "/" as "~1").
inline void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

}  // namespace sluice::stages
