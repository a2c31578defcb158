#include "predictor/history.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace shardcast::predictor {

namespace {
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
size_t Slot(int64_t bucket, uint32_t cap) {
  int64_t m = bucket % static_cast<int64_t>(cap);
  if (m < 0) m += cap;
  return static_cast<size_t>(m);
}
constexpr uint8_t kVersion = 1;
}  // namespace

std::vector<Resolution> DefaultResolutions() { return {{60, 2 * 24 * 60}, {900, 5 * 7 * 24 * 4}}; }

Result<void> ValidateResolutions(const std::vector<Resolution>& res) {
  if (res.empty()) return unexpected(Error{"resolutions: at least one is required"});
  if (res.size() > 8) return unexpected(Error{"resolutions: at most 8 are supported"});
  for (size_t i = 0; i < res.size(); ++i) {
    const std::string f = "resolutions[" + std::to_string(i) + "]";
    if (res[i].step_seconds <= 0 || res[i].step_seconds > 366LL * 86400)
      return unexpected(Error{f + ".step: must be in 1s..366d"});
    if (res[i].capacity < 1 || res[i].capacity > 1'000'000)
      return unexpected(Error{f + ".capacity: must be in 1..1000000"});
    if (i > 0 && (res[i].step_seconds <= res[i - 1].step_seconds ||
                  res[i].step_seconds % res[i - 1].step_seconds != 0))
      return unexpected(Error{f + ".step: must be a larger multiple of the previous step"});
  }
  return {};
}

Result<History> History::Create(std::vector<Resolution> res) {
  auto ok = ValidateResolutions(res);
  if (!ok) return unexpected(ok.error());
  History h;
  for (const auto& r : res) {
    Level l;
    l.res = r;
    l.buf.assign(r.capacity, std::numeric_limits<float>::quiet_NaN());
    l.cnt.assign(r.capacity, 0);
    h.levels_.push_back(std::move(l));
  }
  return h;
}

void History::Add(int64_t t, double v) {
  if (!std::isfinite(v)) return;
  for (auto& l : levels_) {
    const int64_t b = FloorDiv(t, l.res.step_seconds);
    const int64_t cap = l.res.capacity;
    if (!l.any) {
      l.any = true;
      l.newest = b;
    } else if (b > l.newest) {
      // Clear the buckets we skip over (gaps) and the new one.
      const int64_t clear = std::min<int64_t>(b - l.newest, cap);
      for (int64_t k = 0; k < clear; ++k) {
        const size_t s = Slot(b - k, l.res.capacity);
        l.buf[s] = std::numeric_limits<float>::quiet_NaN();
        l.cnt[s] = 0;
      }
      l.newest = b;
    } else if (b <= l.newest - cap) {
      continue;  // too old for this level
    }
    const size_t s = Slot(b, l.res.capacity);
    const double old = l.cnt[s] == 0 ? 0.0 : static_cast<double>(l.buf[s]);
    const double n = l.cnt[s];
    const double mean = (old * n + v) / (n + 1);
    l.buf[s] = static_cast<float>(std::clamp(mean, -3.0e38, 3.0e38));
    if (l.cnt[s] < std::numeric_limits<uint16_t>::max()) l.cnt[s]++;
  }
}

RegularSeries History::Series(size_t level) const {
  RegularSeries out;
  if (level >= levels_.size()) return out;
  const Level& l = levels_[level];
  out.step = l.res.step_seconds;
  if (!l.any) return out;
  const int64_t cap = l.res.capacity;
  const int64_t first = l.newest - cap + 1;
  out.start = first * l.res.step_seconds;
  out.values.resize(l.res.capacity);
  for (int64_t k = 0; k < cap; ++k) {
    const size_t s = Slot(first + k, l.res.capacity);
    out.values[static_cast<size_t>(k)] = l.cnt[s] ? static_cast<double>(l.buf[s]) : std::nan("");
  }
  return out;
}

