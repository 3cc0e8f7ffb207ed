#include "config/sections.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "render/ipxe.h"
#include "render/template.h"

namespace paddock::config::detail {
namespace {

namespace fs = std::filesystem;

// Reads a template file named in the config; reports and returns nullopt when it cannot.
std::optional<std::string> ReadTemplateFile(Parser& p, const MapView::Entry& e,
                                            const std::string& path, const std::string& resolved) {
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec)) {
    p.Error(e.value, path, "template file " + Quote(resolved) + " does not exist or is not a file",
            &e.key_node);
    return std::nullopt;
  }
  const auto size = fs::file_size(resolved, ec);
  if (ec || size > render::kMaxTemplateBytes) {
    p.Error(e.value, path, "template file " + Quote(resolved) + " is unreadable or too large");
    return std::nullopt;
  }
  std::ifstream in(resolved, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    p.Error(e.value, path, "cannot read template file " + Quote(resolved));
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

void ParseProfiles(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("profiles", section.key_node);
  MapView profiles(p, section.value, "profiles", {});
  if (!profiles.ok()) return;
  for (const MapView::Entry& entry : profiles.entries()) {
    const std::string path = profiles.Path(entry.key);
    p.Remember(path, entry.key_node);
    inventory::Profile profile;
    profile.name = entry.key;
    MapView m(p, entry.value, path,
              {"kernel", "initrds", "args", "ipxe_template", "templates", "persist"});
    if (m.ok()) {
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "kernel") {
          if (auto v = p.String(e, key_path)) profile.kernel = *v;
        } else if (e.key == "initrds") {
          if (auto v = p.StringList(e, key_path)) profile.initrds = *v;
        } else if (e.key == "args") {
          // A string, or a list of arguments joined with spaces (matchbox's form).
          if (auto v = p.StringList(e, key_path)) {
            std::string joined;
            for (const std::string& arg : *v) {
              if (!joined.empty()) joined += ' ';
              joined += arg;
            }
            profile.args = joined;
          }
        } else if (e.key == "ipxe_template") {
          auto v = p.String(e, key_path);
          if (!v || v->empty()) continue;
          profile.ipxe_template_path = p.Resolve(*v);
          auto text = ReadTemplateFile(p, e, key_path, profile.ipxe_template_path);
          if (!text) continue;
          if (text->empty()) {
            p.Error(e.value, key_path,
                    "template file " + Quote(profile.ipxe_template_path) + " is empty");
            continue;
          }
          profile.ipxe_template = std::move(*text);
        } else if (e.key == "persist") {
          // Absolute paths or globs the node agent keeps across reboots (docs/agent.md).
          auto v = p.StringList(e, key_path);
          if (!v) continue;
          for (const std::string& glob : *v) {
            if (glob.empty() || glob[0] != '/' || glob.find("/../") != std::string::npos ||
                (glob.size() >= 3 && glob.compare(glob.size() - 3, 3, "/..") == 0)) {
              p.Error(e.value, key_path,
                      "persist entries must be absolute paths without '..': " + Quote(glob));
              continue;
            }
            profile.persist.push_back(glob);
          }
        } else if (e.key == "templates") {
          p.Remember(key_path, e.key_node);
          if (e.value.IsNull()) continue;
          MapView names(p, e.value, key_path, {});
          if (!names.ok()) continue;
          for (const MapView::Entry& item : names.entries()) {
            const std::string item_path = names.Path(item.key);
            auto file = p.String(item, item_path);
            if (!file) continue;
            if (item.key.empty() || file->empty()) {
              p.Error(item.value, item_path, "a template needs a name and a file", &item.key_node);
              continue;
            }
            const std::string resolved = p.Resolve(*file);
            auto text = ReadTemplateFile(p, item, item_path, resolved);
            if (!text) continue;
            if (auto ok = render::CheckTemplateSyntax(*text); !ok) {
              p.Error(item.value, item_path,
                      "template " + Quote(resolved) + ": " + ok.error().message);
              continue;
            }
            profile.templates[item.key] = resolved;
          }
        }
      }
    }
    config.inventory.profiles.push_back(std::move(profile));
  }
}

