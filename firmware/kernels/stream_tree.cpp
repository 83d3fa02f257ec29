#include "firmware/kernels/stream_tree.hpp"

#include "common/error.hpp"
#include "common/intern.hpp"

namespace wafersim::kernels {

StreamModule::StreamModule(csl::Program* p, std::string instance, PlanPtr plan, int pos, csl::ModuleParams params)
    : CollectiveModule(p, std::move(instance), std::move(plan), std::move(params)), node_(plan_->line.node(pos)) {
  Wiring w;
  Queues& q_ = w.q;
  const std::uint32_t len = plan_->cfg.length;
  const hw::ElemType wire = acc_type() == DType::F32 ? hw::ElemType::F32 : hw::ElemType::F16;
  const std::size_t k = node_.inputs.size();
  const std::size_t ops = !node_.sends ? 0 : node_.staged ? 1 : std::max<std::size_t>(1, k);
  if (k >= 2 && !node_.staged && node_.loopbacks.size() + 1 < k)
    throw std::logic_error(claimant() + ": a PE joins " + std::to_string(k) + " streams with only " +
                           std::to_string(node_.loopbacks.size()) + " loopback colours");
  // An op with a fabout runs on the microthread of its OQ; the op receiving the result on that of its IQ. A staged
  // join's memory op reads its input on the IQ of the streamed op's OQ number, so both run on one microthread, in
  // order (the WSE-2 rule: an op's microthread is its fabout's OQ, else its fabin's IQ).
  q_.op_oq.reserve(ops);
  if (node_.staged) q_.op_oq.push_back(staged_queue());
  else
    for (std::size_t i = 0; i < ops; ++i) q_.op_oq.push_back(output_queue("streamed op", int(i)));
  if (node_.receive != kNoColor) {
    q_.receive_iq = input_queue("the result stream", true);
    w.result = fabin({.extent = len, .color = node_.receive, .input_queue = q_.receive_iq, .type = wire,
                     .simd_mode = wire_simd()});
  }
  std::vector<Color> in_colors;
  in_colors.reserve(2 * k);
  in_colors.assign(node_.inputs.begin(), node_.inputs.end());
  if (!node_.staged)
    for (std::size_t i = 0; i + 1 < k; ++i) in_colors.push_back(node_.loopbacks[i]);
  const int drawn = int(in_colors.size()) - (node_.staged ? 1 : 0);
  q_.iq_of.reserve(in_colors.size());
  w.in.reserve(in_colors.size());
  w.out.reserve(ops);
  if (const int free = free_input_queues(); free < drawn)
    throw CapacityError(claimant() + ": a PE receives " + std::to_string(in_colors.size()) + " streams (" +
                        std::to_string(k) + " inputs" + (node_.staged ? "" : " and their loop-backs") + ") but only " +
                        std::to_string(free) + " input queues are free (held: " +
                        program().ledger().held(csl::Resource::InputQueue) + "): use fewer, larger groups");
  for (Color c : in_colors) {
    const int iq = node_.staged && q_.iq_of.empty() ? q_.op_oq[0]
                                                    : input_queue("the stream on colour", false, c);
    q_.iq_of.emplace_back(c, iq);
    w.in.push_back(fabin({.extent = len, .color = c, .input_queue = iq, .type = wire, .simd_mode = wire_simd()}));
  }
  for (std::size_t i = 0; i < ops; ++i) {
    const Color c = i + 1 == ops ? node_.out : node_.loopbacks[i];
    w.out.push_back(
        fabout({.extent = len, .color = c, .output_queue = q_.op_oq[i], .type = wire, .simd_mode = wire_simd()}));
  }
  wiring_ = share(std::move(w));
}

std::size_t StreamModule::Wiring::hash() const {
  std::size_t h = std::size_t(q.receive_iq + 1);
  for (int oq : q.op_oq) hash_mix(h, std::size_t(oq));
  for (auto [c, iq] : q.iq_of) hash_mix(h, std::size_t(c) << 8 | std::size_t(iq));
  for (const csl::Fabin& d : in) hash_mix(h, std::size_t(d.color) << 40 | std::size_t(d.iq) << 32 | d.extent);
  hash_mix(h, std::size_t(result.color) << 40 | std::size_t(result.iq) << 32 | result.extent);
  for (const csl::Fabout& d : out) hash_mix(h, std::size_t(d.color) << 40 | std::size_t(d.oq) << 32 | d.extent);
  return h;
}

std::size_t StreamModule::host_bytes() const { return sizeof(*this) + Module::host_bytes() - sizeof(csl::Module); }

int StreamModule::staged_queue() {
  csl::ResourceLedger& l = program().ledger();
  for (int q : {2, 3, 1, 4, 5, 0})  // the module draw order of output queues (csl/module.cpp)
    if (!l.taken(csl::Resource::OutputQueue, q) && !l.taken(csl::Resource::Microthread, q) &&
        !l.taken(csl::Resource::InputQueue, q)) {
      for (csl::Resource r : {csl::Resource::OutputQueue, csl::Resource::Microthread, csl::Resource::InputQueue})
        l.claim(r, q, claimant());
      return q;
    }
  throw CapacityError(claimant() + ": a staged join needs an output queue, its microthread and the input queue of the "
                      "same number, but none is free (output queues held: " +
                      l.held(csl::Resource::OutputQueue) + "; input queues held: " + l.held(csl::Resource::InputQueue) +
                      "; microthreads held: " + l.held(csl::Resource::Microthread) + ")");
}

void StreamModule::combine(csl::Operand dest, csl::Operand a, csl::Operand b, csl::Async opt) {
  if (op() == ReduceOp::Max) fmax(dest, a, b, opt);
  else fadd(dest, a, b, opt);
}

// The op that completes last activates `done`: the result stream if this PE receives one (it needs every PE's
// stream first), else the op sending on `out` (it consumes the loopbacks of the ops before it).
void StreamModule::run(csl::ArrayBase& buf, std::uint32_t n, csl::TaskRef done) {
  auto sized = [n](auto d) {
    d.extent = n;
    return d;
  };
  const auto x = csl::mem1d(buf, {.extent = n});
  const bool convert = acc_type() != plan_->cfg.dtype;  // fp16 data, fp32 partials
  const bool receives = node_.receive != kNoColor;
  const std::vector<csl::Fabin>& in_ = wiring_->in;
  const std::vector<csl::Fabout>& out_ = wiring_->out;
  if (receives) {  // posted first: the result may arrive while this PE still streams
    const csl::Async opt{.async = true, .activate = done};
    if (convert) fs2h(x, sized(wiring_->result), opt);
    else fmov(x, sized(wiring_->result), opt);
  }
  if (!node_.sends) {
    if (!receives) activate(done);
    return;
  }
  const std::size_t k = node_.inputs.size();
  auto last = [&](std::size_t op) { return csl::Async{.async = true, .activate = (!receives && op + 1 == out_.size()) ? done : csl::TaskRef{}}; };
  if (k == 0) {  // a leaf: stream the buffer
    if (convert) fh2s(sized(out_[0]), x, last(0));
    else fmov(sized(out_[0]), x, last(0));
    return;
  }
  if (node_.staged) {  // x op= the first input, then (same microthread, in order) x op the second streams out
    combine(x, x, sized(in_[0]), {.async = true});
    combine(sized(out_[0]), x, sized(in_[1]), last(0));
    return;
  }
  if (convert)
    fmac(sized(out_[0]), sized(in_[0]), x, csl::f16(1.0f), last(0));  // fp32 partial + fp16 x * 1 (exact)
  else
    combine(sized(out_[0]), sized(in_[0]), x, last(0));
  for (std::size_t i = 1; i < k; ++i)  // join the previous op's loopback with the next input
    combine(sized(out_[i]), sized(in_[k + i - 1]), sized(in_[i]), last(i));
}

}  // namespace wafersim::kernels
