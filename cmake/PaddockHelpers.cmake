# paddock_library(NAME SOURCES ... DEPS ...): one static library per folder under src/.
# Include paths are rooted at src/ ("dhcp/packet.h").
function(paddock_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(paddock_${name} STATIC ${ARG_SOURCES})
  add_library(paddock::${name} ALIAS paddock_${name})
  target_include_directories(paddock_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(paddock_${name} PUBLIC ${ARG_DEPS} PRIVATE paddock_warnings)
endfunction()

# paddock_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with
# ctest. Unit tests sit beside the code they test (foo_test.cc).
function(paddock_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT PADDOCK_BUILD_TESTS)
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock
                                        paddock_warnings)
  target_compile_definitions(${name} PRIVATE
    PADDOCK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    PADDOCK_CAPTURES_DIR="${PROJECT_SOURCE_DIR}/tests/data/captures")
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  else()
    set_tests_properties(${name} PROPERTIES LABELS unit)
  endif()
endfunction()
