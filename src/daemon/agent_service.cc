#include "daemon/agent_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agent/state_archive.h"
#include "common/clock.h"
#include "common/event.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "daemon/event_recorder.h"
#include "daemon/files.h"
#include "daemon/tokens.h"
#include "http/responder.h"
#include "http/router.h"
#include "render/ipxe.h"
#include "render/template.h"
#include "store/store.h"

namespace paddock::daemon {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxQueue = 256;
constexpr size_t kMaxDetailBytes = 16 * 1024;
constexpr size_t kMaxLogLines = 500;
constexpr const char* kDocuments[] = {"meta-data", "user-data", "vendor-data", "network-config"};

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsDocument(const std::string& name) {
  return std::find(std::begin(kDocuments), std::end(kDocuments), name) != std::end(kDocuments);
}

// Phase names come from the node: keep them to a safe alphabet and length, since they end up
// in logs and the CLI's output.
std::string SanitizePhase(std::string_view phase) {
  std::string out;
  for (char c : phase.substr(0, 64)) {
    bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.' || c == ':';
    out.push_back(safe ? c : '_');
  }
  return out.empty() ? "unknown" : out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Alert(EventRecorder* recorder, const MacAddress& mac, std::string phase,
           nlohmann::json detail) {
  BootEvent e;
  e.mac = mac;
  e.phase = std::move(phase);
  e.ok = false;
  e.detail = DumpJson(detail);
  recorder->Record(std::move(e));
}

Status WriteFileDurably(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("open " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("write " + path + ": " + std::strerror(err));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("fsync " + path + ": " + std::strerror(err));
  }
  if (::close(fd) != 0) return IoError("close " + path + ": " + std::strerror(errno));
  return Ok();
}

// cloud-config write_files items, one per file, as a block sequence at column 0 (so they fit
// right under a top-level "write_files:" line). Path and content are JSON strings, which are
// valid YAML double-quoted scalars, so nothing in them can break the document.
std::string WriteFilesYaml(const std::vector<registry::RenderedFile>& files) {
  std::string out;
  for (const auto& f : files) {
    out += "- path: " + DumpJson(f.path) + "\n";
    out += "  permissions: \"0644\"\n";
    out += "  content: " + DumpJson(f.content) + "\n";
  }
  return out;
}

}  // namespace

Result<std::vector<StateVersion>> ListStateVersions(const std::string& state_dir,
                                                    const MacAddress& mac) {
  std::vector<StateVersion> out;
  fs::path dir = fs::path(state_dir) / mac.ToHyphenString();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".tar") continue;
    std::string digits = name.substr(0, name.size() - 4);
    if (digits.empty() || digits.size() > 12 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0) continue;
    StateVersion v;
    v.version = std::stoll(digits);
    v.size = static_cast<uint64_t>(st.st_size);
    v.mtime = st.st_mtime;
    v.path = entry.path().string();
    out.push_back(std::move(v));
  }
  if (ec) return IoError("cannot list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const StateVersion& a, const StateVersion& b) { return a.version < b.version; });
  return out;
}

Result<int64_t> SaveStateVersion(const std::string& state_dir, const MacAddress& mac,
                                 const std::string& archive, int keep) {
  // The same checks the agent runs before restoring: a truncated or corrupt upload never
  // replaces a good version.
  auto parsed = agent::ParseStateArchive(archive);
  if (!parsed) return InvalidArgument("state archive rejected: " + parsed.error().message);
  fs::path dir = fs::path(state_dir) / mac.ToHyphenString();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message());
  auto versions = ListStateVersions(state_dir, mac);
  if (!versions) return tl::unexpected(versions.error());
  int64_t next = versions->empty() ? 1 : versions->back().version + 1;
  std::string final_path = (dir / (std::to_string(next) + ".tar")).string();
  std::string tmp_path = (dir / ("." + std::to_string(next) + ".tar.tmp")).string();
  if (auto st = WriteFileDurably(tmp_path, archive); !st) {
    ::unlink(tmp_path.c_str());
    return tl::unexpected(st.error());
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path.c_str());
    return IoError("rename to " + final_path + ": " + std::strerror(err));
  }
  // The rename is durable only once the directory entry is (rename(2) + fsync of the dir).
  if (auto st = FsyncPath(dir.string(), O_RDONLY | O_DIRECTORY); !st) {
    return tl::unexpected(st.error());
  }
  versions->push_back(StateVersion{next, archive.size(), 0, final_path});
  if (keep < 1) keep = 1;
  while (static_cast<int>(versions->size()) > keep) {
    fs::remove(versions->front().path, ec);
    versions->erase(versions->begin());
  }
  return next;
}

