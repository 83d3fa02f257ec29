// The CSL-like per-PE program: symbols in SRAM (Array, Var), tasks bound to task IDs (DataTask, LocalTask,
// ControlTask), DSDs (mem1d, mem4d, fabin, fabout) and DSD builtins with CSL's async options, exported functions.
// A Program is plain C++ that drives one hw::ComputeEngine; timing comes from the CE (see compute_engine.hpp).
// Parts of a program can be modules (module.hpp, CSL's @import_module); the program's ResourceLedger records who
// holds each queue, microthread and task ID of the PE.
// A task body is void, or a coroutine (returns Coro) that may `co_await` a blocking fabric builtin (no .async).
// DSD registers (Dsr) and @map loops (map_loop) charge the DSD cost model of docs/firmware.md.
// WSE-3 rules follow the architecture (hw/arch_params.hpp): a data task's ID is its input queue's, local task IDs
// start at pe.local_task_min_id, `.microthread` names a microthread, an output queue carries the one colour its
// fabouts name (queue_flush rebinds it), one fabin per operation; a program that breaks one fails at load or at
// the operation, naming the PE, the program or module, and the limit.
// PEs of one role share their code (ProgramCode: the program's name, symbol table, task table, exported names),
// found by content at attach: a PE's own state is its program object (the kernel's members, its
// arrays' SRAM addresses, its tasks' closures, which capture only `this`) and its compute engine.
// Not modelled: scalar code cost in task bodies (unless charge()d), FIFOs, DSR allocation (any number of Dsrs).
#pragma once
#include <concepts>
#include <coroutine>
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
#include "hw/coro.hpp"
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
using Coro = hw::Coro;

class Program;
class Module;
class Dsr;

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

  const std::string& name() const;  // from the program's symbol table (shared by the PEs of its role)
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
  std::uint32_t index_;  // in the program's symbol table
  std::uint32_t count_;
  std::uint32_t address_ = 0;
  std::uint8_t elem_bytes_;
  hw::ElemType type_;
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
  std::uint32_t extent = 0;  // elements
  Color color = 0;
  int input_queue = 1;
  std::optional<hw::ElemType> type = {};  // element type of the stream, for the type-generic builtins
  hw::SimdMode simd_mode = hw::SimdMode::Off;  // simd_32 / simd_64: two 16-bit values per wavelet (hw/dsd.hpp)
};
struct FaboutSpec {
  std::uint32_t extent = 0;
  Color color = 0;
  int output_queue = 1;
  bool control = false;         // every wavelet is a control wavelet
  bool advance_switch = false;  // one ADV control wavelet follows the last wavelet
  int index_base = -1;          // >= 0: 16-bit elements carry index_base + k in the upper half
  std::optional<hw::ElemType> type = {};  // element type of the stream, for the type-generic builtins
  hw::SimdMode simd_mode = hw::SimdMode::Off;  // simd_32 / simd_64: two 16-bit values per wavelet (hw/dsd.hpp)
};
// Fabric DSDs as fabin()/fabout() return them: the hardware DSD and, if declared, the stream's element type.
struct Fabin : hw::FabinDsd {
  std::optional<hw::ElemType> type;
  bool operator==(const Fabin&) const = default;
};
struct Fabout : hw::FaboutDsd {
  std::optional<hw::ElemType> type;
  bool operator==(const Fabout&) const = default;
};

// An operand of a builtin: a DSD, an array (whole), a pointer to a scalar (`&var`), or an immediate number.
class Operand {
 public:
  Operand() = default;
  Operand(const MemDsd& d) : kind_(Kind::Mem), mem_(d) {}
  Operand(const ArrayBase& a) : kind_(Kind::Mem), mem_(mem1d(a)) {}
  Operand(const Dsr& r);
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
  bool in_dsr_ = false;  // a Dsr: the operation does not load it
};

// ---- tasks --------------------------------------------------------------------------------------------------

class TaskBase {
 public:
  int id() const { return id_; }  // resolved when the program is attached (auto IDs for local tasks)
  const std::string& label() const { return *label_; }

 protected:
  friend class Program;
  TaskBase(Program* p, hw::TaskKind kind, int id, std::string label, std::function<void(TaskArg)> body);
  Program* program_;
  const std::string* label_;  // interned (PEs running the same program share it)
  const Module* module_ = nullptr;  // the module instance that declared it (ledger claimant), or none
  std::function<void(TaskArg)> body_;  // its closure (captures `this`: no heap); moved to the CE at attach
  int id_;
  int iq_ = -1;  // data tasks
  hw::TaskKind kind_;
};

