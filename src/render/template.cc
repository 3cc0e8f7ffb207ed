#include "render/template.h"

#include <atomic>
#include <cctype>
#include <exception>

#include "render/mustache_internal.h"

namespace paddock::render {
namespace {

std::atomic<uint64_t> parse_count{0};

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

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// kainjow's parser and renderer recurse once per nested section and copy context per level:
// 5,000 nested sections took 6 s and 22,000 overflowed the stack (measured here). Templates
// need a handful of levels, so deeper nesting is rejected before kainjow sees it. The scan
// follows kainjow's tokenizer (including {{=<% %>=}} delimiter changes); where it gives up
// (an unclosed or malformed tag) kainjow reports the syntax error itself.
Status CheckSectionDepth(std::string_view text) {
  std::string begin = "{{";
  std::string end = "}}";
  int depth = 0;
  size_t pos = 0;
  while (true) {
    const size_t tag = text.find(begin, pos);
    if (tag == std::string_view::npos) return Ok();
    size_t contents = tag + begin.size();
    std::string_view close = end;
    if (begin == "{{" && end == "}}" && contents < text.size() && text[contents] == '{') {
      close = "}}}";
      ++contents;
    }
    const size_t tag_end = text.find(close, contents);
    if (tag_end == std::string_view::npos) return Ok();
    const std::string_view body = Trim(text.substr(contents, tag_end - contents));
    pos = tag_end + close.size();
    if (close.size() == 3 || body.empty()) continue;
    if (body.front() == '=') {
      if (body.size() < 5 || body.back() != '=') return Ok();
      const std::string_view inner = Trim(body.substr(1, body.size() - 2));
      const size_t space = inner.find(' ');
      if (space == std::string_view::npos) return Ok();
      const size_t next = inner.find_first_not_of(' ', space + 1);
      if (next == std::string_view::npos) return Ok();
      begin = std::string(inner.substr(0, space));
      end = std::string(inner.substr(next));
      if (begin.empty() || end.empty()) return Ok();
      continue;
    }
    if (body.front() == '#' || body.front() == '^') {
      if (++depth > kMaxSectionDepth) {
        return InvalidArgument("template sections nested deeper than " +
                               std::to_string(kMaxSectionDepth) + " levels");
      }
    } else if (body.front() == '/') {
      --depth;
    }
  }
}

Result<Mustache> Parse(std::string_view text) {
  if (text.size() > kMaxTemplateBytes) {
    return InvalidArgument("template is larger than " + std::to_string(kMaxTemplateBytes) +
                           " bytes");
  }
  if (auto ok = CheckSectionDepth(text); !ok) return tl::unexpected(ok.error());
  parse_count.fetch_add(1, std::memory_order_relaxed);
  Mustache tmpl{std::string(text)};
  if (!tmpl.is_valid()) return InvalidArgument("template syntax: " + tmpl.error_message());
  // No HTML escaping: these are scripts and config files, not HTML (see template.h).
  tmpl.set_custom_escape([](const std::string& s) { return s; });
  return tmpl;
}

}  // namespace

MustacheData ToMustacheData(const nlohmann::json& value) { return ToData(value, 0); }

Result<std::string> RenderWithContext(CompiledTemplate::Impl& impl,
                                      kainjow::mustache::context<std::string>& context) {
  try {
    std::lock_guard<std::mutex> lock(impl.mu);
    std::string out = impl.tmpl.render(context);
    if (!impl.tmpl.is_valid()) {
      return InvalidArgument("template render: " + impl.tmpl.error_message());
    }
    return out;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template render: ") + e.what());
  }
}

Result<CompiledTemplate> CompiledTemplate::Compile(std::string_view text) {
  try {
    auto tmpl = Parse(text);
    if (!tmpl) return tl::unexpected(tmpl.error());
    return CompiledTemplate(std::make_shared<Impl>(std::move(*tmpl)));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template syntax: ") + e.what());
  }
}

Result<std::string> CompiledTemplate::Render(const nlohmann::json& variables) const {
  try {
    Data data = variables.is_object() ? ToData(variables, 0) : Data(Data::type::object);
    kainjow::mustache::context<std::string> context(&data);
    return RenderWithContext(*impl_, context);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("template render: ") + e.what());
  }
}

uint64_t TemplateParseCount() { return parse_count.load(std::memory_order_relaxed); }

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
