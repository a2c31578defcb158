// Client configuration: kubeconfig files and in-cluster service accounts.
// Pure parsing is separated from file access so that tests (and the fuzzer)
// can feed bytes directly.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "util/expected.h"

namespace shardcast::kube {

struct RestConfig {
  std::string server;  // https://host:port, no trailing slash
  std::string ca_pem;  // empty: system trust store
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;                      // static bearer token
  std::string token_file;                 // re-read when it changes (service accounts)
  bool insecure_skip_tls_verify = false;  // only when the kubeconfig sets it
  std::string tls_server_name;
  std::string namespace_;    // context namespace, "" when unset
  std::string context;       // context name, for messages
  std::string source;        // where it came from, for messages
  std::string ca_source;     // file or field the CA came from, for messages
  std::string server_field;  // e.g. "clusters[dev].cluster.server", for messages
  std::string user_field;    // e.g. "users[admin].user", for messages
};

// Reads files; tests inject fakes. Returns nullopt when the file is unreadable.
struct FileReader {
  std::function<Result<std::string>(const std::string& path)> read;
  static FileReader Real();
};

// Parses kubeconfig YAML. `path` names the file in error messages and anchors
// relative file references; `context_override` picks a context other than
// current-context.
Result<RestConfig> ParseKubeconfig(const std::string& yaml, const std::string& path,
                                   const std::string& context_override = {},
                                   const FileReader& files = FileReader::Real());

// Loads a kubeconfig file from disk.
Result<RestConfig> LoadKubeconfigFile(const std::string& path,
                                      const std::string& context_override = {});

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup RealEnv();

// In-cluster configuration from KUBERNETES_SERVICE_HOST/PORT and the mounted
// service account under `sa_dir` (default /var/run/secrets/kubernetes.io/serviceaccount).
Result<RestConfig> InClusterConfig(
    const EnvLookup& env = RealEnv(), const FileReader& files = FileReader::Real(),
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// The usual order: an explicit path; else $KUBECONFIG (first file of a
// colon-separated list that exists); else in-cluster when its variables are
// set; else ~/.kube/config.
Result<RestConfig> LoadDefault(const std::string& explicit_path = {},
                               const std::string& context_override = {},
                               const EnvLookup& env = RealEnv());

// Validates PEM material up front so that a bad file is named before any
// connection is tried.
Result<void> ValidateTlsMaterial(const RestConfig& config);

// A bearer token that follows a rotating token file (projected service
// account tokens are replaced about hourly). Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const RestConfig& config, FileReader files = FileReader::Real(),
                       std::chrono::seconds recheck = std::chrono::seconds(60));
  // The current token ("" when none); re-reads the file at most every
  // `recheck`, or at once after invalidate().
  std::string token();
  // Forces a re-read on the next call (after a 401).
  void invalidate();

 private:
  std::mutex mu_;
  std::string static_token_;
  std::string file_;
  FileReader files_;
  std::chrono::seconds recheck_;
  std::string cached_;
  std::chrono::steady_clock::time_point last_read_{};
  bool have_read_ = false;
};

std::optional<std::string> DecodeBase64(const std::string& in);

}  // namespace shardcast::kube
