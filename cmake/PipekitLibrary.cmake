# pipekit_add_library(<part> SOURCES ... [DEPS ...] [INSTALL])
# Makes static library pipekit_<part> (alias pipekit::<part>), with the repository
# root as include root so headers are included as "core/profile.h". INSTALL adds it
# and its headers to the exported package.
set_property(GLOBAL PROPERTY PIPEKIT_INSTALL_TARGETS "")

function(pipekit_add_library part)
  cmake_parse_arguments(ARG "INSTALL" "" "SOURCES;DEPS" ${ARGN})
  set(target pipekit_${part})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(pipekit::${part} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${part} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:include/pipekit>)
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra>)
  if(ARG_DEPS)
    target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  endif()
  if(ARG_INSTALL)
    set_property(GLOBAL APPEND PROPERTY PIPEKIT_INSTALL_TARGETS ${target})
    file(GLOB headers RELATIVE ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
    foreach(h IN LISTS headers)
      get_filename_component(dir ${h} DIRECTORY)
      install(FILES ${PROJECT_SOURCE_DIR}/${h} DESTINATION include/pipekit/${dir})
    endforeach()
  endif()
endfunction()
