// The router's Prometheus metrics (served on --metrics-bind-address/metrics
// through operator/runtime's registry and HTTP server).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "operator/runtime/metrics.h"
#include "router/document.h"

namespace shardcast::router::proxy {

struct RangeMetrics {
  std::shared_ptr<runtime::Counter> reads, writes, bytes_in, bytes_out, errors;
  std::shared_ptr<runtime::Histogram> latency;
  std::shared_ptr<runtime::Counter> shadow_match, shadow_mismatch, shadow_error;
  std::shared_ptr<runtime::Histogram> shadow_owner_latency, shadow_target_latency;
};

class ProxyMetrics {
 public:
  // Registers every family; fails only on a programming error.
  [[nodiscard]] static Result<std::unique_ptr<ProxyMetrics>> Create(runtime::Registry& registry);

  // The children of range `id` (id < 4096), created on first use.
  RangeMetrics& Range(std::uint32_t id);
  std::shared_ptr<runtime::Gauge> Outstanding(const std::string& endpoint) {
    return outstanding_->with({{"shard", endpoint}});
  }
  runtime::Gauge& clients() { return *clients_; }
  runtime::Gauge& epoch() { return *epoch_; }
  runtime::Counter& RoutingUpdate(const std::string& outcome) {
    return *updates_->with({{"outcome", outcome}});
  }
  runtime::Counter& RejectedRequests(const std::string& reason) {
    return *rejected_->with({{"reason", reason}});
  }

 private:
  runtime::CounterFamily* requests_ = nullptr;
  runtime::CounterFamily* bytes_ = nullptr;
  runtime::CounterFamily* errors_ = nullptr;
  runtime::HistogramFamily* latency_ = nullptr;
  runtime::CounterFamily* shadow_ = nullptr;
  runtime::HistogramFamily* shadow_latency_ = nullptr;
  runtime::GaugeFamily* outstanding_ = nullptr;
  runtime::CounterFamily* updates_ = nullptr;
  runtime::CounterFamily* rejected_ = nullptr;
  std::shared_ptr<runtime::Gauge> clients_;
  std::shared_ptr<runtime::Gauge> epoch_;

  std::mutex mu_;
  std::array<std::atomic<RangeMetrics*>, kMaxRanges> ranges_{};
  std::vector<std::unique_ptr<RangeMetrics>> owned_;
};

}  // namespace shardcast::router::proxy
