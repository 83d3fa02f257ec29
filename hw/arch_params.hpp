// Every hardware number of the modelled wafer, as typed parameters with units, ranges and provenance
// ("published" facts vs our "assumption"s). Filled from YAML (configs/wse2.yaml, configs/wse3.yaml) in exactly one
// place, validated there, and dumped beside every result. No global mutable parameters.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wafersim::hw {

struct FabricParams {
  int width = 757;   // PEs along X (columns, west -> east)
  int height = 996;  // PEs along Y (rows, north -> south)
};

struct RouterParams {
  int routable_colors = 24;     // colours 0..routable_colors-1 carry traffic
  int router_latency = 1;       // arrival to earliest forward (SDK-simulator timing; configs/wse2.yaml: 0, fitted)
  int link_latency = 1;         // cycles on a router-to-router link (assumption)
  int ramp_latency = 2;         // cycles between router and compute engine, each way (assumption)
  int ramp_width = 1;           // wavelets per cycle between router and compute engine, each way (assumption)
  int color_buffer_depth = 3;   // wavelets buffered per colour per router (assumption; >= hop latency + 1
                                // sustains one wavelet per cycle under credit flow control)
  std::vector<int> switch_colors = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};  // switchable (WSE-3: a subset)
  int hop_latency() const { return router_latency + link_latency; }
};

struct QueueParams {
  std::vector<int> input_depths = {6, 6, 4, 4, 2, 2, 2, 2};  // words per input queue (IQ id = index)
  std::vector<int> output_depths = {2, 2, 6, 6, 2, 2};       // words per output queue (OQ id = index)
  bool output_queue_one_color = false;  // WSE-3: an output queue carries one colour (rebound by queue_flush)
};

// Operations per cycle of the DSD execution unit (SIMD width), from the SDK's "SIMD mode" appendix.
struct SimdParams {
  int fmach = 4;       // fp16 FMAC
  int fmachs = 2;      // fp16 multiply, fp32 accumulate
  int fmacs = 1;       // fp32 FMAC (not listed by the SDK: assumption)
  int fp16_ops = 4;    // faddh, fsubh, fmulh, fmovh, fnegh, fabsh
  int fp32_ops = 2;    // fadds, fsubs, fmuls, fmovs
  int mov16 = 4;       // mov16 and 16-bit integer ops
  int mov32 = 2;
  int fmaxh = 1;
  int fmaxs = 1;
  int convert = 1;     // fh2s, fs2h
};

// Cycles per element of the scalar functions a kernel computes in an @map body with ~10-20 instructions (no
// published figures: assumptions), charged on top of the DSD cost model (llama_decode, llama_prefill).
struct ScalarCostParams {
  int exp = 10;         // exp(x) (softmax)
  int silu = 12;        // x / (1 + exp(-x))
  int reciprocal = 8;   // 1 / x
  int trig = 20;        // each of cos(x) and sin(x) (RoPE)
  int rsqrt = 20;       // one 1 / sqrt(x) (RMSNorm, per norm)
};

struct PeParams {
  std::uint32_t sram_bytes = 49152;     // per-PE SRAM, code and data
  int sram_banks = 8;                   // banks of sram_bytes / sram_banks, 16-bit interleave
  std::uint32_t code_reserve_bytes = 4096;  // SRAM reserved for code and runtime (assumption)
  bool bank_conflicts = true;           // halve a SIMD op's width on the SDK's bank-conflict rule (assumption)
  int task_ids = 64;
  int local_task_max_id = 30;           // local tasks are local_task_min_id..local_task_max_id
  int local_task_min_id = 0;            // WSE-2 0; WSE-3 8 (IDs 0..7 are the data tasks of input queues 0..7)
  // WSE-3 rules (docs/timing-evidence.md 5): a data task's ID is its input queue's (WSE-2: its colour's);
  // microthread IDs may be given per operation (WSE-2: the queue IDs); an operation has at most this many fabric
  // input operands (WSE-3 1).
  bool data_tasks_on_queues = false;
  bool explicit_microthread_ids = false;
  int fabric_inputs_per_op = 2;
  int microthreads = 8;
  int task_switch_cycles = 2;           // cycles from task selection to its first instruction (assumption)
  // DSD operation cost (docs/timing-evidence.md 4.4): DSR loads + dsd_issue_cycles + chunk * ceil(n / width) +
  // fp_pipeline_latency, whether a task or an @map loop issues it (chunk = simd_chunk_cycles for chunks wider than
  // 64 bits per operand, else 1); an @map loop adds map_element_cycles per element, and loading a DSD into a
  // register (DSR) costs dsr_load_cycles.
  int dsd_issue_cycles = 3;             // per-operation issue cost (assumption from an SDK-simulator sweep; configs/wse2.yaml: 5, fitted)
  int simd_chunk_cycles = 1;            // cycles per SIMD chunk wider than 64 bits (WSE-2 has none; WSE-3 2, same source)
  int map_element_cycles = 3;           // per-element overhead of an @map loop (assumption, same source)
  int dsr_load_cycles = 1;              // one @load_to_dsr (assumption)
  int fp_pipeline_latency = 0;          // extra cycles before a streamed op's result is usable (assumption)
  // One datapath shared by the main thread's memory operations and the microthreads' element moves, served by
  // priority (docs/firmware.md; assumption, off: the fitted dsd_issue_cycles was made without it).
  bool datapath_contention = false;
  SimdParams simd;
  ScalarCostParams scalar;
};

