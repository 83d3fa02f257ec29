// Output files that are either complete or absent: written to "<path>.tmp.<pid>" and renamed into place.
// Every result, trace and checkpoint writer goes through this so bad input never leaves a half-written file.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace wafersim {

// Calls write(stream) on a temporary file beside `path`, then renames it onto `path`. If write throws, the
// temporary is removed and the exception propagates. Throws std::runtime_error naming the path on I/O failure.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write,
                           bool binary = false);

// Like write_file_atomically, for writers that need a file name (e.g. SystemC's VCD writer): `produce` writes
// the file at the temporary path it is given; on success that file is renamed onto `path`.
void produce_file_atomically(const std::filesystem::path& path,
                             const std::function<void(const std::filesystem::path& tmp)>& produce);

}  // namespace wafersim
