// The CSL-like per-PE program: symbols in SRAM (Array, Var), tasks bound to task IDs (DataTask, LocalTask,
// ControlTask), DSDs (mem1d, mem4d, fabin, fabout) and DSD builtins with CSL's async options, exported functions.
// A Program is plain C++ that drives one hw::ComputeEngine; timing comes from the CE (see compute_engine.hpp).
// Parts of a program can be modules (module.hpp, CSL's @import_module); the program's ResourceLedger records who
// holds each queue, microthread and task ID of the PE.
// Not modelled: scalar code cost in task bodies (unless charge()d), FIFOs, DSR allocation, WSE-3 microthread IDs.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "firmware/csl/ledger.hpp"
#include "hw/compute_engine.hpp"
#include "hw/dsd.hpp"
#include "common/fp16.hpp"
#include "hw/route_config.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::fabric {
class Transport;
}

namespace wafersim::csl {

using hw::Color;
using hw::Cycle;
using hw::TaskArg;
using f16 = Half;
using Priority = hw::Priority;

class Program;
class Module;

// ---- symbols ------------------------------------------------------------------------------------------------

template <class T>
concept Element = std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, std::uint16_t> ||
                  std::is_same_v<T, std::int16_t> || std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::int32_t>;

// The DSD element type of an array element (what the type-generic builtins dispatch on).
template <Element T>
constexpr hw::ElemType elem_type_of() {
  if constexpr (std::is_same_v<T, float>) return hw::ElemType::F32;
  else if constexpr (std::is_same_v<T, f16>) return hw::ElemType::F16;
  else if constexpr (sizeof(T) == 2) return hw::ElemType::U16;
  else return hw::ElemType::U32;
}

// A named vector in the PE's SRAM, allocated when the program is attached to its compute engine (owner
// "PE(x,y) program NAME"); the host reads and writes it by name.
class ArrayBase {
 public:
  ArrayBase(Program* program, std::string name, std::uint32_t count, hw::ElemType type);
  ArrayBase(const ArrayBase&) = delete;
  ArrayBase& operator=(const ArrayBase&) = delete;

  const std::string& name() const { return name_; }
  std::uint32_t size() const { return count_; }
  std::uint8_t elem_bytes() const { return elem_bytes_; }
  hw::ElemType elem_type() const { return type_; }
  std::uint64_t bytes() const { return std::uint64_t(count_) * elem_bytes_; }  // 64-bit: no wrap before the SRAM check
  std::uint32_t address() const;  // byte address in SRAM; throws before the program is attached
  bool allocated() const { return allocated_; }
  Program& program() const { return *program_; }

  // Host-side access to the raw bytes (functional mode; zeros in timing-only mode).
  void read_bytes(void* dst, std::uint32_t first, std::uint32_t count) const;
  void write_bytes(const void* src, std::uint32_t first, std::uint32_t count);

 private:
  friend class Program;
  Program* program_;
  std::string name_;
  std::uint32_t count_;
  std::uint8_t elem_bytes_;
  hw::ElemType type_;
  std::uint32_t address_ = 0;
  bool allocated_ = false;
};

template <Element T>
class Array : public ArrayBase {
 public:
  Array(Program* program, std::string name, std::uint32_t count)
      : ArrayBase(program, std::move(name), count, elem_type_of<T>()) {}

