#include "runtime/progress.hpp"

#include <cmath>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace wafersim::runtime {

Progress::Progress(std::string label, std::optional<std::uint64_t> end, std::ostream& os, bool in_place,
                   double first_seconds, double every_seconds)
    : label_(std::move(label)), end_(end), os_(os), in_place_(in_place), every_(every_seconds), next_(first_seconds) {}

void Progress::report(std::uint64_t cycles, bool running) {
  const auto now = std::chrono::steady_clock::now();
  if (!start_) start_ = now;
  report_at(cycles, running, std::chrono::duration<double>(now - *start_).count());
}

void Progress::report_at(std::uint64_t cycles, bool running, double seconds) {
  if (!start_cycles_) start_cycles_ = cycles;  // the rate counts this run's cycles, not earlier ones
  if (!running) {
    if (line_open_) os_ << "\r\x1b[K" << std::flush;
    line_open_ = false;
    return;
  }
  if (seconds < next_) return;
  next_ = seconds + every_;
  ++printed_;
  if (in_place_) {
    os_ << "\r" << line(cycles, seconds) << "\x1b[K" << std::flush;
    line_open_ = true;
  } else {
    os_ << line(cycles, seconds) << "\n" << std::flush;
  }
}

std::string Progress::line(std::uint64_t cycles, double seconds) const {
  std::ostringstream os;
  const double rate = seconds > 0 ? double(cycles - start_cycles_.value_or(0)) / seconds : 0.0;
  os << label_ << ": " << cycles << " cycles";
  if (end_ && *end_ > 0) os << " of " << *end_ << " (" << int(100.0 * double(cycles) / double(*end_)) << "%)";
  os << ", " << std::llround(rate) << " cycles/s";
  if (end_ && rate > 0 && *end_ > cycles) {
    const double left = double(*end_ - cycles) / rate;
    os << ", ETA ";
    if (left < 120) os << std::llround(left) << " s";
    else if (left < 7200) os << std::llround(left / 60) << " min";
    else os << std::fixed << std::setprecision(1) << left / 3600 << " h";
  }
  return os.str();
}

}  // namespace wafersim::runtime