AgentService::AgentService(store::Store* store, EventRecorder* recorder,
                           const BootTokenSigner* signer, AgentServiceOptions options)
    : store_(store), recorder_(recorder), signer_(signer), options_(std::move(options)) {
  if (!options_.host_key_dir.empty())
    host_keys_ = std::make_unique<HostKeys>(options_.host_key_dir);
  config_ = std::make_shared<AgentServiceConfig>();
  worker_ = std::thread([this] {
    NameThisThread("pd-agent");
    Run();
  });
}

AgentService::~AgentService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void AgentService::SetConfig(std::shared_ptr<const AgentServiceConfig> config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(config);
}

std::shared_ptr<const AgentServiceConfig> AgentService::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

void AgentService::Register(http::Router& router) {
  auto enqueue = [this](const http::Request& req, std::shared_ptr<http::Responder> responder) {
    Enqueue(req, std::move(responder));
  };
  for (const char* method : {"GET", "POST", "PUT"}) {
    router.HandlePrefixAsync(method, "/agent/v1/", enqueue);
  }
  router.HandlePrefixAsync("GET", "/nocloud/", enqueue);
}

void AgentService::Enqueue(const http::Request& request,
                           std::shared_ptr<http::Responder> responder) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < kMaxQueue) {
      queue_.emplace_back(request, std::move(responder));
      cv_.notify_one();
      return;
    }
  }
  log::Get("agent")->warn("agent request queue full, answering 503 to {}", request.PeerString());
  responder->Send(http::Response::ServiceUnavailable());
}

void AgentService::Run() {
  while (true) {
    std::pair<http::Request, std::shared_ptr<http::Responder>> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      if (stopping_) {
        item = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        item.second->Send(http::Response::ServiceUnavailable());
        continue;
      }
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    item.second->Send(Handle(item.first));
  }
}

Result<MacAddress> AgentService::Authenticate(const http::Request& request,
                                              http::Response* denied) {
  auto header = request.headers.Get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!header || header->size() <= kBearer.size() ||
      !http::EqualsIgnoreCase(header->substr(0, kBearer.size()), kBearer)) {
    *denied = http::Response::Error(401, "bearer credential required");
    denied->headers.Set("WWW-Authenticate", "Bearer");
    return PermissionDenied("no credential");
  }
  std::string hash = HashToken(std::string(header->substr(kBearer.size())));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = credentials_.find(hash); it != credentials_.end()) return it->second;
  }
  auto found = store_->FindCredential(hash);
  if (!found) {
    log::Get("agent")->error("credential lookup failed: {}", found.error().ToString());
    *denied = http::Response::InternalError();
    return tl::unexpected(found.error());
  }
  if (!*found) {
    log::Get("agent")->warn("{} unknown agent credential", request.PeerString());
    *denied = http::Response::Forbidden();
    return PermissionDenied("unknown credential");
  }
  std::lock_guard<std::mutex> lock(mu_);
  credentials_[hash] = (*found)->mac;
  return (*found)->mac;
}

http::Response AgentService::Handle(const http::Request& req) {
  if (req.path.rfind("/nocloud/", 0) == 0) return NoCloudSeed(req);
  if (req.path == "/agent/v1/redeem") {
    if (req.method != "POST") return http::Response::MethodNotAllowed("POST");
    return Redeem(req);
  }
  http::Response denied = http::Response::Forbidden();
  auto mac = Authenticate(req, &denied);
  if (!mac) return denied;
  const bool get = req.method == "GET" || req.method == "HEAD";
  constexpr std::string_view kNoCloud = "/agent/v1/nocloud/";
  if (req.path.rfind(kNoCloud, 0) == 0) {
    if (!get) return http::Response::MethodNotAllowed("GET, HEAD");
    return Document(*mac, req.path.substr(kNoCloud.size()));
  }
  if (req.path == "/agent/v1/report") {
    if (req.method != "POST") return http::Response::MethodNotAllowed("POST");
    return Report(*mac, req);
  }
  if (req.path == "/agent/v1/log") {
    if (req.method != "POST") return http::Response::MethodNotAllowed("POST");
    return Log(*mac, req);
  }
  if (req.path == "/agent/v1/state") {
    if (get) return GetState(*mac);
    if (req.method == "PUT") return PutState(*mac, req);
    return http::Response::MethodNotAllowed("GET, HEAD, PUT");
  }
  return http::Response::NotFound();
}

