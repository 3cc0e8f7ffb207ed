#pragma once

// Names the calling thread (Linux: at most 15 characters, longer names are cut), so that
// `top -H`, `ps -L`, perf and the benchmarks' per-thread CPU figures tell paddock's threads
// apart. Failure is harmless and ignored.

#include <pthread.h>

#include <string>

namespace paddock {

inline void NameThisThread(const char* name) {
  std::string cut(name);
  if (cut.size() > 15) cut.resize(15);
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace paddock
