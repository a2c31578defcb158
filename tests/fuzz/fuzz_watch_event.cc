// libFuzzer target: a watch stream's bytes, split into lines and decoded,
// must give events or typed errors, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "operator/kube/client.h"
#include "operator/kube/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  shardcast::kube::LineSplitter splitter;
  // Feed in two chunks to exercise lines split across reads.
  size_t half = size / 2;
  splitter.feed(reinterpret_cast<const char*>(data), half);
  splitter.feed(reinterpret_cast<const char*>(data) + half, size - half);
  splitter.feed("\n", 1);
  while (auto line = splitter.pop()) {
    auto ev = shardcast::kube::ParseWatchEvent(*line);
    if (!ev) (void)ev.error().to_string();
  }
  std::string body(reinterpret_cast<const char*>(data), size);
  (void)shardcast::kube::ErrorFromResponse(422, body, body);
  return 0;
}
