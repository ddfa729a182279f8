# Writes OUTPUT (a header defining SLUICE_GIT_REVISION) from the commit SOURCE_DIR is checked
# out at, run at every build so `sluice --version` names the commit the binary was built from
# ("-dirty" when tracked files differ from it). The file is rewritten only when the text
# changes, so an unchanged revision recompiles nothing. Outside a git checkout (a source
# tarball) the revision is "unknown".
execute_process(
  COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
  OUTPUT_VARIABLE revision
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR revision STREQUAL "")
  set(revision "unknown")
else()
  execute_process(
    COMMAND git -C "${SOURCE_DIR}" status --porcelain --untracked-files=no
    OUTPUT_VARIABLE changes
    ERROR_QUIET)
  if(NOT changes STREQUAL "")
    string(APPEND revision "-dirty")
  endif()
endif()
set(text "#pragma once\n#define SLUICE_GIT_REVISION \"${revision}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" current)
endif()
if(NOT current STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
