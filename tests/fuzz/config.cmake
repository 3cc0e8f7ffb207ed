# Fuzzers for config/ and render/: paddock.yaml text and iPXE templates come from files an
# operator (or an attacker with write access to a config directory) controls.
paddock_fuzz(config_parse_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_parse_fuzz.cc
  DEPS paddock::config)
paddock_fuzz(render_ipxe_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/render_ipxe_fuzz.cc
  DEPS paddock::render)
