#include "operator/kube/kubeconfig.h"

#include <gtest/gtest.h>

#include <map>

namespace shardcast::kube {
namespace {

// In-memory files for the parser.
struct FakeFiles {
  std::map<std::string, std::string> files;
  FileReader reader() {
    return FileReader{[this](const std::string& p) -> Result<std::string> {
      auto it = files.find(p);
      if (it == files.end()) return unexpected(Error{"No such file or directory"});
      return it->second;
    }};
  }
};

constexpr const char* kMulti = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    certificate-authority-data: UFJPRENB
- name: dev
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes
contexts:
- name: prod
  context: {cluster: prod, user: robot, namespace: kube-system}
- name: dev
  context: {cluster: dev, user: admin, namespace: team-a}
users:
- name: admin
  user:
    client-certificate: /abs/admin.crt
    client-key: certs/admin.key
- name: robot
  user:
    token: s3cr3t
)";

TEST(KubeconfigTest, CurrentContextPicksClusterUserAndNamespace) {
  FakeFiles fs;
  fs.files["/home/u/.kube/certs/ca.crt"] = "CA-PEM";
  fs.files["/abs/admin.crt"] = "CERT-PEM";
  fs.files["/home/u/.kube/certs/admin.key"] = "KEY-PEM";
  auto cfg = ParseKubeconfig(kMulti, "/home/u/.kube/config", "", fs.reader());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");  // trailing slash trimmed
  EXPECT_EQ(cfg->ca_pem, "CA-PEM");                  // relative to the file's directory
  EXPECT_EQ(cfg->ca_source, "/home/u/.kube/certs/ca.crt");
  EXPECT_EQ(cfg->client_cert_pem, "CERT-PEM");
  EXPECT_EQ(cfg->client_key_pem, "KEY-PEM");
  EXPECT_EQ(cfg->namespace_, "team-a");
  EXPECT_EQ(cfg->tls_server_name, "kubernetes");
  EXPECT_FALSE(cfg->insecure_skip_tls_verify);
  EXPECT_EQ(cfg->context, "dev");
}

TEST(KubeconfigTest, ContextOverrideAndInlineData) {
  FakeFiles fs;
  auto cfg = ParseKubeconfig(kMulti, "/k", "prod", fs.reader());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server, "https://prod.example:6443");
  EXPECT_EQ(cfg->ca_pem, "PRODCA");  // base64 of certificate-authority-data
  EXPECT_EQ(cfg->token, "s3cr3t");
  EXPECT_EQ(cfg->namespace_, "kube-system");
}

TEST(KubeconfigTest, ClientCertAndKeyData) {
  const char* y = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}}]
)";
  auto cfg = ParseKubeconfig(y, "/k", "", FakeFiles{}.reader());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->client_cert_pem, "CERT");
  EXPECT_EQ(cfg->client_key_pem, "KEY");
  EXPECT_TRUE(cfg->insecure_skip_tls_verify);  // only because the file says so
}

TEST(KubeconfigTest, TokenFileIsReadAndRotates) {
  FakeFiles fs;
  fs.files["/var/tok"] = "first\n";
  const char* y = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://h:1"}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {tokenFile: /var/tok}}]
)";
  auto cfg = ParseKubeconfig(y, "/k", "", fs.reader());
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->token_file, "/var/tok");
  TokenSource tokens(*cfg, fs.reader(), std::chrono::seconds(3600));
  EXPECT_EQ(tokens.token(), "first");
  fs.files["/var/tok"] = "second";
  EXPECT_EQ(tokens.token(), "first");  // cached until recheck or invalidate
  tokens.invalidate();
  EXPECT_EQ(tokens.token(), "second");
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* expected_fragment;
};

class KubeconfigBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(KubeconfigBadInputTest, ErrorNamesFileAndField) {
  FakeFiles fs;
  auto cfg = ParseKubeconfig(GetParam().yaml, "/etc/kc.yaml", "", fs.reader());
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("/etc/kc.yaml"), std::string::npos) << cfg.error().message;
  EXPECT_NE(cfg.error().message.find(GetParam().expected_fragment), std::string::npos)
      << cfg.error().message;
  EXPECT_EQ(cfg.error().message.find('\n'), std::string::npos) << "one line";
}

INSTANTIATE_TEST_SUITE_P(
    All, KubeconfigBadInputTest,
    ::testing::Values(
        BadCase{"not_yaml", "a: [b", "not valid YAML"}, BadCase{"empty", "", "file is empty"},
        BadCase{"scalar", "hello", "top level must be a mapping"},
        BadCase{"no_current", "clusters: []", "current-context is not set"},
        BadCase{"missing_context", "current-context: x\ncontexts: []", "no entry named 'x'"},
        BadCase{"contexts_not_list", "current-context: x\ncontexts: {a: 1}",
                "'contexts' must be a list"},
        BadCase{"no_server",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {}}]",
                "clusters[k].cluster.server is missing"},
        BadCase{"bad_scheme",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: ftp://x}}]",
                "must start with https://"},
        BadCase{"missing_ca_file",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority: "
                "/nope/ca.crt}}]",
                "certificate-authority: cannot read /nope/ca.crt"},
        BadCase{"bad_base64",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x', "
                "certificate-authority-data: '!!!'}}]",
                "certificate-authority-data is not valid base64"},
        BadCase{"bad_bool",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x', "
                "insecure-skip-tls-verify: maybe}}]",
                "insecure-skip-tls-verify must be true or false"},
        BadCase{"missing_user",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x'}}]\nusers: []",
                "users: no entry named 'u'"},
        BadCase{"cert_without_key",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                "users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]",
                "client-certificate and client-key must be given together"},
        BadCase{"missing_token_file",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
                "clusters: [{name: k, cluster: {server: 'https://x'}}]\n"
                "users: [{name: u, user: {tokenFile: /no/token}}]",
                "tokenFile: cannot read /no/token"},
        BadCase{"server_not_string",
                "current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
                "clusters: [{name: k, cluster: {server: [1, 2]}}]",
                "server must be a string"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(KubeconfigTest, InClusterReadsServiceAccount) {
  FakeFiles fs;
  fs.files["/sa/token"] = "tok";
  fs.files["/sa/ca.crt"] = "CA";
  fs.files["/sa/namespace"] = "ops\n";
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}};
  auto lookup = [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto cfg = InClusterConfig(lookup, fs.reader(), "/sa");
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(cfg->server, "https://10.0.0.1:443");
  EXPECT_EQ(cfg->ca_pem, "CA");
  EXPECT_EQ(cfg->token_file, "/sa/token");
  EXPECT_EQ(cfg->namespace_, "ops");

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  auto v6 = InClusterConfig(lookup, fs.reader(), "/sa");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");

  env.erase("KUBERNETES_SERVICE_PORT");
  auto missing = InClusterConfig(lookup, fs.reader(), "/sa");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("KUBERNETES_SERVICE_PORT"), std::string::npos);
}

TEST(KubeconfigTest, ValidateTlsMaterialNamesTheBadPart) {
  RestConfig cfg;
  cfg.source = "/k";
  cfg.ca_pem = "not a certificate";
  cfg.ca_source = "/etc/ca.crt";
  auto r = ValidateTlsMaterial(cfg);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/etc/ca.crt"), std::string::npos) << r.error().message;
}

TEST(Base64Test, DecodesStandardAndUrlAlphabets) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), std::optional<std::string>("hello"));
  EXPECT_EQ(DecodeBase64("aGVs\nbG8"), std::optional<std::string>("hello"));
  EXPECT_EQ(DecodeBase64("-_8="), DecodeBase64("+/8="));
  EXPECT_FALSE(DecodeBase64("a=b"));
  EXPECT_FALSE(DecodeBase64("*"));
}

}  // namespace
}  // namespace shardcast::kube
