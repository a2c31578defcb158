#include "operator/kube/kubeconfig.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shardcast::kube {

namespace {

Unexpected<Error> Fail(const std::string& where, const std::string& what) {
  return unexpected(Error{"kubeconfig " + where + ": " + what});
}

std::string DirOf(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Resolve(const std::string& base_dir, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  return base_dir + "/" + file;
}

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  while (!s.empty() && !not_space(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && !not_space(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Finds the entry `name` in a kubeconfig list such as `clusters:` whose items
// are {name: ..., <inner>: {...}}.
Result<YAML::Node> FindNamed(const YAML::Node& root, const std::string& list,
                             const std::string& inner, const std::string& name,
                             const std::string& path) {
  YAML::Node items = root[list];
  if (!items || items.IsNull()) return Fail(path, "'" + list + "' is missing");
  if (!items.IsSequence()) return Fail(path, "'" + list + "' must be a list");
  for (size_t i = 0; i < items.size(); ++i) {
    const YAML::Node item = items[i];
    if (!item.IsMap()) return Fail(path, list + "[" + std::to_string(i) + "] must be a mapping");
    YAML::Node n = item["name"];
    if (n && n.IsScalar() && n.as<std::string>() == name) {
      YAML::Node body = item[inner];
      if (!body || body.IsNull()) return YAML::Node(YAML::NodeType::Map);
      if (!body.IsMap()) {
        return Fail(path, list + "[" + name + "]." + inner + " must be a mapping");
      }
      return body;
    }
  }
  return Fail(path, list + ": no entry named '" + name + "'");
}

Result<std::string> ScalarField(const YAML::Node& node, const std::string& key,
                                const std::string& where) {
  YAML::Node v = node[key];
  if (!v || v.IsNull()) return std::string();
  if (!v.IsScalar()) return unexpected(Error{where + "." + key + " must be a string"});
  return v.as<std::string>();
}

// Reads `<field>` (a path) or `<field>-data` (base64) from `node`.
Result<std::string> FileOrData(const YAML::Node& node, const std::string& field,
                               const std::string& where, const std::string& base_dir,
                               const FileReader& files, std::string* source) {
  auto data = ScalarField(node, field + "-data", where);
  if (!data) return unexpected(data.error());
  if (!data->empty()) {
    auto decoded = DecodeBase64(*data);
    if (!decoded) return unexpected(Error{where + "." + field + "-data is not valid base64"});
    if (source) *source = where + "." + field + "-data";
    return *decoded;
  }
  auto file = ScalarField(node, field, where);
  if (!file) return unexpected(file.error());
  if (file->empty()) return std::string();
  std::string resolved = Resolve(base_dir, *file);
  auto content = files.read(resolved);
  if (!content) {
    return unexpected(
        Error{where + "." + field + ": cannot read " + resolved + ": " + content.error().message});
  }
  if (source) *source = resolved;
  return *content;
}

Result<bool> BoolField(const YAML::Node& node, const std::string& key, const std::string& where) {
  YAML::Node v = node[key];
  if (!v || v.IsNull()) return false;
  if (!v.IsScalar()) return unexpected(Error{where + "." + key + " must be true or false"});
  std::string s = v.as<std::string>();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return unexpected(Error{where + "." + key + " must be true or false, not '" + s + "'"});
}

// The cluster `name` of `root` (server, TLS settings, CA) into `cfg`.
Result<void> ReadCluster(const YAML::Node& root, const std::string& name, const std::string& path,
                         const std::string& base_dir, const FileReader& files, RestConfig& cfg) {
  auto cluster = FindNamed(root, "clusters", "cluster", name, path);
  if (!cluster) return unexpected(cluster.error());
  const std::string cl_where = "clusters[" + name + "].cluster";
  auto server = ScalarField(*cluster, "server", cl_where);
  if (!server) return Fail(path, server.error().message);
  if (server->empty()) return Fail(path, cl_where + ".server is missing");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return Fail(path,
                cl_where + ".server must start with https:// or http://, not '" + *server + "'");
  }
  cfg.server = *server;
  cfg.server_field = cl_where + ".server";
  while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
  auto insecure = BoolField(*cluster, "insecure-skip-tls-verify", cl_where);
  if (!insecure) return Fail(path, insecure.error().message);
  cfg.insecure_skip_tls_verify = *insecure;
  auto sni = ScalarField(*cluster, "tls-server-name", cl_where);
  if (!sni) return Fail(path, sni.error().message);
  cfg.tls_server_name = *sni;
  auto ca =
      FileOrData(*cluster, "certificate-authority", cl_where, base_dir, files, &cfg.ca_source);
  if (!ca) return Fail(path, ca.error().message);
  cfg.ca_pem = *ca;
  return {};
}

// The user `name` of `root` (client certificate, token, token file) into
// `cfg`; exec and auth-provider plugins are refused when nothing else is given.
Result<void> ReadUser(const YAML::Node& root, const std::string& name, const std::string& path,
                      const std::string& base_dir, const FileReader& files, RestConfig& cfg) {
  auto user = FindNamed(root, "users", "user", name, path);
  if (!user) return unexpected(user.error());
  const std::string u_where = "users[" + name + "].user";
  cfg.user_field = u_where;
  auto cert = FileOrData(*user, "client-certificate", u_where, base_dir, files, nullptr);
  if (!cert) return Fail(path, cert.error().message);
  auto key = FileOrData(*user, "client-key", u_where, base_dir, files, nullptr);
  if (!key) return Fail(path, key.error().message);
  if (cert->empty() != key->empty()) {
    return Fail(path, u_where + ": client-certificate and client-key must be given together");
  }
  cfg.client_cert_pem = *cert;
  cfg.client_key_pem = *key;
  auto token = ScalarField(*user, "token", u_where);
  if (!token) return Fail(path, token.error().message);
  cfg.token = *token;
  auto token_file = ScalarField(*user, "tokenFile", u_where);
  if (!token_file) return Fail(path, token_file.error().message);
  if (!token_file->empty()) {
    cfg.token_file = Resolve(base_dir, *token_file);
    auto content = files.read(cfg.token_file);
    if (!content) {
      return Fail(path, u_where + ".tokenFile: cannot read " + cfg.token_file + ": " +
                            content.error().message);
    }
  }
  for (const char* unsupported : {"exec", "auth-provider"}) {
    if (YAML::Node n = (*user)[unsupported]; n && !n.IsNull() && cfg.token.empty() &&
                                             cfg.token_file.empty() &&
                                             cfg.client_cert_pem.empty()) {
      return Fail(path, u_where + "." + unsupported +
                            " is not supported; use a token, tokenFile or client certificate");
    }
  }
  return {};
}

Result<RestConfig> ParseImpl(const std::string& yaml, const std::string& path,
                             const std::string& context_override, const FileReader& files) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Fail(path, "not valid YAML (line " + std::to_string(e.mark.line + 1) + ", column " +
                          std::to_string(e.mark.column + 1) + "): " + e.msg);
  }
  if (!root || root.IsNull()) return Fail(path, "file is empty");
  if (!root.IsMap()) return Fail(path, "top level must be a mapping");

  std::string base_dir = DirOf(path);
  RestConfig cfg;
  cfg.source = path;

  std::string ctx_name = context_override;
  if (ctx_name.empty()) {
    auto cur = ScalarField(root, "current-context", "");
    if (!cur) return Fail(path, "current-context must be a string");
    ctx_name = *cur;
  }
  if (ctx_name.empty()) return Fail(path, "current-context is not set and no context was given");
  cfg.context = ctx_name;

  auto ctx = FindNamed(root, "contexts", "context", ctx_name, path);
  if (!ctx) return unexpected(ctx.error());
  const std::string ctx_where = "contexts[" + ctx_name + "].context";
  auto cluster_name = ScalarField(*ctx, "cluster", ctx_where);
  auto user_name = ScalarField(*ctx, "user", ctx_where);
  auto ns = ScalarField(*ctx, "namespace", ctx_where);
  if (!cluster_name) return Fail(path, cluster_name.error().message);
  if (!user_name) return Fail(path, user_name.error().message);
  if (!ns) return Fail(path, ns.error().message);
  if (cluster_name->empty()) return Fail(path, ctx_where + ".cluster is missing");
  cfg.namespace_ = *ns;

  if (auto ok = ReadCluster(root, *cluster_name, path, base_dir, files, cfg); !ok) {
    return unexpected(ok.error());
  }
  if (!user_name->empty()) {
    if (auto ok = ReadUser(root, *user_name, path, base_dir, files, cfg); !ok) {
      return unexpected(ok.error());
    }
  }
  return cfg;
}

}  // namespace

FileReader FileReader::Real() {
  return FileReader{[](const std::string& path) -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return unexpected(Error{std::strerror(errno)});
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return unexpected(Error{"read error"});
    return ss.str();
  }};
}