  std::vector<T> read() const {
    std::vector<T> v(size());
    read_bytes(v.data(), 0, size());
    return v;
  }
  void write(std::span<const T> values, std::uint32_t first = 0) { write_bytes(values.data(), first, values.size()); }
  void write(const std::vector<T>& values, std::uint32_t first = 0) { write(std::span<const T>(values), first); }
  T get(std::uint32_t i) const {
    T v{};
    read_bytes(&v, i, 1);
    return v;
  }
  void set(std::uint32_t i, T v) { write_bytes(&v, i, 1); }
};

// A scalar in SRAM (an Array of one element); `&var` as a DSD operand is a pointer to a scalar (reductions).
template <Element T>
class Var : public Array<T> {
 public:
  Var(Program* program, std::string name) : Array<T>(program, std::move(name), 1) {}
  T value() const { return this->get(0); }
  void operator=(T v) { this->set(0, v); }
};

// ---- DSDs ---------------------------------------------------------------------------------------------------

// A memory DSD over an Array, resolved to an SRAM address when an operation is issued.
struct MemDsd {
  const ArrayBase* array = nullptr;
  hw::MemDsd shape;  // base is relative to the array
  bool scalar = false;
};

struct Mem1dSpec {
  std::uint32_t extent = ~0u;  // default: the whole array
  std::int32_t stride = 1;      // elements
  std::int32_t offset = 0;      // elements
};
MemDsd mem1d(const ArrayBase& array, Mem1dSpec spec = {});
// Dimension 0 is walked fastest; extents and strides in elements.
MemDsd mem4d(const ArrayBase& array, std::array<std::uint32_t, 4> extents, std::array<std::int32_t, 4> strides,
             std::int32_t offset = 0);
// Pointer to element i of an array, as a scalar operand / reduction destination (CSL `&a[i]`).
MemDsd scalar(const ArrayBase& array, std::uint32_t i = 0);
// CSL @increment_dsd_offset.
MemDsd increment_offset(MemDsd d, std::int32_t delta);

struct FabinSpec {
  std::uint32_t extent = 0;
  Color color = 0;
  int input_queue = 1;
  std::optional<hw::ElemType> type = {};  // element type of the stream, for the type-generic builtins
};
struct FaboutSpec {
  std::uint32_t extent = 0;
  Color color = 0;
  int output_queue = 1;
  bool control = false;         // every wavelet is a control wavelet
  bool advance_switch = false;  // one ADV control wavelet follows the last wavelet
  int index_base = -1;          // >= 0: 16-bit elements carry index_base + k in the upper half
  std::optional<hw::ElemType> type = {};  // element type of the stream, for the type-generic builtins
};
// Fabric DSDs as fabin()/fabout() return them: the hardware DSD and, if declared, the stream's element type.
struct Fabin : hw::FabinDsd {
  std::optional<hw::ElemType> type;
};
struct Fabout : hw::FaboutDsd {
  std::optional<hw::ElemType> type;
};

// An operand of a builtin: a DSD, an array (whole), a pointer to a scalar (`&var`), or an immediate number.
class Operand {
 public:
  Operand() = default;
  Operand(const MemDsd& d) : kind_(Kind::Mem), mem_(d) {}
  Operand(const ArrayBase& a) : kind_(Kind::Mem), mem_(mem1d(a)) {}
  template <Element T>
  Operand(Var<T>* v) : kind_(Kind::Mem), mem_(scalar(*v)) {}
  Operand(const hw::FabinDsd& d) : kind_(Kind::Fabric), hw_(d) {}
  Operand(const hw::FaboutDsd& d) : kind_(Kind::Fabric), hw_(d) {}
  Operand(const Fabin& d) : kind_(Kind::Fabric), hw_(hw::FabinDsd(d)), type_(d.type) {}
  Operand(const Fabout& d) : kind_(Kind::Fabric), hw_(hw::FaboutDsd(d)), type_(d.type) {}
  Operand(float v) : kind_(Kind::Number), number_(v) {}
  Operand(double v) : kind_(Kind::Number), number_(v) {}
  Operand(int v) : kind_(Kind::Number), number_(v) {}
  Operand(f16 v) : kind_(Kind::Bits), bits_(v.bits) {}
  Operand(std::uint32_t v) : kind_(Kind::Bits), bits_(v) {}
  Operand(std::uint16_t v) : kind_(Kind::Bits), bits_(v) {}

  hw::Operand resolve(hw::ElemType t) const;
  bool empty() const { return kind_ == Kind::None; }
  // The element type of a memory operand (its array's) or of a typed fabric DSD; none for numbers.
  std::optional<hw::ElemType> type() const;

 private:
  enum class Kind { None, Mem, Fabric, Number, Bits } kind_ = Kind::None;
  MemDsd mem_;
  hw::Operand hw_;
  double number_ = 0;
  std::uint32_t bits_ = 0;
  std::optional<hw::ElemType> type_;  // typed fabric DSDs
};

// ---- tasks --------------------------------------------------------------------------------------------------

class TaskBase {
 public:
  int id() const { return id_; }  // resolved when the program is attached (auto IDs for local tasks)
  const std::string& label() const { return label_; }

