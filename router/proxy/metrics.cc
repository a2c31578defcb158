#include "router/proxy/metrics.h"

namespace shardcast::router::proxy {

namespace {
std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}
}  // namespace

Result<std::unique_ptr<ProxyMetrics>> ProxyMetrics::Create(runtime::Registry& reg) {
  auto m = std::make_unique<ProxyMetrics>();
  auto requests =
      reg.counter("shardcast_router_range_requests_total",
                  "Client requests per key range, by kind (read or write).", {"range", "kind"});
  auto bytes = reg.counter("shardcast_router_range_bytes_total",
                           "Request and reply bytes per key range.", {"range", "direction"});
  auto errors = reg.counter("shardcast_router_range_errors_total",
                            "Requests per key range answered with an error.", {"range"});
  auto latency = reg.histogram("shardcast_router_range_latency_seconds",
                               "Latency per key range from dispatch to the shard's final reply.",
                               {"range"}, LatencyBuckets());
  auto shadow = reg.counter("shardcast_router_shadow_comparisons_total",
                            "Shadow reads compared with the owner's reply, by result "
                            "(match, mismatch, error).",
                            {"range", "result"});
  auto shadow_latency =
      reg.histogram("shardcast_router_shadow_latency_seconds",
                    "Latency of mirrored reads on the owner and on the shadow target.",
                    {"range", "side"}, LatencyBuckets());
  auto outstanding = reg.gauge("shardcast_router_shard_outstanding_requests",
                               "Requests sent to a shard and not yet answered.", {"shard"});
  auto updates =
      reg.counter("shardcast_router_routing_updates_total",
                  "Routing documents seen, by outcome (applied, ignored, rejected).", {"outcome"});
  auto rejected = reg.counter("shardcast_router_rejected_requests_total",
                              "Client requests refused by the router, by reason.", {"reason"});
  auto clients = reg.gauge("shardcast_router_clients", "Connected clients.");
  auto epoch = reg.gauge("shardcast_router_routing_epoch", "Epoch of the routing table in use.");
  Error first{""};
  auto check = [&first](const auto& r) {
    if (!r && first.message.empty()) first = r.error();
  };
  check(requests), check(bytes), check(errors), check(latency), check(shadow);
  check(shadow_latency), check(outstanding), check(updates), check(rejected), check(clients);
  check(epoch);
  if (!first.message.empty()) return unexpected(first);
  m->requests_ = *requests;
  m->bytes_ = *bytes;
  m->errors_ = *errors;
  m->latency_ = *latency;
  m->shadow_ = *shadow;
  m->shadow_latency_ = *shadow_latency;
  m->outstanding_ = *outstanding;
  m->updates_ = *updates;
  m->rejected_ = *rejected;
  m->clients_ = (*clients)->with({});
  m->epoch_ = (*epoch)->with({});
  return m;
}

RangeMetrics& ProxyMetrics::Range(std::uint32_t id) {
  if (id >= kMaxRanges) id = kMaxRanges - 1;
  RangeMetrics* p = ranges_[id].load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  std::lock_guard lock(mu_);
  p = ranges_[id].load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  auto m = std::make_unique<RangeMetrics>();
  std::string r = std::to_string(id);
  m->reads = requests_->with({{"range", r}, {"kind", "read"}});
  m->writes = requests_->with({{"range", r}, {"kind", "write"}});
  m->bytes_in = bytes_->with({{"range", r}, {"direction", "in"}});
  m->bytes_out = bytes_->with({{"range", r}, {"direction", "out"}});
  m->errors = errors_->with({{"range", r}});
  m->latency = latency_->with({{"range", r}});
  m->shadow_match = shadow_->with({{"range", r}, {"result", "match"}});
  m->shadow_mismatch = shadow_->with({{"range", r}, {"result", "mismatch"}});
  m->shadow_error = shadow_->with({{"range", r}, {"result", "error"}});
  m->shadow_owner_latency = shadow_latency_->with({{"range", r}, {"side", "owner"}});
  m->shadow_target_latency = shadow_latency_->with({{"range", r}, {"side", "target"}});
  p = m.get();
  owned_.push_back(std::move(m));
  ranges_[id].store(p, std::memory_order_release);
  return *p;
}

}  // namespace shardcast::router::proxy
