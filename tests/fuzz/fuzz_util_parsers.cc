// libFuzzer target: cron expressions, Go durations, quantities and label
// selectors (util/) give a value or an error naming the field, never a crash.
// The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/cron.h"
#include "util/duration.h"
#include "util/label_selector.h"
#include "util/quantity.h"
#include "util/time.h"

namespace u = shardcast::util;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string s(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto c = u::Cron::Parse(s);
      if (c) (void)c->ActiveAt(1795320000, 7200);
      break;
    }
    case 1: {
      auto d = u::ParseDurationSeconds(s, "f");
      if (d && *d < 0) __builtin_trap();
      if (!d && d.error().message.rfind("f: ", 0) != 0) __builtin_trap();
      break;
    }
    case 2: {
      auto q = u::ParseCpuMillis(s, "cpu");
      if (q && !(*q >= 0)) __builtin_trap();
      (void)u::ParseBytes(s, "memory");
      break;
    }
    case 3: {
      auto j = nlohmann::json::parse(s, nullptr, false);
      if (j.is_discarded()) break;
      auto sel = u::LabelSelector::Parse(j, "selector");
      if (sel) (void)sel->Matches({{"a", "b"}});
      break;
    }
    default: {
      auto t = u::ParseRfc3339(s);
      if (t) (void)u::FormatRfc3339(*t);
      break;
    }
  }
  return 0;
}