 protected:
  friend class Program;
  TaskBase(Program* p, hw::TaskKind kind, int id, std::string label);
  Program* program_;
  hw::TaskKind kind_;
  int id_;
  std::string label_;
  int iq_ = -1;  // data tasks
  const Module* module_ = nullptr;  // the module instance that declared it (ledger claimant), or none
  std::function<void(TaskArg)> body_;
};

// Activated by @activate, or by the completion of an async operation. id -1: assigned at attach, from the highest
// free local ID downwards (IDs 27..30 stay free for memcpy, teardown and timer).
class LocalTask : public TaskBase {
 public:
  LocalTask(Program* p, std::function<void()> body, std::string label = {});
  LocalTask(Program* p, int id, std::function<void()> body, std::string label = {});
  // A task of a module instance: its ID comes from the program's ledger (or `id`), claimed by the module.
  LocalTask(Module* m, std::function<void()> body, std::string label = {}, int id = -1);
};

// Activated by a wavelet arriving on `color` (task ID = colour, WSE-2); the wavelet is its argument.
// input_queue -1: the lowest input queue >= 1 not otherwise bound.
class DataTask : public TaskBase {
 public:
  DataTask(Program* p, Color color, std::function<void(TaskArg)> body, int input_queue = -1, std::string label = {});
};

// Activated by a control wavelet whose entrypoint is `id`; the argument carries its 16-bit data.
class ControlTask : public TaskBase {
 public:
  ControlTask(Program* p, int id, std::function<void(TaskArg)> body, std::string label = {});
};

// A task named in @activate/@block/@unblock or an async option: a task object or a raw ID (colour).
struct TaskRef {
  TaskRef() = default;
  TaskRef(const TaskBase& t) : task(&t) {}
  TaskRef(int raw_id) : id(raw_id) {}
  int resolve() const { return task ? task->id() : id; }
  const TaskBase* task = nullptr;
  int id = -1;
};

// CSL's async options: `{.async = true, .activate = done, .unblock = color}`.
struct Async {
  bool async = false;
  TaskRef activate = {};
  TaskRef unblock = {};
};

// ---- the program --------------------------------------------------------------------------------------------

class Program {
 public:
  Program() = default;
  virtual ~Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Name used in SRAM ownership and error messages; default: the C++ class name.
  virtual std::string name() const;
  // Comptime configuration, run at attach after symbols and tasks are bound: block colours, priorities, initial
  // activations. No DSD operations here.
  virtual void init() {}
  // Runs as the first task of the PE (at the cycle the fabric first steps it). Default: nothing.
  virtual void start() { default_start_ = true; }

  // Allocates every symbol in the CE's SRAM, binds tasks and queues, runs init() and sets start() as boot task.
  // Throws CapacityError (SRAM) or std::invalid_argument (task IDs, queues) naming the PE and the program.
  void attach(hw::ComputeEngine& ce);
  bool attached() const { return ce_ != nullptr; }
  hw::ComputeEngine& engine() const;
  int x() const { return engine().x(); }
  int y() const { return engine().y(); }

  // The PE's resource ledger (queues, microthreads, task IDs), shared by the program and its modules.
  ResourceLedger& ledger() { return ledger_; }

  // ---- host side
  ArrayBase& symbol(const std::string& name) const;  // throws naming the program and its symbols
  bool has_symbol(const std::string& name) const;
  const std::vector<ArrayBase*>& symbols() const { return arrays_; }
  bool exports(const std::string& fn) const { return exports_.count(fn) != 0; }
  std::vector<std::string> exported_functions() const;
  // Runs an exported function (it typically activates a task) and wakes the compute engine.
  void call(const std::string& fn);

