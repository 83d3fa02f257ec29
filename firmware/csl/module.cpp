#include "firmware/csl/module.hpp"

#include "common/error.hpp"
#include "common/intern.hpp"

namespace wafersim::csl {

namespace {
// Draw orders: output queues deep ones first (WSE-2 OQ 2, 3 hold 6 words); input queues from 1 up, IQ 0 last (the
// SDK's streaming memcpy takes it; the model's host copies do not stream, so a program may use it when it must).
constexpr std::initializer_list<int> kOqOrder = {2, 3, 1, 4, 5, 0};
constexpr std::initializer_list<int> kIqOrder = {1, 2, 3, 4, 5, 6, 7, 0};
}  // namespace

Module::Module(Program* program, std::string instance, const char* kind, ModuleParams params)
    : program_(program), instance_(std::move(instance)), kind_(kind),
      claimant_([&] {
        std::string c;
        c.reserve(instance_.size() + std::char_traits<char>::length(kind_) + 12);
        return intern(c.append("module '").append(instance_).append("' (").append(kind_).append(")"));
      }()),
      params_(std::move(params)) {
  if (program_->attached()) throw std::logic_error(claimant() + " instantiated after the program was attached");
}

int Module::draw(Resource r, std::vector<int>& given, std::size_t& used, std::initializer_list<int> order,
                 bool with_microthread, std::string_view purpose, int number) {
  ResourceLedger& l = program_->ledger();
  int q = -1;
  if (used < given.size()) {
    q = given[used++];
  } else {
    for (int c : order)
      if (!l.taken(r, c) && !(with_microthread && l.taken(Resource::Microthread, c))) {
        q = c;
        break;
      }
    if (q < 0)
      throw CapacityError(claimant() + ": needs an " + to_string(r) + (with_microthread ? " and its microthread" : "") +
                          " for " + std::string(purpose) + (number >= 0 ? " " + std::to_string(number) : "") +
                          " but none is free (" + to_string(r) + "s held: " + l.held(r) +
                          (with_microthread ? "; microthreads held: " + l.held(Resource::Microthread) : "") + ")");
  }
  l.claim(r, q, claimant());
  if (with_microthread) l.claim(Resource::Microthread, q, claimant());
  return q;
}

int Module::input_queue(std::string_view purpose, bool with_microthread, int number) {
  return draw(Resource::InputQueue, params_.input_queues, iq_used_, kIqOrder, with_microthread, purpose, number);
}

int Module::output_queue(std::string_view purpose, int number) {
  return draw(Resource::OutputQueue, params_.output_queues, oq_used_, kOqOrder, true, purpose, number);
}

std::size_t Module::host_bytes() const {
  return sizeof(Module) + (instance_.capacity() > 15 ? instance_.capacity() + 1 : 0) +
         (params_.input_queues.capacity() + params_.output_queues.capacity() + params_.task_ids.capacity()) * sizeof(int);
}

int Module::task_id() { return task_used_ < params_.task_ids.size() ? params_.task_ids[task_used_++] : -1; }

int Module::free_input_queues() const {
  int n = 0;
  for (int c : kIqOrder) n += program_->ledger().taken(Resource::InputQueue, c) ? 0 : 1;
  return n;
}

}  // namespace wafersim::csl
