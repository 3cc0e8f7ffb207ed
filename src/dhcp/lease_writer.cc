#include "dhcp/lease_writer.h"

#include "common/thread_name.h"

namespace paddock::dhcp {

LeaseWriter::LeaseWriter(LeaseStorage* storage) : storage_(storage) {
  thread_ = std::thread([this] {
    NameThisThread("pd-leases");
    Run();
  });
}

LeaseWriter::~LeaseWriter() { Stop(); }

void LeaseWriter::Submit(std::vector<Lease> leases, Done done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(Item{std::move(leases), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  if (done) done(MakeError(ErrorCode::kUnavailable, "lease writer stopped"));
}

void LeaseWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void LeaseWriter::Run() {
  for (;;) {
    std::vector<Item> items;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      items.swap(queue_);
    }
    // Group commit: everything that queued up while the last write ran goes in one batch.
    std::vector<Lease> batch;
    for (Item& item : items) {
      batch.insert(batch.end(), item.leases.begin(), item.leases.end());
    }
    Status s = Ok();
    if (!batch.empty()) {
      s = storage_ != nullptr ? storage_->SaveBatch(batch) : Status(Ok());
      batches_++;
      if (!s) errors_++;
      if (batch.size() > largest_batch_.load()) largest_batch_ = batch.size();
    }
    for (Item& item : items) {
      if (item.done) item.done(s);
    }
  }
}

}  // namespace paddock::dhcp
