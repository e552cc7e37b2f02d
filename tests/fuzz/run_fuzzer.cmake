# Runs a libFuzzer target for a bounded time (cmake -P; the test fuzz.api, tests/fuzz/CMakeLists.txt):
#   -DFUZZER=<binary> -DSEEDS=<seed corpus, read only> -DWORK=<folder for the working corpus>
# TRICOLOR_FUZZ_SECONDS in the environment sets the time (default 60). New inputs go to
# WORK/corpus, never into the seed corpus; a failing input is written to WORK/artifacts/.
set(seconds 60)
if(DEFINED ENV{TRICOLOR_FUZZ_SECONDS})
  set(seconds "$ENV{TRICOLOR_FUZZ_SECONDS}")
  if(NOT seconds MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "TRICOLOR_FUZZ_SECONDS='${seconds}' is not a number of seconds")
  endif()
endif()

file(MAKE_DIRECTORY "${WORK}/corpus" "${WORK}/artifacts")
message(STATUS "fuzzing for ${seconds} s: ${FUZZER}")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${seconds} -max_len=600 -timeout=60 -rss_limit_mb=4096
    -print_final_stats=1 "-artifact_prefix=${WORK}/artifacts/" "${WORK}/corpus" "${SEEDS}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the fuzzer failed (${result}); its input is in ${WORK}/artifacts/, and "
                      "`${FUZZER} <input>` runs it again")
endif()
