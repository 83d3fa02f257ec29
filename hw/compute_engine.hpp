// Compute engine (CE) of one PE: the hardware task picker (64 task IDs: data tasks bound to colours, local tasks,
// control tasks; activated + unblocked = runnable; priorities; run to completion), DSD operations executed by the
// main thread (memory operands) or by microthreads (operations with a fabric operand: async, or blocking the main
// thread until they complete, from a coroutine task body), and the SRAM they use; the DSD cost model of
// docs/firmware.md (DSR loads, issue, SIMD chunks, the SDK's bank rule, FP pipeline latency; simd_32/simd_64 packing
// on fabric operands). Event-driven: an idle CE costs nothing; step() does all that is due at `now` and names the
// next cycle it needs. WSE-3 rules where the architecture says so (hw/arch_params.hpp): data task IDs are input
// queues, local IDs from pe.local_task_min_id, explicit microthread IDs, one colour per output queue (queue_flush
// rebinds), one fabric input per operation. Not modelled: instruction-level timing of scalar code in task bodies
// (bodies are C++ and cost only their DSD operations and what they charge()), FIFOs, colour swap (WSE-2 only);
// datapath contention between the main thread and the microthreads only with pe.datapath_contention (an
// assumption, off in the presets; SRAM ports and the scalar work of charge() never contend).
// Host memory (meshes up to 720x720 CEs): per-task state is bitmasks over the 64 task IDs; bodies are stored only
// for bound tasks, in ID order; labels are interned in a process-wide table (PEs running the same program share
// them); a microthread's state is allocated only while it runs an operation. host_bytes() counts it all.
#pragma once
#include <array>
#include <bit>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "hw/arch_params.hpp"
#include "hw/coro.hpp"
#include "hw/dsd.hpp"
#include "hw/pe_agent.hpp"
#include "hw/pe_queues.hpp"
#include "hw/sram.hpp"
#include "hw/wavelet.hpp"

namespace wafersim::hw {

// The argument of a data task (the wavelet that activated it) or of a control task (the 16-bit data of the
// control wavelet's single-command form, in the low half).
struct TaskArg {
  std::uint32_t payload = 0;
  std::uint32_t u32() const { return payload; }
  float f32() const;
  std::uint16_t data16() const { return static_cast<std::uint16_t>(payload & 0xffffu); }  // low half
  std::uint16_t index() const { return static_cast<std::uint16_t>(payload >> 16); }      // upper half
  float f16() const;  // low half as fp16, widened
};

enum class TaskKind : std::uint8_t { Unbound, Data, Local, Control };
enum class Priority : std::uint8_t { Low = 0, High = 1 };
using TaskBody = std::function<void(TaskArg)>;

// Timing rules (documented in docs/firmware.md):
// - A task picked at cycle t starts its body at t + task_switch_cycles; each memory-only DSD operation in the body
//   adds op_cycles (loads of its DSD operands not held in DSRs, issue, SIMD chunks, FP pipeline latency); the
//   task ends at the sum (at least one cycle after it was picked) and the picker selects again at that cycle.
// - Task bodies run functionally at once when the task starts; an async operation issued from a body starts on
//   its microthread at the body's time cursor (t + switch + cycles of the ops before it).
// - A microthread starts dsd_issue_cycles after issue and then moves at most one wavelet per fabric operand per
//   cycle (one element, or two 16-bit elements with simd_32; simd_64 moves two wavelets when both are there), and
//   only in a cycle where every fabin operand has its wavelets and the fabout operand has room (stall otherwise).
// - A fabric operation without options.async blocks: the running task's coroutine (hw/coro.hpp) suspends on it
//   (suspend_main); no other task is picked until it completes; the body resumes the cycle after its last element.
// - A second op on a busy microthread waits for it (FIFO per microthread).
// - pe.datapath_contention (off: none of this; the main thread and the microthreads run independently): one
//   element operation per cycle. Each cycle it serves the highest priority that can move: microthreads with
//   OpOptions::priority high, then medium, then the main thread while one of its memory operations runs (each
//   operation's whole op_cycles interval, issue and loads included; not charge()), then low; round-robin among
//   microthreads of equal priority; a microthread stalled on its queues or not yet started yields the cycle. So a
//   low microthread does not move while a main-thread operation runs, and each element a high or medium one moves
//   meanwhile pushes that operation, the later ones and the task's end by one cycle (the body's time cursor and
//   the start of async ops it issued are not moved).
class ComputeEngine : public PrefetchingAgent {
 public:
  struct Stats {
    std::uint64_t tasks_run = 0;
    std::uint64_t main_busy_cycles = 0;      // cycles from task pick to task end, summed
    std::uint64_t dsd_ops = 0;               // memory-only operations on the main thread
    std::uint64_t async_ops = 0;             // microthread operations completed
    std::uint64_t microthread_stall_cycles = 0;  // cycles a microthread waited on an empty IQ / full OQ
    std::uint64_t wavelets_received = 0;     // popped from input queues (data tasks, fabin, control)
    std::uint64_t wavelets_sent = 0;         // pushed to output queues
  };

