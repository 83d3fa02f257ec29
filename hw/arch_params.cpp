#include "hw/arch_params.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.hpp"

namespace wafersim::hw {

namespace {

// A parameter: its documentation plus how to read it from YAML/strings and write it to JSON.
struct Param {
  ParamInfo info;
  std::function<void(ArchParams&, const YAML::Node&, const std::string& where)> set;
  std::function<nlohmann::json(const ArchParams&)> get;
  // Lists that accept the word 'all': its value, which depends on other parameters (resolved last).
  std::function<std::vector<int>(const ArchParams&)> all = nullptr;
};

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw ConfigError(where + ": " + key + ": " + what);
}

std::string scalar_text(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "nothing";
}

long long read_int(const YAML::Node& n, const std::string& where, const std::string& key, long long lo, long long hi) {
  long long v = 0;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
    double d = 0;
    // 1e5-style integers are accepted when exact.
    if (!(n.IsScalar() && YAML::convert<double>::decode(n, d) && d == static_cast<double>(static_cast<long long>(d))))
      fail(where, key, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                           scalar_text(n));
    v = static_cast<long long>(d);
  }
  if (v < lo || v > hi)
    fail(where, key, "value " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

double read_double(const YAML::Node& n, const std::string& where, const std::string& key, double lo, double hi) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v))
    fail(where, key, "expected a number, got " + scalar_text(n));
  if (!(v >= lo && v <= hi)) {
    std::ostringstream os;
    os << "value " << v << " is out of range [" << lo << ", " << hi << "]";
    fail(where, key, os.str());
  }
  return v;
}

template <typename T>
Param int_param(std::string key, std::function<T&(ArchParams&)> ref, long long lo, long long hi, std::string unit,
                std::string prov, std::string doc) {
  ParamInfo info{key, "int", unit, "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]", prov, doc};
  return {info,
          [=](ArchParams& a, const YAML::Node& n, const std::string& where) {
            ref(a) = static_cast<T>(read_int(n, where, key, lo, hi));
          },
          [=](const ArchParams& a) { return nlohmann::json(ref(const_cast<ArchParams&>(a))); }};
}

Param double_param(std::string key, std::function<double&(ArchParams&)> ref, double lo, double hi, std::string unit,
                   std::string prov, std::string doc) {
  std::ostringstream r;
  r << "[" << lo << ", " << hi << "]";
  ParamInfo info{key, "float", unit, r.str(), prov, doc};
  return {info,
          [=](ArchParams& a, const YAML::Node& n, const std::string& where) { ref(a) = read_double(n, where, key, lo, hi); },
          [=](const ArchParams& a) { return nlohmann::json(ref(const_cast<ArchParams&>(a))); }};
}

Param bool_param(std::string key, std::function<bool&(ArchParams&)> ref, std::string prov, std::string doc) {
  ParamInfo info{key, "bool", "", "true/false", prov, doc};
  return {info,
          [=](ArchParams& a, const YAML::Node& n, const std::string& where) {
            bool v = false;
            if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(where, key, "expected true or false, got " + scalar_text(n));
            ref(a) = v;
          },
          [=](const ArchParams& a) { return nlohmann::json(ref(const_cast<ArchParams&>(a))); }};
}

// `all` (optional) gives the value of the YAML word 'all'.
Param list_param(std::string key, std::function<std::vector<int>&(ArchParams&)> ref, int lo, int hi,
                 std::size_t min_len, std::size_t max_len, std::string unit, std::string prov, std::string doc,
                 std::function<std::vector<int>(const ArchParams&)> all = nullptr) {
  ParamInfo info{key, "int list", unit,
                 std::to_string(min_len) + ".." + std::to_string(max_len) + " values in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]",
                 prov, doc};
  return {info,
          [=](ArchParams& a, const YAML::Node& n, const std::string& where) {
            std::vector<int> v;
            if (all && n.IsScalar() && n.Scalar() == "all") {
              v = all(a);
            } else {
              if (!n.IsSequence())
                fail(where, key, std::string("expected a list of integers") + (all ? " (or 'all')" : "") + ", got " +
                                     scalar_text(n));
              for (std::size_t i = 0; i < n.size(); ++i)
                v.push_back(static_cast<int>(read_int(n[i], where, key + "[" + std::to_string(i) + "]", lo, hi)));
            }
            if (v.size() < min_len || v.size() > max_len)
              fail(where, key, "expected " + std::to_string(min_len) + ".." + std::to_string(max_len) + " values, got " +
                                   std::to_string(v.size()));
            ref(a) = v;
          },
          [=](const ArchParams& a) { return nlohmann::json(ref(const_cast<ArchParams&>(a))); }, all};
}

