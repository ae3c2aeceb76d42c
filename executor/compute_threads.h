// Intra-op threads of this process: LibTorch's own pool and the BLAS
// library's. Debian's LibTorch calls the system BLAS; OpenBLAS (pthreads
// build) keeps its own thread pool, which at::set_num_threads does not touch
// and which starts with one thread per core. A profile measured with more BLAS
// threads than a rank has is not what the rank runs (executor/README.md gives
// the measurement), so every place that computes (ranks, profiler, co-run
// workers) sets both through here.
#pragma once

namespace pipekit {

// Sets LibTorch's intra-op threads and, when the process's BLAS is OpenBLAS or
// MKL (looked up at run time), the BLAS threads to n (at least 1).
void set_compute_threads(int n);

}  // namespace pipekit
