#include "common/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1 (asm-generic/mman-common.h)
#endif

namespace wafersim {

std::size_t back_large_memory_with_huge_pages(std::size_t min_bytes) {
  constexpr std::uintptr_t kHuge = std::uintptr_t(2) << 20;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t advised = 0;
  while (std::getline(maps, line)) {
    // "start-end perms offset dev inode [path]": private writable memory that is not a file.
    std::istringstream in(line);
    std::string range, perms, offset, dev, path;
    unsigned long inode = 0;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in >> std::ws, path);
    if (perms != "rw-p" || inode != 0 || !(path.empty() || path == "[heap]")) continue;
    const std::size_t dash = range.find('-');
    const std::uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    const std::uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    const std::uintptr_t lo = (start + kHuge - 1) & ~(kHuge - 1), hi = end & ~(kHuge - 1);
    if (hi <= lo || hi - lo < min_bytes) continue;
    void* p = reinterpret_cast<void*>(lo);
    if (::madvise(p, hi - lo, MADV_HUGEPAGE) != 0) continue;
    ::madvise(p, hi - lo, MADV_COLLAPSE);  // best effort
    advised += hi - lo;
  }
  return advised;
}

}  // namespace wafersim