http::Response AgentService::Redeem(const http::Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token") ||
      !body["token"].is_string()) {
    return http::Response::BadRequest("body must be {\"token\":...,\"mac\":...}");
  }
  std::string token = body["token"].get<std::string>();
  std::optional<MacAddress> claimed;
  if (body.contains("mac") && body["mac"].is_string()) {
    if (auto m = MacAddress::Parse(body["mac"].get<std::string>())) claimed = *m;
  }
  const int64_t now = WallMicros() / 1000000;
  auto refuse = [&](const MacAddress& mac, const char* phase, const std::string& reason) {
    log::Get("agent")->warn("mac={} boot token refused ({}) from {}", mac.ToString(), reason,
                            req.PeerString());
    Alert(recorder_, mac, phase, {{"reason", reason}, {"peer", req.PeerString()}});
    return http::Response::Forbidden();
  };
  auto claims = signer_->Verify(token);
  if (!claims) {
    if (claimed) return refuse(*claimed, "agent.token_refused", "unknown token");
    return http::Response::Forbidden();
  }
  // Consumed before the MAC and expiry checks: a token presented for another machine is burnt.
  auto redeemed = store_->RedeemToken(store::BootToken{HashToken(token), claims->mac, claims->boot,
                                                       claims->issued_at, claims->expires_at, 0},
                                      now);
  if (!redeemed) {
    const Error& err = redeemed.error();
    if (err.code == ErrorCode::kPermissionDenied) {
      return refuse(claimed ? *claimed : claims->mac, "agent.token_reused",
                    "token already redeemed");
    }
    log::Get("agent")->error("cannot redeem boot token: {}", err.ToString());
    return http::Response::InternalError();
  }
  const store::BootToken& t = *redeemed;
  if (claimed && *claimed != t.mac) {
    // Someone holds another machine's token: alert on the machine the token belongs to.
    return refuse(t.mac, "agent.token_refused", "token presented for " + claimed->ToString());
  }
  if (t.expires_at != 0 && now > t.expires_at) {
    return refuse(t.mac, "agent.token_refused", "token expired");
  }
  std::string credential = NewSecretToken();
  store::AgentCredential c{HashToken(credential), t.mac, t.boot, now};
  if (auto st = store_->PutCredential(c); !st) {
    log::Get("agent")->error("mac={} cannot store credential: {}", t.mac.ToString(),
                             st.error().ToString());
    return http::Response::InternalError();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    credentials_[c.credential_hash] = t.mac;
  }
  BootEvent e;
  e.mac = t.mac;
  e.phase = "agent.credential_issued";
  e.detail = DumpJson({{"peer", req.PeerString()}});
  recorder_->Record(std::move(e));
  return http::Response::Text(200, DumpJson({{"credential", credential}}), "application/json");
}