size_t History::MemoryBytes() const {
  size_t b = sizeof(*this) + levels_.capacity() * sizeof(Level);
  for (const auto& l : levels_)
    b += l.buf.capacity() * sizeof(float) + l.cnt.capacity() * sizeof(uint16_t);
  return b;
}

// ---------------- snapshot ----------------

namespace {
void PutU32(std::string& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutF32(std::string& o, float f) {
  uint32_t u;
  static_assert(sizeof(u) == sizeof(f));
  std::memcpy(&u, &f, 4);
  PutU32(o, u);
}
void PutVarint(std::string& o, uint32_t v) {
  while (v >= 0x80) {
    o.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  o.push_back(static_cast<char>(v));
}
struct Reader {
  std::string_view d;
  size_t p = 0;
  bool ok = true;
  uint64_t Get(int bytes) {
    if (p + static_cast<size_t>(bytes) > d.size()) {
      ok = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(d[p + i])) << (8 * i);
    p += static_cast<size_t>(bytes);
    return v;
  }
  float F32() {
    uint32_t u = static_cast<uint32_t>(Get(4));
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  uint32_t Varint() {
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (p >= d.size()) {
        ok = false;
        return 0;
      }
      const unsigned char c = static_cast<unsigned char>(d[p++]);
      v |= static_cast<uint32_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
};
constexpr uint16_t kMissing = 0xffff;
constexpr double kLevels = 65534.0;  // quantization levels 0..65534
}  // namespace

uint32_t Crc32(std::string_view bytes) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (char ch : bytes) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string Base64Encode(std::string_view in) {
  static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kA[(v >> 18) & 63];
    out += kA[(v >> 12) & 63];
    out += kA[(v >> 6) & 63];
    out += kA[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kA[(v >> 18) & 63];
    out += kA[(v >> 12) & 63];
    out += (i + 1 < in.size()) ? kA[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ') clean += c;
  if (clean.size() % 4 != 0)
    return unexpected(Error{"snapshot: base64 length is not a multiple of 4"});
  std::string out;
  for (size_t i = 0; i < clean.size(); i += 4) {
    int a = val(clean[i]), b = val(clean[i + 1]);
    int c = clean[i + 2] == '=' ? -2 : val(clean[i + 2]);
    int d = clean[i + 3] == '=' ? -2 : val(clean[i + 3]);
    const bool last = i + 4 == clean.size();
    if (a < 0 || b < 0 || c == -1 || d == -1 || (!last && (c < 0 || d < 0)) || (c == -2 && d != -2))
      return unexpected(Error{"snapshot: invalid base64 at offset " + std::to_string(i)});
    uint32_t v = (a << 18) | (b << 12) | ((c < 0 ? 0 : c) << 6) | (d < 0 ? 0 : d);
    out += static_cast<char>((v >> 16) & 0xff);
    if (c >= 0) out += static_cast<char>((v >> 8) & 0xff);
    if (d >= 0) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string History::EncodeSnapshot() const {
  std::string o = "SCH1";
  o.push_back(static_cast<char>(kVersion));
  o.push_back(static_cast<char>(levels_.size()));
  for (const auto& l : levels_) {
    PutU64(o, static_cast<uint64_t>(l.res.step_seconds));
    PutU32(o, l.res.capacity);
    o.push_back(l.any ? 1 : 0);
    PutU64(o, static_cast<uint64_t>(l.newest));
    const RegularSeries s = Series(static_cast<size_t>(&l - levels_.data()));
    float lo = std::numeric_limits<float>::max(), hi = -lo;
    for (double v : s.values)
      if (!std::isnan(v)) {
        lo = std::min(lo, static_cast<float>(v));
        hi = std::max(hi, static_cast<float>(v));
      }
    if (lo > hi) lo = hi = 0;
    PutF32(o, lo);
    PutF32(o, hi);
    const double range = static_cast<double>(hi) - static_cast<double>(lo);
    int32_t prev = 0;
    for (size_t k = 0; k < l.res.capacity; ++k) {
      const double v = k < s.values.size() ? s.values[k] : std::nan("");
      int32_t q = kMissing;
      if (!std::isnan(v))
        q = range > 0 ? static_cast<int32_t>(std::lround((v - lo) / range * kLevels)) : 0;
      const int32_t d = q - prev;
      prev = q;
      PutVarint(o, (static_cast<uint32_t>(d) << 1) ^ static_cast<uint32_t>(d >> 31));
    }
  }
  PutU32(o, Crc32(o));
  return Base64Encode(o);
}

Result<History> History::DecodeSnapshot(std::string_view text) {
  auto raw = Base64Decode(text);
  if (!raw) return unexpected(raw.error());
  const std::string& d = *raw;
  if (d.size() < 10 || d.compare(0, 4, "SCH1") != 0)
    return unexpected(Error{"snapshot: bad magic"});
  Reader crc{std::string_view(d).substr(d.size() - 4)};
  if (static_cast<uint32_t>(crc.Get(4)) != Crc32(std::string_view(d).substr(0, d.size() - 4)))
    return unexpected(Error{"snapshot: checksum mismatch (corrupt)"});
  Reader r{std::string_view(d).substr(0, d.size() - 4), 4};
  const auto version = r.Get(1);
  if (version != kVersion)
    return unexpected(Error{"snapshot: unsupported version " + std::to_string(version)});
  const auto nlev = r.Get(1);
  std::vector<Resolution> res;
  struct Hdr {
    bool any;
    int64_t newest;
    float lo, hi;
    std::vector<uint16_t> q;
  };
  std::vector<Hdr> hdrs;
  for (uint64_t i = 0; i < nlev && r.ok; ++i) {
    Resolution x;
    x.step_seconds = static_cast<int64_t>(r.Get(8));
    x.capacity = static_cast<uint32_t>(r.Get(4));
    if (x.capacity > 1'000'000) return unexpected(Error{"snapshot: level capacity too large"});
    Hdr h;
    h.any = r.Get(1) != 0;
    h.newest = static_cast<int64_t>(r.Get(8));
    h.lo = r.F32();
    h.hi = r.F32();
    int32_t prev = 0;
    h.q.resize(x.capacity);
    for (uint32_t k = 0; k < x.capacity && r.ok; ++k) {
      uint32_t z = r.Varint();
      int32_t dlt = static_cast<int32_t>((z >> 1) ^ (~(z & 1) + 1));
      prev = static_cast<int32_t>(static_cast<uint32_t>(prev) + static_cast<uint32_t>(dlt));
      if (prev < 0 || prev > kMissing) return unexpected(Error{"snapshot: value out of range"});
      h.q[k] = static_cast<uint16_t>(prev);
    }
    res.push_back(x);
    hdrs.push_back(std::move(h));
  }
  if (!r.ok) return unexpected(Error{"snapshot: truncated"});
  if (r.p != r.d.size()) return unexpected(Error{"snapshot: trailing bytes"});
  auto hist = Create(res);
  if (!hist) return unexpected(Error{"snapshot: " + hist.error().message});
  for (size_t i = 0; i < hdrs.size(); ++i) {
    Level& l = hist->levels_[i];
    l.any = hdrs[i].any;
    l.newest = hdrs[i].newest;
    if (!l.any) continue;
    if (l.newest > (int64_t{1} << 50) || l.newest < -(int64_t{1} << 50))
      return unexpected(Error{"snapshot: newest bucket out of range"});
    const double range = static_cast<double>(hdrs[i].hi) - static_cast<double>(hdrs[i].lo);
    const int64_t first = l.newest - l.res.capacity + 1;
    for (uint32_t k = 0; k < l.res.capacity; ++k) {
      const size_t s = Slot(first + k, l.res.capacity);
      if (hdrs[i].q[k] == kMissing) continue;
      l.buf[s] = static_cast<float>(hdrs[i].lo + range * hdrs[i].q[k] / kLevels);
      l.cnt[s] = 1;
    }
  }
  return hist;
}

}  // namespace shardcast::predictor
