// SIGINT and SIGTERM for a server: blocked in every thread (threads started later inherit the
// mask) and received by one watcher thread, which runs the shutdown in ordinary code instead
// of a signal handler. SIGPIPE is ignored: a client that closes its socket must fail a write,
// not end the process.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

namespace fathom::server {

class ShutdownSignals {
 public:
  // Call before starting other threads.
  ShutdownSignals();
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // What to do at the first signal (on the watcher thread). Until it is set there is nothing
  // to shut down cleanly, and a signal ends the process at once with status 130.
  void on_signal(std::function<void()> action);
  // Stops watching; waits for an action in progress to return. Called by the destructor too.
  void finish();

 private:
  void watch();

  std::mutex mutex_;
  std::function<void()> action_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace fathom::server
