// Programmatic dependent launch (PDL, compute capability 9.0 and later): the per-thread switch
// that FATHOM_LAUNCH reads.
//
// A kernel normally starts only when the kernel before it in the stream has finished and its
// writes are flushed; between the two the multiprocessors idle for the launch latency, a few
// microseconds even when replayed from a CUDA graph. A decode step of a small MoE model is
// hundreds of short kernels, so those gaps are a large part of it. Launched programmatically, a
// kernel's blocks may be scheduled as soon as every block of the kernel before it has started,
// and wait on the device (griddepcontrol.wait) until that kernel has finished instead.
//
// The contract that makes this safe: every kernel of the shared sources calls
// fathom_wait_prior_grid() as its first statement, before it reads or writes global memory
// (the GPU simulator fails a programmatic launch of a kernel whose threads do not). Host code
// turns the switch on around the launches of one run (Executable::launch_all) when the options
// and the device allow it: compute capability 9.0 or later, running code compiled for it (the
// wait is griddepcontrol.wait there and nothing in older code; kernels/prior_grid_wait.cuh).
// Launches outside such a scope are ordinary.
#pragma once

namespace fathom::gpu {

inline bool& programmatic_launch_flag() {
  static thread_local bool on = false;
  return on;
}

// Whether FATHOM_LAUNCH on this thread launches programmatically now.
inline bool programmatic_launch() { return programmatic_launch_flag(); }

// Launches on this thread are programmatic (or not) while the scope lives.
class ProgrammaticLaunchScope {
 public:
  explicit ProgrammaticLaunchScope(bool on) : previous_(programmatic_launch_flag()) { programmatic_launch_flag() = on; }
  ~ProgrammaticLaunchScope() { programmatic_launch_flag() = previous_; }
  ProgrammaticLaunchScope(const ProgrammaticLaunchScope&) = delete;
  ProgrammaticLaunchScope& operator=(const ProgrammaticLaunchScope&) = delete;

 private:
  bool previous_;
};

}  // namespace fathom::gpu
