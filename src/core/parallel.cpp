#include "core/parallel.h"

#include <sched.h>

#include <algorithm>
#include <thread>

// libgomp's ABI: what gcc emits for `#pragma omp parallel` (fn runs on every thread of the team).
extern "C" {
void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads, unsigned flags);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
int omp_get_max_threads(void);
void omp_set_num_threads(int n);
int omp_in_parallel(void);
}

namespace kiln {

int hardware_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int intra_op_threads() { return std::max(1, omp_get_max_threads()); }

void set_intra_op_threads(int n) { omp_set_num_threads(n >= 1 ? n : hardware_threads()); }

namespace {
struct Job {
  int64_t n;
  int64_t chunks;
  const std::function<void(int64_t, int64_t)>* fn;
};

void run_job(void* p) {
  const Job& job = *static_cast<const Job*>(p);
  const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
  // Chunk c of `chunks` covers [c*n/chunks, (c+1)*n/chunks); a smaller team takes several.
  for (int64_t c = me; c < job.chunks; c += team) {
    const int64_t begin = c * job.n / job.chunks, end = (c + 1) * job.n / job.chunks;
    if (begin < end) (*job.fn)(begin, end);
  }
}
}  // namespace

void parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t most = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
  const int64_t threads = std::min<int64_t>(intra_op_threads(), most);
  if (threads <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
  Job job{n, threads, &fn};
  GOMP_parallel(run_job, &job, static_cast<unsigned>(threads), 0);
}

}  // namespace kiln
