// Feeds arbitrary bytes to the user-data decoder (gzip, MIME multipart, YAML, merging) and the
// HTTP response parser. Neither may crash, hang or leak on any input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/http_client.h"
#include "agent/userdata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  paddock::agent::UserDataLimits limits;
  limits.max_inflated = 1u << 20;
  auto ud = paddock::agent::ParseUserData(in, limits);
  (void)ud.cloud_config.dump(-1, ' ', false, paddock::agent::Json::error_handler_t::replace);
  (void)paddock::agent::ParseHttpResponse(in, 1u << 20);
  return 0;
}