void ParseGroups(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("groups", section.key_node);
  if (section.value.IsNull()) return;
  if (!section.value.IsSequence()) {
    p.Error(section.value, "groups", "expected a list of groups (- name: ...)");
    return;
  }
  for (size_t i = 0; i < section.value.size(); ++i) {
    const std::string path = IndexPath("groups", i);
    const YAML::Node node = section.value[i];
    p.Remember(path, node);
    inventory::Group group;
    MapView m(p, node, path, {"name", "profile", "selectors", "metadata"});
    if (m.ok()) {
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "name") {
          if (auto v = p.String(e, key_path)) group.name = *v;
        } else if (e.key == "profile") {
          if (auto v = p.String(e, key_path)) group.profile = *v;
        } else if (e.key == "selectors") {
          if (auto v = p.StringMap(e, key_path)) group.selectors = *v;
        } else if (e.key == "metadata") {
          p.Remember(key_path, e.key_node);
          if (e.value.IsNull()) continue;
          if (!e.value.IsMap()) {
            p.Error(e.value, key_path, "expected a mapping");
            continue;
          }
          if (auto v = p.Json(e.value, key_path)) group.metadata = std::move(*v);
        }
      }
    }
    config.inventory.groups.push_back(std::move(group));
  }
}

void ParseMachines(Parser& p, const MapView::Entry& section, Config& config) {
  p.Remember("machines", section.key_node);
  if (section.value.IsNull()) return;
  if (!section.value.IsSequence()) {
    p.Error(section.value, "machines", "expected a list of machines (- mac: ...)");
    return;
  }
  for (size_t i = 0; i < section.value.size(); ++i) {
    const std::string path = IndexPath("machines", i);
    const YAML::Node node = section.value[i];
    p.Remember(path, node);
    inventory::MachineSpec machine;
    MapView m(p, node, path, {"mac", "hostname", "labels"});
    if (m.ok()) {
      if (!m.Find("mac")) p.Error(node, JoinPath(path, "mac"), "mac is required");
      for (const auto& e : m.entries()) {
        const std::string key_path = m.Path(e.key);
        if (e.key == "mac") {
          if (auto v = p.Mac(e, key_path)) machine.mac = *v;
        } else if (e.key == "hostname") {
          auto v = p.String(e, key_path);
          if (v && !v->empty() && !IsHostname(*v)) {
            p.Error(e.value, key_path, "not a host name: " + Quote(*v));
          } else if (v) {
            machine.hostname = *v;
          }
        } else if (e.key == "labels") {
          if (auto v = p.StringMap(e, key_path)) {
            for (const auto& [key, value] : *v) {
              if (inventory::IsFactSelectorKey(key)) {
                p.ErrorAtPath(JoinPath(key_path, key),
                              "label " + Quote(key) +
                                  " would shadow the machine fact of that name; rename it");
              }
            }
            machine.labels = *v;
          }
        }
      }
    }
    config.inventory.machines.push_back(std::move(machine));
  }
}

void CheckInventory(Parser& p, Config& config) {
  for (const inventory::InventoryError& e : config.inventory.Validate()) {
    p.ErrorAtPath(e.path, e.message);
  }
  // Syntax and shape of every iPXE template, by rendering it for a made-up machine: a broken
  // template must fail the load, not the first boot.
  for (const inventory::Profile& profile : config.inventory.profiles) {
    if (profile.ipxe_template.empty()) continue;
    if (auto ok = render::DryRenderIpxeTemplate(profile); !ok) {
      p.ErrorAtPath("profiles." + profile.name + ".ipxe_template",
                    "template " + Quote(profile.ipxe_template_path) + ": " + ok.error().message);
    }
  }
}

}  // namespace paddock::config::detail
