#include "agent/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace paddock::agent {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool ParseSize(std::string_view s, int base, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (base == 16 && c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (base == 16 && c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = v * base + d;
  }
  *out = v;
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

Result<HttpResponse> ParseHttpResponse(std::string_view data, size_t max_body) {
  size_t head_end = data.find("\r\n\r\n");
  size_t sep = 4;
  if (head_end == std::string_view::npos) return InvalidArgument("incomplete response head");
  std::string_view head = data.substr(0, head_end);
  std::string_view rest = data.substr(head_end + sep);
  HttpResponse r;
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // RFC 9112 §4: HTTP-version SP status-code SP [reason-phrase]
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 || status_line[8] != ' ') {
    return InvalidArgument("bad status line");
  }
  uint64_t code;
  if (!ParseSize(status_line.substr(9, 3), 10, &code) || code < 100 || code > 599) {
    return InvalidArgument("bad status code");
  }
  r.status = static_cast<int>(code);
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next == std::string_view::npos ? next : next - pos);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return InvalidArgument("bad header line");
    r.headers.emplace_back(Lower(line.substr(0, colon)), std::string(Trim(line.substr(colon + 1))));
    if (next == std::string_view::npos) break;
    pos = next + 2;
  }
  if (Lower(r.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    // RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
    size_t p = 0;
    while (true) {
      size_t line_end = rest.find("\r\n", p);
      if (line_end == std::string_view::npos) return InvalidArgument("truncated chunked body");
      std::string_view size_text = Trim(rest.substr(p, line_end - p));
      size_text = size_text.substr(0, size_text.find(';'));
      uint64_t n;
      if (!ParseSize(Trim(size_text), 16, &n)) return InvalidArgument("bad chunk size");
      p = line_end + 2;
      if (n == 0) break;
      if (n > max_body || r.body.size() + n > max_body) return InvalidArgument("body too large");
      if (rest.size() - p < n + 2) return InvalidArgument("truncated chunk");
      r.body.append(rest.substr(p, n));
      if (rest.substr(p + n, 2) != "\r\n") return InvalidArgument("chunk without CRLF");
      p += n + 2;
    }
    return r;
  }
  std::string cl = r.Header("content-length");
  if (!cl.empty()) {
    uint64_t n;
    if (!ParseSize(cl, 10, &n)) return InvalidArgument("bad Content-Length");
    if (n > max_body) return InvalidArgument("body too large");
    if (rest.size() < n) return InvalidArgument("truncated body");
    r.body = std::string(rest.substr(0, n));
    return r;
  }
  if (rest.size() > max_body) return InvalidArgument("body too large");
  r.body = std::string(rest);  // delimited by connection close (RFC 9112 §6.3 item 8)
  return r;
}

Result<HttpResponse> HttpClient::Send(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0)
    return MakeError(ErrorCode::kUnavailable, std::string("socket: ") + strerror(errno));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port_);
  sa.sin_addr.s_addr = htonl(address_.value());
  std::string peer = address_.ToString() + ":" + std::to_string(port_);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) {
      return MakeError(ErrorCode::kUnavailable, "connect " + peer + ": " + strerror(errno));
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int rc = poll(&p, 1, timeout_ms_);
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (rc <= 0 || err != 0) {
      return MakeError(ErrorCode::kUnavailable,
                       "connect " + peer + ": " + (rc == 0 ? "timeout" : strerror(err)));
    }
  }
  std::string req = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\n";
  req += "Host: " + peer + "\r\nConnection: close\r\nUser-Agent: paddock-agent\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req.append(body);
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = send(fd.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd.get(), POLLOUT, 0};
      if (poll(&p, 1, timeout_ms_) <= 0) return MakeError(ErrorCode::kUnavailable, "send timeout");
      continue;
    }
    return MakeError(ErrorCode::kUnavailable, std::string("send: ") + strerror(errno));
  }
  std::string resp;
  size_t need = 0;  // total response bytes once known from Content-Length
  char buf[65536];
  while (true) {
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      resp.append(buf, n);
      if (resp.size() > (256u << 20) + 65536) return InvalidArgument("response too large");
      // Stop early once a Content-Length framed response is complete (the server may keep
      // the connection open despite "Connection: close").
      if (need == 0) {
        size_t head_end = resp.find("\r\n\r\n");
        if (head_end != std::string::npos) {
          std::string lower = resp.substr(0, head_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          size_t cl = lower.find("\r\ncontent-length:");
          bool no_body = lower.compare(8, 5, " 204 ") == 0 || lower.compare(8, 5, " 304 ") == 0;
          if (no_body) {
            need = head_end + 4;  // RFC 9112 §6.3: 204 and 304 never carry content
          } else if (cl != std::string::npos && lower.find("chunked") == std::string::npos) {
            need = head_end + 4 + std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
          } else {
            need = SIZE_MAX;
          }
        }
      }
      if (need != 0 && need != SIZE_MAX && resp.size() >= need) break;
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd.get(), POLLIN, 0};
      if (poll(&p, 1, timeout_ms_) <= 0) return MakeError(ErrorCode::kUnavailable, "recv timeout");
      continue;
    }
    return MakeError(ErrorCode::kUnavailable, std::string("recv: ") + strerror(errno));
  }
  return ParseHttpResponse(resp);
}

}  // namespace paddock::agent
