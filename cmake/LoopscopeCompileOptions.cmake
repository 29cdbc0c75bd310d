# Compile options shared by every Loopscope target: strict Qt defines, warnings, sanitizers.
add_library(loopscope_compile_options INTERFACE)
target_compile_features(loopscope_compile_options INTERFACE cxx_std_20)
target_compile_definitions(loopscope_compile_options INTERFACE
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_KEYWORDS
    QT_NO_FOREACH
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_STRICT_ITERATORS)
target_compile_options(loopscope_compile_options INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)
if(LOOPSCOPE_WERROR)
    target_compile_options(loopscope_compile_options INTERFACE -Werror)
endif()
if(LOOPSCOPE_SANITIZE)
    target_compile_options(loopscope_compile_options INTERFACE
        -fsanitize=${LOOPSCOPE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(loopscope_compile_options INTERFACE -fsanitize=${LOOPSCOPE_SANITIZE})
endif()

# loopscope_target_defaults(<target>): apply the shared options privately.
function(loopscope_target_defaults target)
    target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:loopscope_compile_options>)
endfunction()
