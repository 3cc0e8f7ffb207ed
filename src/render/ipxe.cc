#include "render/ipxe.h"

#include "render/mustache_internal.h"
#include "render/template.h"

namespace paddock::render {
namespace {

// Kernel args first come "initrd=" (the UEFI stub loads initrds by the names iPXE gave them;
// Debian's 2019 iPXE has no LoadFile2 initrd protocol, see notes/pxe-in-qemu.md), then the
// profile's args, then what the node agent needs to reach us.
constexpr std::string_view kDefaultTemplate =
    "#!ipxe\n"
    "echo paddock: {{mac}} group {{group}} profile {{profile}}\n"
    "kernel {{kernel}} {{cmdline}}\n"
    "{{#initrds}}\n"
    "initrd {{url}}\n"
    "{{/initrds}}\n"
    "boot\n";

bool HasScheme(std::string_view s) {
  const size_t pos = s.find("://");
  if (pos == std::string_view::npos || pos == 0) return false;
  for (size_t i = 0; i < pos; ++i) {
    const char c = s[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

// RFC 3986 §2.3 unreserved characters plus '/', which separates path segments.
std::string EncodePath(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::string JoinNonEmpty(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out += p;
  }
  return out;
}

Status CheckScript(const std::string& script) {
  if (script.rfind("#!ipxe", 0) != 0) {
    return InvalidArgument("the rendered iPXE script does not start with \"#!ipxe\"");
  }
  return Ok();
}

std::string ChainLine(std::string_view server_url, std::string_view on_failure) {
  std::string line = "chain ";
  line += server_url;
  line +=
      "/ipxe?mac=${mac:hexhyp}&uuid=${uuid:uristring}&arch=${buildarch:uristring}"
      "&platform=${platform:uristring}&serial=${serial:uristring}&asset=${asset:uristring}";
  line += " || goto ";
  line += on_failure;
  line += "\n";
  return line;
}

}  // namespace

std::string_view DefaultIpxeTemplate() { return kDefaultTemplate; }

std::string AssetUrl(std::string_view server_url, std::string_view path) {
  if (HasScheme(path)) return std::string(path);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return std::string(server_url) + "/assets/" + EncodePath(path);
}

std::string ImageName(std::string_view path_or_url) {
  std::string_view s = path_or_url;
  if (const size_t q = s.find_first_of("?#"); q != std::string_view::npos) s = s.substr(0, q);
  if (const size_t slash = s.rfind('/'); slash != std::string_view::npos) {
    s = s.substr(slash + 1);
  }
  return std::string(s);
}

std::string RenderChainScript(std::string_view server_url) {
  // iPXE ends a script at the first failing command unless it is followed by "||"; a chain
  // that returns (the chained script exited successfully) ends this one too.
  std::string s = "#!ipxe\n";
  s += "# paddock: fetch this machine's own boot script; iPXE fills in its variables.\n";
  s += ChainLine(server_url, "paddock_retry1");
  s += "exit\n";
  s += ":paddock_retry1\n";
  s += "echo paddock: fetching the boot script from " + std::string(server_url) +
       " failed; retrying in 5 s\n";
  s += "sleep 5\n";
  s += ChainLine(server_url, "paddock_retry2");
  s += "exit\n";
  s += ":paddock_retry2\n";
  s += "echo paddock: fetching the boot script failed again; retrying in 10 s\n";
  s += "sleep 10\n";
  s += ChainLine(server_url, "paddock_give_up");
  s += "exit\n";
  s += ":paddock_give_up\n";
  s += "echo paddock: giving up; the firmware moves on to the next boot device\n";
  s += "exit 1\n";
  return s;
}

nlohmann::json IpxeTemplateVariables(const inventory::Profile& profile,
                                     const RenderContext& context) {
  const inventory::MachineFacts& f = context.facts;
  nlohmann::json v = nlohmann::json::object();
  v["mac"] = f.mac.ToString();
  v["mac_hyphen"] = f.mac.ToHyphenString();
  v["uuid"] = SanitizeMachineString(f.uuid);
  v["arch"] = SanitizeMachineString(f.arch);
  v["hostname"] = SanitizeMachineString(f.hostname);
  v["serial"] = SanitizeMachineString(f.serial);
  v["asset"] = SanitizeMachineString(f.asset);
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [key, value] : f.labels) {
    labels[SanitizeMachineString(key)] = SanitizeMachineString(value);
  }
  v["labels"] = std::move(labels);
  v["group"] = context.group;
  v["metadata"] = context.metadata.is_object() ? context.metadata : nlohmann::json::object();
  v["profile"] = profile.name;
  v["kernel"] = AssetUrl(context.server_url, profile.kernel);

  nlohmann::json initrds = nlohmann::json::array();
  std::vector<std::string> cmdline;
  for (const std::string& initrd : profile.initrds) {
    const std::string url = AssetUrl(context.server_url, initrd);
    const std::string name = ImageName(url);
    initrds.push_back({{"url", url}, {"name", name}});
    cmdline.push_back("initrd=" + name);
  }
  v["initrds"] = std::move(initrds);
  v["args"] = profile.args;
  cmdline.push_back(profile.args);
  cmdline.push_back("paddock.server=" + context.server_url);
  cmdline.push_back("paddock.token=" + context.boot_token);
  cmdline.push_back("paddock.mac=" + f.mac.ToString());
  v["cmdline"] = JoinNonEmpty(cmdline);
  v["server_url"] = context.server_url;
  v["token"] = context.boot_token;
  return v;
}

Result<std::string> RenderIpxeScript(const inventory::Profile& profile,
                                     const RenderContext& context) {
  const std::string_view text =
      profile.ipxe_template.empty() ? kDefaultTemplate : std::string_view(profile.ipxe_template);
  auto script = RenderTemplate(text, IpxeTemplateVariables(profile, context));
  if (!script) return script;
  if (auto ok = CheckScript(*script); !ok) return tl::unexpected(ok.error());
  return script;
}

struct IpxeRenderer::Impl {
  CompiledTemplate tmpl;
  MustacheData base;           // the group's variables, the same for each of its machines
  std::string cmdline_prefix;  // "initrd=... <args> paddock.server=<url>"
};

Result<IpxeRenderer> IpxeRenderer::Create(const inventory::Profile& profile, std::string_view group,
                                          const nlohmann::json& metadata,
                                          std::string_view server_url) {
  try {
    auto tmpl = CompiledTemplate::Compile(
        profile.ipxe_template.empty() ? kDefaultTemplate : std::string_view(profile.ipxe_template));
    if (!tmpl) return tl::unexpected(tmpl.error());
    // The same variables as IpxeTemplateVariables, minus the per-machine ones, and the same
    // cmdline order: initrd names, args, server (then token and mac per machine).
    MustacheData base(MustacheData::type::object);
    base.set("group", std::string(group));
    base.set("metadata",
             ToMustacheData(metadata.is_object() ? metadata : nlohmann::json::object()));
    base.set("profile", profile.name);
    base.set("kernel", AssetUrl(server_url, profile.kernel));
    MustacheData initrds(MustacheData::type::list);
    std::vector<std::string> cmdline;
    for (const std::string& initrd : profile.initrds) {
      const std::string url = AssetUrl(server_url, initrd);
      const std::string name = ImageName(url);
      MustacheData item(MustacheData::type::object);
      item.set("url", url);
      item.set("name", name);
      initrds.push_back(item);
      cmdline.push_back("initrd=" + name);
    }
    base.set("initrds", initrds);
    base.set("args", profile.args);
    base.set("server_url", std::string(server_url));
    cmdline.push_back(profile.args);
    cmdline.push_back("paddock.server=" + std::string(server_url));
    auto impl =
        std::make_shared<Impl>(Impl{std::move(*tmpl), std::move(base), JoinNonEmpty(cmdline)});
    return IpxeRenderer(std::move(impl));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template: ") + e.what());
  }
}

Result<std::string> IpxeRenderer::Render(const inventory::MachineFacts& f,
                                         std::string_view boot_token) const {
  try {
    const std::string mac = f.mac.ToString();
    MustacheData top(MustacheData::type::object);
    top.set("mac", mac);
    top.set("mac_hyphen", f.mac.ToHyphenString());
    top.set("uuid", SanitizeMachineString(f.uuid));
    top.set("arch", SanitizeMachineString(f.arch));
    top.set("hostname", SanitizeMachineString(f.hostname));
    top.set("serial", SanitizeMachineString(f.serial));
    top.set("asset", SanitizeMachineString(f.asset));
    MustacheData labels(MustacheData::type::object);
    for (const auto& [key, value] : f.labels) {
      labels.set(SanitizeMachineString(key), SanitizeMachineString(value));
    }
    top.set("labels", labels);
    std::string cmdline = impl_->cmdline_prefix;
    cmdline += " paddock.token=";
    cmdline += boot_token;
    cmdline += " paddock.mac=";
    cmdline += mac;
    top.set("cmdline", cmdline);
    top.set("token", std::string(boot_token));
    kainjow::mustache::context<std::string> context(&impl_->base);
    context.push(&top);
    auto script = RenderWithContext(*impl_->tmpl.impl(), context);
    if (!script) return script;
    if (auto ok = CheckScript(*script); !ok) return tl::unexpected(ok.error());
    return script;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template render: ") + e.what());
  }
}

Status DryRenderIpxeTemplate(const inventory::Profile& profile) {
  RenderContext context;
  context.facts.mac = *MacAddress::Parse("52:54:00:00:00:01");
  context.facts.uuid = "00000000-0000-0000-0000-000000000001";
  context.facts.arch = "bios";
  context.facts.hostname = "dry-run";
  context.facts.serial = "serial";
  context.facts.asset = "asset";
  context.group = "dry-run";
  context.server_url = "http://192.0.2.1:8080";
  context.boot_token = "dry-run-token";
  auto script = RenderIpxeScript(profile, context);
  if (!script) return tl::unexpected(script.error());
  return Ok();
}

std::string RenderNoProfileScript(const inventory::MachineFacts& facts) {
  std::string arch = SanitizeMachineString(facts.arch);
  if (arch.empty()) arch = "unknown";
  std::string s = "#!ipxe\n";
  s += "echo paddock: no group in paddock.yaml matches this machine (mac " + facts.mac.ToString() +
       ", arch " + arch + ") and there is no default group.\n";
  s += "echo paddock: add a group for it (or a default group); the firmware moves on to the "
       "next boot device in 10 s.\n";
  s += "sleep 10\n";
  s += "exit 0\n";
  return s;
}

}  // namespace paddock::render
