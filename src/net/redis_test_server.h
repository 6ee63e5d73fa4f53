// A real redis-server (Debian's) on a free loopback port, for tests: started in the constructor,
// killed in the destructor, with Kill/Stop/Continue/Restart to stage outages. Test-only.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace brix::net::testing {

class RedisTestServer {
 public:
  RedisTestServer() : port_(FreePort()) { Start(); }
  ~RedisTestServer() { Kill(); }
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // Whether the server answered PING after starting (false: redis-server missing or broken).
  bool ready() const { return ready_; }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Stop() { ::kill(pid_, SIGSTOP); }  // hangs: connections stay open, nothing answers
  void Continue() { ::kill(pid_, SIGCONT); }
  // A new, empty server on the same port (scripts and counters are gone, as after a crash).
  void Restart() {
    Kill();
    Start();
  }

 private:
  static uint16_t FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  void Start() {
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      // Its log (startup banner, overcommit warning) would drown the test output.
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) ::dup2(null, STDOUT_FILENO);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr);
      ::_exit(127);
    }
    ready_ = false;
    for (int i = 0; i < 500 && !ready_; ++i) {  // up to 5 s
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ready_ = Ping();
    }
  }

  bool Ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port_);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      constexpr char kPing[] = "PING\r\n";
      char buf[16] = {};
      ok = ::write(fd, kPing, sizeof kPing - 1) == sizeof kPing - 1 && ::read(fd, buf, 7) > 0 &&
           std::string(buf).starts_with("+PONG");
    }
    ::close(fd);
    return ok;
  }

  uint16_t port_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace brix::net::testing
