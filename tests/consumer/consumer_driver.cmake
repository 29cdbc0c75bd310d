# Run with cmake -P; see CMakeLists.txt beside this file for the -D variables.
cmake_minimum_required(VERSION 3.21)

foreach(var LOOPSCOPE_BUILD_DIR STAGE_DIR CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR GENERATOR)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
        message(FATAL_ERROR "consumer_driver.cmake: -D${var}=... is required")
    endif()
endforeach()
if(NOT CONFIG)
    set(CONFIG Release)
endif()

# run(<step> <command...>): echo, run, and stop the test on failure with the command's output.
function(run step)
    string(REPLACE ";" " " _pretty "${ARGN}")
    message(STATUS "[${step}] ${_pretty}")
    execute_process(COMMAND ${ARGN}
        RESULT_VARIABLE _rc
        OUTPUT_VARIABLE _out
        ERROR_VARIABLE _out
        TIMEOUT 240)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "[${step}] failed (${_rc}):\n${_out}")
    endif()
    message(STATUS "[${step}] ok\n${_out}")
endfunction()

# Start from an empty prefix so a file that is no longer installed cannot linger and hide a bug.
file(REMOVE_RECURSE "${STAGE_DIR}" "${CONSUMER_BINARY_DIR}")

run(install ${CMAKE_COMMAND} --install "${LOOPSCOPE_BUILD_DIR}" --prefix "${STAGE_DIR}"
    --config "${CONFIG}")

set(_configure_args
    -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}" -G "${GENERATOR}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}"
    "-DCMAKE_PREFIX_PATH=${STAGE_DIR}")
if(CXX_COMPILER)
    list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(QT6_DIR)
    list(APPEND _configure_args "-DQt6_DIR=${QT6_DIR}")
endif()
if(SANITIZE)
    # The engine is a static library built with sanitizers; its instrumentation needs the
    # sanitizer runtimes at link time, and the export deliberately carries no build flags.
    list(APPEND _configure_args
        "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZE} -fno-omit-frame-pointer"
        "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
endif()

run(configure ${CMAKE_COMMAND} ${_configure_args})
run(build ${CMAKE_COMMAND} --build "${CONSUMER_BINARY_DIR}" --config "${CONFIG}")

find_program(_consumer NAMES loopscope_consumer
    PATHS "${CONSUMER_BINARY_DIR}" "${CONSUMER_BINARY_DIR}/${CONFIG}" NO_DEFAULT_PATH)
if(NOT _consumer)
    message(FATAL_ERROR "loopscope_consumer was not built in ${CONSUMER_BINARY_DIR}")
endif()
run(run "${_consumer}")
