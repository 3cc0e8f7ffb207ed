#pragma once

// Internal to src/render: the mustache engine (kainjow) behind CompiledTemplate, shared by
// template.cc and ipxe.cc. Nothing outside this module includes it.

#include <mutex>

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>

#include "render/template.h"

namespace paddock::render {

using MustacheData = kainjow::mustache::data;

struct CompiledTemplate::Impl {
  explicit Impl(kainjow::mustache::mustache t) : tmpl(std::move(t)) {}
  // kainjow's render() is not const (it records errors in the template object).
  std::mutex mu;
  kainjow::mustache::mustache tmpl;
};

// JSON -> engine data: objects, arrays, strings as they are; true/false; null is false;
// numbers print in their JSON form. Nesting deeper than 64 levels renders as "".
MustacheData ToMustacheData(const nlohmann::json& value);

// Renders `impl` with a context stack (top first searched): the data that varies per render
// can sit on top of data prepared once. kInvalidArgument on a render error.
Result<std::string> RenderWithContext(CompiledTemplate::Impl& impl,
                                      kainjow::mustache::context<std::string>& context);

}  // namespace paddock::render
