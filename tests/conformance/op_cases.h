// The op signatures the conformance suite runs on every backend, with input generators.
//
// To add a case: append to make_op_cases() in op_cases.cpp (an op kind, input descs and how to
// fill them, output descs, attrs). Shapes deliberately include sizes that are not multiples of
// vector widths or of the 128-element FP8 blocks.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "op_runner.h"

namespace fathom::test {

struct OpCase {
  std::string name;  // "matmul_bf16w_T7_K130_N33": what gtest prints
  OpCall call;       // inputs filled with fresh random data by instantiate()
  double tolerance;  // max |got − ref| allowed, relative to max |ref|
};

// Every case, with inputs drawn from a generator seeded by `seed` (fresh per run of the suite).
std::vector<OpCase> make_op_cases(uint64_t seed);

// A seed for this process's cases: FATHOM_CONFORMANCE_SEED when set (to replay a failure), else
// the clock.
uint64_t case_seed();

// got within tolerance × max|ref| of ref, element by element (NaN only where ref has NaN); on
// failure says where and by how much.
::testing::AssertionResult close_to_reference(const OpTensor& got, const OpTensor& ref, double tolerance);

// gtest parameters of a suite run on every plugin of the build but the reference: each other
// backend's name with each case index below n_cases.
std::vector<std::tuple<std::string, size_t>> backend_case_params(size_t n_cases);
// The test name for a case on a backend: "<backend>_<case>", anything but letters and digits
// turned to '_' (what gtest allows).
std::string backend_case_name(const std::string& backend, const std::string& case_name);

// Tolerance for an op whose least precise tensor has `dtype` (machine epsilon × a margin
// for reassociation; matmul-like reductions get more).
double tolerance_for(uint32_t dtype, bool reduction);

// Tolerance, relative to the largest output, for a product of FP8 block-scaled weights with f32
// activations that a backend may quantise to FP8 per 1×128 block first (the GPU tensor-core
// path). Rounding to e4m3 leaves each activation within 2^-4 of its value, about 3.6 % rms; over
// K terms the errors add as a random walk, so an output is off by some 3 % of the root-sum-square
// of its terms, the typical output's size. The largest error among a few thousand outputs, set
// against the largest output, came to 4.4 % over 150 seeds on the simulated GPU, so the bound
// is 8 %. A misplaced scale (the scales span 20×) is off by 40 % or more.
inline constexpr double kFp8QuantisedActivationTolerance = 0.08;

// The same for the product of two such outputs (SwiGLU's silu(gate) · up): their relative errors
// add in quadrature, √2 × 8 %.
inline constexpr double kFp8QuantisedPairTolerance = 0.12;

}  // namespace fathom::test
