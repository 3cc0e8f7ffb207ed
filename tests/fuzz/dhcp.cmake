# DHCP codec + classification + responder fuzzer (seeds: every DHCP payload of the captures).
paddock_fuzz(dhcp_packet_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dhcp_packet_fuzz.cc
  DEPS paddock::dhcp)
