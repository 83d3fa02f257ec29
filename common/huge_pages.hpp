// Backing the simulator's large state with 2 MiB pages. A paper-size fabric keeps hundreds of MiB of router,
// queue and agent state that every simulated cycle walks; with 4 KiB pages most of those walks miss the TLB.
// Debian's default transparent-huge-page mode is "madvise", so nothing gets huge pages unless asked for.
// This is a host-performance hint only: results never depend on it.
#pragma once
#include <cstddef>

namespace wafersim {

// Marks the process's heap and its private anonymous mappings of at least `min_bytes` as huge-page candidates
// (MADV_HUGEPAGE, so memory touched later gets 2 MiB pages) and collapses what is already there (MADV_COLLAPSE,
// Linux 6.1+). Kernels without support, or without free huge pages, leave memory as it is. Returns the bytes
// advised.
std::size_t back_large_memory_with_huge_pages(std::size_t min_bytes = std::size_t(8) << 20);

}  // namespace wafersim
