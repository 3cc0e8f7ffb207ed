# paddock-agent parsers: user-data (MIME, gzip, YAML, merging) and the state archive reader.
if(TARGET paddock::agent)
  paddock_fuzz(agent_userdata_fuzz SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/agent_userdata_fuzz.cc DEPS paddock::agent yaml-cpp z)
  paddock_fuzz(agent_state_archive_fuzz SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/agent_state_archive_fuzz.cc
               DEPS paddock::agent yaml-cpp z)
endif()
