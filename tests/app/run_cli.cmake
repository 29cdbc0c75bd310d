# cmake -DPROGRAM=<loopscope> "-DARGS=<arg|arg|...>" -DEXPECT_RC=<code|nonzero>
#       [-DSTDOUT_REGEX=<regex>] [-DSTDERR_REGEX=<regex>] [-DSTDOUT_EXACT=<text>]
#       [-DSTDERR_EMPTY=ON] [-DJSON_FILE=<path>] -P run_cli.cmake
#
# Runs the loopscope program the way a user without a display would (DISPLAY,
# WAYLAND_DISPLAY and QT_QPA_PLATFORM unset) and checks its exit code and output.
# (PASS_REGULAR_EXPRESSION alone would ignore the exit code.) JSON_FILE names a file the run
# must have written: it is removed first and must then hold a JSON object with "traceEvents".
if(NOT PROGRAM)
    message(FATAL_ERROR "PROGRAM is not set")
endif()
string(REPLACE "|" ";" ARGS "${ARGS}")
if(JSON_FILE)
    file(REMOVE "${JSON_FILE}")
endif()
execute_process(
    COMMAND ${CMAKE_COMMAND} -E env --unset=DISPLAY --unset=WAYLAND_DISPLAY
            --unset=QT_QPA_PLATFORM ${PROGRAM} ${ARGS}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    TIMEOUT 90)
set(failed FALSE)
macro(fail what)
    message(SEND_ERROR "loopscope ${ARGS}: ${what}\n--- exit code: ${rc}\n--- stdout:\n${out}\n--- stderr:\n${err}")
    set(failed TRUE)
endmacro()

if(EXPECT_RC STREQUAL "nonzero")
    if(rc STREQUAL "0" OR NOT rc MATCHES "^[0-9]+$")
        fail("expected a non-zero exit code (and no crash)")
    endif()
elseif(NOT rc STREQUAL "${EXPECT_RC}")
    fail("expected exit code ${EXPECT_RC}")
endif()
if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
    fail("stdout does not match [${STDOUT_REGEX}]")
endif()
if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
    fail("stderr does not match [${STDERR_REGEX}]")
endif()
if(DEFINED STDOUT_EXACT AND NOT out STREQUAL "${STDOUT_EXACT}")
    fail("stdout is not exactly [${STDOUT_EXACT}]")
endif()
if(STDERR_EMPTY AND NOT err STREQUAL "")
    fail("stderr is not empty")
endif()
if(JSON_FILE)
    if(NOT EXISTS "${JSON_FILE}")
        fail("${JSON_FILE} was not written")
    else()
        file(READ "${JSON_FILE}" json)
        string(JSON type ERROR_VARIABLE json_error TYPE "${json}" traceEvents)
        if(json_error OR NOT type STREQUAL "ARRAY")
            fail("${JSON_FILE} has no traceEvents array: ${json_error}")
        endif()
    endif()
endif()
if(NOT failed)
    message(STATUS "loopscope ${ARGS}: ok")
endif()