const std::vector<Param>& params() {
  static const std::vector<Param> table = [] {
    const std::string P = "published", A = "assumption";
    // Fitted for WSE-2 by bench/calibrate.sh to the paper's MeshGEMV pair (docs/reproduction.md).
    const std::string G = "fitted (WSE-2: bench/calibrate.sh, paper GEMV 16K/32K)";
    std::vector<Param> t;
    t.push_back(int_param<int>("fabric.width", [](ArchParams& a) -> int& { return a.fabric.width; }, 1, 4096, "PEs", P,
                               "usable fabric columns (WSE-2 757, WSE-3 762; SDK fabric dims)"));
    t.push_back(int_param<int>("fabric.height", [](ArchParams& a) -> int& { return a.fabric.height; }, 1, 4096, "PEs", P,
                               "usable fabric rows (WSE-2 996, WSE-3 1176)"));
    t.push_back(double_param("clock_hz", [](ArchParams& a) -> double& { return a.clock_hz; }, 1e6, 1e11, "Hz", P,
                             "PE clock used to convert cycles to time (1.1 GHz as in WaferLLM; SDK examples use 850 MHz)"));
    t.push_back(int_param<int>("router.routable_colors", [](ArchParams& a) -> int& { return a.router.routable_colors; }, 1, 31,
                               "colours", P, "routable colours 0..N-1 (24 on WSE-2 and WSE-3; 31 is the null colour)"));
    t.push_back(int_param<int>("router.router_latency", [](ArchParams& a) -> int& { return a.router.router_latency; }, 0, 1000,
                               "cycles", G + " / assumption (WSE-3)",
                               "from arrival in a router to the earliest forward (not published; with the link 2 cycles per hop as "
                               "the SDK simulator's multicast trace shows, docs/timing-evidence.md; the WSE-2 fit gives 1 in all)"));
    t.push_back(int_param<int>("router.link_latency", [](ArchParams& a) -> int& { return a.router.link_latency; }, 1, 1000,
                               "cycles", A, "router-to-router link (not published; the SDK simulator shows 2 cycles per hop in all, the SDK bandwidth test corrects by ~1: docs/timing-evidence.md)"));
    t.push_back(int_param<int>("router.ramp_latency", [](ArchParams& a) -> int& { return a.router.ramp_latency; }, 1, 1000,
                               "cycles", A, "between router and compute engine, each way (not published; 'a few cycles')"));
    t.push_back(int_param<int>("router.ramp_width", [](ArchParams& a) -> int& { return a.router.ramp_width; }, 1, 8,
                               "wavelets/cycle", A,
                               "between router and compute engine, each way: router to input queues (distinct colours) "
                               "and output queues to router (not published; 1, the link rate: docs/timing-evidence.md 3)"));
    t.push_back(int_param<int>("router.color_buffer_depth", [](ArchParams& a) -> int& { return a.router.color_buffer_depth; }, 1,
                               8, "wavelets", A,
                               "buffer per colour per router; >= hop latency + 1 sustains one wavelet per cycle (not published)"));
    t.push_back(list_param("router.switch_colors", [](ArchParams& a) -> std::vector<int>& { return a.router.switch_colors; }, 0,
                           30, 0, 31, "colours", P, "colours whose switch positions can be used ('all' on WSE-2)",
                           [](const ArchParams& a) {
                             std::vector<int> v;
                             for (int c = 0; c < a.router.routable_colors; ++c) v.push_back(c);
                             return v;
                           }));
    t.push_back(list_param("queues.input_depths", [](ArchParams& a) -> std::vector<int>& { return a.queues.input_depths; }, 1,
                           8, 1, 8, "words", P, "depth of each input queue (IQ id = index)"));
    t.push_back(list_param("queues.output_depths", [](ArchParams& a) -> std::vector<int>& { return a.queues.output_depths; }, 1,
                           8, 1, 8, "words", P, "depth of each output queue (OQ id = index)"));
    t.push_back(bool_param("queues.output_queue_one_color",
                           [](ArchParams& a) -> bool& { return a.queues.output_queue_one_color; }, P,
                           "an output queue is bound to one colour, rebound only by a queue flush (WSE-3); false: any "
                           "colour per operation (WSE-2)"));
    t.push_back(int_param<std::uint32_t>("pe.sram_bytes", [](ArchParams& a) -> std::uint32_t& { return a.pe.sram_bytes; }, 1024,
                                         1 << 30, "bytes", P, "SRAM per PE, code and data (48 KB)"));
    t.push_back(int_param<int>("pe.sram_banks", [](ArchParams& a) -> int& { return a.pe.sram_banks; }, 1, 64, "banks", P,
                               "SRAM banks, 16-bit interleaved (8 x 6 KB)"));
    t.push_back(int_param<std::uint32_t>("pe.code_reserve_bytes",
                                         [](ArchParams& a) -> std::uint32_t& { return a.pe.code_reserve_bytes; }, 0, 1 << 30,
                                         "bytes", A, "SRAM kept for code and the runtime before any symbol is allocated"));
    t.push_back(bool_param("pe.bank_conflicts", [](ArchParams& a) -> bool& { return a.pe.bank_conflicts; }, A,
                           "halve an op's SIMD width when its two vector sources break the SDK's bank rule (see docs/firmware.md)"));
    t.push_back(int_param<int>("pe.task_ids", [](ArchParams& a) -> int& { return a.pe.task_ids; }, 1, 64, "ids", P,
                               "task IDs per PE"));
    t.push_back(int_param<int>("pe.local_task_max_id", [](ArchParams& a) -> int& { return a.pe.local_task_max_id; }, 0, 63,
                               "id", P, "local tasks use IDs up to this one (30)"));
    t.push_back(int_param<int>("pe.local_task_min_id", [](ArchParams& a) -> int& { return a.pe.local_task_min_id; }, 0, 63,
                               "id", P, "lowest local task ID (WSE-2 0; WSE-3 8: IDs 0..7 are the input queues' data tasks)"));
    t.push_back(bool_param("pe.data_tasks_on_queues", [](ArchParams& a) -> bool& { return a.pe.data_tasks_on_queues; }, P,
                           "a data task's ID is its input queue's, 0..7 (WSE-3); false: its colour's (WSE-2)"));
    t.push_back(bool_param("pe.explicit_microthread_ids",
                           [](ArchParams& a) -> bool& { return a.pe.explicit_microthread_ids; }, P,
                           "an async operation may name its microthread (WSE-3 .ut_id); false: the microthread is the "
                           "queue ID of its fabout, else of its fabin (WSE-2)"));
    t.push_back(int_param<int>("pe.fabric_inputs_per_op", [](ArchParams& a) -> int& { return a.pe.fabric_inputs_per_op; }, 1,
                               2, "operands", P,
                               "fabric input (fabin) operands one DSD operation may have (WSE-2 2; WSE-3 1: 'illegal for a "
                               "DSD operation to have multiple arguments that are fabric inputs')"));
    t.push_back(int_param<int>("pe.microthreads", [](ArchParams& a) -> int& { return a.pe.microthreads; }, 1, 16, "threads", P,
                               "hardware microthreads for async fabric DSD operations"));
    t.push_back(int_param<int>("pe.task_switch_cycles", [](ArchParams& a) -> int& { return a.pe.task_switch_cycles; }, 0, 1000,
                               "cycles", A, "from task selection to its first instruction (not published)"));
    t.push_back(int_param<int>("pe.dsd_issue_cycles", [](ArchParams& a) -> int& { return a.pe.dsd_issue_cycles; }, 0, 1000,
                               "cycles", G + " / assumption (WSE-3)",
                               "per-operation issue cost of a DSD operation, task- or @map-issued (WSE-2: fitted with the hop "
                               "latency to the paper's MeshGEMV 16K/32K, docs/reproduction.md; WSE-3: an assumption taken from a "
                               "third-party SDK-simulator @map sweep, docs/timing-evidence.md 4.4)"));
    t.push_back(int_param<int>("pe.simd_chunk_cycles", [](ArchParams& a) -> int& { return a.pe.simd_chunk_cycles; }, 1, 1000,
                               "cycles", A,
                               "cycles per SIMD chunk wider than 64 bits per operand (WSE-3: 8 x fp16, 4 x fp32; narrower "
                               "chunks take 1); WSE-3 2 is taken from a third-party SDK-simulator sweep, where a second "
                               "8-lane fp16 chunk adds ~2.1 cycles (timing-evidence 4.4); WSE-2 1: no data"));
    t.push_back(int_param<int>("pe.map_element_cycles", [](ArchParams& a) -> int& { return a.pe.map_element_cycles; }, 0, 1000,
                               "cycles", A,
                               "loop overhead per element of an @map, besides the operations its body issues (taken from a "
                               "third-party SDK-simulator sweep on WSE-3: issue + map + chunk + 3 DSR loads / 8 = 8.4 vs 8.3 "
                               "per element there, timing-evidence 4.4; WSE-2 the same)"));
    t.push_back(int_param<int>("pe.dsr_load_cycles", [](ArchParams& a) -> int& { return a.pe.dsr_load_cycles; }, 0, 1000,
                               "cycles", A, "one @load_to_dsr (a DSD into a data structure register; not published)"));
    t.push_back(int_param<int>("pe.fp_pipeline_latency", [](ArchParams& a) -> int& { return a.pe.fp_pipeline_latency; }, 0,
                               1000, "cycles", A,
                               "extra cycles after a streamed main-thread operation before the next instruction (not "
                               "published; 0 = throughput model, timing-evidence 4.5)"));
    t.push_back(bool_param("pe.datapath_contention", [](ArchParams& a) -> bool& { return a.pe.datapath_contention; }, A,
                           "one element operation per cycle shared by the main thread's memory operations and the "
                           "microthreads, by priority (high > medium > main thread > low, round-robin among equals, a "
                           "stalled thread yields; timing unpublished, timing-evidence 4.7); false in both presets: the "
                           "fitted pe.dsd_issue_cycles was made without it"));
    auto simd = [&](const char* name, int SimdParams::*m, const std::string& prov, const char* doc) {
      t.push_back(int_param<int>(std::string("pe.simd.") + name, [m](ArchParams& a) -> int& { return a.pe.simd.*m; }, 1, 64,
                                 "ops/cycle", prov, doc));
    };
    simd("fmach", &SimdParams::fmach, P, "fp16 FMAC (WSE-2 4, WSE-3 8)");
    simd("fmachs", &SimdParams::fmachs, P, "fp16 multiply, fp32 accumulate (WSE-2 2, WSE-3 4)");
    simd("fmacs", &SimdParams::fmacs, A, "fp32 FMAC (not listed by the SDK: 1 assumed)");
    simd("fp16_ops", &SimdParams::fp16_ops, P, "faddh/fsubh/fmulh/fmovh (WSE-2 4, WSE-3 8)");
    simd("fp32_ops", &SimdParams::fp32_ops, P, "fadds/fsubs/fmuls/fmovs (WSE-2 2, WSE-3 4)");
    simd("mov16", &SimdParams::mov16, P, "mov16 and 16-bit integer ops (WSE-2 4, WSE-3 8)");
    simd("mov32", &SimdParams::mov32, P, "mov32 (WSE-2 2, WSE-3 4)");
    simd("fmaxh", &SimdParams::fmaxh, P, "fp16 max (WSE-2 1, WSE-3 8)");
    simd("fmaxs", &SimdParams::fmaxs, P, "fp32 max (WSE-2 1, WSE-3 4)");
    simd("convert", &SimdParams::convert, P, "fh2s/fs2h conversions (WSE-2 1, WSE-3 4)");
    auto scalar = [&](const char* name, int ScalarCostParams::*m, const char* doc) {
      t.push_back(int_param<int>(std::string("pe.scalar.") + name, [m](ArchParams& a) -> int& { return a.pe.scalar.*m; },
                                 0, 1000, "cycles/element", A, doc));
    };
    scalar("exp", &ScalarCostParams::exp,
           "exp(x) in an @map body (softmax), on top of the DSD cost model: ~10 instructions, not published");
    scalar("silu", &ScalarCostParams::silu, "silu(x) = x / (1 + exp(-x)) in an @map body (SwiGLU), not published");
    scalar("reciprocal", &ScalarCostParams::reciprocal, "1 / x in an @map body (softmax normalisation), not published");
    scalar("trig", &ScalarCostParams::trig, "each of cos(x) and sin(x) in an @map body (RoPE), not published");
    scalar("rsqrt", &ScalarCostParams::rsqrt, "one 1 / sqrt(x) per RMSNorm (scalar code), not published");
    t.push_back(list_param("host_io.reserved_colors", [](ArchParams& a) -> std::vector<int>& { return a.host_io.reserved_colors; },
                           0, 30, 0, 31, "colours", P, "colours owned by the memcpy framework (21, 22, 23)"));
    t.push_back(int_param<int>("host_io.channels_per_edge", [](ArchParams& a) -> int& { return a.host_io.channels_per_edge; }, 1,
                               4096, "channels", P, "edge I/O channels on the east and west edges (WSE-2 60, WSE-3 62)"));
    t.push_back(double_param("host_io.channel_words_per_cycle",
                             [](ArchParams& a) -> double& { return a.host_io.channel_words_per_cycle; }, 1e-6, 64, "words/cycle",
                             A, "timed memcpy bandwidth of one I/O channel"));
    t.push_back(double_param("energy.wafer_power_watts", [](ArchParams& a) -> double& { return a.energy.wafer_power_watts; }, 1,
                             1e6, "W", A, "wafer power for energy estimates"));
    t.push_back(double_param("energy.a100_power_ratio", [](ArchParams& a) -> double& { return a.energy.a100_power_ratio; }, 0.01,
                             1e4, "x", A, "WSE power / A100 power implied by the WaferLLM energy tables (37.5)"));
    t.push_back(int_param<std::uint64_t>("simulation.deadlock_cycles",
                                         [](ArchParams& a) -> std::uint64_t& { return a.simulation.deadlock_cycles; }, 1,
                                         1000000000000LL, "cycles", "simulator",
                                         "no movement for this long while work is pending stops the run with a report"));
    t.push_back(int_param<int>("simulation.host_threads", [](ArchParams& a) -> int& { return a.simulation.host_threads; }, 0,
                               256, "threads", "simulator",
                               "host threads for the router phase, 0 = all hardware threads (results do not depend on it)"));
    t.push_back(int_param<std::uint64_t>("simulation.parallel_min_routers",
                                         [](ArchParams& a) -> std::uint64_t& { return a.simulation.parallel_min_routers; },
                                         1, 1000000000000LL, "routers", "simulator",
                                         "a cycle with fewer active routers runs on one host thread"));
    t.push_back(int_param<int>("simulation.huge_pages", [](ArchParams& a) -> int& { return a.simulation.huge_pages; }, 0,
                               1, "flag", "simulator",
                               "1: ask the kernel for 2 MiB pages for the simulator's large state (host speed only)"));
    t.push_back(int_param<int>("simulation.cycle_block", [](ArchParams& a) -> int& { return a.simulation.cycle_block; }, 1,
                               64, "cycles", "simulator",
                               "a busy, dense mesh is swept once for this many cycles (host speed only; 1: cycle by cycle)"));
    t.push_back(int_param<std::uint64_t>("simulation.block_min_pes",
                                         [](ArchParams& a) -> std::uint64_t& { return a.simulation.block_min_pes; }, 1,
                                         1000000000000LL, "PEs", "simulator",
                                         "cycle blocks only on meshes of at least this many PEs (host speed only)"));
    return t;
  }();
  return table;
}

