#include "firmware/csl/program.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <stdexcept>
#include <typeinfo>

#include "common/intern.hpp"
#include "fabric/transport.hpp"
#include "firmware/csl/module.hpp"

namespace wafersim::csl {

namespace {
std::string str(long v) { return std::to_string(v); }
constexpr int kReservedLocalLow = 27;  // 27, 28: memcpy; 29: teardown; 30: timer
}  // namespace

// What a program declares before attach: its symbols and tasks, comptime queue bindings and handlers, the ledger its
// modules claim from, its exports. Attach turns it into the shared ProgramCode and this PE's own tables.
struct Program::Declared {
  std::vector<ProgramCode::Symbol> symbols;
  std::vector<TaskBase*> tasks;
  std::vector<std::pair<int, Color>> queue_bindings;  // (IQ, colour) from fabin() before attach
  std::vector<std::pair<int, Color>> oq_bindings;     // (OQ, colour) from fabout() before attach
  std::vector<std::pair<Color, std::function<void(Color)>>> teardown_handlers;
  std::vector<std::pair<std::string, std::function<void()>>> exports;
  ResourceLedger ledger;
};

// ---- shared code ----------------------------------------------------------------------------------------------

std::size_t ProgramCode::hash() const {
  std::size_t h = std::hash<std::string>()(name);
  for (const Symbol& s : symbols) {
    hash_mix(h, std::hash<std::string>()(s.name));
    hash_mix(h, std::size_t(s.count) << 8 | std::size_t(s.type));
    hash_mix(h, s.offset);
  }
  for (const Task& t : tasks) {
    hash_mix(h, std::hash<const void*>()(t.label));
    hash_mix(h, std::size_t(t.kind) << 16 | std::size_t(t.id & 0xff) << 8 | std::size_t(t.iq & 0xff));
  }
  for (const std::string& e : exports) hash_mix(h, std::hash<std::string>()(e));
  return h;
}

// ---- symbols ------------------------------------------------------------------------------------------------

ArrayBase::ArrayBase(Program* program, std::string name, std::uint32_t count, hw::ElemType type)
    : program_(program), count_(count), elem_bytes_(std::uint8_t(hw::elem_bytes(type))), type_(type) {
  if (program_->attached())
    throw std::logic_error("symbol '" + name + "' declared after the program was attached");
  auto& symbols = program_->declared_->symbols;
  index_ = std::uint32_t(symbols.size());
  symbols.push_back({.name = std::move(name), .count = count, .type = type});
  program_->arrays_.push_back(this);
}

const std::string& ArrayBase::name() const { return program_->symbol_name(index_); }

std::uint32_t ArrayBase::address() const {
  if (!allocated_)
    throw std::logic_error("symbol '" + name() + "' has no SRAM address before the program is attached");
  return address_;
}

void ArrayBase::read_bytes(void* dst, std::uint32_t first, std::uint32_t count) const {
  if (std::uint64_t(first) + count > count_)
    throw std::out_of_range(program_->owner() + ": read of '" + name() + "'[" + str(first) + ", +" + str(count) +
                            ") beyond its " + str(count_) + " elements");
  program_->engine().sram().read(address() + first * elem_bytes_, dst, count * elem_bytes_);
}

void ArrayBase::write_bytes(const void* src, std::uint32_t first, std::uint32_t count) {
  if (std::uint64_t(first) + count > count_)
    throw std::out_of_range(program_->owner() + ": write of '" + name() + "'[" + str(first) + ", +" + str(count) +
                            ") beyond its " + str(count_) + " elements");
  program_->engine().sram().write(address() + first * elem_bytes_, src, count * elem_bytes_);
}

// ---- DSDs ---------------------------------------------------------------------------------------------------

MemDsd mem1d(const ArrayBase& array, Mem1dSpec spec) {
  MemDsd d;
  d.array = &array;
  d.shape.elem_bytes = array.elem_bytes();
  d.shape.dims = 1;
  d.shape.extent = {spec.extent == ~0u ? array.size() : spec.extent, 1, 1, 1};
  d.shape.stride = {spec.stride, 0, 0, 0};
  d.shape.offset = spec.offset;
  return d;
}

MemDsd mem4d(const ArrayBase& array, std::array<std::uint32_t, 4> extents, std::array<std::int32_t, 4> strides,
             std::int32_t offset) {
  MemDsd d;
  d.array = &array;
  d.shape.elem_bytes = array.elem_bytes();
  d.shape.dims = 4;
  d.shape.extent = extents;
  d.shape.stride = strides;
  d.shape.offset = offset;
  return d;
}

MemDsd scalar(const ArrayBase& array, std::uint32_t i) {
  MemDsd d = mem1d(array, {.extent = 1, .stride = 0, .offset = std::int32_t(i)});
  d.scalar = true;
  return d;
}

MemDsd increment_offset(MemDsd d, std::int32_t delta) {
  d.shape.offset += delta;
  return d;
}

Operand::Operand(const Dsr& r) : kind_(Kind::Mem), mem_(r.dsd_), in_dsr_(true) {}

hw::Operand Operand::resolve(hw::ElemType t) const {
  switch (kind_) {
    case Kind::None: return std::monostate{};
    case Kind::Fabric: return hw_;
    case Kind::Bits: return hw::Immediate{bits_};
    case Kind::Number:
      switch (t) {
        case hw::ElemType::F32: return hw::Immediate{std::bit_cast<std::uint32_t>(float(number_))};
        case hw::ElemType::F16: return hw::Immediate{f32_to_f16_bits(float(number_))};
        case hw::ElemType::U16: return hw::Immediate{std::uint32_t(std::int64_t(number_)) & 0xffffu};
        case hw::ElemType::U32: return hw::Immediate{std::uint32_t(std::int64_t(number_))};
      }
      return std::monostate{};
    case Kind::Mem: {
      hw::MemDsd m = mem_.shape;
      const ArrayBase& a = *mem_.array;
      // Every element the DSD can touch must lie inside the array.
      std::int64_t lo = m.offset, hi = m.offset;
      for (int d = 0; d < 4; ++d) {
        if (m.extent[d] <= 1) continue;  // no span (a mem1d's dimensions 1..3)
        const std::int64_t span = std::int64_t(m.extent[d] - 1) * m.stride[d];
        (span < 0 ? lo : hi) += span;
      }
      if (m.length() == 0) lo = hi = 0;
      if (lo < 0 || hi >= std::int64_t(a.size()))
        throw std::out_of_range(a.program().engine().name() + ": DSD over '" + a.name() + "' reaches elements [" +
                                str(lo) + ", " + str(hi) + "] outside its " + str(a.size()) + " elements");
      m.base = a.address();
      m.in_dsr = in_dsr_;
      if (mem_.scalar) {
        m.base += std::uint32_t(m.offset) * m.elem_bytes;
        m.offset = 0;
        m.scalar_ref = true;
      }
      return m;
    }
  }
  return std::monostate{};
}

std::optional<hw::ElemType> Operand::type() const {
  if (kind_ == Kind::Mem) return mem_.array->elem_type();
  if (kind_ == Kind::Fabric) return type_;
  return std::nullopt;
}

// ---- tasks --------------------------------------------------------------------------------------------------

TaskBase::TaskBase(Program* p, hw::TaskKind kind, int id, std::string label, std::function<void(TaskArg)> body)
    : program_(p), label_(intern(std::move(label))), body_(std::move(body)), id_(id), kind_(kind) {
  if (p->attached()) throw std::logic_error("task declared after the program was attached");
  p->declared_->tasks.push_back(this);
}

Program& LocalTask::module_program(Module& m) { return m.program(); }

DataTask::DataTask(Program* p, Color color, std::function<void(TaskArg)> body, int input_queue, std::string label)
    : TaskBase(p, hw::TaskKind::Data, color, std::move(label), std::move(body)) {
  iq_ = input_queue;
}

ControlTask::ControlTask(Program* p, int id, std::function<void(TaskArg)> body, std::string label)
    : TaskBase(p, hw::TaskKind::Control, id, std::move(label), std::move(body)) {}

void run_coroutine(Program& p, Coro c) { p.engine().run_coroutine(std::move(c)); }

// ---- program ------------------------------------------------------------------------------------------------

std::string Program::name() const {
  int status = 0;
  const char* mangled = typeid(*this).name();
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string n = (status == 0 && d) ? d : mangled;
  std::free(d);
  if (auto pos = n.rfind("::"); pos != std::string::npos) n = n.substr(pos + 2);
  return n;
}

Program::Program() : declared_(std::make_unique<Declared>()) {}
Program::~Program() = default;

std::string Program::owner() const {
  return (ce_ ? ce_->name() + " " : std::string()) + "program " + (code_ ? code_->name : name());
}

hw::ComputeEngine& Program::engine() const {
  if (!ce_) throw std::logic_error("program " + name() + " is not attached to a compute engine");
  return *ce_;
}

ResourceLedger& Program::ledger() {
  if (!declared_) throw std::logic_error(owner() + ": the resource ledger is used while the program is built, not after attach");
  return declared_->ledger;
}

const ProgramCode& Program::code() const {
  if (!code_) throw std::logic_error("program " + name() + " has no code before it is attached");
  return *code_;
}

const std::string& Program::symbol_name(std::uint32_t index) const {
  return code_ ? code_->symbols[index].name : declared_->symbols[index].name;
}

std::size_t Program::host_bytes() const {
  std::size_t n = sizeof(Program) + arrays_.capacity() * sizeof(ArrayBase*) +
                  exports_.capacity() * sizeof(std::function<void()>);
  if (declared_) {
    const Declared& d = *declared_;
    n += sizeof(Declared) + d.symbols.capacity() * sizeof(ProgramCode::Symbol) + d.tasks.capacity() * sizeof(TaskBase*) +
         (d.queue_bindings.capacity() + d.oq_bindings.capacity()) * sizeof(d.queue_bindings[0]) +
         d.teardown_handlers.capacity() * sizeof(d.teardown_handlers[0]) + d.exports.capacity() * sizeof(d.exports[0]);
  }
  return n;
}

void Program::attach(hw::ComputeEngine& ce) {
  if (ce_) throw std::logic_error(owner() + " is already attached");
  ce_ = &ce;
  Declared& d = *declared_;
  ResourceLedger& ledger = d.ledger;
  const std::string who = owner();
  // Symbols, in declaration order.
  for (std::size_t i = 0; i < arrays_.size(); ++i) {
    ArrayBase* a = arrays_[i];
    ProgramCode::Symbol& s = d.symbols[i];
    for (std::size_t j = 0; j < i; ++j)
      if (d.symbols[j].name == s.name) throw std::invalid_argument(who + ": two symbols named '" + s.name + "'");
    s.offset = ce.sram().allocate(who, s.name, a->bytes(), 4).offset;
    a->address_ = s.offset;
    a->allocated_ = true;
  }
  // Explicit task IDs (a data task's is its colour) join the modules' claims; a number claimed twice is an error
  // naming the PE and both claimants.
  const std::string self = "program " + name();
  auto claimant = [&](const TaskBase& t) -> const std::string& { return t.module_ ? t.module_->claimant() : self; };
  const bool iq_tasks = ce.arch().pe.data_tasks_on_queues;  // WSE-3: a data task's ID is its IQ, claimed when known
  for (TaskBase* t : d.tasks)
    if (t->id_ >= 0 && !(iq_tasks && t->kind_ == hw::TaskKind::Data)) ledger.claim(Resource::TaskId, t->id_, claimant(*t));
  ledger.check(ce.name());
  // Queues: explicit bindings first (fabin DSDs, data tasks with a queue), then data tasks with auto queues.
  for (auto [iq, color] : d.queue_bindings) ce.bind_input_queue(iq, color);
  for (auto [oq, color] : d.oq_bindings) {
    try {
      ce.bind_output_queue(oq, color);
    } catch (const std::invalid_argument& e) {
      const std::string& holder = ledger.holder(Resource::OutputQueue, oq);
      throw std::invalid_argument(std::string(e.what()) + " [program " + name() + (holder.empty() ? "" : ", " + holder) + "]");
    }
  }
  auto iq_free = [&](int iq) {
    for (int c = 0; c < hw::kMaxColors; ++c)
      if (ce.queues().input_queue_of(Color(c)) == iq) return false;
    for (TaskBase* t : d.tasks)
      if (t->kind_ == hw::TaskKind::Data && t->iq_ == iq) return false;
    if (iq_tasks && ce.kind(iq) != hw::TaskKind::Unbound) return false;  // its data task ID is taken
    return true;
  };
  // Each task's closure moves to the CE (its only copy).
  for (TaskBase* t : d.tasks) {
    if (t->kind_ != hw::TaskKind::Data) continue;
    if (t->iq_ < 0) {
      const int bound = ce.queues().input_queue_of(Color(t->id_));
      if (bound != hw::kUnbound) {
        t->iq_ = bound;
      } else {
        for (int iq = 1; iq < ce.queues().num_input_queues() && t->iq_ < 0; ++iq)
          if (iq_free(iq)) t->iq_ = iq;
        if (t->iq_ < 0)
          throw std::invalid_argument(who + ": no free input queue for the data task on colour " + str(t->id_));
      }
    }
    const Color color = Color(t->id_);
    const int id = ce.data_task_id(color, t->iq_);
    if (iq_tasks) ledger.claim(Resource::TaskId, id, claimant(*t));
    ledger.check(ce.name());
    t->id_ = ce.bind_data_task(color, t->iq_, std::move(t->body_),
                               t->label().empty() ? "" : t->label() + " (data task " + str(id) + ", colour " + str(color) + ")");
  }
  for (TaskBase* t : d.tasks) {
    if (t->kind_ == hw::TaskKind::Data || t->id_ < 0) continue;
    if (t->kind_ == hw::TaskKind::Local) ce.bind_local_task(t->id_, std::move(t->body_), t->label());
    else ce.bind_control_task(t->id_, std::move(t->body_), t->label());
  }
  for (TaskBase* t : d.tasks) {
    if (t->id_ >= 0) continue;
    for (int id = std::min(kReservedLocalLow - 1, ce.arch().pe.local_task_max_id);
         id >= ce.arch().pe.local_task_min_id && t->id_ < 0; --id)
      if (ce.kind(id) == hw::TaskKind::Unbound && !ledger.taken(Resource::TaskId, id)) t->id_ = id;
    if (t->id_ < 0) throw std::invalid_argument(who + ": no free local task ID left");
    ledger.claim(Resource::TaskId, t->id_, claimant(*t));
    ce.bind_local_task(t->id_, std::move(t->body_), t->label());
  }
  for (auto& [c, fn] : d.teardown_handlers) ce.set_teardown_handler(c, std::move(fn));
  init();
  // The code of this PE's role: what it declared, shared with every PE that declared the same. This PE keeps its
  // symbols' objects and its export closures, in the code's order.
  ProgramCode code;
  code.name = name();
  code.symbols = std::move(d.symbols);
  code.tasks.reserve(d.tasks.size());
  for (const TaskBase* t : d.tasks) code.tasks.push_back({t->label_, t->kind_, t->id_, t->iq_});
  std::stable_sort(d.exports.begin(), d.exports.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  exports_.reserve(d.exports.size());
  for (auto& [n, fn] : d.exports) {
    if (!code.exports.empty() && code.exports.back() == n) {
      exports_.back() = std::move(fn);  // exported twice: the last one counts
      continue;
    }
    code.exports.push_back(std::move(n));
    exports_.push_back(std::move(fn));
  }
  code_ = share(std::move(code));
  declared_.reset();
  arrays_.shrink_to_fit();
  ce.set_boot([this] {
    default_start_ = false;
    start();
    return !default_start_;
  });
}

ArrayBase& Program::symbol(const std::string& n) const {
  for (ArrayBase* a : arrays_)
    if (a->name() == n) return *a;
  std::string have;
  for (ArrayBase* a : arrays_) have += (have.empty() ? "" : ", ") + a->name();
  throw std::invalid_argument(owner() + " has no symbol '" + n + "' (symbols: " + (have.empty() ? "none" : have) + ")");
}

bool Program::has_symbol(const std::string& n) const {
  return std::any_of(arrays_.begin(), arrays_.end(), [&](ArrayBase* a) { return a->name() == n; });
}

int Program::export_index(const std::string& fn) const {
  if (!code_) {
    for (std::size_t i = 0; i < declared_->exports.size(); ++i)
      if (declared_->exports[i].first == fn) return int(i);
    return -1;
  }
  const auto& names = code_->exports;
  const auto it = std::lower_bound(names.begin(), names.end(), fn);
  return it != names.end() && *it == fn ? int(it - names.begin()) : -1;
}

std::vector<std::string> Program::exported_functions() const {
  if (code_) return code_->exports;
  std::vector<std::string> v;
  for (const auto& e : declared_->exports) v.push_back(e.first);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void Program::call(const std::string& fn) {
  const int i = export_index(fn);
  if (i < 0) throw std::invalid_argument(owner() + " exports no function '" + fn + "'");
  engine();  // throws before attach
  exports_[std::size_t(i)]();
  engine().wake();
}

void Program::export_function(std::string n, std::function<void()> fn) {
  if (!declared_) throw std::logic_error(owner() + ": export_function('" + n + "') after attach (export in init())");
  declared_->exports.emplace_back(std::move(n), std::move(fn));
}

Fabin Program::fabin(FabinSpec spec) {
  if (ce_) ce_->bind_input_queue(spec.input_queue, spec.color);
  else {
    if (declared_->queue_bindings.empty()) declared_->queue_bindings.reserve(hw::PeQueues::kMaxQueues);
    declared_->queue_bindings.emplace_back(spec.input_queue, spec.color);
  }
  Fabin d;
  d.color = spec.color;
  d.simd = spec.simd_mode;
  d.iq = spec.input_queue;
  d.extent = spec.extent;
  d.type = spec.type;
  return d;
}

Fabout Program::fabout(FaboutSpec spec) {
  if (ce_) ce_->bind_output_queue(spec.output_queue, spec.color);
  else {
    if (declared_->oq_bindings.empty()) declared_->oq_bindings.reserve(hw::PeQueues::kMaxQueues);
    declared_->oq_bindings.emplace_back(spec.output_queue, spec.color);
  }
  Fabout d;
  d.type = spec.type;
  d.color = spec.color;
  d.oq = spec.output_queue;
  d.extent = spec.extent;
  d.control = spec.control;
  d.advance_switch = spec.advance_switch;
  d.stamp_index = spec.index_base >= 0;
  d.index_base = static_cast<std::uint16_t>(std::max(spec.index_base, 0));
  d.simd = spec.simd_mode;
  return d;
}

void Program::queue_flush(int oq, Color color) { engine().queue_flush(oq, color); }

void Program::set_teardown_handler(Color color, std::function<void(Color)> handler) {
  if (ce_) ce_->set_teardown_handler(color, std::move(handler));
  else declared_->teardown_handlers.emplace_back(color, std::move(handler));
}

fabric::Transport& Program::transport() const {
  if (!fabric_) throw std::logic_error(owner() + ": no router: the program was not loaded onto a fabric");
  return *fabric_;
}

void Program::set_local_color_config(Color color, const hw::ColorConfig& cfg) {
  transport().reconfigure_color(x(), y(), color, cfg);
}

void Program::exit_teardown(Color color) { transport().exit_teardown(x(), y(), color); }

void Program::activate(TaskRef t) { engine().activate(t.resolve()); }
void Program::block(TaskRef t) { engine().block(t.resolve()); }
void Program::unblock(TaskRef t) { engine().unblock(t.resolve()); }
void Program::set_priority(TaskRef t, Priority p) { engine().set_priority(t.resolve(), p); }

Issued Program::op(hw::OpCode code, const Operand& dest, const Operand& src0, const Operand& src1,
                 const Operand& scalar, const Async& opt) {
  const hw::OpInfo& info = hw::op_info(code);
  const hw::DsdOp o{code, dest.resolve(info.dest), src0.resolve(info.src0), src1.resolve(info.src1),
                    scalar.resolve(info.src1),
                    {opt.async, opt.activate.resolve(), opt.unblock.resolve(), opt.microthread, opt.priority}};
  return Issued{engine().execute(o) ? &engine() : nullptr};
}

using hw::OpCode;
Issued Program::fmach(Operand d, Operand a, Operand b, Operand s, Async o) { return op(OpCode::Fmach, d, a, b, s, o); }
Issued Program::fmachs(Operand d, Operand a, Operand b, Operand s, Async o) { return op(OpCode::Fmachs, d, a, b, s, o); }
Issued Program::fmacs(Operand d, Operand a, Operand b, Operand s, Async o) { return op(OpCode::Fmacs, d, a, b, s, o); }
Issued Program::faddh(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Faddh, d, a, b, {}, o); }
Issued Program::fadds(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fadds, d, a, b, {}, o); }
Issued Program::fsubh(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fsubh, d, a, b, {}, o); }
Issued Program::fsubs(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fsubs, d, a, b, {}, o); }
Issued Program::fmulh(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fmulh, d, a, b, {}, o); }
Issued Program::fmuls(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fmuls, d, a, b, {}, o); }
Issued Program::fmaxh(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fmaxh, d, a, b, {}, o); }
Issued Program::fmaxs(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Fmaxs, d, a, b, {}, o); }
Issued Program::fmovh(Operand d, Operand a, Async o) { return op(OpCode::Fmovh, d, a, {}, {}, o); }
Issued Program::fmovs(Operand d, Operand a, Async o) { return op(OpCode::Fmovs, d, a, {}, {}, o); }
Issued Program::fnegh(Operand d, Operand a, Async o) { return op(OpCode::Fnegh, d, a, {}, {}, o); }
Issued Program::fnegs(Operand d, Operand a, Async o) { return op(OpCode::Fnegs, d, a, {}, {}, o); }
Issued Program::mov16(Operand d, Operand a, Async o) { return op(OpCode::Mov16, d, a, {}, {}, o); }
Issued Program::mov32(Operand d, Operand a, Async o) { return op(OpCode::Mov32, d, a, {}, {}, o); }
Issued Program::fh2s(Operand d, Operand a, Async o) { return op(OpCode::Fh2s, d, a, {}, {}, o); }
Issued Program::fs2h(Operand d, Operand a, Async o) { return op(OpCode::Fs2h, d, a, {}, {}, o); }
Issued Program::add16(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Add16, d, a, b, {}, o); }
Issued Program::sub16(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Sub16, d, a, b, {}, o); }
Issued Program::and16(Operand d, Operand a, Operand b, Async o) { return op(OpCode::And16, d, a, b, {}, o); }
Issued Program::or16(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Or16, d, a, b, {}, o); }
Issued Program::xor16(Operand d, Operand a, Operand b, Async o) { return op(OpCode::Xor16, d, a, b, {}, o); }