Result<RestConfig> ParseKubeconfig(const std::string& yaml, const std::string& path,
                                   const std::string& context_override, const FileReader& files) {
  try {
    return ParseImpl(yaml, path, context_override, files);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on type conversions of odd nodes; name the file.
    return Fail(path, std::string("unexpected structure: ") + e.what());
  }
}

Result<RestConfig> LoadKubeconfigFile(const std::string& path,
                                      const std::string& context_override) {
  auto content = FileReader::Real().read(path);
  if (!content) return Fail(path, "cannot read file: " + content.error().message);
  return ParseKubeconfig(*content, path, context_override);
}

EnvLookup RealEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<RestConfig> InClusterConfig(const EnvLookup& env, const FileReader& files,
                                   const std::string& sa_dir) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return unexpected(Error{
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"});
  }
  RestConfig cfg;
  std::string h = *host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  cfg.server = "https://" + h + ":" + *port;
  cfg.token_file = sa_dir + "/token";
  auto token = files.read(cfg.token_file);
  if (!token) {
    return unexpected(
        Error{"in-cluster config: cannot read " + cfg.token_file + ": " + token.error().message});
  }
  auto ca = files.read(sa_dir + "/ca.crt");
  if (!ca) {
    return unexpected(
        Error{"in-cluster config: cannot read " + sa_dir + "/ca.crt: " + ca.error().message});
  }
  cfg.ca_pem = *ca;
  cfg.ca_source = sa_dir + "/ca.crt";
  if (auto ns = files.read(sa_dir + "/namespace")) cfg.namespace_ = Trim(*ns);
  cfg.source = "in-cluster service account";
  cfg.server_field = "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT";
  cfg.user_field = cfg.token_file;
  return cfg;
}

