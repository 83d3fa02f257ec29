#include "firmware/kernels/stream_tree.hpp"

#include "common/error.hpp"

namespace wafersim::kernels {

StreamModule::StreamModule(csl::Program* p, std::string instance, PlanPtr plan, int pos, csl::ModuleParams params)
    : CollectiveModule(p, std::move(instance), std::move(plan), std::move(params)), node_(plan_->line.node(pos)) {
  const std::uint32_t len = plan_->cfg.length;
  const hw::ElemType wire = acc_type() == DType::F32 ? hw::ElemType::F32 : hw::ElemType::F16;
  const std::size_t k = node_.inputs.size(), ops = node_.sends ? std::max<std::size_t>(1, k) : 0;
  if (k >= 2 && node_.loopbacks.size() + 1 < k)
    throw std::logic_error(claimant() + ": a PE joins " + std::to_string(k) + " streams with only " +
                           std::to_string(node_.loopbacks.size()) + " loopback colours");
  // An op with a fabout runs on the microthread of its OQ; the op receiving the result on that of its IQ.
  for (std::size_t i = 0; i < ops; ++i) q_.op_oq.push_back(output_queue("streamed op " + std::to_string(i)));
  if (node_.receive != kNoColor) {
    q_.receive_iq = input_queue("the result stream", true);
    result_ = fabin({.extent = len, .color = node_.receive, .input_queue = q_.receive_iq, .type = wire,
                     .simd_mode = wire_simd()});
  }
  std::vector<Color> in_colors = node_.inputs;
  for (std::size_t i = 0; i + 1 < k; ++i) in_colors.push_back(node_.loopbacks[i]);
  if (const int free = free_input_queues(); free < int(in_colors.size()))
    throw CapacityError(claimant() + ": a PE receives " + std::to_string(in_colors.size()) + " streams (" +
                        std::to_string(k) + " inputs and their loop-backs) but only " + std::to_string(free) +
                        " input queues are free (held: " + program().ledger().held(csl::Resource::InputQueue) +
                        "): use fewer, larger groups");
  for (Color c : in_colors) {
    const int iq = input_queue("the stream on colour " + std::to_string(c), false);
    q_.iq_of.emplace_back(c, iq);
    in_.push_back(fabin({.extent = len, .color = c, .input_queue = iq, .type = wire, .simd_mode = wire_simd()}));
  }
  for (std::size_t i = 0; i < ops; ++i) {
    const Color c = i + 1 == ops ? node_.out : node_.loopbacks[i];
    out_.push_back(
        fabout({.extent = len, .color = c, .output_queue = q_.op_oq[i], .type = wire, .simd_mode = wire_simd()}));
  }
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
  if (receives) {  // posted first: the result may arrive while this PE still streams
    const csl::Async opt{.async = true, .activate = done};
    if (convert) fs2h(x, sized(result_), opt);
    else fmov(x, sized(result_), opt);
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
  if (convert)
    fmac(sized(out_[0]), sized(in_[0]), x, csl::f16(1.0f), last(0));  // fp32 partial + fp16 x * 1 (exact)
  else
    combine(sized(out_[0]), sized(in_[0]), x, last(0));
  for (std::size_t i = 1; i < k; ++i)  // join the previous op's loopback with the next input
    combine(sized(out_[i]), sized(in_[k + i - 1]), sized(in_[i]), last(i));
}

}  // namespace wafersim::kernels
