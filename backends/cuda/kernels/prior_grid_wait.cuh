// Whether this device's copy of the kernels waits for the prior grid (vendor/launch_mode.h).
#pragma once

namespace fathom::gpu {

// fathom_wait_prior_grid() is griddepcontrol.wait only in code compiled for compute capability
// 9.0 or later. A device that runs code from an older virtual architecture (a build for "80"
// on a Hopper, or the compute_80 PTX that the driver compiles for a GPU newer than the build's
// sm_90a) has no wait in its kernels, and must not launch them programmatically.
bool device_code_waits_for_prior_grid();

}  // namespace fathom::gpu
