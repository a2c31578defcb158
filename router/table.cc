#include "router/table.h"

#include <algorithm>

namespace shardcast::router {

Table::Table(Document doc) : doc_(std::move(doc)), index_by_id_(kMaxRanges, -1) {
  starts_.reserve(doc_.ranges.size());
  for (std::size_t i = 0; i < doc_.ranges.size(); ++i) {
    starts_.push_back(doc_.ranges[i].start);
    if (doc_.ranges[i].id < kMaxRanges) index_by_id_[doc_.ranges[i].id] = static_cast<int>(i);
  }
}

std::size_t Table::IndexOfHash(std::uint32_t hash) const {
  // The first start greater than hash, minus one. starts_[0] == 0 in a valid
  // document, so the result is always in range.
  auto it = std::upper_bound(starts_.begin(), starts_.end(), hash);
  if (it == starts_.begin()) return 0;
  return static_cast<std::size_t>(it - starts_.begin() - 1);
}

const Range* Table::ById(std::uint32_t id) const {
  if (id >= index_by_id_.size() || index_by_id_[id] < 0) return nullptr;
  return &doc_.ranges[static_cast<std::size_t>(index_by_id_[id])];
}

UpdateResult TableHolder::Update(std::string_view text) {
  auto doc = ParseDocument(text);
  if (!doc) {
    std::lock_guard lock(mu_);
    rejected_.fetch_add(1);
    last_error_ = doc.error().message;
    return {UpdateOutcome::kRejectedInvalid, current_ ? current_->epoch() : 0, last_error_};
  }
  return Update(std::move(*doc));
}

UpdateResult TableHolder::Update(Document doc) {
  std::lock_guard lock(mu_);
  if (auto v = ValidateDocument(doc); !v) {
    rejected_.fetch_add(1);
    last_error_ = v.error().message;
    return {UpdateOutcome::kRejectedInvalid, current_ ? current_->epoch() : 0, last_error_};
  }
  if (current_ && doc.epoch <= current_->epoch()) {
    ignored_.fetch_add(1);
    return {UpdateOutcome::kIgnoredNotNewer, current_->epoch(),
            "epoch " + std::to_string(doc.epoch) + " is not newer than " +
                std::to_string(current_->epoch())};
  }
  current_ = std::make_shared<const Table>(std::move(doc));
  applied_.fetch_add(1);
  version_.fetch_add(1, std::memory_order_release);
  return {UpdateOutcome::kApplied, current_->epoch(), {}};
}

std::shared_ptr<const Table> TableHolder::Get() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string TableHolder::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace shardcast::router
