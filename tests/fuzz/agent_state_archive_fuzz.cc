// Feeds arbitrary bytes to the state archive reader; anything it accepts must serialise and
// parse back to the same entries.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/state_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto entries = paddock::agent::ParseStateArchive(in);
  if (!entries) return 0;
  auto again = paddock::agent::WriteStateArchive(*entries);
  if (!again) return 0;  // e.g. a name that fits ustar only with a prefix split we cannot redo
  auto back = paddock::agent::ParseStateArchive(*again);
  if (!back || back->size() != entries->size()) std::abort();
  for (size_t i = 0; i < back->size(); ++i) {
    if ((*back)[i].path != (*entries)[i].path || (*back)[i].data != (*entries)[i].data) {
      std::abort();
    }
  }
  return 0;
}
