#include "executor/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pipekit {
namespace {

std::vector<std::string> own_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start < all.size()) {
    std::size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    args.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

void stop_all(std::vector<pid_t>& pids) {
  for (pid_t p : pids)
    if (p > 0) kill(p, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (pid_t& p : pids) {
    while (p > 0) {
      int st = 0;
      pid_t r = waitpid(p, &st, WNOHANG);
      if (r == p || r < 0) {
        p = -1;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(p, SIGKILL);
        waitpid(p, &st, 0);
        p = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// The last step `rank` reported complete (0: none).
int last_step(const std::string& dir, int rank) {
  if (dir.empty()) return 0;
  std::ifstream in(dir + "/rank" + std::to_string(rank));
  int step = 0;
  in >> step;
  return step;
}

void report_failure(int rank, int status, const std::string& progress_dir) {
  if (WIFEXITED(status))
    std::fprintf(stderr, "pipekit: rank %d exited with status %d (last completed step %d)\n", rank,
                 WEXITSTATUS(status), last_step(progress_dir, rank));
  else if (WIFSIGNALED(status))
    std::fprintf(stderr, "pipekit: rank %d was killed by signal %d (%s) (last completed step %d)\n", rank,
                 WTERMSIG(status), strsignal(WTERMSIG(status)), last_step(progress_dir, rank));
}

}  // namespace

bool launched_by_pipekit() {
  const char* v = std::getenv("PIPEKIT_LAUNCHED");
  return v && std::string(v) == "1";
}

int free_local_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a socket to find a free port");
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

int launch_ranks(const LaunchOptions& o) {
  const std::vector<std::string> args = own_command_line();
  const int world = o.nproc * o.nnodes;
  const int port = o.master_port ? o.master_port : free_local_port();
  std::fflush(stdout);
  std::fflush(stderr);
  std::vector<pid_t> pids(o.nproc, -1);
  const pid_t parent = getpid();
  // Ranks record their last completed step here (see last_step()).
  char dir_template[] = "/tmp/pipekit-progress-XXXXXX";
  const char* made = mkdtemp(dir_template);
  const std::string progress_dir = made ? made : "";
  for (int local = 0; local < o.nproc; ++local) {
    const int rank = o.node_rank * o.nproc + local;
    pid_t pid = fork();
    if (pid < 0) {
      stop_all(pids);
      throw std::runtime_error("fork failed while starting rank " + std::to_string(rank));
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      const std::string th = std::to_string(o.threads);
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
      setenv("GROUP_RANK", std::to_string(o.node_rank).c_str(), 1);
      setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("OMP_NUM_THREADS", th.c_str(), 1);
      setenv("OPENBLAS_NUM_THREADS", th.c_str(), 1);
      setenv("MKL_NUM_THREADS", th.c_str(), 1);
      setenv("PIPEKIT_LAUNCHED", "1", 1);
      if (!progress_dir.empty()) setenv("PIPEKIT_PROGRESS_DIR", progress_dir.c_str(), 1);
      for (const auto& [name, value] : o.env) setenv(name.c_str(), value.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "pipekit: cannot start rank %d: exec failed\n", rank);
      _exit(127);
    }
    pids[local] = pid;
  }
  int remaining = o.nproc;
  struct Cleanup {
    std::string dir;
    int nproc, first;
    ~Cleanup() {
      if (dir.empty()) return;
      for (int r = first; r < first + nproc; ++r) {
        std::remove((dir + "/rank" + std::to_string(r)).c_str());
        std::remove((dir + "/rank" + std::to_string(r) + ".tmp").c_str());
      }
      rmdir(dir.c_str());
    }
  } cleanup{progress_dir, o.nproc, o.node_rank * o.nproc};
  while (remaining > 0) {
    int st = 0;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) break;
    int local = -1;
    for (int i = 0; i < o.nproc; ++i)
      if (pids[i] == pid) local = i;
    if (local < 0) continue;
    pids[local] = -1;
    --remaining;
    const int rank = o.node_rank * o.nproc + local;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    report_failure(rank, st, progress_dir);
    // A rank that died takes its neighbours down with communication errors a
    // moment later (or earlier, as waitpid sees them): name every rank that
    // has already failed, not just the first one reaped.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < until) {
      for (int i = 0; i < o.nproc; ++i) {
        if (pids[i] <= 0 || waitpid(pids[i], &st, WNOHANG) != pids[i]) continue;
        pids[i] = -1;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) continue;
        report_failure(o.node_rank * o.nproc + i, st, progress_dir);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 2) code = 2;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::fprintf(stderr, "pipekit: stopping the other ranks\n");
    stop_all(pids);
    return code;
  }
  return 0;
}

}  // namespace pipekit
