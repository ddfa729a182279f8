#pragma once
// The one way this project includes valijson. Without VALIJSON_USE_EXCEPTIONS the library
// reports a schema it cannot use (say `"type": 5`) or an unexpected value by printing to
// stderr and calling abort(); with it, those become exceptions the loader turns into errors.
// Every translation unit must see the same setting, hence this header.
//
// The RapidJSON adapter, when it sees that macro, also redefines RAPIDJSON_ASSERT to throw.
// That would give RapidJSON a different assert here than in the rest of the program, and it
// is slow: the replacement builds a std::string from __FILE__ on every RapidJSON accessor
// call, which makes validation about four times slower. So the throwing error functions are
// declared first, and the adapter is included with the macro briefly undefined: RapidJSON
// keeps its default assert everywhere.

#include "stages/std_regex.h"

#if defined(VALIJSON_USE_EXCEPTIONS) && !VALIJSON_USE_EXCEPTIONS
#error "valijson must be built with exceptions: it aborts the process otherwise"
#endif
#undef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/exceptions.hpp>

#undef VALIJSON_USE_EXCEPTIONS
#include <valijson/adapters/rapidjson_adapter.hpp>
#define VALIJSON_USE_EXCEPTIONS 1

#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
