#include "render/template.h"

#include <exception>

#include <kainjow/mustache.hpp>

namespace paddock::render {
namespace {

using Mustache = kainjow::mustache::mustache;
using Data = kainjow::mustache::data;

// JSON nesting deeper than this is cut (rendered as an empty string): template data comes
// from config metadata, which yaml-cpp already limits, but RenderTemplate is a public entry.
constexpr int kMaxDepth = 64;

Data ToData(const nlohmann::json& value, int depth) {
  if (depth > kMaxDepth) return Data(std::string());
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      Data obj(Data::type::object);
      for (const auto& [key, item] : value.items()) obj.set(key, ToData(item, depth + 1));
      return obj;
    }
    case nlohmann::json::value_t::array: {
      Data list(Data::type::list);
      for (const auto& item : value) list.push_back(ToData(item, depth + 1));
      return list;
    }
    case nlohmann::json::value_t::string:
      return Data(value.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean:
      return Data(value.get<bool>());
    case nlohmann::json::value_t::null:
      return Data(false);
    default:  // numbers
      return Data(value.dump());
  }
}

Result<Mustache> Parse(std::string_view text) {
  if (text.size() > kMaxTemplateBytes) {
    return InvalidArgument("template is larger than " + std::to_string(kMaxTemplateBytes) +
                           " bytes");
  }
  Mustache tmpl{std::string(text)};
  if (!tmpl.is_valid()) return InvalidArgument("template syntax: " + tmpl.error_message());
  // No HTML escaping: these are scripts and config files, not HTML (see template.h).
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  return tmpl;
}

}  // namespace

Status CheckTemplateSyntax(std::string_view text) {
  try {
    auto tmpl = Parse(text);
    if (!tmpl) return tl::unexpected(tmpl.error());
    return Ok();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template syntax: ") + e.what());
  }
}

Result<std::string> RenderTemplate(std::string_view text, const nlohmann::json& variables) {
  // kainjow reports errors through error_message(); the catch is for allocation failures and
  // anything the library might throw in a future version: nothing escapes this module.
  try {
    auto tmpl = Parse(text);
    if (!tmpl) return tl::unexpected(tmpl.error());
    Data data = variables.is_object() ? ToData(variables, 0) : Data(Data::type::object);
    std::string out = tmpl->render(data);
    if (!tmpl->is_valid()) return InvalidArgument("template render: " + tmpl->error_message());
    return out;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template render: ") + e.what());
  }
}

std::string SanitizeMachineString(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '_';
  }
  return out;
}

}  // namespace paddock::render