// Activated by @activate, or by the completion of an async operation. id -1: assigned at attach, from the highest
// free local ID downwards (IDs 27..30 stay free for memcpy, teardown and timer).
// A body returning Coro may co_await blocking fabric operations (the task ends when the coroutine does).
template <class F>
concept VoidBody = std::invocable<F&> && std::same_as<std::invoke_result_t<F&>, void>;
template <class F>
concept CoroBody = std::invocable<F&> && std::same_as<std::invoke_result_t<F&>, Coro>;

class LocalTask : public TaskBase {
 public:
  template <VoidBody F>
  LocalTask(Program* p, F body, std::string label = {}) : LocalTask(p, -1, std::move(body), std::move(label)) {}
  template <VoidBody F>
  LocalTask(Program* p, int id, F body, std::string label = {})
      : TaskBase(p, hw::TaskKind::Local, id, std::move(label), [b = std::move(body)](TaskArg) { b(); }) {}
  // A task of a module instance: its ID comes from the program's ledger (or `id`), claimed by the module.
  template <VoidBody F>
  LocalTask(Module* m, F body, std::string label = {}, int id = -1)
      : LocalTask(&module_program(*m), id, std::move(body), std::move(label)) {
    module_ = m;
  }
  template <CoroBody F>
  LocalTask(Program* p, F body, std::string label = {}) : LocalTask(p, -1, std::move(body), std::move(label)) {}
  template <CoroBody F>
  LocalTask(Program* p, int id, F body, std::string label = {})
      : LocalTask(p, id, [p, b = std::move(body)] { run_coroutine(*p, b()); }, std::move(label)) {}

 private:
  static Program& module_program(Module& m);
};

// Activated by a wavelet arriving on `color`; the wavelet is its argument. Task ID = colour (WSE-2) or the input
// queue (WSE-3, known after attach). input_queue -1: the lowest input queue >= 1 not otherwise bound.
class DataTask : public TaskBase {
 public:
  DataTask(Program* p, Color color, std::function<void(TaskArg)> body, int input_queue = -1, std::string label = {});
  template <std::invocable<TaskArg> F>
    requires std::same_as<std::invoke_result_t<F&, TaskArg>, Coro>
  DataTask(Program* p, Color color, F body, int input_queue = -1, std::string label = {})
      : DataTask(p, color,
                 std::function<void(TaskArg)>([p, b = std::move(body)](TaskArg a) { run_coroutine(*p, b(a)); }),
                 input_queue, std::move(label)) {}
};

// Activated by a control wavelet whose entrypoint is `id`; the argument carries its 16-bit data.
class ControlTask : public TaskBase {
 public:
  ControlTask(Program* p, int id, std::function<void(TaskArg)> body, std::string label = {});
  template <std::invocable<TaskArg> F>
    requires std::same_as<std::invoke_result_t<F&, TaskArg>, Coro>
  ControlTask(Program* p, int id, F body, std::string label = {})
      : ControlTask(p, id,
                    std::function<void(TaskArg)>([p, b = std::move(body)](TaskArg a) { run_coroutine(*p, b(a)); }),
                    std::move(label)) {}
};

// Hands a coroutine task body that has just returned (ended or suspended on a blocking operation) to the CE.
void run_coroutine(Program& p, Coro c);

// A task named in @activate/@block/@unblock or an async option: a task object or a raw ID (colour).
struct TaskRef {
  TaskRef() = default;
  TaskRef(const TaskBase& t) : task(&t) {}
  TaskRef(int raw_id) : id(raw_id) {}
  int resolve() const { return task ? task->id() : id; }
  const TaskBase* task = nullptr;
  int id = -1;
};

// CSL's async options: `{.async = true, .activate = done, .unblock = color}`; WSE-3's `.ut_id` is `.microthread`
// (an explicit microthread ID; an error where pe.explicit_microthread_ids is false, as on WSE-2).
struct Async {
  bool async = false;
  TaskRef activate = {};
  TaskRef unblock = {};
  int microthread = -1;
  hw::UtPriority priority = hw::UtPriority::Low;  // CSL `.priority` (matters with pe.datapath_contention)
};