  // `sram` and `queues` belong to this PE (the fabric owns them); `x`, `y` only name the PE in messages.
  ComputeEngine(const ArchParams& arch, int x, int y, Sram& sram, PeQueues& queues);

  int x() const { return x_; }
  int y() const { return y_; }
  const ArchParams& arch() const { return arch_; }
  Sram& sram() { return sram_; }
  PeQueues& queues() { return queues_; }
  const Stats& stats() const { return stats_; }
  std::string name() const;  // "PE(x,y)"

  // ---- Binding (layout / comptime). Throws std::invalid_argument naming the PE and the task on conflicts.
  // A data task's ID is its colour (WSE-2) or its input queue (WSE-3, pe.data_tasks_on_queues); wavelets of that
  // colour go to input queue `iq`. Returns the ID.
  int bind_data_task(Color color, int iq, TaskBody body, std::string label = {});
  int data_task_id(Color color, int iq) const;
  void bind_local_task(int id, TaskBody body, std::string label = {});  // pe.local_task_min_id..max_id
  void bind_control_task(int id, TaskBody body, std::string label = {});
  void bind_input_queue(int iq, Color color);  // for fabin operands; checks the queue is not bound elsewhere
  // WSE-3 (queues.output_queue_one_color): output queue `oq` carries only `color` (a fabout operand on another colour
  // is an error); queue_flush rebinds an empty, idle queue (the SDK's flush waits for it to drain and runs task 29:
  // not modelled). No-op / error on WSE-2.
  void bind_output_queue(int oq, Color color);
  void queue_flush(int oq, Color color);
  void set_priority(int id, Priority p);
  // Runs once as the first task (at the cycle the fabric first steps the CE), e.g. a program's start(); returns
  // false if it had nothing to do (then it costs no cycles).
  void set_boot(std::function<bool()> boot);
  // Called to ask the fabric for a step at a cycle (used when the host activates a task between runs).
  void set_waker(std::function<void(Cycle)> waker) { waker_ = std::move(waker); }
  // Teardown handler, run by the system teardown task (ID 29) when the router puts `color` into teardown.
  void set_teardown_handler(Color color, std::function<void(Color)> handler);
  // A program whose task bodies touch host state shared with other PEs (e.g. a test collecting results in one
  // vector) says so before the CE is attached: the fabric then steps every compute engine serially. Otherwise a
  // CE without teardown handlers is isolated (PeAgent::isolated): task bodies touch only this PE's SRAM, queues,
  // program and CE, so CEs step on the host threads. (Teardown handlers reconfigure the router: not isolated.)
  void set_shares_host_state(bool shares) { shares_host_state_ = shares; }

  TaskKind kind(int id) const;
  const std::string& label(int id) const;  // empty for an unbound ID

  // ---- Task state: from task bodies, microthread completion, or the host (then wake() the CE).
  void activate(int id);
  void block(int id);  // blocking a colour = blocking its data task ID (WSE-2); wavelets stay in the IQ
  void unblock(int id);
  bool activated(int id) const { return (activated_ & bit(checked(id))) != 0; }
  bool blocked(int id) const { return (blocked_ & bit(checked(id))) != 0; }
  void wake();  // asks the waker for a step at the current cycle

