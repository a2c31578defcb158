// Fuzzes the CSV series parser, timestamp parser and the snapshot decoder.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "predictor/history.h"
#include "predictor/parse.h"
#include "predictor/series.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = shardcast::predictor::ParseCsvSeries(text);
  if (r.ok()) {
    auto b = shardcast::predictor::Bucketize(*r, 60, 100000);
    (void)b;
    (void)shardcast::predictor::CounterToRate(*r);
  }
  (void)shardcast::predictor::ParseTimestamp(text);
  (void)shardcast::predictor::History::DecodeSnapshot(text);
  return 0;
}
