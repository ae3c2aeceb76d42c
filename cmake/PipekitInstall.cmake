# Installs the pipekit commands and the LibTorch-free libraries with a package
# config, so another project can find_package(pipekit) and link pipekit::planner.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(targets GLOBAL PROPERTY PIPEKIT_INSTALL_TARGETS)
install(TARGETS ${targets} EXPORT pipekitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION include/pipekit)
# Both executables side by side: pipekit finds pipekit-train in its own directory.
install(TARGETS pipekit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET pipekit-train)
  install(TARGETS pipekit-train RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT pipekitTargets NAMESPACE pipekit::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pipekit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/pipekitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/pipekitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pipekit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pipekitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pipekitConfig.cmake ${PROJECT_BINARY_DIR}/pipekitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pipekit)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/profiles/ DESTINATION ${CMAKE_INSTALL_DATADIR}/pipekit/profiles
  FILES_MATCHING PATTERN "*.json" PATTERN "*.md")