  // ---- DSD operations (from task bodies).
  // Memory-only, synchronous: executed at once, cycles charged to the running task.
  // With a fabric operand: queued on its microthread (ID = OQ of the fabout, else IQ of the first fabin); without
  // options.async it is blocking: returns true, and the running coroutine must suspend_main() before it issues
  // anything else or returns. Throws std::invalid_argument (operand types, lengths, simd modes) naming the PE and op.
  // The rules that depend only on a memory-only operation's shape (op code, operand kinds, element sizes, scalar
  // pointers) are checked once per shape and host thread; lengths and bounds are checked at every operation.
  bool execute(const DsdOp& op);
  // CSL @map on the main thread: dest[k] = fn(src[k]) over memory DSDs of f32 (4-byte) or f16 (2-byte) elements
  // (each side converted through float), costing one operation (loads + issue) plus n * (map_element_cycles +
  // cycles_per_element). The cost of the callback is the caller's statement (the SDK does not publish one).
  void map(const MemDsd& dest, const MemDsd& src, const std::function<float(float)>& fn, Cycle cycles_per_element);
  // Cycle of the main thread's time cursor: inside a task body, the start of the next operation.
  Cycle time() const { return cursor_; }
  // Charges `cycles` of scalar work to the running task (task bodies' C++ code is otherwise free): kernels use it
  // to account for what a CSL task would execute outside DSD operations (e.g. an exp approximation per element).
  void charge(Cycle cycles);
  // Coroutine task bodies: a body that called a Coro-returning function hands it over here. Ended: rethrows what
  // it threw. Suspended on a blocking operation: the CE keeps it and the main thread until it ends.
  void run_coroutine(Coro c);
  // From the awaiter of a blocking operation (csl::Issued): suspends coroutine `h` until that operation completes.
  void suspend_main(std::coroutine_handle<> h);

  // ---- PeAgent
  Cycle step(Cycle now, PeQueues& queues) override;
  // Busy: a task or microthread runs or is runnable, or an input queue holds wavelets nobody consumed yet.
  // Activated-but-blocked tasks alone do not make the PE busy.
  bool busy() const override;
  bool isolated() const override { return !shares_host_state_ && teardown_handlers_.empty(); }
  void on_teardown(Color c, Cycle now) override;
  void describe_wait(std::ostream& os) const override;
  // The state of the running microthreads and the input queues that hold words (a step touches both; each is a
  // separate line, far from the CE on a large mesh).
  void prefetch(const PeQueues& queues) const override {
    for (std::uint32_t rest = active_uts_; rest != 0; rest &= rest - 1)
      __builtin_prefetch(uts_[std::countr_zero(rest)].get());
    for (std::uint32_t rest = queues.input_nonempty_mask(); rest != 0; rest &= rest - 1)
      __builtin_prefetch(&queues.iq(std::countr_zero(rest)));
  }

  // Cycles charged by a memory-only operation of length n (exposed for tests and planners).
  Cycle op_cycles(const DsdOp& op, std::uint32_t n) const;

  // Host memory this CE holds: sizeof plus the heap it owns (bound-task table, running microthreads, teardown
  // handlers). Not counted: heap behind the captures of task bodies and handlers (std::function does not say;
  // the program's own closures live there), and the shared label table.
  std::size_t host_bytes() const;

 private:
  // Binds a local or control task to `id` (0..max_id); errors name the kind and the ID.
  void bind_task(int id, int min_id, int max_id, TaskKind kind, const char* kind_name, TaskBody body,
                 std::string label);

  static constexpr std::uint64_t bit(int id) { return std::uint64_t{1} << id; }
  // `id` if it is a task ID (0..63), else throws std::out_of_range.
  static int checked(int id);

  // A bound task; the table holds them in ID order (slot = number of bound IDs below).
  struct BoundTask {
    TaskBody body;
    const std::string* label = nullptr;  // interned
    std::uint32_t arg = 0;               // control tasks: pending argument
    std::int8_t iq = kUnbound;           // data tasks: the input queue of their colour
  };
  struct Microthread {
    std::vector<std::pair<DsdOp, Cycle>> pending;  // ops waiting for this microthread, with issue cycles (FIFO)
    DsdOp op;
    std::uint32_t length = 0, done = 0;
    bool adv_sent = false;  // advance_switch control wavelet sent
    Cycle ready = 0;        // earliest cycle of the next element
    Cycle last = kNever;    // cycle of the last element moved
    Cycle started = 0;
    SimdMode simd = SimdMode::Off;  // of the op's fabric operands
    std::array<std::int8_t, 2> in_iq{};  // input queue of src0 / src1 if a fabin operand, else -1 (set by start())
    bool stalled = false;
    bool wait_on_output = false;  // stalled on a full OQ (else an empty IQ)
    int wait_queue = 0;
    Color wait_color = 0;
  };

