// Runs a kernel's grid on the calling thread (executor.cpp).
#pragma once

#include <functional>
#include <string>

#include "gpusim/runtime.h"

namespace fathom::gpusim {

// Runs `body` once per GPU thread of the grid. Returns an empty string, or why the grid could
// not run to the end (e.g. a deadlock at a barrier), naming the block and thread. With
// `programmatic`, a thread that reaches a barrier, a shuffle or its end without having called
// fathom_wait_prior_grid() fails the grid: on a GPU it could have run before the kernel it
// depends on had finished.
std::string run_grid(dim3 grid, dim3 block, int warp_size, bool programmatic, const std::function<void()>& body);

// Runs threads and blocks in reverse order from now on (or forward again); the default comes
// from FATHOM_GPUSIM_ORDER. For the simulator's own tests.
void set_reverse_order(bool reverse);

// "block (x,y,z) thread (x,y,z) of a grid (..) of blocks (..)" while a kernel runs on this host
// thread, else "outside a kernel": for the fault message of device_memory.cpp.
std::string current_thread_description();

}  // namespace fathom::gpusim
