// An immutable routing table built from a validated Document, and the holder
// that swaps tables atomically (newer epochs only; an invalid document keeps
// the last good table and is reported).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "router/document.h"
#include "router/hash.h"

namespace shardcast::router {

class Table {
 public:
  // `doc` must be valid (ParseDocument/ValidateDocument).
  explicit Table(Document doc);

  std::uint64_t epoch() const { return doc_.epoch; }
  const Document& document() const { return doc_; }
  std::size_t size() const { return doc_.ranges.size(); }
  const Range& at(std::size_t index) const { return doc_.ranges[index]; }

  // Index of the range holding `hash` (binary search over start).
  std::size_t IndexOfHash(std::uint32_t hash) const;
  const Range& RangeOfHash(std::uint32_t hash) const { return at(IndexOfHash(hash)); }
  const Range& RangeOfKey(std::string_view key) const { return RangeOfHash(KeyHash(key)); }
  // nullptr when no range has this id.
  const Range* ById(std::uint32_t id) const;

 private:
  Document doc_;
  std::vector<std::uint32_t> starts_;
  std::vector<std::int32_t> index_by_id_;  // id -> index, -1 when absent
};

enum class UpdateOutcome { kApplied, kIgnoredNotNewer, kRejectedInvalid };

struct UpdateResult {
  UpdateOutcome outcome = UpdateOutcome::kRejectedInvalid;
  std::uint64_t epoch_in_use = 0;  // after the update (0 when none loaded)
  std::string error;               // set when rejected or ignored
};

// Thread-safe. Readers call Get() (a shared_ptr copy under a short lock) or
// cache the table and re-Get() when version() changes.
class TableHolder {
 public:
  [[nodiscard]] UpdateResult Update(std::string_view text);
  [[nodiscard]] UpdateResult Update(Document doc);

  std::shared_ptr<const Table> Get() const;
  // Bumped on every applied update; cheap to poll.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  std::uint64_t applied() const { return applied_.load(); }
  std::uint64_t ignored() const { return ignored_.load(); }
  std::uint64_t rejected() const { return rejected_.load(); }
  std::string last_error() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Table> current_;
  std::string last_error_;
  std::atomic<std::uint64_t> version_{0};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> ignored_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace shardcast::router
