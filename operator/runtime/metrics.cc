#include "operator/runtime/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace shardcast::runtime {

namespace {

bool ValidMetricName(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return n.rfind("__", 0) != 0;  // reserved for internal use
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void RenderChild(std::string& out, const std::string& name, const std::string& labels,
                 const Counter& c) {
  out += name;
  out += labels;
  out += ' ';
  out += FormatValue(c.value());
  out += '\n';
}

void RenderChild(std::string& out, const std::string& name, const std::string& labels,
                 const Gauge& g) {
  out += name;
  out += labels;
  out += ' ';
  out += FormatValue(g.value());
  out += '\n';
}

}  // namespace

// ---------------------------------------------------------------------------
// Formatting

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Metric types

void Counter::inc(double v) {
  if (!(v >= 0)) return;  // negative or NaN: counters only go up
  v_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // First bucket whose upper bound is >= v (le is inclusive).
  const std::size_t i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  std::lock_guard<std::mutex> g(mu_);
  ++counts_[i];
  sum_ += v;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = bounds_;
  std::lock_guard<std::mutex> g(mu_);
  std::uint64_t acc = 0;
  s.cumulative.reserve(counts_.size());
  for (auto c : counts_) {
    acc += c;
    s.cumulative.push_back(acc);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::vector<double> DefaultBuckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

Result<std::vector<double>> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !std::isfinite(start))
    return unexpected(Error{"exponential_buckets: start must be a finite number > 0"});
  if (!(factor > 1) || !std::isfinite(factor))
    return unexpected(Error{"exponential_buckets: factor must be a finite number > 1"});
  if (count < 1) return unexpected(Error{"exponential_buckets: count must be >= 1"});
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i) {
    if (!std::isfinite(b))
      return unexpected(Error{"exponential_buckets: count too large, bucket overflows"});
    out.push_back(b);
    b *= factor;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Families

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {}

Result<std::vector<std::string>> FamilyBase::LabelValues(const Labels& labels) const {
  std::vector<std::string> values(label_names_.size());
  std::vector<bool> seen(label_names_.size(), false);
  for (const auto& [k, v] : labels) {
    auto it = std::find(label_names_.begin(), label_names_.end(), k);
    if (it == label_names_.end())
      return unexpected(Error{"metric " + name_ + ": unknown label \"" + k + "\""});
    const auto i = static_cast<std::size_t>(it - label_names_.begin());
    if (seen[i]) return unexpected(Error{"metric " + name_ + ": label \"" + k + "\" given twice"});
    seen[i] = true;
    values[i] = v;
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i])
      return unexpected(Error{"metric " + name_ + ": missing label \"" + label_names_[i] + "\""});
  }
  return values;
}

std::string FamilyBase::LabelString(const std::vector<std::string>& values,
                                    const std::string& extra_name,
                                    const std::string& extra_value) const {
  if (values.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += label_names_[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += EscapeLabelValue(extra_value);
    out += '"';
  }
  out += '}';
  return out;
}

template <typename M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  MetricType type, Factory make, std::atomic<std::uint64_t>* label_errors)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
      make_(std::move(make)),
      label_errors_(label_errors) {
  // A family without labels has exactly one child, always exported.
  if (label_names_.empty()) children_.emplace(std::vector<std::string>{}, make_());
}

template <typename M>
Result<std::shared_ptr<M>> Family<M>::TryWith(const Labels& labels) {
  auto values = LabelValues(labels);
  if (!values) return unexpected(values.error());
  std::lock_guard<std::mutex> g(mu_);
  auto it = children_.find(*values);
  if (it != children_.end()) return it->second;
  auto child = make_();
  children_.emplace(std::move(values).value(), child);
  return child;
}

template <typename M>
std::shared_ptr<M> Family<M>::with(const Labels& labels) {
  auto r = TryWith(labels);
  if (r) return std::move(r).value();
  if (label_errors_ != nullptr) label_errors_->fetch_add(1);
  return make_();  // detached: counts go nowhere, but the caller does not crash
}

template <typename M>
bool Family<M>::remove(const Labels& labels) {
  auto values = LabelValues(labels);
  if (!values) return false;
  std::lock_guard<std::mutex> g(mu_);
  if (label_names_.empty()) return false;  // the single unlabelled child stays
  return children_.erase(*values) > 0;
}