const Param* find_param(const std::string& key) {
  for (const auto& p : params())
    if (p.info.key == key) return &p;
  return nullptr;
}

std::string known_keys_under(const std::string& prefix) {
  std::set<std::string> names;
  for (const auto& p : params()) {
    if (p.info.key.rfind(prefix, 0) != 0) continue;
    std::string rest = p.info.key.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('.')));
  }
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// Top-level keys that describe a file rather than the hardware. `source` is written by to_json/to_yaml and
// ignored on reading: a loaded architecture's source is the file it was loaded from.
bool is_metadata_key(const std::string& name) { return name == "name" || name == "description" || name == "source"; }

std::string at_line(const std::string& file, int line) { return file + ": line " + std::to_string(line); }

struct MapEntry {
  std::string name;
  int line;  // 1-based line of the key
  YAML::Node value;
};

// The pairs of a YAML map in file order. yaml-cpp keeps both pairs of a key given twice (and node[key] finds only
// the first), so every map this project reads goes through here, and a repeated key is an error naming both lines.
std::vector<MapEntry> map_entries(const YAML::Node& map, const std::string& file, const std::string& prefix) {
  std::vector<MapEntry> out;
  std::map<std::string, int> first_line;
  for (const auto& kv : map) {
    const int line = kv.first.Mark().line + 1;
    if (!kv.first.IsScalar())
      fail(at_line(file, line), prefix.empty() ? "(top level)" : prefix.substr(0, prefix.size() - 1),
           "expected a key name, got " + scalar_text(kv.first));
    const std::string name = kv.first.Scalar();
    const auto [first, fresh] = first_line.emplace(name, line);
    if (!fresh)
      fail(at_line(file, line), prefix + name,
           "duplicate key (first given at line " + std::to_string(first->second) + "); a key may appear once per map");
    out.push_back({name, line, kv.second});
  }
  return out;
}

