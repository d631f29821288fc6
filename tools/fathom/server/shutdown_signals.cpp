#include "server/shutdown_signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace fathom::server {

namespace {

sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

ShutdownSignals::ShutdownSignals() {
  signal(SIGPIPE, SIG_IGN);
  const sigset_t set = shutdown_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  watcher_ = std::thread([this] { watch(); });
}

ShutdownSignals::~ShutdownSignals() {
  finish();
  const sigset_t set = shutdown_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void ShutdownSignals::finish() {
  done_ = true;
  if (watcher_.joinable()) watcher_.join();
}

void ShutdownSignals::on_signal(std::function<void()> action) {
  std::lock_guard lock(mutex_);
  action_ = std::move(action);
}

void ShutdownSignals::watch() {
  const sigset_t set = shutdown_set();
  // A short timeout so that the destructor can end the watch without sending a signal.
  const timespec poll{0, 200'000'000};
  while (!done_) {
    const int sig = sigtimedwait(&set, nullptr, &poll);
    if (sig < 0) continue;
    std::function<void()> action;
    {
      std::lock_guard lock(mutex_);
      action = action_;
    }
    if (!action) {
      std::fprintf(stderr, "fathom: interrupted\n");
      std::_Exit(130);
    }
    std::fprintf(stderr, "fathom: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    action();
    return;
  }
}

}  // namespace fathom::server