// What a DSD builtin returns. In a Coro body, `co_await fmovs(dest, fabin_dsd)` (no .async) waits until that
// blocking fabric operation has completed; co_await after any other operation does not suspend. A blocking
// fabric operation that is not co_awaited is an error (a void body cannot wait).
struct Issued {
  hw::ComputeEngine* blocking = nullptr;  // set for a blocking fabric operation
  bool await_ready() const noexcept { return blocking == nullptr; }
  void await_suspend(std::coroutine_handle<> h) const { blocking->suspend_main(h); }
  void await_resume() const noexcept {}
};

// ---- DSD registers ------------------------------------------------------------------------------------------

// A memory DSD loaded into a data structure register (CSL @get_dsr + @load_to_dsr, made by Program::load_dsr,
// which charges pe.dsr_load_cycles). Operations that name a Dsr do not load that operand again; operations on
// plain DSDs load each DSD operand (docs/firmware.md, DSD cost model). advance() is @increment_dsd_offset on the
// register (its cost is part of an @map loop's pe.map_element_cycles).
class Dsr {
 public:
  void advance(std::int32_t delta) { dsd_.shape.offset += delta; }

 private:
  friend class Program;
  friend class Operand;
  explicit Dsr(const MemDsd& d) : dsd_(d) {}
  MemDsd dsd_;
};

// ---- the code PEs of one role share ------------------------------------------------------------------------

// What the programs of every PE of one role hold identically: the program's name, its symbol table (names, sizes,
// element types, SRAM offsets), task table (kind, ID, input queue, label) and exported function names. Program::attach
// builds it from what the program declared and shares it (wafersim::share: compared by content, whichever factory
// or layout built it), so every PE whose program declared the same points to one object. Immutable once attached:
// PEs step on several host threads and only read it.
struct ProgramCode {
  struct Symbol {
    std::string name;
    std::uint32_t count = 0;
    hw::ElemType type = hw::ElemType::F32;
    std::uint32_t offset = 0;  // SRAM byte address
    bool operator==(const Symbol&) const = default;
  };
  struct Task {
    const std::string* label = nullptr;  // interned: equal labels, equal pointers
    hw::TaskKind kind = hw::TaskKind::Unbound;
    int id = -1, iq = -1;
    bool operator==(const Task&) const = default;
  };
  std::string name;
  std::vector<Symbol> symbols;       // declaration order
  std::vector<Task> tasks;           // declaration order
  std::vector<std::string> exports;  // sorted
  bool operator==(const ProgramCode&) const = default;
  std::size_t hash() const;
};

// ---- the program --------------------------------------------------------------------------------------------

class Program {
 public:
  Program();
  virtual ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  // Name used in SRAM ownership and error messages; default: the C++ class name.
  virtual std::string name() const;
  // Comptime configuration, run at attach after symbols and tasks are bound: block colours, priorities, initial
  // activations. No DSD operations here.
  virtual void init() {}
  // Runs as the first task of the PE (at the cycle the fabric first steps it). Default: nothing.
  virtual void start() { default_start_ = true; }

  // Allocates every symbol in the CE's SRAM, binds tasks and queues, runs init() and sets start() as boot task;
  // then the program's code (what it declared) is shared with the PEs of its role and the declarations dropped.
  // Throws CapacityError (SRAM) or std::invalid_argument (task IDs, queues) naming the PE and the program.
  void attach(hw::ComputeEngine& ce);
  bool attached() const { return ce_ != nullptr; }
  hw::ComputeEngine& engine() const;
  int x() const { return engine().x(); }
  int y() const { return engine().y(); }

  // The PE's resource ledger (queues, microthreads, task IDs), shared by the program and its modules while they are
  // built (until attach; std::logic_error after).
  ResourceLedger& ledger();

  // After attach: the code this PE shares with the PEs of its role (ProgramCode).
  const ProgramCode& code() const;
  // Host memory this PE's program holds alone: sizeof(Program) plus the heap it owns (its symbol and export tables,
  // the declarations until attach). A kernel overrides it to add its own members, arrays and modules. Not counted:
  // the shared code, the closures its CE holds (captures of `this`: inside the std::function, no heap).
  virtual std::size_t host_bytes() const;

  // ---- host side
  ArrayBase& symbol(const std::string& name) const;  // throws naming the program and its symbols
  bool has_symbol(const std::string& name) const;
  const std::vector<ArrayBase*>& symbols() const { return arrays_; }
  bool exports(const std::string& fn) const { return export_index(fn) >= 0; }
  std::vector<std::string> exported_functions() const;
  // Runs an exported function (it typically activates a task) and wakes the compute engine.
  void call(const std::string& fn);