  BoundTask& task(int id) { return tasks_[std::popcount(bound_ & (bit(id) - 1))]; }
  const BoundTask& task(int id) const { return tasks_[std::popcount(bound_ & (bit(id) - 1))]; }
  bool is_bound(int id) const { return (bound_ & bit(id)) != 0; }
  void set_label(int id, BoundTask& t, std::string label, const char* kind_name);
  std::uint32_t op_length(const DsdOp& op) const;
  void validate(const DsdOp& op) const;
  void run_memory_op(const DsdOp& op, std::uint32_t n);
  template <OpCode C>
  void run_typed(const DsdOp& op, std::uint32_t n);
  std::uint32_t read_elem(const Operand& o, std::uint32_t k, ElemType t) const;
  void write_elem(const Operand& o, std::uint32_t k, ElemType t, std::uint32_t bits);
  int microthread_of(const DsdOp& op) const;
  // Moves the microthread forward at `now` (at most one element per cycle); returns true if it completed.
  bool advance_microthread(int ut, Cycle now);
  // pe.datapath_contention: records a main-thread memory operation on the datapath over [start, start + cycles).
  void note_main_op(Cycle start, Cycle cycles);
  // pe.datapath_contention: moves at most one element of one microthread at `now`, by priority (see the timing
  // rules); returns true if that microthread completed.
  bool advance_contended(Cycle now);
  // Starts `op` (issued at `issued`) on microthread `ut`, not before `earliest`.
  void start(int ut, const DsdOp& op, Cycle issued, Cycle earliest);
  void complete(int ut, Cycle now);
  void drain_control_heads(Cycle now);
  int pick_task() const;
  void run_task(int id, Cycle now);
  // Resumes the waiting coroutine at `now`; ends its task if it ran to its end.
  void resume_task(Cycle now);
  // Ends the task (or boot/teardown work) picked at `picked`: the main thread is free at the cursor.
  void end_task(Cycle picked, Cycle now);
  // Throws if a blocking operation was issued and not awaited.
  void check_awaited() const;
  bool iq_owned_by_microthread(int iq) const;
  [[noreturn]] void fail(const std::string& what) const;

  // Read by prefetch() from the CE's first cache lines.
  std::uint32_t active_uts_ = 0;  // bit u: microthread u runs an operation (uts_[u] is allocated)
  std::array<std::unique_ptr<Microthread>, 8> uts_{};  // allocated while microthread u runs an operation
  const ArchParams& arch_;
  int x_, y_;
  Sram& sram_;
  PeQueues& queues_;
  // Task state, bit i for task ID i.
  std::uint64_t bound_ = 0;
  std::uint64_t data_ = 0, control_ = 0;  // kind of a bound task (else local)
  std::uint64_t activated_ = 0, blocked_ = 0, high_ = 0;  // high_: Priority::High
  std::vector<BoundTask> tasks_;  // bound tasks in ID order
  std::array<std::uint8_t, 8> iq_readers_{};
  std::array<Color, 8> oq_color_ = [] {  // WSE-3: the colour each output queue is bound to
    std::array<Color, 8> a{};
    a.fill(kNullColor);
    return a;
  }();  // microthreads currently reading each IQ through a fabin operand
  std::vector<std::pair<Color, std::function<void(Color)>>> teardown_handlers_;
  std::vector<Color> teardown_pending_;
  std::function<bool()> boot_;
  bool boot_done_ = false;
  std::function<void(Cycle)> waker_;
  Cycle now_ = 0;             // cycle of the current/last step
  Cycle cursor_ = 0;          // main thread time cursor
  Cycle main_free_ = 0;       // cycle at which the running task ends (kNever: it waits on a blocking op)
  bool in_task_ = false;
  bool shares_host_state_ = false;
  int running_ = -1;
  // Blocking operations: the waiting task's coroutine, the innermost frame to resume, when the task was picked.
  Coro coro_;
  std::coroutine_handle<> resume_;
  Cycle picked_ = 0;
  bool unawaited_ = false;        // a blocking op was issued and its coroutine has not suspended on it yet
  bool waiting_ = false;          // the main thread waits for a blocking op
  OpCode blocking_op_ = OpCode::Fmovs;
  // pe.datapath_contention only: the main thread's memory operations still to run, [start, end) in time order
  // (contiguous ones merged); the cycle a microthread last moved an element; the microthread served last.
  std::vector<std::pair<Cycle, Cycle>> main_ops_;
  Cycle dp_used_ = kNever;
  std::uint8_t rr_ = 7;
  Stats stats_;
};

}  // namespace wafersim::hw
