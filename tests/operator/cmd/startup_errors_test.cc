// `shardcast run` on bad input: each case exits non-zero with one line that
// names the file and the field, and never crashes. Cases that need a live
// server (wrong CA, bad token) use the real local control plane.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "operator/kube/kubeconfig.h"
#include "tests/testenv/controlplane.h"

namespace {

using shardcast::testenv::ControlPlane;
using shardcast::testenv::RunCommand;
namespace fs = std::filesystem;

class StartupErrorsIT : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ControlPlane::Shared().ready()) << ControlPlane::Shared().startup_error();
    dir_ = fs::temp_directory_path() / ("shardcast-startup-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    auto cfg = shardcast::kube::LoadKubeconfigFile(ControlPlane::Shared().kubeconfig_path());
    ASSERT_TRUE(cfg) << cfg.error().message;
    admin_ = *cfg;
    write("ca.crt", admin_.ca_pem);
    write("admin.crt", admin_.client_cert_pem);
    write("admin.key", admin_.client_key_pem);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }
  std::string kubeconfig(const std::string& name, const std::string& server, const std::string& ca,
                         const std::string& user_block) {
    return write(name,
                 "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                 "clusters:\n- name: local\n  cluster:\n    server: " +
                     server + "\n    certificate-authority: " + ca +
                     "\ncontexts:\n- name: c\n  context: {cluster: local, user: u}\n"
                     "users:\n- name: u\n  user:\n" +
                     user_block);
  }
  std::string CertUser() const {
    return "    client-certificate: " + (dir_ / "admin.crt").string() +
           "\n    client-key: " + (dir_ / "admin.key").string() + "\n";
  }
  // Runs the operator; returns {exit code, stderr}.
  shardcast::testenv::CommandResult run(const std::string& kubeconfig_path) {
    shardcast::testenv::CommandOptions o;
    o.timeout = std::chrono::seconds(60);
    return RunCommand({SHARDCAST_BINARY, "run", "--kubeconfig", kubeconfig_path,
                       "--metrics-bind-address", "", "--health-probe-bind-address", ""},
                      o);
  }
  static void ExpectOneLine(const shardcast::testenv::CommandResult& r,
                            const std::vector<std::string>& fragments) {
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.exit_code, 0) << r.describe();
    EXPECT_LT(r.exit_code, 128) << "killed by a signal: " << r.describe();
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    EXPECT_EQ(err.find('\n'), std::string::npos) << "one line only:\n" << r.err;
    for (const auto& f : fragments)
      EXPECT_NE(err.find(f), std::string::npos) << f << " in: " << err;
  }

  fs::path dir_;
  shardcast::kube::RestConfig admin_;
};

TEST_F(StartupErrorsIT, MalformedKubeconfig) {
  std::string p = write("malformed", "apiVersion: v1\nclusters: [ {name: x\n");
  ExpectOneLine(run(p), {p, "not valid YAML", "line"});
}

TEST_F(StartupErrorsIT, MissingCertificateFile) {
  std::string p = kubeconfig("missing-cert", admin_.server, (dir_ / "ca.crt").string(),
                             "    client-certificate: /nonexistent/admin.crt\n"
                             "    client-key: " +
                                 (dir_ / "admin.key").string() + "\n");
  ExpectOneLine(run(p), {p, "users[u].user.client-certificate", "/nonexistent/admin.crt"});
}

TEST_F(StartupErrorsIT, WrongCertificateAuthority) {
  std::string other_ca = (dir_ / "other-ca.crt").string();
  auto gen = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                         "-subj", "/CN=not-the-cluster-ca", "-keyout",
                         (dir_ / "other-ca.key").string(), "-out", other_ca});
  ASSERT_TRUE(gen.ok()) << gen.describe();
  std::string p = kubeconfig("wrong-ca", admin_.server, other_ca, CertUser());
  ExpectOneLine(run(p), {p, other_ca, "TLS"});
}

TEST_F(StartupErrorsIT, BadToken) {
  std::string p = kubeconfig("bad-token", admin_.server, (dir_ / "ca.crt").string(),
                             "    token: not-a-valid-token\n");
  ExpectOneLine(run(p), {p, "users[u].user", "401"});
}

TEST_F(StartupErrorsIT, ApiServerDownAtStart) {
  std::string p = kubeconfig("down", "https://127.0.0.1:1", (dir_ / "ca.crt").string(), CertUser());
  ExpectOneLine(run(p), {p, "clusters[local].cluster.server", "https://127.0.0.1:1"});
}

TEST_F(StartupErrorsIT, GoodKubeconfigStartsAndStopsOnSigterm) {
  std::string p = kubeconfig("good", admin_.server, (dir_ / "ca.crt").string(), CertUser());
  ASSERT_TRUE(ControlPlane::Shared()
                  .Kubectl({"apply", "--server-side", "-f", ControlPlane::SourceDir() + "/crds/"})
                  .ok());
  // The operator runs until SIGTERM; `timeout -s TERM` delivers it after a
  // few seconds, and a clean shutdown exits 0.
  auto r = RunCommand({"timeout", "--preserve-status", "-s", "TERM", "8", SHARDCAST_BINARY, "run",
                       "--kubeconfig", p, "--metrics-bind-address", "127.0.0.1:0",
                       "--health-probe-bind-address", ""});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_NE(r.err.find("shut down cleanly"), std::string::npos) << r.err;
}

}  // namespace