struct HostIoParams {
  std::vector<int> reserved_colors = {21, 22, 23};  // colours owned by the memcpy framework
  int channels_per_edge = 60;                        // edge I/O channels (WSE-2 60, WSE-3 62)
  double channel_words_per_cycle = 1.0;              // timed memcpy bandwidth per channel (assumption)
};

struct EnergyParams {
  double wafer_power_watts = 15000.0;  // whole-wafer power for energy estimates (assumption)
  double a100_power_ratio = 37.5;      // WSE-2 power / A100 power implied by the paper's energy tables
};

struct SimulationParams {
  std::uint64_t deadlock_cycles = 100000;  // no movement for this long while work is pending -> deadlock report
  int host_threads = 0;                    // host threads for the router phase (0: all hardware threads)
  std::uint64_t parallel_min_routers = 1024;  // fewer active routers in a cycle: one thread
  int huge_pages = 1;                      // 1: back large state with 2 MiB pages (common/huge_pages.hpp)
  int cycle_block = 4;                     // busy dense meshes: cycles simulated per sweep (1: one at a time)
  std::uint64_t block_min_pes = 128 * 128;  // cycle blocks only on meshes this large (smaller ones fit host caches)
};

struct ArchParams {
  std::string name = "wse2";
  std::string source;  // file it was read from (before any --set overrides)
  FabricParams fabric;
  double clock_hz = 1.1e9;
  RouterParams router;
  QueueParams queues;
  PeParams pe;
  HostIoParams host_io;
  EnergyParams energy;
  SimulationParams simulation;

  double cycles_to_us(double cycles) const { return cycles / clock_hz * 1e6; }
};

// One entry of the parameter table: dotted YAML key, unit, allowed range, provenance and meaning.
struct ParamInfo {
  std::string key;         // e.g. "router.link_latency"
  std::string type;        // "int", "float", "int list", "bool", "string"
  std::string unit;        // "cycles", "bytes", "Hz", "words", ...
  std::string range;       // human-readable allowed range
  std::string provenance;  // "published" or "assumption"
  std::string doc;
};
const std::vector<ParamInfo>& arch_param_table();

// Reads an architecture file and applies `overrides` ("key=value", dotted keys as in the table) on top. The file
// is YAML (configs/wse2.yaml), the YAML `wafersim params` prints, or JSON (JSON is YAML): to_json's object or a
// JSON result that records it under "config". Every key must be known, given once per map, of the right type and
// within range; keys not given keep the WSE-2 defaults above ('all' for router.switch_colors). The overrides are applied together (their order does
// not matter, a key may be overridden once), then the constraints between fields are checked on the whole. Errors
// throw ConfigError naming the --set that set the offending value, else the file, line and key, and the limit.
ArchParams load_arch(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
// Applies overrides to an architecture in memory, checked as above.
void apply_overrides(ArchParams& arch, const std::vector<std::string>& assignments);

// The resolved parameters (with name and source); load_arch reads both forms back to the same parameters.
nlohmann::json to_json(const ArchParams& arch);
std::string to_yaml(const ArchParams& arch);  // as configs/*.yaml, each value with unit, range and provenance

}  // namespace wafersim::hw