 protected:
  // ---- comptime
  void export_function(std::string name, std::function<void()> fn);
  Fabin fabin(FabinSpec spec);    // binds the input queue to the colour
  Fabout fabout(FaboutSpec spec);
  void set_teardown_handler(Color color, std::function<void(Color)> handler);
  // Inside a teardown handler (CSL tile_config.color_config / teardown.exit): reconfigure a colour of this PE's
  // router (resets its switch and filter state), then leave teardown. Need a fabric (Layout::load).
  void set_local_color_config(Color color, const hw::ColorConfig& cfg);
  void exit_teardown(Color color);

  // ---- task control (CSL @activate, @block, @unblock, tile_config.task_priority)
  void activate(TaskRef t);
  void block(TaskRef t);
  void unblock(TaskRef t);
  void set_priority(TaskRef t, Priority p);
  // The main thread's current cycle inside a task body (start of the next operation).
  Cycle now() const { return engine().time(); }
  // Charges cycles of scalar work to the running task (C++ code in a body is otherwise free).
  void charge(Cycle cycles) { engine().charge(cycles); }

  // ---- type-generic builtins: the element type comes from the operands (arrays, typed fabric DSDs), which must
  // agree; fmac with an f32 dest and src0 and an f16 src1 is fmachs. Throws std::invalid_argument naming the program
  // if the types disagree or no operand has one.
  void fmov(Operand dest, Operand src, Async opt = {});
  void fadd(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmax(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmac(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});

  // ---- builtins (dest first, as in CSL). Fabric operands require {.async = true}.
  void fmach(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  void fmachs(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  void fmacs(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  void faddh(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fadds(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fsubh(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fsubs(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmulh(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmuls(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmaxh(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmaxs(Operand dest, Operand src0, Operand src1, Async opt = {});
  void fmovh(Operand dest, Operand src, Async opt = {});
  void fmovs(Operand dest, Operand src, Async opt = {});
  void fnegh(Operand dest, Operand src, Async opt = {});
  void fnegs(Operand dest, Operand src, Async opt = {});
  void mov16(Operand dest, Operand src, Async opt = {});
  void mov32(Operand dest, Operand src, Async opt = {});
  void fh2s(Operand dest, Operand src, Async opt = {});
  void fs2h(Operand dest, Operand src, Async opt = {});
  void add16(Operand dest, Operand src0, Operand src1, Async opt = {});
  void sub16(Operand dest, Operand src0, Operand src1, Async opt = {});
  void and16(Operand dest, Operand src0, Operand src1, Async opt = {});
  void or16(Operand dest, Operand src0, Operand src1, Async opt = {});
  void xor16(Operand dest, Operand src0, Operand src1, Async opt = {});
  // CSL @map: dest[k] = fn(src[k]) over memory DSDs of float or f16 elements, charged n * cycles_per_element +
  // setup cycles (state the cost of your callback; e.g. an exp approximation of ~10 instructions).
  void map(Operand dest, Operand src, const std::function<float(float)>& fn, Cycle cycles_per_element = 1);
  // Sends one control wavelet (e.g. switch commands built with hw::ControlPayload) on `color` through `oq`.
  void send_control(Color color, int oq, std::uint32_t payload, Async opt = {.async = true});

 private:
  friend class ArrayBase;
  friend class Layout;
  friend class Module;
  friend class TaskBase;
  void op(hw::OpCode code, const Operand& dest, const Operand& src0, const Operand& src1, const Operand& scalar,
          const Async& opt);
  std::string owner() const;
  // The element type the typed operands among `ops` share (generic builtin `fn`); throws if they disagree or none.
  hw::ElemType common_type(const char* fn, std::initializer_list<const Operand*> ops) const;
  fabric::Transport& transport() const;  // throws if the program was not loaded

  hw::ComputeEngine* ce_ = nullptr;
  bool default_start_ = false;
  fabric::Transport* fabric_ = nullptr;  // the mesh it was loaded onto (Layout::load)
  std::vector<ArrayBase*> arrays_;
  std::vector<TaskBase*> tasks_;
  std::vector<std::pair<int, Color>> queue_bindings_;  // (IQ, colour) from fabin() before attach
  std::vector<std::pair<Color, std::function<void(Color)>>> teardown_handlers_;
  std::map<std::string, std::function<void()>> exports_;
  ResourceLedger ledger_;
};

}  // namespace wafersim::csl
