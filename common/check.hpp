// WAFERSIM_CHECK(cond): an invariant the code relies on, checked in debug builds (no NDEBUG) and compiled out
// otherwise, so the hot loops of a release build pay nothing. A failed check aborts with the condition and place.
#pragma once
#ifdef NDEBUG
#define WAFERSIM_CHECK(cond) static_cast<void>(0)
#else
#include <cstdio>
#include <cstdlib>
#define WAFERSIM_CHECK(cond)                                                                          \
  ((cond) ? static_cast<void>(0)                                                                      \
          : (std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond), std::abort()))
#endif
