#include "common/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_sinks.h>

namespace paddock::log {
namespace {

std::mutex mu;
spdlog::level::level_enum current_level = spdlog::level::info;
std::string current_pattern = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n: %v";

std::shared_ptr<spdlog::sinks::sink> SharedSink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

}  // namespace

void Configure(const std::string& level, Format format) {
  std::lock_guard<std::mutex> lock(mu);
  current_level = spdlog::level::from_str(level);
  // JSON lines: the message is already escaped by callers that log user data through {}.
  current_pattern =
      format == Format::kJson
          ? R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%v"})"
          : "%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n: %v";
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(current_level);
    l->set_pattern(current_pattern, spdlog::pattern_time_type::utc);
  });
}

std::shared_ptr<spdlog::logger> Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, SharedSink());
  logger->set_level(current_level);
  logger->set_pattern(current_pattern, spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace paddock::log
