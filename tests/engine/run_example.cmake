# cmake -DEXAMPLE=<program> -DEXPECTED=<exact stdout> -P run_example.cmake
# Runs an example and fails unless it exits with 0, prints exactly EXPECTED on stdout and
# nothing on stderr. (PASS_REGULAR_EXPRESSION alone would ignore the exit code.)
if(NOT EXAMPLE)
    message(FATAL_ERROR "EXAMPLE is not set")
endif()
execute_process(
    COMMAND ${EXAMPLE}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 20)
set(failed FALSE)
if(NOT rc STREQUAL "0")
    message(SEND_ERROR "${EXAMPLE}: exit code '${rc}', expected 0")
    set(failed TRUE)
endif()
if(NOT out STREQUAL EXPECTED)
    message(SEND_ERROR "${EXAMPLE}: stdout was\n[${out}]\nexpected\n[${EXPECTED}]")
    set(failed TRUE)
endif()
if(NOT err STREQUAL "")
    message(SEND_ERROR "${EXAMPLE}: unexpected stderr:\n${err}")
    set(failed TRUE)
endif()
if(NOT failed)
    message(STATUS "${EXAMPLE}: ok")
endif()