http::Response AgentService::Document(const MacAddress& mac, const std::string& name) {
  if (!IsDocument(name)) return http::Response::NotFound();
  auto cfg = config();
  inventory::MachineFacts reported;
  reported.mac = mac;
  if (auto rec = store_->GetMachine(mac); rec && *rec) {
    reported.uuid = (*rec)->uuid;
    reported.arch = (*rec)->arch;
    reported.serial = (*rec)->serial;
    reported.hostname = (*rec)->hostname;
  }
  inventory::MachineFacts facts = cfg->inventory.FactsFor(reported);
  const inventory::Group* group = cfg->inventory.Match(facts);
  const inventory::Profile* profile = group ? cfg->inventory.FindProfile(group->profile) : nullptr;
  std::vector<std::string> persist = profile ? profile->persist : std::vector<std::string>{};

  nlohmann::json persist_yaml = nlohmann::json::array();
  for (const auto& p : persist) persist_yaml.push_back(p);
  // persist_paths as a YAML flow sequence of JSON strings (JSON is valid YAML).
  const std::string persist_line = "persist_paths: " + DumpJson(persist_yaml) + "\n";

  const std::string write_files = WriteFilesYaml(cfg->containerd_hosts);
  std::string text;
  const std::string* tmpl_path = nullptr;
  if (profile) {
    if (auto it = profile->templates.find(name); it != profile->templates.end()) {
      tmpl_path = &it->second;
    }
  }
  if (tmpl_path != nullptr) {
    auto source = ReadWholeFile(*tmpl_path);
    if (!source) {
      log::Get("agent")->error("mac={} template {}: {}", mac.ToString(), name,
                               source.error().ToString());
      return http::Response::InternalError();
    }
    render::RenderContext ctx;
    ctx.facts = facts;
    ctx.group = group->name;
    ctx.metadata = group->metadata;
    ctx.server_url = cfg->server_url;
    nlohmann::json vars = render::IpxeTemplateVariables(*profile, ctx);
    vars["persist"] = persist_yaml;
    vars["instance_id"] = "paddock-" + mac.ToHyphenString();
    vars["registry_mirror_url"] = cfg->registry_mirror_url;
    vars["registry_write_files"] = write_files;
    nlohmann::json hosts = nlohmann::json::array();
    for (const auto& f : cfg->containerd_hosts) {
      hosts.push_back({{"path", f.path}, {"content", f.content}});
    }
    vars["registry_hosts"] = std::move(hosts);
    // The machine's SSH host key pair as an ssh_keys mapping, generated on first use: only
    // for templates that ask for it (generation runs ssh-keygen once per machine).
    vars["ssh_host_keys"] = "";
    if (source->find("ssh_host_keys") != std::string::npos && host_keys_) {
      auto keys = host_keys_->Get(mac);
      if (!keys) {
        log::Get("agent")->error("mac={} no SSH host key: {}", mac.ToString(),
                                 keys.error().ToString());
        return http::Response::InternalError();
      }
      vars["ssh_host_keys"] = SshKeysYaml(*keys);
    }
    auto rendered = render::RenderTemplate(*source, vars);
    if (!rendered) {
      log::Get("agent")->error("mac={} cannot render {} of profile {}: {}", mac.ToString(), name,
                               profile->name, rendered.error().ToString());
      return http::Response::InternalError();
    }
    text = std::move(*rendered);
    if (name == "meta-data" && !persist.empty() &&
        text.find("persist_paths") == std::string::npos) {
      if (!text.empty() && text.back() != '\n') text.push_back('\n');
      text += persist_line;
    }
  } else if (name == "meta-data") {
    text = "instance-id: paddock-" + mac.ToHyphenString() + "\n";
    std::string host = render::SanitizeMachineString(facts.hostname);
    if (!host.empty()) text += "local-hostname: " + DumpJson(host) + "\n";
    if (!persist.empty()) text += persist_line;
  } else if (name == "vendor-data" && !cfg->containerd_hosts.empty()) {
    // The registry cache is on and the profile brings no vendor-data: point containerd at the
    // cache (containerd docs/hosts.md). vendor-data, so a user-data write_files list replaces
    // it (cloud-init's merge); templates can include registry_write_files themselves.
    text = "#cloud-config\n# paddock: containerd pulls through the image cache at " +
           cfg->registry_mirror_url + "\nwrite_files:\n" + write_files;
  } else {
    return http::Response::NotFound();
  }
  return http::Response::Text(200, std::move(text), "text/plain; charset=utf-8");
}

http::Response AgentService::Report(const MacAddress& mac, const http::Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("phase") ||
      !body["phase"].is_string()) {
    return http::Response::BadRequest("body must be a JSON object with a phase");
  }
  BootEvent e;
  e.mac = mac;
  e.phase = "agent." + SanitizePhase(body["phase"].get<std::string>());
  e.ok = !body.contains("ok") || !body["ok"].is_boolean() || body["ok"].get<bool>();
  if (body.contains("duration_us") && body["duration_us"].is_number_integer()) {
    e.duration_us = std::max<int64_t>(0, body["duration_us"].get<int64_t>());
  }
  nlohmann::json detail = nlohmann::json::object();
  if (body.contains("detail")) detail["detail"] = body["detail"];
  if (body.contains("uptime") && body["uptime"].is_number()) detail["uptime"] = body["uptime"];
  std::string text = DumpJson(detail);
  if (text.size() > kMaxDetailBytes) {
    text = DumpJson({{"truncated", true}, {"detail", text.substr(0, kMaxDetailBytes)}});
  }
  e.detail = std::move(text);
  recorder_->Record(std::move(e));
  return http::Response::Empty(204);
}

http::Response AgentService::Log(const MacAddress& mac, const http::Request& req) {
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("lines") ||
      !body["lines"].is_array()) {
    return http::Response::BadRequest("body must be {\"lines\":[...]}");
  }
  nlohmann::json lines = nlohmann::json::array();
  for (const auto& line : body["lines"]) {
    if (lines.size() >= kMaxLogLines) break;
    if (line.is_string()) lines.push_back(line.get<std::string>().substr(0, 4096));
  }
  BootEvent e;
  e.mac = mac;
  e.phase = "agent.log";
  e.detail = DumpJson({{"lines", lines}});
  recorder_->Record(std::move(e));
  return http::Response::Empty(204);
}

