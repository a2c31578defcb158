// Line splitting for streamed watch bodies (no cpprestsdk here, so the
// fuzzer can use it).
#include "operator/kube/transport.h"

namespace shardcast::kube {

void LineSplitter::feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] == '\n') {
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      ready_.append(partial_);
      ready_.push_back('\n');
      partial_.clear();
    } else {
      partial_.push_back(data[i]);
    }
  }
}

std::optional<std::string> LineSplitter::pop() {
  if (ready_pos_ >= ready_.size()) return std::nullopt;
  size_t nl = ready_.find('\n', ready_pos_);
  std::string line = ready_.substr(ready_pos_, nl - ready_pos_);
  ready_pos_ = nl + 1;
  if (ready_pos_ >= ready_.size()) {
    ready_.clear();
    ready_pos_ = 0;
  }
  return line;
}

}  // namespace shardcast::kube