hw::ElemType Program::common_type(const char* fn, std::initializer_list<const Operand*> ops) const {
  std::optional<hw::ElemType> t;
  for (const Operand* o : ops) {
    const auto ot = o->type();
    if (!ot) continue;
    if (t && *t != *ot)
      throw std::invalid_argument(owner() + ": " + fn + ": operands of different element types (use the typed builtin, " +
                                  "e.g. fh2s / fs2h / fmachs)");
    t = ot;
  }
  if (!t) throw std::invalid_argument(owner() + ": " + fn + ": no operand has an element type (declare the fabric DSD's .type)");
  if (*t != hw::ElemType::F16 && *t != hw::ElemType::F32)
    throw std::invalid_argument(owner() + ": " + fn + ": integer operands (use the 16/32-bit integer builtins)");
  return *t;
}

Issued Program::fmov(Operand d, Operand a, Async o) {
  return op(common_type("fmov", {&d, &a}) == hw::ElemType::F32 ? OpCode::Fmovs : OpCode::Fmovh, d, a, {}, {}, o);
}
Issued Program::fadd(Operand d, Operand a, Operand b, Async o) {
  return op(common_type("fadd", {&d, &a, &b}) == hw::ElemType::F32 ? OpCode::Fadds : OpCode::Faddh, d, a, b, {}, o);
}
Issued Program::fmax(Operand d, Operand a, Operand b, Async o) {
  return op(common_type("fmax", {&d, &a, &b}) == hw::ElemType::F32 ? OpCode::Fmaxs : OpCode::Fmaxh, d, a, b, {}, o);
}
Issued Program::fmac(Operand d, Operand a, Operand b, Operand s, Async o) {
  const hw::ElemType acc = common_type("fmac", {&d, &a});
  if (acc == hw::ElemType::F32 && b.type() == hw::ElemType::F16) return op(OpCode::Fmachs, d, a, b, s, o);
  return op(common_type("fmac", {&d, &a, &b}) == hw::ElemType::F32 ? OpCode::Fmacs : OpCode::Fmach, d, a, b, s, o);
}