 protected:
  // ---- comptime
  void export_function(std::string name, std::function<void()> fn);
  Fabin fabin(FabinSpec spec);    // binds the input queue to the colour
  Fabout fabout(FaboutSpec spec);  // WSE-3: binds the output queue to the colour
  // WSE-3 @queue_flush: rebinds output queue `oq` to `color`; the queue must be empty and idle (the SDK's flush of a
  // draining queue and its task-29 handler are not modelled).
  void queue_flush(int oq, Color color);
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
  Issued fmov(Operand dest, Operand src, Async opt = {});
  Issued fadd(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmax(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmac(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});

  // ---- builtins (dest first, as in CSL). A fabric operation without {.async = true} blocks: co_await it in a
  // Coro body (see Issued).
  Issued fmach(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  Issued fmachs(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  Issued fmacs(Operand dest, Operand src0, Operand src1, Operand scalar, Async opt = {});
  Issued faddh(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fadds(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fsubh(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fsubs(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmulh(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmuls(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmaxh(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmaxs(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued fmovh(Operand dest, Operand src, Async opt = {});
  Issued fmovs(Operand dest, Operand src, Async opt = {});
  Issued fnegh(Operand dest, Operand src, Async opt = {});
  Issued fnegs(Operand dest, Operand src, Async opt = {});
  Issued mov16(Operand dest, Operand src, Async opt = {});
  Issued mov32(Operand dest, Operand src, Async opt = {});
  Issued fh2s(Operand dest, Operand src, Async opt = {});
  Issued fs2h(Operand dest, Operand src, Async opt = {});
  Issued add16(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued sub16(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued and16(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued or16(Operand dest, Operand src0, Operand src1, Async opt = {});
  Issued xor16(Operand dest, Operand src0, Operand src1, Async opt = {});
  // CSL @map with a value callback: dest[k] = fn(src[k]) over memory DSDs of float or f16 elements, charged as one
  // DSD operation (two DSD loads + issue) plus n * (pe.map_element_cycles + cycles_per_element) (state the cost of
  // your callback; e.g. an exp approximation of ~10 instructions).
  void map(Operand dest, Operand src, const std::function<float(float)>& fn, Cycle cycles_per_element = 1);
  // ---- DSD registers and @map loops (DSD cost model in docs/firmware.md)
  // Loads a memory DSD into a DSD register: pe.dsr_load_cycles.
  Dsr load_dsr(const MemDsd& d);
  // CSL @map whose callback issues DSD operations: body(k) for k = 0..n-1 on the main thread, each element
  // charged pe.map_element_cycles besides the operations it issues (which pay issue + SIMD chunks; operands held
  // in Dsrs are not reloaded). E.g. a GEMV column loop:
  //   Dsr y = load_dsr(mem1d(y_arr)), a = load_dsr(mem1d(A, {.extent = M}));
  //   map_loop(N, [&](std::uint32_t k) { fmach(y, y, a, scalar(x, k)); a.advance(M); });
  void map_loop(std::uint32_t n, const std::function<void(std::uint32_t)>& body);
  // Sends one control wavelet (e.g. switch commands built with hw::ControlPayload) on `color` through `oq`.
  void send_control(Color color, int oq, std::uint32_t payload, Async opt = {.async = true});

 private:
  friend class ArrayBase;
  friend class Layout;
  friend class Module;
  friend class TaskBase;
  struct Declared;  // what the program declares before attach (program.cpp)
  Issued op(hw::OpCode code, const Operand& dest, const Operand& src0, const Operand& src1, const Operand& scalar,
          const Async& opt);
  std::string owner() const;
  // The element type the typed operands among `ops` share (generic builtin `fn`); throws if they disagree or none.
  hw::ElemType common_type(const char* fn, std::initializer_list<const Operand*> ops) const;
  fabric::Transport& transport() const;  // throws if the program was not loaded
  const std::string& symbol_name(std::uint32_t index) const;
  int export_index(const std::string& fn) const;  // in the sorted export names, or -1

  hw::ComputeEngine* ce_ = nullptr;
  fabric::Transport* fabric_ = nullptr;  // the mesh it was loaded onto (Layout::load)
  std::unique_ptr<Declared> declared_;       // until attach
  std::shared_ptr<const ProgramCode> code_;  // from attach: shared by the PEs of this role
  std::vector<ArrayBase*> arrays_;           // this PE's symbols, in code_->symbols order
  std::vector<std::function<void()>> exports_;  // this PE's exported functions, in code_->exports order
  bool default_start_ = false;
};

}  // namespace wafersim::csl
