// Intra-op parallelism for kiln's own CPU kernels, on the same OpenMP thread pool oneDNN uses.
//
// Why OpenMP's pool and not one of our own: Debian's oneDNN is built against libgomp, and two
// pools of busy-waiting threads on the same cores (ours and oneDNN's) slow both down. We call
// libgomp's entry point directly (GOMP_parallel, its stable ABI) instead of compiling with
// -fopenmp, so the same code works under gcc and clang (whose -fopenmp would bring a second
// runtime, libomp).
//
// The thread count is per calling thread, as OpenMP's is: set_intra_op_threads(n) on a thread
// applies to the parallel_for calls and the oneDNN primitives that thread runs afterwards.
#pragma once

#include <cstdint>
#include <functional>

namespace kiln {

// Threads a parallel_for (and oneDNN) started from this thread uses.
int intra_op_threads();
// n >= 1: use n threads from this thread on; 0: all cores (the default).
void set_intra_op_threads(int n);
// Cores this process may run on.
int hardware_threads();

// Runs fn(begin, end) over [0, n) in contiguous chunks of at least `min_chunk` items (the amount
// of work worth a thread), one chunk per thread; runs inline when one chunk covers it or when
// already inside a parallel region. fn must not throw.
void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace kiln
