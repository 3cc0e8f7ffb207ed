#include "registry/fetcher.h"

#include <unistd.h>

#include <cerrno>
#include <thread>

#include "common/log.h"

namespace paddock::registry {

struct BlobFetcher::InFlight {
  enum class State { kStarting, kStreaming, kDone, kFailed };
  std::mutex mu;
  std::condition_variable cv;
  State state = State::kStarting;
  int64_t size = -1;
  uint64_t available = 0;
  UniqueFd fd;  // dup of the writer's descriptor; stays valid across rename and unlink
  Error error;
};

namespace {

Result<size_t> PreadSome(int fd, uint64_t offset, uint8_t* buf, size_t len) {
  while (true) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return IoError(std::string("pread: ") + std::strerror(errno));
  }
}

class FileReader final : public BlobReader {
 public:
  explicit FileReader(OpenedBlob blob) : blob_(std::move(blob)) {}
  uint64_t size() const override { return blob_.size; }
  bool from_cache() const override { return true; }
  int file_fd() const override { return blob_.fd.get(); }
  Result<size_t> ReadAt(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset >= blob_.size) return size_t{0};
    len = static_cast<size_t>(std::min<uint64_t>(len, blob_.size - offset));
    auto n = PreadSome(blob_.fd.get(), offset, buf, len);
    if (n && *n == 0) return IoError("blob file shorter than recorded");
    return n;
  }

 private:
  OpenedBlob blob_;
};

class FollowingReader final : public BlobReader {
 public:
  using State = BlobFetcher::InFlight::State;
  FollowingReader(std::shared_ptr<BlobFetcher::InFlight> f, uint64_t size, bool joined)
      : f_(std::move(f)), size_(size), joined_(joined) {}
  uint64_t size() const override { return size_; }
  bool from_cache() const override { return false; }
  bool joined() const override { return joined_; }
  int file_fd() const override { return -1; }
  Result<size_t> ReadAt(uint64_t offset, uint8_t* buf, size_t len) override {
    if (offset >= size_) return size_t{0};
    std::unique_lock lock(f_->mu);
    uint64_t limit = 0;
    f_->cv.wait(lock, [&] {
      if (f_->state == State::kFailed) return true;
      // Hold back the final byte until the digest is verified (see fetcher.h).
      limit =
          f_->state == State::kDone ? f_->available : std::min<uint64_t>(f_->available, size_ - 1);
      return limit > offset;
    });
    if (f_->state == State::kFailed) {
      return MakeError(ErrorCode::kUnavailable, "upstream fetch failed: " + f_->error.message);
    }
    int fd = f_->fd.get();
    lock.unlock();
    len = static_cast<size_t>(std::min<uint64_t>(len, limit - offset));
    return PreadSome(fd, offset, buf, len);
  }

 private:
  std::shared_ptr<BlobFetcher::InFlight> f_;
  uint64_t size_;
  bool joined_;
};

}  // namespace

BlobFetcher::BlobFetcher(BlobStore& store, Upstream& upstream)
    : store_(store), upstream_(upstream) {}

BlobFetcher::~BlobFetcher() {
  stopping_ = true;
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return running_ == 0; });
}

Result<std::shared_ptr<BlobReader>> BlobFetcher::Open(const UpstreamConfig& upstream,
                                                      const std::string& repo,
                                                      const Digest& digest) {
  std::shared_ptr<InFlight> f;
  bool joined = false;
  {
    std::unique_lock lock(mu_);
    auto it = in_flight_.find(digest);
    if (it != in_flight_.end()) {
      f = it->second;
      joined = true;
    } else {
      // Not in flight: either published (the fetch thread erases its entry only after the
      // rename, so there is no gap) or absent.
      auto blob = store_.OpenBlob(digest);
      if (blob) return std::shared_ptr<BlobReader>(std::make_shared<FileReader>(std::move(*blob)));
      if (blob.error().code != ErrorCode::kNotFound) return tl::unexpected(blob.error());
      if (stopping_) return MakeError(ErrorCode::kUnavailable, "shutting down");
      f = std::make_shared<InFlight>();
      in_flight_[digest] = f;
      ++running_;
      upstream_fetches_++;
      std::thread(&BlobFetcher::RunFetch, this, f, upstream, repo, digest).detach();
    }
  }
  std::unique_lock lock(f->mu);
  // The size must be known before answering (Content-Length); an upstream that sends none
  // makes us wait for the whole blob.
  f->cv.wait(lock, [&] {
    return f->state == InFlight::State::kFailed || f->state == InFlight::State::kDone ||
           (f->state == InFlight::State::kStreaming && f->size >= 0);
  });
  if (f->state == InFlight::State::kFailed) return tl::unexpected(f->error);
  uint64_t size = f->size >= 0 ? static_cast<uint64_t>(f->size) : f->available;
  return std::shared_ptr<BlobReader>(std::make_shared<FollowingReader>(f, size, joined));
}

void BlobFetcher::RunFetch(std::shared_ptr<InFlight> f, UpstreamConfig upstream, std::string repo,
                           Digest digest) {
  auto logger = log::Get("registry");
  Status result = Ok();
  uint64_t fetched = 0;
  auto writer = store_.CreateBlob(digest, -1);
  if (!writer) {
    result = tl::unexpected(writer.error());
  } else {
    {
      std::lock_guard lock(f->mu);
      f->fd = UniqueFd(::dup((*writer)->fd()));
    }
    bool started = false;
    int64_t expected = -1;
    BlobSink sink;
    sink.on_start = [&](int64_t length) {
      started = true;
      expected = length;
      std::lock_guard lock(f->mu);
      f->size = length;
      f->state = InFlight::State::kStreaming;
      f->cv.notify_all();
      return !stopping_;
    };
    Status write_status = Ok();
    sink.on_data = [&](ByteSpan data) {
      write_status = (*writer)->Write(data);
      if (!write_status) return false;
      upstream_bytes_ += data.size();
      fetched += data.size();
      {
        std::lock_guard lock(f->mu);
        f->available += data.size();
      }
      f->cv.notify_all();
      return !stopping_.load();
    };
    result = upstream_.FetchBlob(upstream, repo, digest, sink);
    if (!write_status) result = write_status;
    if (result && !started) sink.on_start(0);  // an empty body never calls the write callback
    if (result && expected >= 0 && (*writer)->bytes_written() != static_cast<uint64_t>(expected)) {
      result = MakeError(ErrorCode::kUnavailable, "upstream body shorter than Content-Length");
    }
    if (result) {
      result = (*writer)->Commit();
    } else {
      (*writer)->Abort();
    }
  }
  if (!result) {
    failed_fetches_++;
    logger->warn("blob fetch failed: ns={} repo={} digest={}: {}", upstream.name, repo,
                 digest.ToString(), result.error().ToString());
  } else {
    logger->info("blob fetched: ns={} repo={} digest={} bytes={}", upstream.name, repo,
                 digest.ToString(), (*writer)->bytes_written());
  }
  if (observer_) observer_(upstream, repo, fetched);
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(digest);
  }
  {
    std::lock_guard lock(f->mu);
    if (result) {
      f->state = InFlight::State::kDone;
    } else {
      f->state = InFlight::State::kFailed;
      f->error = result.error();
    }
  }
  f->cv.notify_all();
  writer = MakeError(ErrorCode::kInternal, "done");  // close the writer outside the locks
  std::lock_guard lock(mu_);
  --running_;
  idle_cv_.notify_all();
}

}  // namespace paddock::registry
