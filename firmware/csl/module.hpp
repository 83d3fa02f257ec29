// CSL's @import_module in C++: a Module is a part of a Program with its own symbols (named "instance.name"), tasks,
// DSDs and state, instantiated as a member of the program with parameters. Its input/output queues (each claiming
// the microthread of the same number, as on WSE-2) and task IDs are passed in (ModuleParams, used in order) or
// drawn from the program's per-PE ResourceLedger; a number claimed twice is an error at load naming the PE and both
// module instances. Its colours are claimed where its routes are set (Layout::set_color_config's claimant).
// A module's entry points are ordinary member functions called from the program's tasks, taking CSL's async
// options, e.g. `rows.allreduce(x, n, {.activate = next})` (firmware/kernels/collective_module.hpp).
// Not modelled: CSL's comptime parameter checking beyond what the constructors check. A module's queues claim the
// microthread of the same number (the WSE-2 rule, also valid on WSE-3).
#pragma once
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/csl/ledger.hpp"
#include "firmware/csl/program.hpp"

namespace wafersim::csl {

// Resources handed to a module instance; each list is used in order before the ledger is asked for more.
struct ModuleParams {
  std::vector<int> input_queues{};
  std::vector<int> output_queues{};
  std::vector<int> task_ids{};
};

class Module {
 public:
  // `instance`: the member's name in the program ("rows"); `kind`: what it is ("ktree_allreduce"), a literal.
  Module(Program* program, std::string instance, const char* kind, ModuleParams params = {});
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& instance() const { return instance_; }
  const char* kind() const { return kind_; }
  // "module 'rows' (ktree_allreduce)": ledger and errors (interned: the PEs of a program share it).
  const std::string& claimant() const { return *claimant_; }
  Program& program() const { return *program_; }
  std::string symbol_name(const std::string& name) const { return instance_ + "." + name; }
  // Host memory this PE's instance holds alone: sizeof plus its own heap; a module with more members or heap
  // overrides it (state shared by the PEs of a role, e.g. a plan, is not counted).
  virtual std::size_t host_bytes() const;

 protected:
  // A queue for `purpose`: the next given one, else the first in `order` free in the ledger (and, with
  // `with_microthread`, whose microthread is free too). Claims it (and its microthread). Throws CapacityError naming
  // the module, the purpose and what is held when none is free.
  // The purpose is named only in the error (`number` >= 0 appended, e.g. "the stream on colour" 5).
  int input_queue(std::string_view purpose, bool with_microthread, int number = -1);
  int output_queue(std::string_view purpose, int number = -1);
  // The next given task ID, or -1 (drawn at attach, claimed for this module).
  int task_id();
  // How many input queues a draw could still return.
  int free_input_queues() const;

  // CSL builtins and task control, as a module calls them.
  Fabin fabin(FabinSpec s) { return program_->fabin(s); }
  Fabout fabout(FaboutSpec s) { return program_->fabout(s); }
  // An operation the architecture rejects (e.g. two fabins on WSE-3) names the module too.
  void fmov(Operand d, Operand s, Async o = {}) { named([&] { program_->fmov(d, s, o); }); }
  void fadd(Operand d, Operand a, Operand b, Async o = {}) { named([&] { program_->fadd(d, a, b, o); }); }
  void fmax(Operand d, Operand a, Operand b, Async o = {}) { named([&] { program_->fmax(d, a, b, o); }); }
  void fmac(Operand d, Operand a, Operand b, Operand s, Async o = {}) { named([&] { program_->fmac(d, a, b, s, o); }); }
  void fh2s(Operand d, Operand s, Async o = {}) { named([&] { program_->fh2s(d, s, o); }); }
  void fs2h(Operand d, Operand s, Async o = {}) { named([&] { program_->fs2h(d, s, o); }); }
  // A route that changes between steps (csl::route_steps): sends one ADV switch command on `color` through output
  // queue `oq`, after everything the module queued on `oq` before (its microthread is FIFO), so each router on
  // the colour's path moves to its next step once the previous step's wavelets have passed; the CEs on the way
  // ignore the command.
  void advance_route(Color color, int oq, Async o = {.async = true}) {
    named([&] {
      program_->send_control(color, oq, hw::ControlPayload::single(hw::SwitchCmd::Advance, true, hw::kNullColor, 0), o);
    });
  }
  void activate(TaskRef t) { program_->activate(t); }
  void block(TaskRef t) { program_->block(t); }
  void unblock(TaskRef t) { program_->unblock(t); }

 private:
  template <class F>
  void named(F f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " [" + claimant() + "]");
    }
  }
  int draw(Resource r, std::vector<int>& given, std::size_t& used, std::initializer_list<int> order,
           bool with_microthread, std::string_view purpose, int number);
  Program* program_;
  std::string instance_;
  const char* kind_;
  const std::string* claimant_;
  ModuleParams params_;
  std::size_t iq_used_ = 0, oq_used_ = 0, task_used_ = 0;
};

}  // namespace wafersim::csl