template <typename M>
std::size_t Family<M>::RemoveMatching(const Labels& subset) {
  if (label_names_.empty() || subset.empty()) return 0;
  std::vector<std::pair<std::size_t, std::string>> wanted;
  for (const auto& [k, v] : subset) {
    auto it = std::find(label_names_.begin(), label_names_.end(), k);
    if (it == label_names_.end()) return 0;  // family lacks this label: nothing matches
    wanted.emplace_back(static_cast<std::size_t>(it - label_names_.begin()), v);
  }
  std::lock_guard<std::mutex> g(mu_);
  std::size_t removed = 0;
  for (auto it = children_.begin(); it != children_.end();) {
    bool match = true;
    for (const auto& [i, v] : wanted) {
      if (it->first[i] != v) {
        match = false;
        break;
      }
    }
    if (match) {
      it = children_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

template <typename M>
std::size_t Family<M>::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return children_.size();
}

template <typename M>
void Family<M>::render(std::string& out) const {
  std::vector<std::pair<std::vector<std::string>, std::shared_ptr<M>>> children;
  {
    std::lock_guard<std::mutex> g(mu_);
    children.assign(children_.begin(), children_.end());
  }
  if (children.empty()) return;
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + TypeName(type_) + "\n";
  for (const auto& [values, child] : children) {
    if constexpr (std::is_same_v<M, Histogram>) {
      const auto s = child->snapshot();
      for (std::size_t i = 0; i < s.upper_bounds.size(); ++i) {
        out += name_ + "_bucket" + LabelString(values, "le", FormatValue(s.upper_bounds[i])) + " " +
               std::to_string(s.cumulative[i]) + "\n";
      }
      out += name_ + "_bucket" + LabelString(values, "le", "+Inf") + " " +
             std::to_string(s.cumulative.back()) + "\n";
      const std::string ls = LabelString(values);
      out += name_ + "_sum" + ls + " " + FormatValue(s.sum) + "\n";
      out += name_ + "_count" + ls + " " + std::to_string(s.count) + "\n";
    } else {
      RenderChild(out, name_, LabelString(values), *child);
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------
// Registry

Result<void> Registry::validate(const std::string& name,
                                const std::vector<std::string>& label_names,
                                MetricType type) const {
  if (!ValidMetricName(name))
    return unexpected(
        Error{"metric name \"" + name + "\" is invalid: must match [a-zA-Z_:][a-zA-Z0-9_:]*"});
  std::set<std::string> seen;
  for (const auto& l : label_names) {
    if (!ValidLabelName(l))
      return unexpected(Error{"metric " + name + ": label name \"" + l +
                              "\" is invalid: must match [a-zA-Z_][a-zA-Z0-9_]* and not "
                              "start with __"});
    if (type == MetricType::kHistogram && l == "le")
      return unexpected(Error{"metric " + name + ": label name \"le\" is reserved for histograms"});
    if (!seen.insert(l).second)
      return unexpected(Error{"metric " + name + ": label name \"" + l + "\" is repeated"});
  }
  return {};
}

template <typename M>
Result<Family<M>*> Registry::add(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names, MetricType type,
                                 typename Family<M>::Factory make,
                                 const std::vector<double>* buckets) {
  if (auto v = validate(name, label_names, type); !v) return unexpected(v.error());
  std::lock_guard<std::mutex> g(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    FamilyBase* f = it->second.get();
    const bool same_buckets = buckets == nullptr || histogram_buckets_[name] == *buckets;
    if (f->type() != type || f->help() != help || f->label_names() != label_names || !same_buckets)
      return unexpected(Error{"metric " + name +
                              ": already registered with a different type, help, labels or "
                              "buckets"});
    return static_cast<Family<M>*>(f);
  }
  // Histograms own name_bucket/_sum/_count: refuse overlaps either way.
  for (const auto& [other, fam] : families_) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if ((type == MetricType::kHistogram && other == name + suffix) ||
          (fam->type() == MetricType::kHistogram && name == other + suffix))
        return unexpected(Error{"metric " + name + ": conflicts with histogram series of " +
                                (type == MetricType::kHistogram ? name : other)});
    }
  }
  auto fam =
      std::make_unique<Family<M>>(name, help, label_names, type, std::move(make), &label_errors_);
  Family<M>* raw = fam.get();
  families_.emplace(name, std::move(fam));
  if (buckets != nullptr) histogram_buckets_[name] = *buckets;
  return raw;
}

Result<CounterFamily*> Registry::counter(const std::string& name, const std::string& help,
                                         const std::vector<std::string>& label_names) {
  return add<Counter>(
      name, help, label_names, MetricType::kCounter, [] { return std::make_shared<Counter>(); },
      nullptr);
}

Result<GaugeFamily*> Registry::gauge(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names) {
  return add<Gauge>(
      name, help, label_names, MetricType::kGauge, [] { return std::make_shared<Gauge>(); },
      nullptr);
}

Result<HistogramFamily*> Registry::histogram(const std::string& name, const std::string& help,
                                             const std::vector<std::string>& label_names,
                                             std::vector<double> buckets) {
  if (buckets.empty()) buckets = DefaultBuckets();
  if (std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]))
      return unexpected(Error{"metric " + name + ": buckets[" + std::to_string(i) +
                              "] must be finite (+Inf is implied)"});
    if (i > 0 && !(buckets[i] > buckets[i - 1]))
      return unexpected(Error{"metric " + name + ": buckets must be strictly increasing (buckets[" +
                              std::to_string(i) + "] = " + FormatValue(buckets[i]) + ")"});
  }
  return add<Histogram>(
      name, help, label_names, MetricType::kHistogram,
      [buckets] { return std::make_shared<Histogram>(buckets); }, &buckets);
}

std::size_t Registry::RemoveMatching(const Labels& subset) {
  std::lock_guard<std::mutex> g(mu_);
  std::size_t n = 0;
  for (auto& [name, fam] : families_) n += fam->RemoveMatching(subset);
  return n;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard<std::mutex> g(mu_);
  for (const auto& [name, fam] : families_) fam->render(out);
  return out;
}

}  // namespace shardcast::runtime