http::Response AgentService::GetState(const MacAddress& mac) {
  auto versions = ListStateVersions(options_.state_dir, mac);
  if (!versions) return http::Response::InternalError();
  if (versions->empty()) return http::Response::NotFound();
  auto data = ReadWholeFile(versions->back().path);
  if (!data) return http::Response::InternalError();
  std::string digest = HashToken(*data);
  http::Response r = http::Response::Text(200, std::move(*data), "application/x-tar");
  r.headers.Set("X-Paddock-Sha256", digest);
  r.headers.Set("X-Paddock-State-Version", std::to_string(versions->back().version));
  return r;
}

http::Response AgentService::PutState(const MacAddress& mac, const http::Request& req) {
  auto reject = [&](const std::string& reason) {
    log::Get("agent")->warn("mac={} state upload rejected: {}", mac.ToString(), reason);
    Alert(recorder_, mac, "agent.state_rejected", {{"reason", reason}, {"bytes", req.body.size()}});
    return http::Response::BadRequest(reason);
  };
  auto header = req.headers.Get("X-Paddock-Sha256");
  if (!header) return reject("missing X-Paddock-Sha256");
  if (Lower(std::string(*header)) != HashToken(req.body)) {
    return reject("X-Paddock-Sha256 does not match the body");
  }
  auto version = SaveStateVersion(options_.state_dir, mac, req.body, options_.keep_versions);
  if (!version) {
    if (version.error().code == ErrorCode::kInvalidArgument) {
      return reject(version.error().message);
    }
    log::Get("agent")->error("mac={} cannot store state: {}", mac.ToString(),
                             version.error().ToString());
    return http::Response::InternalError();
  }
  BootEvent e;
  e.mac = mac;
  e.phase = "agent.state_stored";
  e.bytes = static_cast<int64_t>(req.body.size());
  e.detail = DumpJson({{"version", *version}});
  recorder_->Record(std::move(e));
  return http::Response::Text(200, DumpJson({{"version", *version}}), "application/json");
}

http::Response AgentService::NoCloudSeed(const http::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") return http::Response::MethodNotAllowed("GET");
  // /nocloud/<mac-hyphen>/<token>/<document>
  std::string rest = req.path.substr(std::string_view("/nocloud/").size());
  auto s1 = rest.find('/');
  if (s1 == std::string::npos) return http::Response::NotFound();
  auto s2 = rest.find('/', s1 + 1);
  if (s2 == std::string::npos) return http::Response::NotFound();
  auto mac = MacAddress::Parse(rest.substr(0, s1));
  std::string token = rest.substr(s1 + 1, s2 - s1 - 1);
  std::string doc = rest.substr(s2 + 1);
  if (!mac || token.empty()) return http::Response::NotFound();
  auto found = signer_->Verify(token);  // the seed does not consume the token
  const int64_t now = WallMicros() / 1000000;
  const char* refused = nullptr;
  if (!found) {
    refused = "unknown token";
  } else if (found->mac != *mac) {
    refused = "token of another machine";
  } else if (found->expires_at != 0 && now > found->expires_at) {
    refused = "token expired";
  }
  if (refused != nullptr) {
    log::Get("agent")->warn("mac={} nocloud seed refused ({}) from {}", mac->ToString(), refused,
                            req.PeerString());
    Alert(recorder_, *mac, "nocloud.refused",
          {{"reason", refused}, {"document", doc}, {"peer", req.PeerString()}});
    return http::Response::Forbidden();
  }
  http::Response resp = Document(*mac, doc);
  // cloud-init's NoCloud retries a missing seed file ten times, a second apart, and gives up on
  // the datasource without user-data; "no document" is an empty one for the two optional
  // documents a profile may leave out.
  if (resp.status == 404 && (doc == "user-data" || doc == "vendor-data")) {
    resp = http::Response::Text(200, "", "text/plain; charset=utf-8");
  }
  BootEvent e;
  e.mac = *mac;
  e.phase = "nocloud.fetch";
  e.ok = resp.status == 200;
  e.bytes = static_cast<int64_t>(resp.body.size());
  e.detail = DumpJson({{"document", doc}, {"status", resp.status}, {"peer", req.PeerString()}});
  recorder_->Record(std::move(e));
  return resp;
}

}  // namespace paddock::daemon
