// A small Prometheus metrics registry: counters, gauges and histograms with
// label sets, rendered in the text exposition format 0.0.4.
//
//   Registry reg;
//   auto fam = reg.counter("shardcast_migrations_total", "Migrations started.",
//                          {"shardset"}).value();
//   fam->with({{"shardset", "ns/a"}})->inc();
//   reg.RemoveMatching({{"shardset", "ns/a"}});   // when the ShardSet is deleted
//   std::string body = reg.render();
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "util/expected.h"

namespace shardcast::runtime {

using Labels = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Monotonic counter. Negative or NaN increments are ignored.
class Counter {
 public:
  void inc(double v = 1.0);
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double v) { v_.fetch_add(v, std::memory_order_relaxed); }
  void sub(double v) { add(-v); }
  void inc() { add(1.0); }
  void dec() { add(-1.0); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

class Histogram {
 public:
  // `upper_bounds` strictly increasing and finite (validated by the registry).
  explicit Histogram(std::vector<double> upper_bounds);
  // NaN observations are ignored.
  void observe(double v);

  struct Snapshot {
    std::vector<double> upper_bounds;       // without +Inf
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket (non-cumulative), last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Prometheus' default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
std::vector<double> DefaultBuckets();
// start, start*factor, ... (count values). start > 0, factor > 1, count >= 1.
[[nodiscard]] Result<std::vector<double>> ExponentialBuckets(double start, double factor,
                                                             int count);

// Formats a sample value as Prometheus expects (shortest round-trip form,
// "+Inf", "-Inf", "NaN").
std::string FormatValue(double v);
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& v);
// Escapes HELP text (backslash, newline).
std::string EscapeHelp(const std::string& v);

enum class MetricType { kCounter, kGauge, kHistogram };

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  MetricType type() const { return type_; }

  // Appends HELP, TYPE and every child's samples; nothing when there are no
  // children.
  virtual void render(std::string& out) const = 0;
  // Removes every child whose labels include all of `subset`.
  virtual std::size_t RemoveMatching(const Labels& subset) = 0;
  virtual std::size_t size() const = 0;

 protected:
  // Orders `labels` by the declared names; error names the offending label.
  [[nodiscard]] Result<std::vector<std::string>> LabelValues(const Labels& labels) const;
  std::string LabelString(const std::vector<std::string>& values,
                          const std::string& extra_name = {},
                          const std::string& extra_value = {}) const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  MetricType type_;
};

template <typename M>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::shared_ptr<M>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
         Factory make, std::atomic<std::uint64_t>* label_errors);

  // The child for this label set, created on first use. Labels may come in
  // any order but must be exactly the declared names. On a mismatch (a
  // programming error) the error is counted in Registry::label_errors() and a
  // detached child that is never exported is returned, so callers never crash.
  std::shared_ptr<M> with(const Labels& labels);
  // As with(), but reports a mismatch as an error naming the label.
  [[nodiscard]] Result<std::shared_ptr<M>> TryWith(const Labels& labels);
  // Removes exactly this label set. Returns whether it existed.
  bool remove(const Labels& labels);
  std::size_t RemoveMatching(const Labels& subset) override;
  std::size_t size() const override;
  void render(std::string& out) const override;

 private:
  mutable std::mutex mu_;
  Factory make_;
  std::atomic<std::uint64_t>* label_errors_;
  std::map<std::vector<std::string>, std::shared_ptr<M>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers (or returns the identical existing) family. Errors name the
  // metric and the invalid field (name, label name, buckets, conflict).
  // The returned pointer lives as long as the registry.
  [[nodiscard]] Result<CounterFamily*> counter(const std::string& name, const std::string& help,
                                               const std::vector<std::string>& label_names = {});
  [[nodiscard]] Result<GaugeFamily*> gauge(const std::string& name, const std::string& help,
                                           const std::vector<std::string>& label_names = {});
  // Empty `buckets` means DefaultBuckets(). A trailing +Inf is allowed and
  // dropped (it is always implied).
  [[nodiscard]] Result<HistogramFamily*> histogram(const std::string& name, const std::string& help,
                                                   const std::vector<std::string>& label_names,
                                                   std::vector<double> buckets = {});

  // Removes every child (in every family) whose labels include `subset`,
  // e.g. {{"shardset", "ns/a"}} when that ShardSet is deleted.
  std::size_t RemoveMatching(const Labels& subset);

  // Text exposition format 0.0.4, families sorted by name.
  std::string render() const;

  // with() calls whose labels did not match the family's declared names.
  std::uint64_t label_errors() const { return label_errors_.load(); }

 private:
  [[nodiscard]] Result<void> validate(const std::string& name,
                                      const std::vector<std::string>& label_names,
                                      MetricType type) const;
  template <typename M>
  Result<Family<M>*> add(const std::string& name, const std::string& help,
                         const std::vector<std::string>& label_names, MetricType type,
                         typename Family<M>::Factory make, const std::vector<double>* buckets);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  std::map<std::string, std::vector<double>> histogram_buckets_;
  std::atomic<std::uint64_t> label_errors_{0};
};

}  // namespace shardcast::runtime
