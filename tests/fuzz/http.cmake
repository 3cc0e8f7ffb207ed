# http module: the request-target/query decoder, Range/ETag/date parsers, path confinement
# check, and a whole request through Beast's parser into BuildRequest.
paddock_fuzz(http_request_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_request_fuzz.cc
  DEPS paddock::http)
