#include "executor/compute_threads.h"

#include <dlfcn.h>

#include <ATen/Parallel.h>

#include <algorithm>

namespace pipekit {

void set_compute_threads(int n) {
  n = std::max(1, n);
  at::set_num_threads(n);
  // Symbols of whichever BLAS is loaded; absent ones are simply not there.
  using SetInt = void (*)(int);
  for (const char* name : {"openblas_set_num_threads", "goto_set_num_threads", "MKL_Set_Num_Threads"})
    if (auto f = reinterpret_cast<SetInt>(dlsym(RTLD_DEFAULT, name))) f(n);
}

}  // namespace pipekit
