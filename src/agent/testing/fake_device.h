// Test helper: a fake LAN device (rigshift-fake-asic, rigshift-fake-pdu) as a child process on a
// loopback port. Start() runs the program with its output in a log file and waits for its first
// line, "... listening on 127.0.0.1:PORT pid N"; the destructor stops it (SIGTERM, then SIGKILL)
// and reaps it. One thread drives it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace rigshift::testing {

class FakeDevice {
 public:
  // nullptr, with `error` set to why (and the log), when it does not start listening in 5 s.
  static std::unique_ptr<FakeDevice> Start(const std::vector<std::string>& argv, const std::filesystem::path& log,
                                           std::string* error) {
    std::filesystem::remove(log);
    pid_t pid = fork();
    if (pid < 0) {
      *error = "fork failed";
      return nullptr;
    }
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    std::unique_ptr<FakeDevice> d(new FakeDevice(pid, log));
    static const std::regex kListening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    for (int i = 0; i < 500; ++i) {
      std::smatch m;
      std::string text = d->Log();
      if (std::regex_search(text, m, kListening)) {
        d->port_ = std::stoi(m[1]);
        return d;
      }
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        d->pid_ = -1;
        *error = "exited before listening: " + text;
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    *error = "not listening after 5 s: " + d->Log();
    return nullptr;
  }

  FakeDevice(const FakeDevice&) = delete;
  FakeDevice& operator=(const FakeDevice&) = delete;
  ~FakeDevice() { Stop(); }

  uint16_t port() const { return static_cast<uint16_t>(port_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Everything the device has printed so far.
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Lines of the log that contain `needle`.
  int CountInLog(const std::string& needle) const {
    std::istringstream in(Log());
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  FakeDevice(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}

  pid_t pid_;
  std::filesystem::path log_;
  int port_ = 0;
};

}  // namespace rigshift::testing
