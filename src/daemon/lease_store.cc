#include "daemon/lease_store.h"

#include "common/log.h"

namespace paddock::daemon {
namespace {

std::optional<Bytes> HexDecode(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

store::LeaseRow StoreLeaseStorage::ToRow(const dhcp::Lease& lease) {
  store::LeaseRow row;
  row.ip = lease.ip;
  row.mac = lease.mac;
  row.client_id = HexEncode(lease.client_id);
  row.hostname = lease.hostname;
  row.expires_at = lease.expires_at;
  row.state = static_cast<int>(lease.state);
  row.updated_at = lease.updated_at;
  return row;
}

std::optional<dhcp::Lease> StoreLeaseStorage::FromRow(const store::LeaseRow& row) {
  if (row.state < static_cast<int>(dhcp::LeaseState::kOffered) ||
      row.state > static_cast<int>(dhcp::LeaseState::kDeclined)) {
    return std::nullopt;
  }
  auto client_id = HexDecode(row.client_id);
  if (!client_id) return std::nullopt;
  dhcp::Lease lease;
  lease.ip = row.ip;
  lease.mac = row.mac;
  lease.client_id = std::move(*client_id);
  lease.state = static_cast<dhcp::LeaseState>(row.state);
  lease.expires_at = row.expires_at;
  lease.updated_at = row.updated_at;
  lease.hostname = row.hostname;
  return lease;
}

Result<std::vector<dhcp::Lease>> StoreLeaseStorage::LoadAll() {
  auto rows = store_->LoadLeases();
  if (!rows) return tl::unexpected(rows.error());
  std::vector<dhcp::Lease> leases;
  leases.reserve(rows->size());
  for (const auto& row : *rows) {
    auto lease = FromRow(row);
    if (!lease) {
      log::Get("dhcp")->warn("ignoring unreadable stored lease for {} (state {})",
                             row.ip.ToString(), row.state);
      continue;
    }
    leases.push_back(std::move(*lease));
  }
  return leases;
}

Status StoreLeaseStorage::SaveBatch(const std::vector<dhcp::Lease>& leases) {
  std::vector<store::LeaseRow> rows;
  rows.reserve(leases.size());
  for (const auto& l : leases) rows.push_back(ToRow(l));
  return store_->SaveLeases(rows);
}

}  // namespace paddock::daemon
