// Function qualifiers that let one header serve nvcc, hipcc and a plain C++ compiler.
//
// Device helpers that are pure arithmetic (number formats, YaRN frequencies) are marked
// FATHOM_HD so that the host-side unit tests can run the very code the kernels run, on a machine
// without a GPU. Nothing here includes a GPU runtime, except HIP's own header under hipcc.
#pragma once

#if defined(__HIPCC__)
#include <hip/hip_runtime.h>  // hipcc, unlike nvcc, does not include its runtime implicitly
#endif

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FATHOM_HD __host__ __device__ __forceinline__
#define FATHOM_DEVICE __device__ __forceinline__
#elif defined(FATHOM_GPU_SIM)  // the GPU simulator (tests/gpusim): device code is host code
#define FATHOM_HD inline
#define FATHOM_DEVICE inline
#else
#define FATHOM_HD inline
#endif

// __launch_bounds__ with a minimum of resident blocks per multiprocessor, which CUDA's second
// argument means; HIP's second argument means something else (waves per execution unit), so
// there only the block size is given.
#if defined(__HIPCC__)
#define FATHOM_LAUNCH_BOUNDS_MIN_BLOCKS(threads, min_blocks) __launch_bounds__(threads)
#else
#define FATHOM_LAUNCH_BOUNDS_MIN_BLOCKS(threads, min_blocks) __launch_bounds__(threads, min_blocks)
#endif
