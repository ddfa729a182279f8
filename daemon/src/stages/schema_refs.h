#pragma once
// Checks the `$ref`s of one JSON Schema document (draft-07) before valijson parses it. valijson
// follows references without looking for loops, so a bad one costs the process its stack:
//   - a loop of `$ref`s alone (`{"$ref": "#"}`, a -> b -> a) sends its parser round forever
//     at load;
//   - a loop through keywords that apply to the same value (allOf, anyOf, oneOf, not,
//     if/then/else, dependencies) loads, and then sends its validator round forever on the
//     first message that reaches it.
// A loop that descends into the value on the way (properties, patternProperties,
// additionalProperties, items, additionalItems, contains, propertyNames) is a recursive
// schema, e.g. a tree whose items refer back to the root: validating it recurses only as deep
// as the document, which the parse stage bounds. Those are fine.
//
// The walk covers what valijson applies: from the root, through those keywords and every
// reference; a `definitions` entry only counts where something refers to it. Every reference
// must stay within the file ("#" or "#/json/pointer": other documents are never fetched) and
// point at something. The walk and the chains of subschemas it follows are bounded by
// kMaxSchemaNesting, so a hostile schema cannot overflow the stack here or, after passing,
// in valijson's parser. Load time only.

#include <cstddef>
#include <string>
#include <vector>

#include "json/json_parser.h"

namespace sluice::stages {

// Deepest chain of subschemas and references the walk follows from the root.
constexpr size_t kMaxSchemaNesting = 256;

// Each note starts with a JSON pointer into the schema, as PreparedSchema's do, e.g.
// "/definitions/b/$ref: reference loop that never descends into ...". Empty when the
// references are sound.
std::vector<std::string> check_schema_references(const json::Value& schema);

}  // namespace sluice::stages