Result<RestConfig> LoadDefault(const std::string& explicit_path,
                               const std::string& context_override, const EnvLookup& env) {
  if (!explicit_path.empty()) return LoadKubeconfigFile(explicit_path, context_override);
  if (auto kc = env("KUBECONFIG"); kc && !kc->empty()) {
    std::stringstream ss(*kc);
    std::string item;
    std::string first;
    while (std::getline(ss, item, ':')) {
      if (item.empty()) continue;
      if (first.empty()) first = item;
      std::ifstream probe(item);
      if (probe.good()) return LoadKubeconfigFile(item, context_override);
    }
    if (!first.empty()) return LoadKubeconfigFile(first, context_override);
  }
  if (env("KUBERNETES_SERVICE_HOST")) return InClusterConfig(env);
  auto home = env("HOME");
  if (!home) return unexpected(Error{"kubeconfig: no --kubeconfig, $KUBECONFIG or $HOME"});
  return LoadKubeconfigFile(*home + "/.kube/config", context_override);
}

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

Result<void> CheckPem(const std::string& pem, const std::string& what, bool is_key) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return unexpected(Error{what + ": out of memory"});
  if (is_key) {
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (key == nullptr) return unexpected(Error{what + " is not a PEM private key"});
    EVP_PKEY_free(key);
    return {};
  }
  X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) return unexpected(Error{what + " is not a PEM certificate"});
  X509_free(cert);
  return {};
}

}  // namespace

Result<void> ValidateTlsMaterial(const RestConfig& config) {
  const std::string where = "kubeconfig " + config.source + ": ";
  if (!config.ca_pem.empty()) {
    auto r =
        CheckPem(config.ca_pem, where + "certificate-authority (" + config.ca_source + ")", false);
    if (!r) return r;
  }
  if (!config.client_cert_pem.empty()) {
    auto r = CheckPem(config.client_cert_pem, where + "client-certificate", false);
    if (!r) return r;
    r = CheckPem(config.client_key_pem, where + "client-key", true);
    if (!r) return r;
  }
  return {};
}

TokenSource::TokenSource(const RestConfig& config, FileReader files, std::chrono::seconds recheck)
    : static_token_(config.token),
      file_(config.token_file),
      files_(std::move(files)),
      recheck_(recheck) {}

std::string TokenSource::token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_.empty()) return static_token_;
  auto now = std::chrono::steady_clock::now();
  if (!have_read_ || now - last_read_ >= recheck_) {
    if (auto content = files_.read(file_)) {
      cached_ = Trim(*content);
      have_read_ = true;
      last_read_ = now;
    }
  }
  return cached_.empty() ? static_token_ : cached_;
}

void TokenSource::invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  have_read_ = false;
}

std::optional<std::string> DecodeBase64(const std::string& in) {
  auto value = [](unsigned char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (unsigned char c : in) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (padding > 2) return std::nullopt;
  return out;
}

}  // namespace shardcast::kube
