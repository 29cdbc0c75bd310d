// The one source of the tests' precompiled-header targets (loopscope_add_test_pch in
// CMakeLists.txt): a target needs a source, and this one only includes the precompiled header.
