// The progress line of a long simulation on stderr: simulated cycles, simulated cycles per host second and, when
// the last cycle is known, the estimated time left. Rate-limited on host time (the first line after
// `first_seconds`, then at most one every `every_seconds`), so runs shorter than that print nothing. On a terminal
// the line is rewritten in place and cleared when the run returns; elsewhere each report is its own line.
#pragma once
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace wafersim::runtime {

class Progress {
 public:
  // `label` starts the line ("bench fabric"); `end` is the cycle the run stops at, if known (for the ETA).
  Progress(std::string label, std::optional<std::uint64_t> end, std::ostream& os, bool in_place,
           double first_seconds = 2.0, double every_seconds = 5.0);

  // The engine's report: `cycles` simulated so far; `running` false when a run returned. Reads the host clock.
  void report(std::uint64_t cycles, bool running);
  // The same with the host seconds since the first report given (what report() uses; tests call it directly).
  void report_at(std::uint64_t cycles, bool running, double seconds);

  // One line: "bench fabric: 1200000 cycles (60%), 410000 cycles/s, ETA 2 s".
  std::string line(std::uint64_t cycles, double seconds) const;
  int lines_printed() const { return printed_; }

 private:
  std::string label_;
  std::optional<std::uint64_t> end_;
  std::ostream& os_;
  bool in_place_;
  double every_;
  std::optional<std::chrono::steady_clock::time_point> start_;
  std::optional<std::uint64_t> start_cycles_;
  double next_ = 0;
  int printed_ = 0;
  bool line_open_ = false;  // in place: a line is shown and must be cleared
};

}  // namespace wafersim::runtime