void Program::map(Operand dest, Operand src, const std::function<float(float)>& fn, Cycle cycles_per_element) {
  auto mem = [&](const Operand& o, const char* role) {
    hw::Operand r = o.resolve(hw::ElemType::F32);
    if (!std::holds_alternative<hw::MemDsd>(r))
      throw std::invalid_argument(owner() + ": map: " + role + " must be a memory DSD or a pointer to a scalar");
    return std::get<hw::MemDsd>(r);
  };
  engine().map(mem(dest, "dest"), mem(src, "src"), fn, cycles_per_element);
}

Dsr Program::load_dsr(const MemDsd& d) {
  charge(Cycle(engine().arch().pe.dsr_load_cycles));
  return Dsr(d);
}

void Program::map_loop(std::uint32_t n, const std::function<void(std::uint32_t)>& body) {
  const Cycle per_element = Cycle(engine().arch().pe.map_element_cycles);
  for (std::uint32_t k = 0; k < n; ++k) {
    charge(per_element);
    body(k);
  }
}

void Program::send_control(Color color, int oq, std::uint32_t payload, Async opt) {
  opt.async = true;
  mov32(fabout({.extent = 1, .color = color, .output_queue = oq, .control = true}), Operand(payload), opt);
}

}  // namespace wafersim::csl
