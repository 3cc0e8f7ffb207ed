#pragma once

// Mustache templates (https://mustache.github.io/mustache.5.html) over JSON variables: the
// engine behind iPXE scripts here and the per-machine documents (user-data, meta-data, ...)
// later. Pure functions; any thread may call them.
//
// Differences from HTML-oriented mustache:
//   - {{name}} is NOT HTML-escaped: it prints the value as is, exactly like {{{name}}}.
//     Values that come from machines (facts) are sanitized before they become variables
//     (see SanitizeMachineString), so they cannot inject lines into a script.
//   - Dotted names ({{metadata.role}}) walk into objects; arrays iterate in sections.
//   - JSON numbers print in their JSON form (3, 2.5); true/false/null print nothing but work
//     as section conditions ({{#flag}}...{{/flag}}, {{^flag}}...{{/flag}}).
//   - A missing variable prints nothing. Partials ({{> name}}) are not supported: they render
//     nothing.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock::render {

// Templates larger than this are rejected. They come from files an operator wrote; the cap
// bounds the cost of a runaway file on every boot (kainjow spends about 6 us per line: a
// 1 MiB file of newlines took 6 s to render here).
inline constexpr size_t kMaxTemplateBytes = 256 << 10;
// Sections ({{#x}}, {{^x}}) nested deeper than this are a syntax error (the engine's cost grows
// quadratically with depth).
inline constexpr int kMaxSectionDepth = 32;

// Parses `text` without rendering it. kInvalidArgument with the engine's message (it names
// the offending tag and its position) when the syntax is wrong.
Status CheckTemplateSyntax(std::string_view text);

// Renders `text` with `variables` (a JSON object). kInvalidArgument on a syntax or render
// error. Never throws.
Result<std::string> RenderTemplate(std::string_view text, const nlohmann::json& variables);

// A template parsed once and rendered many times: what the daemon keeps per configuration so
// that a request does not re-parse its template (kainjow's parser is most of a render's cost).
// Copies share the parsed form. Render may be called from any thread: the engine keeps
// per-render state in the parsed template, so renders of one template are serialized inside.
class CompiledTemplate {
 public:
  // The checks and errors of CheckTemplateSyntax.
  static Result<CompiledTemplate> Compile(std::string_view text);

  // RenderTemplate(text, variables) without parsing text again.
  Result<std::string> Render(const nlohmann::json& variables) const;

  struct Impl;  // render/mustache_internal.h (this module's renderers use the engine directly)
  const std::shared_ptr<Impl>& impl() const { return impl_; }

 private:
  explicit CompiledTemplate(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// How many template texts this process has parsed so far (every CheckTemplateSyntax,
// RenderTemplate and CompiledTemplate::Compile parses once). Thread-safe. Tests use it to prove
// that the request path renders without parsing.
uint64_t TemplateParseCount();

// Replaces every byte a machine could use to break out of a line or a token (control
// characters, DEL, non-ASCII) by '_'. Used on facts (hostname, serial, ...) that arrive in
// requests before they reach any template or log line.
std::string SanitizeMachineString(std::string_view text);

}  // namespace paddock::render
