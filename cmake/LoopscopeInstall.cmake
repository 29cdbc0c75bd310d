# Package config so another project can find_package(Loopscope REQUIRED COMPONENTS Engine).
include(CMakePackageConfigHelpers)

set(LOOPSCOPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Loopscope)

install(EXPORT LoopscopeTargets
    NAMESPACE Loopscope::
    FILE LoopscopeTargets.cmake
    DESTINATION ${LOOPSCOPE_CMAKE_DIR})

configure_package_config_file(
    ${CMAKE_CURRENT_LIST_DIR}/LoopscopeConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/LoopscopeConfig.cmake
    INSTALL_DESTINATION ${LOOPSCOPE_CMAKE_DIR})
write_basic_package_version_file(
    ${CMAKE_CURRENT_BINARY_DIR}/LoopscopeConfigVersion.cmake
    VERSION ${PROJECT_VERSION}
    COMPATIBILITY SameMinorVersion)
install(FILES
    ${CMAKE_CURRENT_BINARY_DIR}/LoopscopeConfig.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/LoopscopeConfigVersion.cmake
    DESTINATION ${LOOPSCOPE_CMAKE_DIR})
