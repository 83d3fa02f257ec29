#include "hw/compute_engine.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "common/fp16.hpp"
#include "common/intern.hpp"
#include "hw/dsd_ops.hpp"

namespace wafersim::hw {

namespace {
constexpr int kTeardownTask = 29;

std::string str(int v) { return std::to_string(v); }

const std::string kNoLabel;

// An op's name in error messages: `opn + ": ..."` makes the string only when validate() fails.
struct OpName {
  const char* name;
  friend std::string operator+(OpName n, const char* rest) { return std::string(n.name) + rest; }
};

// Byte address of element k of a memory operand: a linear walk (a scalar, a mem1d, a mem4d with one dimension of
// extent > 1 first) or, for a general mem4d, MemDsd::address.
struct Walk {
  const MemDsd* general = nullptr;
  std::int64_t first = 0, step = 0;
  std::uint32_t addr(std::uint32_t k) const {
    return general ? general->address(k) : static_cast<std::uint32_t>(first + std::int64_t(k) * step);
  }
};
Walk walk(const MemDsd& m) {
  if (m.scalar_ref) return {nullptr, m.base, 0};
  if (std::uint64_t(m.extent[1]) * m.extent[2] * m.extent[3] == 1)
    return {nullptr, std::int64_t(m.base) + std::int64_t(m.offset) * m.elem_bytes,
            std::int64_t(m.stride[0]) * m.elem_bytes};
  return {&m, 0, 0};
}
// A source of a memory-only operation: an immediate (its bits in the element format) or a memory operand.
struct Source {
  bool immediate = false;
  std::uint32_t bits = 0;
  Walk w;
};
Source source(const Operand& o, int bytes) {
  if (auto* imm = std::get_if<Immediate>(&o)) return {true, bytes == 2 ? (imm->bits & 0xffffu) : imm->bits, {}};
  return {false, 0, walk(std::get<MemDsd>(o))};
}
// The shape of an operation without fabric operands and without a named microthread: its op code and, per operand,
// the kind, element size and pointer-to-scalar flag; 0 for any other operation. validate() of such an operation
// reads nothing else (not the PE, its queues or the architecture), so a shape that passed once passes again.
std::uint64_t memory_shape(const DsdOp& op) {
  if (op.options.microthread >= 0) return 0;
  std::uint64_t s = std::uint64_t(1) << 63 | std::uint64_t(op.code);
  int shift = 8;
  for (const Operand* o : {&op.dest, &op.src0, &op.src1, &op.scalar}) {
    std::uint64_t bits = o->index();  // 3 bits
    if (auto* m = std::get_if<MemDsd>(o)) bits |= std::uint64_t(m->scalar_ref) << 3 | std::uint64_t(m->elem_bytes) << 4;
    else if (bits == 2 || bits == 3) return 0;  // FabinDsd, FaboutDsd
    s |= bits << shift;
    shift += 12;
  }
  return s;
}
// Shapes that passed validate() on this host thread (direct-mapped; a shape that failed is never stored, so every
// invalid operation is still rejected, with its message).
thread_local std::array<std::uint64_t, 64> valid_shapes{};
std::uint64_t& shape_slot(std::uint64_t shape) { return valid_shapes[(shape * 0x9E3779B97F4A7C15ull) >> 58]; }
}  // namespace

float TaskArg::f32() const { return std::bit_cast<float>(payload); }
float TaskArg::f16() const { return f16_bits_to_f32(data16()); }

ComputeEngine::ComputeEngine(const ArchParams& arch, int x, int y, Sram& sram, PeQueues& queues)
    : arch_(arch), x_(x), y_(y), sram_(sram), queues_(queues) {
  iq_readers_.fill(0);
  if (queues_.num_input_queues() > 8 || queues_.num_output_queues() > 8)
    fail("at most 8 input and 8 output queues are supported (microthread IDs are queue IDs)");
}

std::string ComputeEngine::name() const { return "PE(" + str(x_) + "," + str(y_) + ")"; }

void ComputeEngine::fail(const std::string& what) const { throw std::invalid_argument(name() + ": " + what); }

// ---- binding ------------------------------------------------------------------------------------------------

int ComputeEngine::checked(int id) {
  if (id < 0 || id >= 64) throw std::out_of_range("task ID " + str(id) + " outside 0..63");
  return id;
}

TaskKind ComputeEngine::kind(int id) const {
  const std::uint64_t b = bit(checked(id));
  if (!(bound_ & b)) return TaskKind::Unbound;
  return (data_ & b) ? TaskKind::Data : (control_ & b) ? TaskKind::Control : TaskKind::Local;
}

const std::string& ComputeEngine::label(int id) const { return is_bound(checked(id)) ? *task(id).label : kNoLabel; }

int ComputeEngine::data_task_id(Color color, int iq) const { return arch_.pe.data_tasks_on_queues ? iq : color; }

int ComputeEngine::bind_data_task(Color color, int iq, TaskBody body, std::string label) {
  if (color >= arch_.router.routable_colors)
    fail("data task on colour " + str(color) + ": only colours 0.." + str(arch_.router.routable_colors - 1) +
         " are routable");
  const int id = data_task_id(color, iq);
  if (id >= 0 && id < 64 && is_bound(id))
    fail("task ID " + str(id) + " is already bound (" + *task(id).label + "); a data task on " +
         (arch_.pe.data_tasks_on_queues ? "input queue " + str(iq) + " (WSE-3 rule: pe.data_tasks_on_queues)"
                                        : "colour " + str(color)) +
         " needs that ID");
  bind_input_queue(iq, color);
  bind_task(id, 0, 63, TaskKind::Data, "data", std::move(body), std::move(label));
  task(id).iq = static_cast<std::int8_t>(iq);
  return id;
}

void ComputeEngine::bind_local_task(int id, TaskBody body, std::string label) {
  bind_task(id, arch_.pe.local_task_min_id, arch_.pe.local_task_max_id, TaskKind::Local, "local", std::move(body),
            std::move(label));
}

void ComputeEngine::bind_control_task(int id, TaskBody body, std::string label) {
  bind_task(id, 0, arch_.pe.task_ids - 1, TaskKind::Control, "control", std::move(body), std::move(label));
}

void ComputeEngine::bind_output_queue(int oq, Color color) {
  if (!arch_.queues.output_queue_one_color) return;
  if (oq < 0 || oq >= queues_.num_output_queues())
    fail("output queue " + str(oq) + " does not exist (this architecture has " + str(queues_.num_output_queues()) + ")");
  if (oq_color_[oq] != kNullColor && oq_color_[oq] != color)
    fail("output queue " + str(oq) + " is bound to colour " + str(oq_color_[oq]) + ", cannot send colour " +
         str(color) + " (one colour per output queue: queues.output_queue_one_color; rebind with queue_flush)");
  oq_color_[oq] = color;
}

void ComputeEngine::queue_flush(int oq, Color color) {
  if (!arch_.queues.output_queue_one_color)
    fail("queue_flush: output queues are not bound to colours on this architecture (queues.output_queue_one_color)");
  if (oq < 0 || oq >= queues_.num_output_queues()) fail("queue_flush: output queue " + str(oq) + " does not exist");
  if (!queues_.oq(oq).empty() || (active_uts_ & (1u << oq)))
    fail("queue_flush: output queue " + str(oq) + " still holds or streams wavelets (flush it when it is empty)");
  oq_color_[oq] = color;
}

void ComputeEngine::bind_task(int id, int min_id, int max_id, TaskKind kind, const char* kind_name, TaskBody body,
                              std::string label) {
  if (id < min_id || id > max_id)
    fail(std::string(kind_name) + " task ID " + str(id) + " outside " + str(min_id) + ".." + str(max_id) +
         (kind == TaskKind::Local && min_id > 0 ? " (pe.local_task_min_id: IDs below are the input queues' data tasks)"
                                                 : ""));
  if (is_bound(id)) fail("task ID " + str(id) + " is already bound (" + *task(id).label + ")");
  if (in_task_) fail("task ID " + str(id) + ": tasks are bound at load, not from a running task");
  BoundTask t;
  t.body = std::move(body);
  t.label = intern(label.empty() ? std::string(kind_name) + " task " + str(id) : std::move(label));
  tasks_.insert(tasks_.begin() + std::popcount(bound_ & (bit(id) - 1)), std::move(t));
  bound_ |= bit(id);
  if (kind == TaskKind::Data) data_ |= bit(id);
  if (kind == TaskKind::Control) control_ |= bit(id);
}

void ComputeEngine::bind_input_queue(int iq, Color color) {
  if (iq < 0 || iq >= queues_.num_input_queues())
    fail("input queue " + str(iq) + " does not exist (this architecture has " + str(queues_.num_input_queues()) + ")");
  for (int c = 0; c < kMaxColors; ++c)
    if (c != color && queues_.input_queue_of(Color(c)) == iq)
      fail("input queue " + str(iq) + " is already bound to colour " + str(c) + ", cannot bind it to colour " +
           str(color));
  const int old = queues_.input_queue_of(color);
  if (old != kUnbound && old != iq)
    fail("colour " + str(color) + " is already bound to input queue " + str(old) + ", cannot bind it to " + str(iq));
  queues_.bind_input_queue(iq, color);
}

void ComputeEngine::set_priority(int id, Priority p) {
  if (p == Priority::High) high_ |= bit(checked(id));
  else high_ &= ~bit(checked(id));
}

void ComputeEngine::set_boot(std::function<bool()> boot) {
  boot_ = std::move(boot);
  boot_done_ = !boot_;
}

void ComputeEngine::set_teardown_handler(Color color, std::function<void(Color)> handler) {
  teardown_handlers_.emplace_back(color, std::move(handler));
}

// ---- task state ---------------------------------------------------------------------------------------------

void ComputeEngine::activate(int id) {
  if (id < 0 || id >= 64) fail("activate: task ID " + str(id) + " outside 0..63");
  if (!is_bound(id)) fail("activate: no task is bound to ID " + str(id));
  activated_ |= bit(id);
}
void ComputeEngine::block(int id) {
  if (id < 0 || id >= 64) fail("block: task ID " + str(id) + " outside 0..63");
  blocked_ |= bit(id);
}
void ComputeEngine::unblock(int id) {
  if (id < 0 || id >= 64) fail("unblock: task ID " + str(id) + " outside 0..63");
  blocked_ &= ~bit(id);
}
void ComputeEngine::wake() {
  if (waker_) waker_(now_);
}

// ---- DSD operations -----------------------------------------------------------------------------------------

std::uint32_t ComputeEngine::op_length(const DsdOp& op) const {
  std::uint32_t n = 0;
  bool have = false;
  const Operand* operands[3] = {&op.dest, &op.src0, &op.src1};
  for (int k = 0; k < 3; ++k) {
    const Operand& o = *operands[k];
    std::uint32_t len;
    if (auto* m = std::get_if<MemDsd>(&o)) {
      if (m->scalar_ref) continue;
      len = m->length();
    } else if (auto* f = std::get_if<FabinDsd>(&o)) {
      len = f->extent;
    } else if (auto* f = std::get_if<FaboutDsd>(&o)) {
      len = f->extent;
    } else {
      continue;
    }
    if (have && n != len)
      fail(std::string(op_info(op.code).name) + ": " + (k == 0 ? "dest" : k == 1 ? "src0" : "src1") + " " +
           describe(o) + " has length " + str(len) + " but another operand has length " + str(n));
    n = len;
    have = true;
  }
  return have ? n : 1;
}

void ComputeEngine::validate(const DsdOp& op) const {
  const OpInfo& info = op_info(op.code);
  const OpName opn{info.name};  // the message is built only when validation fails
  auto check_mem = [&](const Operand& o, ElemType t, const char* role) {
    if (auto* m = std::get_if<MemDsd>(&o)) {
      if (m->elem_bytes != elem_bytes(t))
        fail(opn + ": " + role + " " + describe(o) + " has " + str(m->elem_bytes) + "-byte elements, the op needs " +
             str(elem_bytes(t)));
    }
  };
  if (std::holds_alternative<std::monostate>(op.dest) || std::holds_alternative<Immediate>(op.dest) ||
      std::holds_alternative<FabinDsd>(op.dest))
    fail(opn + ": destination must be a memory DSD, a pointer to a scalar or a fabout DSD, not " + describe(op.dest));
  check_mem(op.dest, info.dest, "dest");
  auto check_src = [&](const Operand& o, ElemType t, const char* role) {
    if (std::holds_alternative<std::monostate>(o)) fail(opn + ": " + role + " is missing");
    if (std::holds_alternative<FaboutDsd>(o)) fail(opn + ": " + role + " cannot be a fabout DSD");
    check_mem(o, t, role);
  };
  check_src(op.src0, info.src0, "src0");
  if (info.num_srcs == 2) check_src(op.src1, info.src1, "src1");
  if (info.has_scalar) {
    check_src(op.scalar, info.src1, "scalar");
    if (is_fabric(op.scalar) || (std::holds_alternative<MemDsd>(op.scalar) && !std::get<MemDsd>(op.scalar).scalar_ref))
      fail(opn + ": the scalar operand must be an immediate or a pointer to a scalar");
  }
  int fabins[3], nf = 0;
  for (const Operand* o : {&op.src0, &op.src1}) {
    if (auto* f = std::get_if<FabinDsd>(o)) {
      if (f->iq < 0 || f->iq >= queues_.num_input_queues()) fail(opn + ": " + describe(*o) + ": no such input queue");
      const int bound = queues_.input_queue_of(f->color);
      if (bound != f->iq)
        fail(opn + ": " + describe(*o) + ": colour " + str(f->color) +
             (bound == kUnbound ? " is not bound to an input queue" : " is bound to IQ " + str(bound)));
      for (int k = 0; k < nf; ++k)
        if (fabins[k] == f->iq) fail(opn + ": two fabin operands read the same input queue " + str(f->iq));
      fabins[nf++] = f->iq;
    }
  }
  if (nf > arch_.pe.fabric_inputs_per_op)
    fail(opn + ": " + str(nf) + " fabric input operands; this architecture allows " + str(arch_.pe.fabric_inputs_per_op) +
         " per operation (pe.fabric_inputs_per_op)");
  if (auto* f = std::get_if<FaboutDsd>(&op.dest)) {
    if (f->oq < 0 || f->oq >= queues_.num_output_queues()) fail(opn + ": " + describe(op.dest) + ": no such output queue");
    if (f->color >= kMaxColors) fail(opn + ": " + describe(op.dest) + ": colour out of range");
    if (arch_.queues.output_queue_one_color && oq_color_[f->oq] != f->color)
      fail(opn + ": " + describe(op.dest) + ": output queue " + str(f->oq) +
           (oq_color_[f->oq] == kNullColor ? " is not bound to a colour"
                                           : " is bound to colour " + str(oq_color_[f->oq])) +
           " (one colour per output queue: queues.output_queue_one_color; rebind with queue_flush)");
  }
  if (const int ut = op.options.microthread; ut >= 0) {
    if (!arch_.pe.explicit_microthread_ids)
      fail(opn + ": names microthread " + str(ut) +
           "; this architecture derives microthread IDs from the queues (pe.explicit_microthread_ids)");
    if (ut >= std::min(arch_.pe.microthreads, 8))
      fail(opn + ": microthread " + str(ut) + " outside 0.." + str(std::min(arch_.pe.microthreads, 8) - 1));
    if (!is_fabric(op.dest) && !is_fabric(op.src0) && !is_fabric(op.src1))
      fail(opn + ": names microthread " + str(ut) + " but has no fabric operand");
  }
  // simd_32 / simd_64: every fabric operand of the op in the same mode, on 16-bit elements.
  std::optional<SimdMode> mode;
  auto check_simd = [&](const Operand& o, ElemType t, const char* role) {
    SimdMode m;
    if (auto* f = std::get_if<FabinDsd>(&o)) m = f->simd;
    else if (auto* f = std::get_if<FaboutDsd>(&o)) m = f->simd;
    else return;
    if (m != SimdMode::Off && elem_bytes(t) != 2)
      fail(opn + ": " + role + " " + describe(o) + ": a simd_32/simd_64 fabric operand needs 16-bit elements");
    if (auto* f = std::get_if<FaboutDsd>(&o); f && m != SimdMode::Off && f->stamp_index)
      fail(opn + ": " + role + " " + describe(o) + ": index stamping uses the upper half, it cannot be packed");
    if (mode && *mode != m) fail(opn + ": its fabric operands use different simd modes");
    mode = m;
  };
  check_simd(op.dest, info.dest, "dest");
  check_simd(op.src0, info.src0, "src0");
  if (info.num_srcs == 2) check_simd(op.src1, info.src1, "src1");
}

Cycle ComputeEngine::op_cycles(const DsdOp& op, std::uint32_t n) const {
  int w = simd_width(op.code, arch_.pe.simd);
  for (const Operand* o : {&op.dest, &op.src0, &op.src1})
    if (auto* m = std::get_if<MemDsd>(o)) w = std::min(w, stride_width_cap(*m));
  // Bank rule (SDK "SIMD mode" appendix, published): 8 banks, successive 16-bit words in successive banks; the two
  // reads of a cycle must come from banks with bank1 % 4 != bank2 % 4. Two vector sources whose start words are
  // equal modulo 4 conflict; the op then runs at half width (the penalty is an assumption).
  if (arch_.pe.bank_conflicts && w > 1) {
    auto* a = std::get_if<MemDsd>(&op.src0);
    auto* b = std::get_if<MemDsd>(&op.src1);
    if (a && b && !a->scalar_ref && !b->scalar_ref && a->length() > 1 && b->length() > 1) {
      const std::int64_t wa = a->address(0) / 2, wb = b->address(0) / 2;
      if ((wa - wb) % 4 == 0) w = std::max(1, w / 2);
    }
  }
  w = std::max(w, 1);
  // DSD operands not held in a DSD register are loaded first (scalar pointers and immediates are not DSDs).
  int loads = 0;
  for (const Operand* o : {&op.dest, &op.src0, &op.src1}) {
    if (auto* m = std::get_if<MemDsd>(o)) loads += !m->scalar_ref && !m->in_dsr;
    else loads += is_fabric(*o);
  }
  // A chunk wider than 64 bits per operand (WSE-3: 8 x fp16, 4 x fp32) takes simd_chunk_cycles, others one cycle
  // (the WSE-3 sweep of timing-evidence 4.4 sees ~4 fp16 lanes per cycle at the published width 8).
  const PeParams& pe = arch_.pe;
  const OpInfo& info = op_info(op.code);
  const int bits = 8 * w * std::max({elem_bytes(info.dest), elem_bytes(info.src0), elem_bytes(info.src1)});
  const Cycle chunk = bits > 64 ? Cycle(pe.simd_chunk_cycles) : 1;
  return Cycle(loads) * Cycle(pe.dsr_load_cycles) + Cycle(pe.dsd_issue_cycles) +
         chunk * ((Cycle(n) + Cycle(w) - 1) / Cycle(w)) + Cycle(pe.fp_pipeline_latency);
}

std::uint32_t ComputeEngine::read_elem(const Operand& o, std::uint32_t k, ElemType t) const {
  if (auto* imm = std::get_if<Immediate>(&o)) return elem_bytes(t) == 2 ? (imm->bits & 0xffffu) : imm->bits;
  const MemDsd& m = std::get<MemDsd>(o);
  const std::uint32_t addr = m.scalar_ref ? m.base : m.address(k);
  std::uint32_t v = 0;
  sram_.read(addr, &v, m.elem_bytes);  // throws std::out_of_range beyond the SRAM
  return v;
}

void ComputeEngine::write_elem(const Operand& o, std::uint32_t k, ElemType t, std::uint32_t bits) {
  const MemDsd& m = std::get<MemDsd>(o);
  const std::uint32_t addr = m.scalar_ref ? m.base : m.address(k);
  sram_.write(addr, &bits, m.elem_bytes);
}

void ComputeEngine::run_memory_op(const DsdOp& op, std::uint32_t n) {
  if (!sram_.functional()) return;  // timing-only: no contents, same cycles
  ops::dispatch(op.code, [&]<OpCode C>() { run_typed<C>(op, n); });
}

// One loop per op code: element types and the element function are compile-time constants; operands are walked,
// read and written in element order, as the op's definition (a destination may alias a source).
template <OpCode C>
void ComputeEngine::run_typed(const DsdOp& op, std::uint32_t n) {
  constexpr OpInfo info = ops::info(C);
  constexpr int db = ops::bytes(info.dest), b0 = ops::bytes(info.src0), b1 = ops::bytes(info.src1);
  using D = std::conditional_t<db == 2, std::uint16_t, std::uint32_t>;
  std::uint8_t* const mem = sram_.data();
  const std::uint64_t cap = sram_.capacity();
  const auto load = [&]<int B>(const Source& s, std::uint32_t k) -> std::uint32_t {
    if (s.immediate) return s.bits;
    const std::uint32_t addr = s.w.addr(k);
    std::uint32_t v = 0;
    if (addr + std::uint64_t(B) > cap) sram_.read(addr, &v, B);  // throws std::out_of_range
    else std::memcpy(&v, mem + addr, B);
    return v;
  };
  const Source s0 = source(op.src0, b0);
  const Source s1 = info.num_srcs == 2 ? source(op.src1, b1) : Source{true, 0, {}};
  const Source sc = info.has_scalar ? source(op.scalar, b1) : Source{true, 0, {}};
  const Walk dest = walk(std::get<MemDsd>(op.dest));
  for (std::uint32_t k = 0; k < n; ++k) {
    const std::uint32_t a = load.template operator()<b0>(s0, k);
    const std::uint32_t b = load.template operator()<b1>(s1, k);
    const std::uint32_t c = load.template operator()<b1>(sc, k);
    const D r = static_cast<D>(ops::elem<C>(a, b, c));
    const std::uint32_t addr = dest.addr(k);
    if (addr + std::uint64_t(db) > cap) sram_.write(addr, &r, db);  // throws std::out_of_range
    else std::memcpy(mem + addr, &r, db);
  }
}

int ComputeEngine::microthread_of(const DsdOp& op) const {
  if (op.options.microthread >= 0) return op.options.microthread;
  if (auto* f = std::get_if<FaboutDsd>(&op.dest)) return f->oq;
  if (auto* f = std::get_if<FabinDsd>(&op.src0)) return f->iq;
  return std::get<FabinDsd>(op.src1).iq;
}

void ComputeEngine::check_awaited() const {
  if (unawaited_)
    fail(std::string(op_info(blocking_op_).name) +
         ": a blocking fabric operation (no .async) must be awaited: `co_await` it in a task body that returns "
         "csl::Coro, or issue it with .async = true");
}

bool ComputeEngine::execute(const DsdOp& op) {
  if (!in_task_) fail(std::string(op_info(op.code).name) + ": DSD operations run only inside a task");
  check_awaited();
  if (const std::uint64_t shape = memory_shape(op); shape == 0) {
    validate(op);
  } else if (std::uint64_t& slot = shape_slot(shape); slot != shape) {
    validate(op);
    slot = shape;
  }
  const std::uint32_t n = op_length(op);
  const bool fabric = is_fabric(op.dest) || is_fabric(op.src0) || is_fabric(op.src1);
  if (!fabric) {
    run_memory_op(op, n);
    const Cycle cycles = op_cycles(op, n);
    if (arch_.pe.datapath_contention) note_main_op(cursor_, cycles);
    cursor_ += cycles;
    ++stats_.dsd_ops;
    // An async memory-only op completes with the cycles charged above; its actions take effect at once (the
    // picker runs only after the current task ends).
    if (op.options.activate >= 0) activate(op.options.activate);
    if (op.options.unblock >= 0) unblock(op.options.unblock);
    return false;
  }
  const int ut = microthread_of(op);
  if (uts_[ut]) uts_[ut]->pending.emplace_back(op, cursor_);  // busy: FIFO
  else start(ut, op, cursor_, cursor_ + arch_.pe.dsd_issue_cycles);
  if (op.options.async) return false;
  unawaited_ = true;
  blocking_op_ = op.code;
  return true;
}

void ComputeEngine::suspend_main(std::coroutine_handle<> h) {
  if (!unawaited_) fail("suspend_main: no blocking operation was issued");
  unawaited_ = false;
  waiting_ = true;
  resume_ = h;
}

void ComputeEngine::run_coroutine(Coro c) {
  if (!in_task_) fail("a coroutine task body runs only inside a task");
  if (c.done()) {
    c.rethrow();
    return;
  }
  if (!waiting_) fail("a coroutine task body suspended on something other than a blocking DSD operation");
  coro_ = std::move(c);
}

void ComputeEngine::map(const MemDsd& dest, const MemDsd& src, const std::function<float(float)>& fn,
                        Cycle cycles_per_element) {
  if (!in_task_) fail("map: DSD operations run only inside a task");
  check_awaited();
  const std::uint32_t n = dest.scalar_ref ? src.length() : dest.length();
  if (!src.scalar_ref && src.length() != n)
    fail("map: source has length " + str(src.length()) + " but the destination " + str(n));
  if (sram_.functional()) {
    for (std::uint32_t k = 0; k < n; ++k) {
      std::uint32_t v = 0;
      sram_.read(src.scalar_ref ? src.base : src.address(k), &v, src.elem_bytes);
      const float x = src.elem_bytes == 2 ? f16_bits_to_f32(std::uint16_t(v)) : std::bit_cast<float>(v);
      const float y = fn(x);
      const std::uint32_t r = dest.elem_bytes == 2 ? f32_to_f16_bits(y) : std::bit_cast<std::uint32_t>(y);
      sram_.write(dest.scalar_ref ? dest.base : dest.address(k), &r, dest.elem_bytes);
    }
  }
  const PeParams& pe = arch_.pe;
  const int loads = int(!dest.scalar_ref && !dest.in_dsr) + int(!src.scalar_ref && !src.in_dsr);
  const Cycle cycles = Cycle(loads) * Cycle(pe.dsr_load_cycles) + Cycle(pe.dsd_issue_cycles) +
                       Cycle(n) * (Cycle(pe.map_element_cycles) + cycles_per_element);
  if (pe.datapath_contention) note_main_op(cursor_, cycles);
  cursor_ += cycles;
  ++stats_.dsd_ops;
}

void ComputeEngine::charge(Cycle cycles) {
  if (!in_task_) fail("charge: scalar work is charged only inside a task");
  check_awaited();
  cursor_ += cycles;
}

void ComputeEngine::start(int ut, const DsdOp& op, Cycle issued, Cycle earliest) {
  if (!uts_[ut]) uts_[ut] = std::make_unique<Microthread>();
  Microthread& m = *uts_[ut];
  active_uts_ |= 1u << ut;
  m.op = op;
  m.length = op_length(op);
  m.done = 0;
  m.adv_sent = false;
  m.ready = std::max(earliest, issued + Cycle(arch_.pe.dsd_issue_cycles));
  m.started = m.ready;
  m.last = kNever;
  m.stalled = false;
  m.simd = SimdMode::Off;
  if (auto* f = std::get_if<FaboutDsd>(&m.op.dest)) m.simd = f->simd;
  const Operand* srcs[2] = {&m.op.src0, &m.op.src1};
  for (int k = 0; k < 2; ++k) {
    m.in_iq[k] = -1;
    if (auto* f = std::get_if<FabinDsd>(srcs[k])) {
      ++iq_readers_[f->iq];
      m.in_iq[k] = static_cast<std::int8_t>(f->iq);
      m.simd = f->simd;  // validate() made the modes of an op's fabric operands equal
    }
  }
}

void ComputeEngine::complete(int ut, Cycle now) {
  Microthread& m = *uts_[ut];
  active_uts_ &= ~(1u << ut);
  m.stalled = false;
  ++stats_.async_ops;
  const Cycle per_move = m.simd == SimdMode::Off ? 1 : 2;
  const Cycle moves = (m.done + per_move - 1) / per_move + (m.adv_sent ? 1 : 0);
  const Cycle span = now >= m.started ? now - m.started + 1 : 0;
  if (span > moves) stats_.microthread_stall_cycles += span - moves;
  for (const int iq : m.in_iq)
    if (iq >= 0) --iq_readers_[iq];
  if (m.op.options.activate >= 0) activate(m.op.options.activate);
  if (m.op.options.unblock >= 0) unblock(m.op.options.unblock);
  if (!m.op.options.async) {  // a blocking op: the waiting body continues the next cycle
    waiting_ = false;
    main_free_ = now + 1;
  }
  if (m.pending.empty()) {
    uts_[ut].reset();  // nothing queued: the microthread's state goes
    return;
  }
  const auto [op, issued] = m.pending.front();
  m.pending.erase(m.pending.begin());
  start(ut, op, issued, now + 1);
}

bool ComputeEngine::advance_microthread(int ut, Cycle now) {
  if (!(active_uts_ & (1u << ut))) return false;
  Microthread& m = *uts_[ut];
  if (m.ready > now || m.last == now) return false;
  const OpInfo& info = op_info(m.op.code);
  // Control wavelets at the head of a fabin queue are not data: they activate their entrypoint's task.
  for (const int iq : m.in_iq) {
    if (iq < 0) continue;
    WaveletQueue& q = queues_.iq(iq);
    while (!q.empty() && q.front().control) {
      const Wavelet w = queues_.pop_input(iq);
      ++stats_.wavelets_received;
      const int entry = ControlPayload::decode(w.payload).entrypoint;
      if (entry != kNullColor && is_bound(entry)) {
        task(entry).arg = w.data16();
        activate(entry);
      }
    }
  }
  auto* out = std::get_if<FaboutDsd>(&m.op.dest);
  if (m.done == m.length) {  // only the advance-switch control wavelet is left, or a zero-length op
    if (out && out->advance_switch && !m.adv_sent) {
      if (queues_.oq(out->oq).full()) {
        m.stalled = true;
        m.wait_on_output = true;
        m.wait_queue = out->oq;
        m.wait_color = out->color;
        return false;
      }
      queues_.push_output(out->oq,
                          Wavelet{ControlPayload::single(SwitchCmd::Advance, true, kNullColor, 0), out->color, true},
                          now);
      ++stats_.wavelets_sent;
      m.adv_sent = true;
    }
    m.last = now;
    complete(ut, now);
    return true;
  }
  // One move: one wavelet per fabric operand, carrying one element, or two 16-bit elements (simd_32, simd_64);
  // simd_64 moves only while its input queues hold two wavelets (or the last one).
  const std::uint32_t per_wavelet = m.simd == SimdMode::Off ? 1 : 2;
  const std::uint32_t moved = std::min(per_wavelet, m.length - m.done);
  const int ready = m.simd == SimdMode::Simd64 && m.length - m.done > 2 ? 2 : 1;
  for (int k = 0; k < 2; ++k) {
    if (const int iq = m.in_iq[k]; iq >= 0 && queues_.iq(iq).size() < ready) {
      m.stalled = true;
      m.wait_on_output = false;
      m.wait_queue = iq;
      m.wait_color = std::get<FabinDsd>(k == 0 ? m.op.src0 : m.op.src1).color;
      return false;
    }
  }
  if (out && queues_.oq(out->oq).full()) {
    m.stalled = true;
    m.wait_on_output = true;
    m.wait_queue = out->oq;
    m.wait_color = out->color;
    return false;
  }
  m.stalled = false;
  std::uint32_t in[2] = {0, 0};  // payloads popped for src0 / src1 when they are fabin operands
  for (int k = 0; k < info.num_srcs; ++k) {
    if (m.in_iq[k] >= 0) {
      in[k] = queues_.pop_input(m.in_iq[k]).payload;
      ++stats_.wavelets_received;
    }
  }
  const bool functional = sram_.functional();
  // Element j of this move from source k (0, 1; 2: the scalar operand, never a fabric operand).
  auto src = [&](int k, ElemType t, std::uint32_t j) -> std::uint32_t {
    if (k < 2 && m.in_iq[k] >= 0) {
      if (per_wavelet == 2) return (j % 2) ? (in[k] >> 16) : (in[k] & 0xffffu);
      return elem_bytes(t) == 2 ? (in[k] & 0xffffu) : in[k];
    }
    const Operand& o = k == 0 ? m.op.src0 : k == 1 ? m.op.src1 : m.op.scalar;
    if (!functional && std::holds_alternative<MemDsd>(o)) return 0;
    return read_elem(o, m.done + j, t);
  };
  std::uint32_t out_word = 0;
  for (std::uint32_t j = 0; j < moved; ++j) {
    const std::uint32_t a = src(0, info.src0, j);
    const std::uint32_t b = info.num_srcs == 2 ? src(1, info.src1, j) : 0;
    const std::uint32_t c = info.has_scalar ? src(2, info.src1, j) : 0;
    const std::uint32_t r = apply_op(m.op.code, a, b, c);
    if (out) {
      std::uint32_t payload = r;
      if (elem_bytes(info.dest) == 2) {
        payload &= 0xffffu;
        if (per_wavelet == 2) payload <<= 16 * (j % 2);
        else if (out->stamp_index) payload |= std::uint32_t(std::uint16_t(out->index_base + m.done + j)) << 16;
      }
      out_word |= payload;
    } else if (functional) {
      write_elem(m.op.dest, m.done + j, info.dest, r);
    }
  }
  if (out) {
    queues_.push_output(out->oq, Wavelet{out_word, out->color, out->control}, now);
    ++stats_.wavelets_sent;
  }
  m.done += moved;
  m.last = now;
  if (m.done == m.length && !(out && out->advance_switch)) {
    complete(ut, now);
    return true;
  }
  return false;
}

// ---- datapath contention (pe.datapath_contention) ------------------------------------------------------------

void ComputeEngine::note_main_op(Cycle start, Cycle cycles) {
  if (cycles == 0) return;
  if (!main_ops_.empty() && main_ops_.back().second == start) main_ops_.back().second += cycles;
  else main_ops_.emplace_back(start, start + cycles);
}

bool ComputeEngine::advance_contended(Cycle now) {
  if (active_uts_ == 0 || dp_used_ == now) return false;  // one element per cycle
  std::size_t past = 0;
  while (past < main_ops_.size() && main_ops_[past].second <= now) ++past;
  main_ops_.erase(main_ops_.begin(), main_ops_.begin() + std::ptrdiff_t(past));
  const bool main_op = !main_ops_.empty() && main_ops_.front().first <= now;
  // High, then medium, then (the main thread's op, if one runs), then low; round-robin after the last served.
  for (int level = int(UtPriority::High); level >= int(UtPriority::Low); --level) {
    for (int k = 1; k <= 8; ++k) {
      const int ut = (rr_ + k) % 8;
      if (!(active_uts_ & (1u << ut)) || int(uts_[ut]->op.options.priority) != level) continue;
      Microthread& m = *uts_[ut];
      if (main_op && level == int(UtPriority::Low)) {  // below the main thread: waits for its operation's end
        m.ready = std::max(m.ready, main_ops_.front().second);
        continue;
      }
      const bool completed = advance_microthread(ut, now);
      if (!completed && m.last != now) continue;  // not ready or stalled: yields the cycle
      dp_used_ = now;
      rr_ = static_cast<std::uint8_t>(ut);
      if (main_op) {  // above the main thread: its running operation and everything after it move one cycle
        for (auto& [start, end] : main_ops_) {
          if (start > now) ++start;
          ++end;
        }
        if (main_free_ != kNever) {
          ++main_free_;
          ++stats_.main_busy_cycles;
        }
      }
      return completed;
    }
  }
  return false;
}

// ---- task picker --------------------------------------------------------------------------------------------

bool ComputeEngine::iq_owned_by_microthread(int iq) const { return iq_readers_[iq] > 0; }

void ComputeEngine::drain_control_heads(Cycle now) {
  // Only the queues that hold words (the mask lives in the queues' first line; each queue is a line of its own).
  for (std::uint32_t rest = queues_.input_nonempty_mask(); rest != 0; rest &= rest - 1) {
    const int iq = std::countr_zero(rest);
    WaveletQueue& q = queues_.iq(iq);
    if (!q.front().control || iq_owned_by_microthread(iq)) continue;
    while (!q.empty() && q.front().control) {
      if (blocked_ & bit(q.front().color)) break;  // a blocked colour leaves its control wavelets queued too
      const Wavelet w = queues_.pop_input(iq);
      ++stats_.wavelets_received;
      const int entry = ControlPayload::decode(w.payload).entrypoint;
      if (entry != kNullColor && is_bound(entry)) {
        task(entry).arg = w.data16();
        activate(entry);
      }
    }
  }
}

int ComputeEngine::pick_task() const {
  // Runnable: activated or (data task) its IQ's head is a data wavelet nobody else reads; not blocked. The lowest
  // ID among the high-priority runnable tasks, else the lowest runnable ID.
  std::uint64_t ready = activated_;
  const std::uint32_t nonempty = queues_.input_nonempty_mask();
  for (std::uint64_t rest = data_ & ~activated_ & ~blocked_; rest != 0; rest &= rest - 1) {
    const int id = std::countr_zero(rest);
    const int iq = task(id).iq;
    if (!(nonempty & (1u << iq)) || iq_owned_by_microthread(iq)) continue;
    const WaveletQueue& q = queues_.iq(iq);
    if (!q.empty() && !q.front().control) ready |= bit(id);
  }
  ready &= bound_ & ~blocked_;
  if (ready == 0) return -1;
  return std::countr_zero((ready & high_) ? (ready & high_) : ready);
}

void ComputeEngine::run_task(int id, Cycle now) {
  BoundTask& t = task(id);
  TaskArg arg;
  if (activated_ & bit(id)) {
    activated_ &= ~bit(id);
    arg.payload = t.arg;
    t.arg = 0;
  } else {
    arg.payload = queues_.pop_input(t.iq).payload;
    ++stats_.wavelets_received;
  }
  in_task_ = true;
  running_ = id;
  cursor_ = now + Cycle(arch_.pe.task_switch_cycles);
  try {
    t.body(arg);
  } catch (...) {
    in_task_ = false;
    throw;
  }
  in_task_ = false;
  check_awaited();
  if (coro_) {  // the body waits on a blocking operation: the main thread stays with it
    picked_ = now;
    main_free_ = kNever;
    return;
  }
  end_task(now, now);
}

void ComputeEngine::resume_task(Cycle now) {
  in_task_ = true;
  cursor_ = now;
  std::exchange(resume_, {}).resume();  // a coroutine's exceptions stay in its promise (rethrown below)
  in_task_ = false;
  check_awaited();
  if (!coro_.done()) {
    if (!waiting_) fail("a coroutine task body suspended on something other than a blocking DSD operation");
    main_free_ = kNever;
    return;
  }
  const Coro ended = std::move(coro_);
  ended.rethrow();
  end_task(picked_, now);
}

void ComputeEngine::end_task(Cycle picked, Cycle now) {
  main_free_ = std::max(cursor_, now + 1);
  stats_.main_busy_cycles += main_free_ - picked;
  ++stats_.tasks_run;
}

Cycle ComputeEngine::step(Cycle now, PeQueues&) {
  now_ = now;
  for (bool progress = true; progress;) {
    progress = false;
    if (arch_.pe.datapath_contention) {
      progress |= advance_contended(now);
    } else {
      for (std::uint32_t rest = active_uts_; rest != 0; rest &= rest - 1)
        progress |= advance_microthread(std::countr_zero(rest), now);
    }
    drain_control_heads(now);
    if (main_free_ <= now) {
      if (coro_) {  // its blocking operation completed
        resume_task(now);
        progress = true;
      } else if (!boot_done_) {
        boot_done_ = true;
        in_task_ = true;
        running_ = -1;
        cursor_ = now + Cycle(arch_.pe.task_switch_cycles);
        const bool worked = boot_();
        in_task_ = false;
        check_awaited();
        if (worked) end_task(now, now);
        progress = true;
      } else if (!teardown_pending_.empty() && !(blocked_ & bit(kTeardownTask))) {
        // System teardown task (ID 29): runs the handlers of the colours in teardown.
        std::vector<Color> pending;
        pending.swap(teardown_pending_);
        in_task_ = true;
        running_ = kTeardownTask;
        cursor_ = now + Cycle(arch_.pe.task_switch_cycles);
        for (Color c : pending)
          for (auto& [hc, fn] : teardown_handlers_)
            if (hc == c) fn(c);
        in_task_ = false;
        check_awaited();
        end_task(now, now);
        progress = true;
      } else if (int id = pick_task(); id >= 0) {
        run_task(id, now);
        progress = true;
      } else {
        running_ = -1;
      }
    }
  }
  Cycle next = main_free_ > now ? main_free_ : kNever;
  for (std::uint32_t rest = active_uts_; rest != 0; rest &= rest - 1) {
    const Microthread& m = *uts_[std::countr_zero(rest)];
    if (m.ready > now) next = std::min(next, m.ready);
    else if (!m.stalled) next = std::min(next, now + 1);
  }
  return next;
}

bool ComputeEngine::busy() const {
  if (in_task_ || main_free_ > now_ || !boot_done_ || !teardown_pending_.empty()) return true;
  if (active_uts_ != 0) return true;  // a queued op implies a running one on its microthread
  // Wavelets delivered but not consumed (e.g. a blocked colour) are pending work: a run that ends with them is
  // reported as a deadlock naming the queue, instead of completing silently.
  if (queues_.input_nonempty_mask() != 0) return true;
  return pick_task() >= 0;
}

std::size_t ComputeEngine::host_bytes() const {
  std::size_t n = sizeof(*this) + tasks_.capacity() * sizeof(BoundTask) +
                  teardown_handlers_.capacity() * sizeof(teardown_handlers_[0]) +
                  teardown_pending_.capacity() * sizeof(Color) + main_ops_.capacity() * sizeof(main_ops_[0]);
  for (const auto& m : uts_)
    if (m) n += sizeof(Microthread) + m->pending.capacity() * sizeof(m->pending[0]);
  return n;
}

void ComputeEngine::on_teardown(Color c, Cycle now) {
  teardown_pending_.push_back(c);
  if (waker_) waker_(now);
}

void ComputeEngine::describe_wait(std::ostream& os) const {
  os << name() << ":";
  bool any = false;
  if (waiting_) {
    os << " main thread in " << label(running_) << " waits for its blocking " << op_info(blocking_op_).name << ";";
    any = true;
  } else if (main_free_ > now_) {
    os << " main thread runs " << (running_ >= 0 ? label(running_) : "start") << " until cycle " << main_free_
       << ";";
    any = true;
  }
  for (int ut = 0; ut < 8; ++ut) {
    if (!(active_uts_ & (1u << ut))) continue;
    const Microthread& m = *uts_[ut];
    os << " microthread " << ut << " " << op_info(m.op.code).name << " " << m.done << "/" << m.length;
    if (m.stalled)
      os << " waits on " << (m.wait_on_output ? "OQ " : "IQ ") << m.wait_queue
         << (m.wait_on_output ? " full" : " empty") << " (colour " << int(m.wait_color) << ")";
    if (!m.pending.empty()) os << " (+" << m.pending.size() << " queued)";
    os << ";";
    any = true;
  }
  for (std::uint64_t rest = activated_ & blocked_; rest != 0; rest &= rest - 1) {
    os << " " << label(std::countr_zero(rest)) << " activated but blocked;";
    any = true;
  }
  for (int iq = 0; iq < queues_.num_input_queues(); ++iq) {
    const WaveletQueue& q = queues_.iq(iq);
    if (q.empty() || iq_owned_by_microthread(iq)) continue;
    const Color c = q.front().color;
    os << " IQ " << iq << " (colour " << int(c) << ") holds " << q.size() << " wavelet(s)";
    const int id = data_task_id(c, iq);
    if (!(data_ & bit(id))) os << " and no data task is bound";
    else if (blocked_ & bit(id)) os << (arch_.pe.data_tasks_on_queues ? ", its data task blocked" : ", colour blocked");
    os << ";";
    any = true;
  }
  if (!any) os << " idle";
}

}  // namespace wafersim::hw
