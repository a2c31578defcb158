#include "tests/testenv/controlplane.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

extern char** environ;

namespace shardcast::testenv {
namespace {

using Clock = std::chrono::steady_clock;

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

std::string Tail(const std::string& s, size_t n = 2000) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  return s.substr(i);
}

void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

}  // namespace

std::string CommandResult::describe() const {
  std::ostringstream os;
  os << (timed_out ? "timed out" : "exit " + std::to_string(exit_code));
  if (!err.empty()) os << ", stderr: " << Tail(Trim(err), 1500);
  if (!out.empty()) os << ", stdout: " << Tail(Trim(out), 500);
  return os.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result;
  if (argv.empty()) {
    result.err = "RunCommand: empty argv";
    return result;
  }
  IgnoreSigpipeOnce();

  // Everything the child needs is prepared before fork().
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.env) env[k] = v;
  std::vector<std::string> env_strings;
  env_strings.reserve(env.size());
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = std::string("RunCommand: pipe: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    result.err = std::string("RunCommand: fork: ") + std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // own process group, so a timeout kills the whole tree
    ::dup2(in_pipe[0], 0);
    if (options.passthrough) {
      ::dup2(2, 1);
    } else {
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
    }
    ::execvpe(cargv[0], cargv.data(), envp.data());
    const char msg[] = "RunCommand: exec failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  int in_fd = in_pipe[1];
  size_t written = 0;
  if (options.stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  if (options.passthrough) {
    // Nothing is captured; the (unused) pipes still give EOF once the child
    // and everything it spawned with inherited descriptors are gone. Only
    // wait for the child itself.
    ::close(out_fd);
    ::close(err_fd);
    out_fd = err_fd = -1;
  }
  const auto deadline = Clock::now() + options.timeout;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      break;
    }
    std::vector<pollfd> fds;
    if (in_fd >= 0) fds.push_back({in_fd, POLLOUT, 0});
    if (out_fd >= 0) fds.push_back({out_fd, POLLIN, 0});
    if (err_fd >= 0) fds.push_back({err_fd, POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in_fd) {
        ssize_t w = ::write(in_fd, options.stdin_data.data() + written,
                            options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = options.stdin_data.size();
        if (written >= options.stdin_data.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = ::read(p.fd, buf, sizeof buf);
      if (r > 0) {
        (p.fd == out_fd ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(p.fd);
        if (p.fd == out_fd)
          out_fd = -1;
        else
          err_fd = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) ::close(fd);
  }
  int status = 0;
  if (options.passthrough && !result.timed_out) {
    // Poll for the child's exit so the timeout still applies.
    while (true) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!options.passthrough || result.timed_out) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.exit_code = 128 + WTERMSIG(status);
  if (result.timed_out) {
    result.err += "\n[RunCommand: killed after " + std::to_string(options.timeout.count()) +
                  "ms: " + argv[0] + "]";
  }
  return result;
}

::testing::AssertionResult WaitFor(const std::function<bool()>& predicate,
                                   std::chrono::milliseconds timeout,
                                   const std::string& description,
                                   std::chrono::milliseconds interval) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  while (true) {
    if (predicate()) return ::testing::AssertionSuccess();
    auto now = Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - now));
  }
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return ::testing::AssertionFailure()
         << "timed out after " << waited << "ms waiting for: " << description;
}

// ---------------------------------------------------------------------------

std::string ControlPlane::SourceDir() {
#ifdef SHARDCAST_SOURCE_DIR_DEFAULT
  return EnvOr("SHARDCAST_SOURCE_DIR", SHARDCAST_SOURCE_DIR_DEFAULT);
#else
  return EnvOr("SHARDCAST_SOURCE_DIR", ".");
#endif
}

ControlPlane& ControlPlane::Shared() {
  static ControlPlane instance;
  return instance;
}

ControlPlane::ControlPlane() { start(); }

ControlPlane::~ControlPlane() { stop(); }

CommandResult ControlPlane::script(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout, bool passthrough) const {
  std::vector<std::string> argv{"bash", SourceDir() + "/hack/controlplane.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions opts;
  opts.timeout = timeout;
  opts.passthrough = passthrough;
  if (!state_dir_.empty()) opts.env["SHARDCAST_CP_DIR"] = state_dir_;
  return RunCommand(argv, opts);
}

void ControlPlane::start() {
  const std::string reuse = EnvOr("SHARDCAST_TEST_KUBECONFIG", "");
  if (!reuse.empty()) {
    kubeconfig_ = reuse;
    state_dir_ = EnvOr("SHARDCAST_CP_DIR", "");
    if (state_dir_.empty()) {
      auto dir = std::filesystem::path(reuse).parent_path();
      if (std::filesystem::exists(dir / "ports.env")) state_dir_ = dir.string();
    }
    if (!std::filesystem::exists(kubeconfig_)) {
      startup_error_ = "SHARDCAST_TEST_KUBECONFIG names a missing file: " + kubeconfig_;
      return;
    }
    auto v = ServerVersion();
    if (!v)
      startup_error_ =
          "cluster from SHARDCAST_TEST_KUBECONFIG is not reachable: " + v.error().message;
    return;
  }

  std::string tmpl = "/tmp/shardcast-cp-" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    startup_error_ = std::string("mkdtemp failed: ") + std::strerror(errno);
    return;
  }
  state_dir_ = tmpl;
  kubeconfig_ = state_dir_ + "/kubeconfig";
  owned_ = true;

  // Watchdog: stops the control plane if this process dies without running
  // its exit handlers (crash, SIGKILL from a test timeout).
  const std::string script_path = SourceDir() + "/hack/controlplane.sh";
  const std::string self = std::to_string(::getpid());
  pid_t w = ::fork();
  if (w == 0) {
    ::setsid();
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execlp("bash", "bash", "-c",
             "while kill -0 \"$0\" 2>/dev/null; do sleep 2; done; "
             "if [ -d \"$1\" ] && [ ! -e \"$1/.testenv-stopped\" ]; then "
             "SHARDCAST_CP_DIR=\"$1\" bash \"$2\" stop; rm -rf \"$1\"; fi",
             self.c_str(), state_dir_.c_str(), script_path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }

  std::cerr << "[testenv] building (cached after the first time) and starting the control plane in "
            << state_dir_ << std::endl;
  const auto t0 = Clock::now();
  auto build = script({"build"}, std::chrono::minutes(60), /*passthrough=*/true);
  if (!build.ok()) {
    startup_error_ = "hack/controlplane.sh build failed (output above): " + build.describe();
    return;
  }
  auto up = script({"start"}, std::chrono::minutes(10), /*passthrough=*/true);
  if (!up.ok()) {
    startup_error_ = "hack/controlplane.sh start failed (output above; logs in " + state_dir_ +
                     "/logs): " + up.describe();
    return;
  }
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t0).count();
  std::cerr << "[testenv] control plane ready in " << secs << "s; KUBECONFIG=" << kubeconfig_
            << std::endl;
}

void ControlPlane::stop() {
  if (!owned_ || state_dir_.empty()) return;
  auto r = script({"stop"}, std::chrono::minutes(2));
  {
    std::ofstream marker(state_dir_ + "/.testenv-stopped");  // tells the watchdog we are done
  }
  if (!r.ok())
    std::cerr << "[testenv] hack/controlplane.sh stop failed: " << r.describe() << std::endl;
  bool keep = !EnvOr("SHARDCAST_TEST_KEEP_CP_DIR", "").empty();
  if (!keep && ::testing::UnitTest::GetInstance()->Failed()) keep = true;
  if (keep) {
    std::cerr << "[testenv] kept control plane state (logs) in " << state_dir_ << std::endl;
  } else {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
  owned_ = false;
}

CommandResult ControlPlane::Kubectl(const std::vector<std::string>& args,
                                    const std::string& stdin_data,
                                    std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{EnvOr("KUBECTL", "/usr/bin/kubectl"),
                                "--kubeconfig=" + kubeconfig_};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions opts;
  opts.stdin_data = stdin_data;
  opts.timeout = timeout;
  return RunCommand(argv, opts);
}

Result<void> ControlPlane::RestartApiserver() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_dir_.empty()) {
    return unexpected(
        Error{"restartApiserver: no control plane state dir (set SHARDCAST_CP_DIR with "
              "SHARDCAST_TEST_KUBECONFIG)"});
  }
  auto r = script({"restart-apiserver"}, std::chrono::minutes(3));
  if (!r.ok()) return unexpected(Error{"hack/controlplane.sh restart-apiserver: " + r.describe()});
  return {};
}

