// libFuzzer target: kubeconfig parsing must never crash, whatever the bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "operator/kube/kubeconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  // Referenced files resolve to small fixed contents, so file and -data
  // branches are both reachable without touching the disk.
  shardcast::kube::FileReader files{[](const std::string& path) -> shardcast::Result<std::string> {
    if (path.find("missing") != std::string::npos) {
      return shardcast::unexpected(shardcast::Error{"No such file"});
    }
    return std::string("content of ") + path;
  }};
  auto cfg = shardcast::kube::ParseKubeconfig(yaml, "/fuzz/config", "", files);
  if (cfg) (void)shardcast::kube::ValidateTlsMaterial(*cfg);
  (void)shardcast::kube::DecodeBase64(yaml);
  return 0;
}
