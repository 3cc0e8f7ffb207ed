# Daemon-side parsers of network input: boot tokens (agent redemption, NoCloud seed URLs).
paddock_fuzz(boot_token_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/boot_token_fuzz.cc ${PROJECT_SOURCE_DIR}/src/daemon/tokens.cc
  DEPS paddock::common paddock::store OpenSSL::Crypto)