// Where a value came from, for error messages: "FILE: line N", "--set KEY=VALUE" or a default.
struct Origin {
  std::string where;
  int set_index = -1;  // position among the --set overrides; -1 for the file or a default
};

// A constraint between fields that does not hold: keys[0] is the constrained field, the others set its limit.
struct Violation {
  std::vector<std::string> keys;
  std::string problem;
};

std::string join_ints(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

std::vector<Violation> violations(const ArchParams& a) {
  std::vector<Violation> out;
  const std::string routable = "colours 0.." + std::to_string(a.router.routable_colors - 1) +
                               ", router.routable_colors = " + std::to_string(a.router.routable_colors);
  for (const char* key : {"host_io.reserved_colors", "router.switch_colors"}) {
    const auto& colors = std::string(key) == "router.switch_colors" ? a.router.switch_colors : a.host_io.reserved_colors;
    std::vector<int> bad;
    for (int c : colors)
      if (c >= a.router.routable_colors) bad.push_back(c);
    if (!bad.empty())
      out.push_back({{key, "router.routable_colors"},
                     std::string(key) + ": " + (bad.size() == 1 ? "colour " : "colours ") + join_ints(bad) +
                         (bad.size() == 1 ? " is" : " are") + " not routable (limit: " + routable + ")"});
  }
  if (a.router.router_latency + a.router.link_latency < 1)
    out.push_back({{"router.link_latency", "router.router_latency"},
                   "router.link_latency: a hop (router.router_latency + router.link_latency) must take at least one cycle"});
  if (a.pe.code_reserve_bytes > a.pe.sram_bytes)
    out.push_back({{"pe.code_reserve_bytes", "pe.sram_bytes"},
                   "pe.code_reserve_bytes: " + std::to_string(a.pe.code_reserve_bytes) +
                       " exceeds the SRAM (limit: pe.sram_bytes = " + std::to_string(a.pe.sram_bytes) + ")"});
  if (a.pe.sram_bytes % a.pe.sram_banks != 0)
    out.push_back({{"pe.sram_banks", "pe.sram_bytes"},
                   "pe.sram_banks: pe.sram_bytes = " + std::to_string(a.pe.sram_bytes) + " does not divide into " +
                       std::to_string(a.pe.sram_banks) + " equal banks"});
  if (a.pe.local_task_min_id > a.pe.local_task_max_id)
    out.push_back({{"pe.local_task_min_id", "pe.local_task_max_id"},
                   "pe.local_task_min_id: " + std::to_string(a.pe.local_task_min_id) +
                       " is above pe.local_task_max_id (limit: " + std::to_string(a.pe.local_task_max_id) + ")"});
  if (a.pe.local_task_max_id >= a.pe.task_ids)
    out.push_back({{"pe.local_task_max_id", "pe.task_ids"},
                   "pe.local_task_max_id: " + std::to_string(a.pe.local_task_max_id) +
                       " must be below pe.task_ids (limit: " + std::to_string(a.pe.task_ids - 1) + ")"});
  return out;
}

// Every violated constraint, one per line, each blamed on the --set that last touched one of its fields (that
// is what the user just changed), else on the file line of the constrained field; the other fields' origins follow.
// `unlisted` is the origin of the fields `origins` does not list.
void check_whole(const ArchParams& a, const std::map<std::string, Origin>& origins, const std::string& unlisted) {
  auto origin_of = [&](const std::string& key) {
    const auto it = origins.find(key);
    return it != origins.end() ? it->second : Origin{unlisted};
  };
  std::string msg;
  for (const Violation& v : violations(a)) {
    std::size_t blamed = 0;
    for (std::size_t i = 1; i < v.keys.size(); ++i)
      if (origin_of(v.keys[i]).set_index > origin_of(v.keys[blamed]).set_index) blamed = i;
    std::string line = origin_of(v.keys[blamed]).where + ": " + v.problem;
    for (std::size_t i = 0; i < v.keys.size(); ++i)
      if (i != blamed) line += "; " + v.keys[i] + " comes from " + origin_of(v.keys[i]).where;
    msg += (msg.empty() ? "" : "\n") + line;
  }
  if (!msg.empty()) throw ConfigError(msg);
}

// Fills an ArchParams from a file and --set overrides, remembering where every value came from, then checks the
// whole once: overrides are independent of their order, and a constraint between fields can be satisfied by
// several --set options together.
class Resolver {
 public:
  // `unlisted`: where the values this resolver is not told about come from (for error messages).
  Resolver(ArchParams& a, std::string unlisted) : a_(a), unlisted_(std::move(unlisted)) {}

  // Lists that accept 'all' and are not given mean 'all' (as the WSE-2 default does), so that they follow the
  // final routable colours.
  void default_to_all() {
    for (const auto& p : params())
      if (p.all) {
        all_.insert(p.info.key);
        origins_[p.info.key] = Origin{unlisted_};
      }
  }

  void read_map(const YAML::Node& node, const std::string& prefix, const std::string& file) {
    for (const MapEntry& e : map_entries(node, file, prefix)) {
      const std::string key = prefix + e.name;
      const std::string where = at_line(file, e.line);
      if (prefix.empty() && is_metadata_key(e.name)) {
        if (!e.value.IsScalar()) fail(where, key, "expected a string, got " + scalar_text(e.value));
        if (e.name == "name") a_.name = e.value.Scalar();
        continue;
      }
      if (const Param* p = find_param(key)) {
        set(*p, e.value, Origin{where});
        continue;
      }
      const std::string below = known_keys_under(key + ".");
      if (!below.empty()) {
        if (!e.value.IsMap()) fail(where, key, "expected a map (keys: " + below + "), got " + scalar_text(e.value));
        read_map(e.value, key + ".", file);
        continue;
      }
      fail(where, key, "unknown key (known " +
                           (prefix.empty() ? std::string("top-level keys: name, description, source, ") : "keys here: ") +
                           known_keys_under(prefix) + ")");
    }
  }

  void read_override(const std::string& assignment, int index) {
    const std::string where = "--set " + assignment;
    const auto eq = assignment.find('=');
    if (eq == std::string::npos) throw ConfigError(where + ": expected KEY=VALUE");
    const std::string key = assignment.substr(0, eq);
    const Param* p = find_param(key);
    if (!p) {
      const auto dot = key.rfind('.');
      const std::string prefix = dot == std::string::npos ? "" : key.substr(0, dot + 1);
      std::string known = known_keys_under(prefix);
      throw ConfigError(where + ": unknown parameter '" + key + "' (known " +
                        (known.empty() || prefix.empty() ? "top-level keys: " + known_keys_under("")
                                                         : "keys under " + prefix.substr(0, prefix.size() - 1) + ": " + known) +
                        "; every key: docs/parameters.md)");
    }
    const auto earlier = origins_.find(key);
    if (earlier != origins_.end() && earlier->second.set_index >= 0)
      throw ConfigError(where + ": " + key + " is already set by " + earlier->second.where);
    YAML::Node n;
    try {
      n = YAML::Load(assignment.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw ConfigError(where + ": malformed value: " + e.msg);
    }
    set(*p, n, Origin{where, index});
  }

  // Resolves the lists given as 'all' against the final values, then checks the constraints between fields.
  void finish() {
    for (const auto& key : all_) find_param(key)->set(a_, YAML::Node("all"), origins_.at(key).where);
    check_whole(a_, origins_, unlisted_);
  }

 private:
  void set(const Param& p, const YAML::Node& value, Origin origin) {
    if (p.all && value.IsScalar() && value.Scalar() == "all")
      all_.insert(p.info.key);
    else
      all_.erase(p.info.key);
    p.set(a_, value, origin.where);
    origins_[p.info.key] = std::move(origin);
  }

  ArchParams& a_;
  std::string unlisted_;
  std::map<std::string, Origin> origins_;
  std::set<std::string> all_;
};

}  // namespace

const std::vector<ParamInfo>& arch_param_table() {
  static const std::vector<ParamInfo> infos = [] {
    std::vector<ParamInfo> v;
    for (const auto& p : params()) v.push_back(p.info);
    return v;
  }();
  return infos;
}

ArchParams load_arch(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  const std::string f = file.string();
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw ConfigError(f + ": is a directory, not an architecture file (a YAML or JSON file such as configs/wse2.yaml)");
  if (!std::filesystem::exists(file, ec)) throw ConfigError(f + ": no such architecture file");
  YAML::Node root;
  try {
    root = YAML::LoadFile(f);
  } catch (const YAML::BadFile&) {
    throw ConfigError(f + ": cannot open architecture file");
  } catch (const YAML::Exception& e) {
    throw ConfigError(at_line(f, e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
  if (!root.IsMap()) throw ConfigError(f + ": expected a YAML map of parameters at the top level");
  // A JSON result (--json) records its architecture under "config", beside measurements that are not parameters.
  YAML::Node params_root = root;
  bool has_config = false, has_params = false;
  for (const MapEntry& e : map_entries(root, f, "")) {
    if (e.name == "config" && e.value.IsMap()) has_config = true;
    if (is_metadata_key(e.name) || find_param(e.name) || !known_keys_under(e.name + ".").empty()) has_params = true;
  }
  if (has_config && !has_params) params_root = root["config"];
  ArchParams a;
  a.source = f;
  Resolver r(a, "the defaults (not set in " + f + ")");
  r.default_to_all();
  r.read_map(params_root, "", f);
  for (std::size_t i = 0; i < overrides.size(); ++i) r.read_override(overrides[i], int(i));
  r.finish();
  return a;
}

namespace {
std::string where_from(const ArchParams& a) { return a.source.empty() ? a.name : a.source; }
}  // namespace

void apply_overrides(ArchParams& a, const std::vector<std::string>& assignments) {
  Resolver r(a, where_from(a));
  for (std::size_t i = 0; i < assignments.size(); ++i) r.read_override(assignments[i], int(i));
  r.finish();
}

namespace {

template <typename Visit>
void for_each_path(const ArchParams& a, Visit visit) {
  for (const auto& p : params()) {
    std::vector<std::string> parts;
    std::size_t start = 0, dot;
    while ((dot = p.info.key.find('.', start)) != std::string::npos) {
      parts.push_back(p.info.key.substr(start, dot - start));
      start = dot + 1;
    }
    parts.push_back(p.info.key.substr(start));
    visit(p, parts, p.get(a));
  }
}

}  // namespace

nlohmann::json to_json(const ArchParams& a) {
  nlohmann::json j;
  j["name"] = a.name;
  if (!a.source.empty()) j["source"] = a.source;
  for_each_path(a, [&](const Param&, const std::vector<std::string>& parts, const nlohmann::json& value) {
    nlohmann::json* node = &j;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
    (*node)[parts.back()] = value;
  });
  return j;
}

std::string to_yaml(const ArchParams& a) {
  std::ostringstream os;
  os << "# The " << a.name << " architecture as resolved by wafersim; --arch reads this file back.\n"
     << "# Comments: unit, allowed range, provenance (docs/parameters.md).\n"
     << "name: " << nlohmann::json(a.name).dump() << "\n";
  if (!a.source.empty()) os << "source: " << nlohmann::json(a.source).dump() << "\n";
  std::vector<std::string> open;  // the maps the previous key was in (the table lists a map's keys together)
  for_each_path(a, [&](const Param& p, const std::vector<std::string>& parts, const nlohmann::json& value) {
    std::size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    open.resize(common);
    for (std::size_t i = common; i + 1 < parts.size(); ++i) {
      os << std::string(2 * i, ' ') << parts[i] << ":\n";
      open.push_back(parts[i]);
    }
    std::string text = value.dump();
    if (value.is_array()) {
      text = "[";
      for (std::size_t i = 0; i < value.size(); ++i) text += (i ? ", " : "") + value[i].dump();
      text += "]";
    }
    std::string line = std::string(2 * (parts.size() - 1), ' ') + parts.back() + ": " + text;
    if (line.size() < 40) line.resize(40, ' ');
    const ParamInfo& i = p.info;
    os << line << "  # " << (i.unit.empty() ? "" : i.unit + ", ") << i.range << ", " << i.provenance << "\n";
  });
  return os.str();
}

}  // namespace wafersim::hw
