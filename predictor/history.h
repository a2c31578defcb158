// Multi-resolution history of one series in fixed-size ring buffers, plus a
// compact, versioned, checksummed snapshot so history survives an operator
// restart (stored in a ConfigMap, see docs/predictor.md for the budget).
// Pure: the caller passes timestamps in; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "predictor/series.h"
#include "util/expected.h"

namespace shardcast::predictor {

struct Resolution {
  int64_t step_seconds = 60;
  uint32_t capacity = 2880;  // number of buckets kept
};

// Default: 1 min for 2 days and 15 min for 5 weeks.
std::vector<Resolution> DefaultResolutions();

// Validates a set of resolutions (steps > 0, capacities 1..1e6, each step a
// multiple of the previous one, ascending). Errors name the field.
[[nodiscard]] Result<void> ValidateResolutions(const std::vector<Resolution>& res);

class History {
 public:
  // Use Create() for validated construction.
  [[nodiscard]] static Result<History> Create(std::vector<Resolution> res);

  // Adds a sample. Samples in the same bucket are averaged. A sample older
  // than the newest bucket of a resolution is merged into its bucket when
  // still in the window and dropped otherwise. Non-finite values are ignored.
  void Add(int64_t t, double v);

  // The series at resolution `level` as a regular series of exactly
  // `capacity` buckets ending at the newest bucket (gaps are NaN). Empty if
  // nothing was added.
  RegularSeries Series(size_t level) const;

  size_t levels() const { return levels_.size(); }
  const Resolution& resolution(size_t level) const { return levels_[level].res; }

  // Bytes of heap + object owned by this history.
  size_t MemoryBytes() const;

  // Snapshot: "SCH1" magic, version, per level: step, capacity, newest bucket
  // index, values quantized to 16 bits against the level's min/max and
  // delta+zigzag+varint coded, then CRC-32 of everything; base64 text.
  std::string EncodeSnapshot() const;
  [[nodiscard]] static Result<History> DecodeSnapshot(std::string_view base64);

 private:
  struct Level {
    Resolution res;
    std::vector<float> buf;     // ring of bucket means, NaN = no data
    std::vector<uint16_t> cnt;  // samples in each bucket (saturating)
    int64_t newest = 0;         // bucket index (t / step) of the newest bucket
    bool any = false;
  };
  std::vector<Level> levels_;
};

// base64 (RFC 4648, with padding) and CRC-32 (IEEE), exposed for tests.
std::string Base64Encode(std::string_view bytes);
[[nodiscard]] Result<std::string> Base64Decode(std::string_view text);
uint32_t Crc32(std::string_view bytes);

}  // namespace shardcast::predictor