Result<long long> ControlPlane::CompactEtcd() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_dir_.empty()) {
    return unexpected(
        Error{"compactEtcd: no control plane state dir (set SHARDCAST_CP_DIR with "
              "SHARDCAST_TEST_KUBECONFIG)"});
  }
  auto r = script({"compact"}, std::chrono::minutes(2));
  if (!r.ok()) return unexpected(Error{"hack/controlplane.sh compact: " + r.describe()});
  std::string line = Trim(r.out);
  auto nl = line.rfind('\n');
  if (nl != std::string::npos) line = line.substr(nl + 1);
  try {
    size_t used = 0;
    long long rev = std::stoll(line, &used);
    if (used != line.size() || rev <= 0) throw std::invalid_argument(line);
    return rev;
  } catch (const std::exception&) {
    return unexpected(Error{"hack/controlplane.sh compact printed no revision: '" + line + "'"});
  }
}

std::string ControlPlane::HelmPath() const {
  const std::string from_env = EnvOr("SHARDCAST_HELM", "");
  if (!from_env.empty()) return from_env;
  auto r = script({"bin-path", "helm"}, std::chrono::minutes(1));
  return r.ok() ? Trim(r.out) : std::string();
}

Result<std::string> ControlPlane::ServerVersion() const {
  auto r = Kubectl({"get", "--raw", "/version"}, "", std::chrono::seconds(30));
  if (!r.ok()) return unexpected(Error{"kubectl get --raw /version: " + r.describe()});
  try {
    auto j = nlohmann::json::parse(r.out);
    if (!j.contains("gitVersion") || !j["gitVersion"].is_string()) {
      return unexpected(Error{"/version: field 'gitVersion' missing in " + Tail(r.out, 300)});
    }
    return j["gitVersion"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return unexpected(Error{std::string("/version: invalid JSON: ") + e.what()});
  }
}

void ControlPlaneEnvironment::SetUp() {
  auto& cp = ControlPlane::Shared();
  if (!cp.ready()) {
    FAIL() << "[testenv] control plane unavailable: " << cp.startup_error();
  }
  auto v = cp.ServerVersion();
  if (!v) {
    FAIL() << "[testenv] " << v.error().message;
  }
  std::cout << "[testenv] kube-apiserver gitVersion " << *v << " (kubeconfig "
            << cp.kubeconfig_path() << (cp.owned() ? ", started by this test binary" : ", reused")
            << ")" << std::endl;
}

void InstallControlPlaneEnvironment() {
  ::testing::AddGlobalTestEnvironment(new ControlPlaneEnvironment);
}

}  // namespace shardcast::testenv
