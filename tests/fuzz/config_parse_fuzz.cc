// Arbitrary bytes as paddock.yaml text: ParseConfig must return a Config or errors, never
// crash, hang or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = paddock::config::ParseConfig(text, "/nonexistent/fuzz/paddock.yaml");
  if (result) {
    // A config that loads must be usable: match and render for a machine.
    paddock::inventory::MachineFacts facts;
    facts.arch = "bios";
    (void)result->inventory.Match(facts);
    (void)result->ServerUrl();
  } else {
    for (const auto& e : result.error()) (void)e.ToString();
  }
  return 0;
}
