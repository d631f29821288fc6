/* STREAM-like DRAM bandwidth, built and run by compare_llamacpp.py.
 * copy: b[i] = a[i] over arrays far larger than the last-level cache, counted as STREAM does
 * (bytes read + bytes written); read: an integer sum over one array (bytes read), the access
 * pattern of a GEMV over cold weights (integers so that the compiler may vectorise and reorder the
 * sum: a double sum in order would be bound by the add latency, not by memory). Best of N repeats, with OpenMP threads as given by OMP_NUM_THREADS.
 * usage: stream_copy MIB_PER_ARRAY REPEATS   -> prints "copy_gbs read_gbs threads" */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static double now(void) { return omp_get_wtime(); }

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
  const int repeats = argc > 2 ? atoi(argv[2]) : 5;
  const size_t n = mib * 1024 * 1024 / sizeof(double);
  double* a = aligned_alloc(64, n * sizeof(double));
  double* b = aligned_alloc(64, n * sizeof(double));
  if (!a || !b) return 1;
/* first touch by the threads that will read, and pages really allocated before timing */
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) { a[i] = (double)(i & 1023); b[i] = 0; }
  double best_copy = 1e30, best_read = 1e30, sink = 0;
  for (int r = 0; r < repeats; ++r) {
    double t0 = now();
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) b[i] = a[i];
    double t1 = now();
    unsigned long long sum = 0;
    const unsigned long long* bits = (const unsigned long long*)a;
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (size_t i = 0; i < n; ++i) sum += bits[i];
    double t2 = now();
    sink += (double)(sum & 1) + b[n / 2];
    if (t1 - t0 < best_copy) best_copy = t1 - t0;
    if (t2 - t1 < best_read) best_read = t2 - t1;
  }
  const double bytes = (double)n * sizeof(double);
  printf("%.3f %.3f %d\n", 2 * bytes / best_copy / 1e9, bytes / best_read / 1e9, omp_get_max_threads());
  if (sink < 0) puts("");  /* keeps the reads from being optimised away */
  free(a);
  free(b);
  return 0;
}
