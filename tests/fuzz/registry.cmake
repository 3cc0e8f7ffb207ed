# Registry parsers fed by upstream registries (untrusted): manifests and WWW-Authenticate.
paddock_fuzz(registry_manifest_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/registry_manifest_fuzz.cc
  DEPS paddock::registry_core)
paddock_fuzz(registry_auth_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/registry_auth_fuzz.cc
  DEPS paddock::registry_core)
