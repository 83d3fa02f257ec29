// Shared option handling for subcommands: Boost.Program_options with --help and --version on every subcommand;
// unknown options, stray positional arguments and bad values are reported as UsageError (exit 2). Numeric
// options go through one typed value, `number`, that checks syntax and range while parsing.
#pragma once
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/cli/command.hpp"

namespace wafersim::cli {

namespace po = boost::program_options;

// Parses argv against `desc` (--help and --version switches are added). Returns false if --help or --version
// was printed; the caller then returns 0. `usage` is the synopsis line printed above the options. Arguments
// that are not options are an error unless `positional` names them.
bool parse_options(int argc, char** argv, po::options_description& desc, po::variables_map& vm,
                   const std::string& usage, const po::positional_options_description* positional = nullptr);

// The command line of a subcommand as words: its argv with argv[0] ("wafersim bench fabric") split at spaces.
std::vector<std::string> command_line(int argc, char** argv);

// Parses a list of non-negative integers such as "1,2, 3" or "0-3,7" given to `option` (named in errors).
// An empty or blank text is an empty list only if `allow_empty`.
std::vector<int> parse_int_list(const std::string& text, const std::string& option, bool allow_empty = false);

// A number option whose value must lie in [lo, hi] (in (lo, hi] after ->above(), for values where lo itself means
// nothing, such as a probability of 0). Integers are plain decimal digits (a sign only for signed
// types): "-1" for an unsigned option, "1e3", "12abc" and overflow are errors rather than wrapped or truncated
// values; floating-point values must be finite. The error names the option, the value and the range.
template <class T>
class Number : public po::typed_value<T> {
  static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);

 public:
  Number(T* store, T lo, T hi) : po::typed_value<T>(store), lo_(lo), hi_(hi) {}
  // The lower bound is excluded.
  Number* above() {
    open_lo_ = true;
    return this;
  }

  void xparse(boost::any& out, const std::vector<std::string>& tokens) const override {
    po::validators::check_first_occurrence(out);
    const std::string& s = po::validators::get_single_string(tokens);
    T v{};
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, v);
    bool ok = !s.empty() && ec == std::errc() && ptr == end && (open_lo_ ? v > lo_ : v >= lo_) && v <= hi_;
    if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(v);
    if (!ok)
      throw po::error_with_option_name("%canonical_option% " + s + ": expected " + describe(), "", s);
    out = v;
  }

  // "an integer from 1 to 12032", "a number from 0 to 1"; "an integer >= 0" when only the 64-bit or floating
  // type bounds it (a 32-bit type names its limit: --seed -1 of a uint32 says "from 0 to 4294967295").
  std::string describe() const {
    std::ostringstream os;
    os << (std::is_integral_v<T> ? "an integer " : "a number ");
    if (open_lo_) {
      if (hi_ == std::numeric_limits<T>::max()) os << "> " << +lo_;
      else os << "in (" << +lo_ << ", " << +hi_ << "]";
      return os.str();
    }
    if (hi_ == std::numeric_limits<T>::max() && (sizeof(T) >= 8 || std::is_floating_point_v<T>)) os << ">= " << +lo_;
    else os << "from " << +lo_ << " to " << +hi_;
    return os.str();
  }

 private:
  T lo_, hi_;
  bool open_lo_ = false;
};

template <class T>
Number<T>* number(T* store, T lo, T hi = std::numeric_limits<T>::max()) {
  return new Number<T>(store, lo, hi);
}
template <class T>
Number<T>* number(T lo, T hi = std::numeric_limits<T>::max()) {
  return new Number<T>(nullptr, lo, hi);
}

// Throws a UsageError "--OPTION VALUE: WHAT" naming the limit, for checks that need more than the parsed value
// (the mesh, the architecture): option_error("--groups", 100, "must be from 1 to 8 (the PEs along x)").
template <class T>
[[noreturn]] void option_error(const std::string& option, const T& value, const std::string& what) {
  std::ostringstream os;
  os << option << " " << value << ": " << what;
  throw UsageError(os.str());
}

// Checks that `path` given to `option` is an existing regular file (not a directory); `expected` says what the
// file should be, e.g. "a tokenizer.json file". Throws ConfigError (exit 1, like a file that fails to load).
void require_file(const std::string& option, const std::string& path, const std::string& expected);

}  // namespace wafersim::cli
