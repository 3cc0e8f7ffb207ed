#include "config/sections.h"

#include <string>
#include <utility>

namespace paddock::config::detail {

void ParseRegistry(Parser& p, const MapView::Entry& section, Config& config) {
  RegistryConfig& r = config.registry;
  p.Remember("registry", section.key_node);
  MapView m(p, section.value, "registry",
            {"enabled", "cache_dir", "max_size", "tag_ttl", "default_namespace", "allow_unlisted",
             "proxy", "connect_timeout", "stall_timeout", "upstreams", "nodes"});
  if (!m.ok()) return;
  for (const auto& e : m.entries()) {
    const std::string path = m.Path(e.key);
    if (e.key == "enabled") {
      if (auto v = p.Bool(e, path)) r.enabled = *v;
    } else if (e.key == "cache_dir") {
      if (auto v = p.String(e, path)) r.cache_dir = *v;
    } else if (e.key == "max_size") {
      if (auto v = p.String(e, path)) {
        if (auto size = ParseSize(*v)) {
          r.max_size = *size;
        } else {
          p.Error(e.value, path, "not a size (like 50GiB, 500MiB or plain bytes): " + Quote(*v));
        }
      }
    } else if (e.key == "tag_ttl") {
      if (auto v = p.Duration(e, path)) r.tag_ttl = *v;
    } else if (e.key == "default_namespace") {
      if (auto v = p.String(e, path)) r.default_namespace = *v;
    } else if (e.key == "allow_unlisted") {
      if (auto v = p.Bool(e, path)) r.allow_unlisted = *v;
    } else if (e.key == "proxy") {
      if (auto v = p.String(e, path)) r.proxy = *v;
    } else if (e.key == "connect_timeout") {
      if (auto v = p.Duration(e, path)) r.connect_timeout = *v;
    } else if (e.key == "stall_timeout") {
      if (auto v = p.Duration(e, path)) r.stall_timeout = *v;
    } else if (e.key == "nodes") {
      p.Remember(path, e.key_node);
      MapView n(p, e.value, path, {"namespaces", "fallback_to_upstream"});
      if (!n.ok()) continue;
      for (const auto& f : n.entries()) {
        const std::string key_path = n.Path(f.key);
        if (f.key == "namespaces") {
          if (auto v = p.StringList(f, key_path)) {
            for (const std::string& ns : *v) {
              // A namespace becomes a directory name under certs.d: a host[:port], no paths.
              if (ns.empty() || ns.find_first_of("/\\ \t") != std::string::npos || ns == "." ||
                  ns == ".." || ns == "_default") {
                p.Error(f.value, key_path, "not a registry host name: " + Quote(ns));
              }
            }
            r.node_namespaces = *v;
          }
        } else if (f.key == "fallback_to_upstream") {
          if (auto v = p.Bool(f, key_path)) r.node_fallback_to_upstream = *v;
        }
      }
    } else if (e.key == "upstreams") {
      p.Remember(path, e.key_node);
      if (e.value.IsNull()) continue;
      if (!e.value.IsSequence()) {
        p.Error(e.value, path, "expected a list of upstreams");
        continue;
      }
      for (size_t i = 0; i < e.value.size(); ++i) {
        const std::string item_path = IndexPath(path, i);
        const YAML::Node item = e.value[i];
        p.Remember(item_path, item);
        MapView u(p, item, item_path, {"name", "url", "username", "password_file"});
        if (!u.ok()) continue;
        RegistryUpstream up;
        for (const auto& f : u.entries()) {
          auto v = p.String(f, u.Path(f.key));
          if (!v) continue;
          if (f.key == "name") up.name = *v;
          if (f.key == "url") up.url = *v;
          if (f.key == "username") up.username = *v;
          if (f.key == "password_file") up.password_file = *v;
        }
        if (up.name.empty()) p.Error(item, u.Path("name"), "name is required");
        if (up.url.rfind("http://", 0) != 0 && up.url.rfind("https://", 0) != 0) {
          p.Error(item, u.Path("url"), "url must start with http:// or https://");
        }
        r.upstreams.push_back(std::move(up));
      }
    }
  }
}

}  // namespace paddock::config::detail
