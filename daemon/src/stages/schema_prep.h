#pragma once
// Makes one JSON Schema document (draft-07) safe and cheap to hand to valijson, in a single
// walk over every subschema at load time:
//   - every `format` keyword is removed (valijson's own date/time checks compile a regex per
//     call, and it ignores `email`) and recorded in a FormatPlan where one can follow it;
//   - every `pattern` and `patternProperties` regex is compiled once, because valijson
//     compiles them lazily and would otherwise throw on the first message instead of at load.
//
// Only keywords that hold subschemas are entered, so a `format` member inside `const`,
// `enum`, `default` or `examples` data, or a property that happens to be named "format", is
// left alone. The walk is recursive: subschemas nested deeper than kMaxSchemaNesting
// (schema_refs.h) are an error. Runs at load time only; not on the message path.

#include <string>
#include <vector>

#include "json/json_parser.h"
#include "stages/format_plan.h"

namespace sluice::stages {

struct PreparedSchema {
  FormatPlan formats;
  // Each note starts with a JSON pointer into the schema, e.g. "/properties/x: ...".
  std::vector<std::string> errors;    // the schema cannot be used
  std::vector<std::string> warnings;  // it can, but an operator should know (unknown formats,
                                      // formats where they cannot be asserted)
};

// Rewrites `schema` in place (no `format` keyword is left in it).
PreparedSchema prepare_schema(json::Value& schema);

}  // namespace sluice::stages
