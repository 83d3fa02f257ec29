#include "firmware/kernels/stream_tree.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace wafersim::kernels {

namespace {
// Output queues for the streamed ops, deep ones first (WSE-2 OQ 2, 3 hold 6 words). An op with a fabout runs on the
// microthread of its OQ; the op receiving the result runs on the microthread of its IQ, which must differ.
constexpr int kOqOrder[] = {2, 3, 1, 4, 5, 0};
constexpr int kMaxQueue = 8;
}  // namespace

StreamTreeProgram::StreamTreeProgram(const StreamNode& node, const CollectiveConfig& cfg, std::string kernel,
                                     std::string function)
    : node_(node), cfg_(cfg), kernel_(std::move(kernel)), function_(std::move(function)) {
  if (cfg_.dtype == DType::F32) x_ = std::make_unique<csl::Array<float>>(this, "x", cfg_.length);
  else x_ = std::make_unique<csl::Array<csl::f16>>(this, "x", cfg_.length);

  const std::size_t ops = node_.sends ? std::max<std::size_t>(1, node_.inputs.size()) : 0;
  if (node_.inputs.size() >= 2 && node_.loopbacks.size() + 1 < node_.inputs.size())
    throw std::logic_error(kernel_ + ": a PE joins " + std::to_string(node_.inputs.size()) + " streams with only " +
                           std::to_string(node_.loopbacks.size()) + " loopback colours");
  if (ops > std::size(kOqOrder))
    throw CapacityError(kernel_ + ": a PE needs " + std::to_string(ops) + " streamed operations but has only " +
                        std::to_string(std::size(kOqOrder)) + " output queues");
  for (std::size_t i = 0; i < ops; ++i) q_.op_oq.push_back(kOqOrder[i]);
  auto oq_used = [&](int q) { return std::find(q_.op_oq.begin(), q_.op_oq.end(), q) != q_.op_oq.end(); };
  std::vector<char> iq_taken(kMaxQueue, 0);
  iq_taken[0] = 1;  // IQ 0 belongs to the memcpy framework
  if (node_.receive != kNoColor) {
    for (int q = 1; q < kMaxQueue && q_.receive_iq < 0; ++q)
      if (!oq_used(q)) q_.receive_iq = q;
    if (q_.receive_iq < 0) throw CapacityError(kernel_ + ": no input queue left for the result stream");
    iq_taken[q_.receive_iq] = 1;
    receive_fabin_ = fabin({.extent = cfg_.length, .color = node_.receive, .input_queue = q_.receive_iq});
  }
  std::vector<Color> in_colors = node_.inputs;
  for (std::size_t i = 0; i + 1 < node_.inputs.size(); ++i) in_colors.push_back(node_.loopbacks[i]);
  const auto free_iqs = std::count(iq_taken.begin(), iq_taken.end(), 0);
  if (std::size_t(free_iqs) < in_colors.size())
    throw CapacityError(kernel_ + ": a PE receives " + std::to_string(in_colors.size()) + " streams (" +
                        std::to_string(node_.inputs.size()) + " inputs and their loop-backs) but only " +
                        std::to_string(free_iqs) + " input queues are free (IQ 0 is memcpy's" +
                        (q_.receive_iq >= 0 ? ", IQ " + std::to_string(q_.receive_iq) + " the result stream's" : "") +
                        "): use fewer, larger groups");
  for (Color c : in_colors) {
    int q = 1;
    while (q < kMaxQueue && iq_taken[q]) ++q;
    iq_taken[q] = 1;
    q_.iq_of.emplace_back(c, q);
    fabin_.push_back(fabin({.extent = cfg_.length, .color = c, .input_queue = q}));
  }
  for (std::size_t i = 0; i < ops; ++i) {
    const Color c = i + 1 == ops ? node_.out : node_.loopbacks[i];
    fabout_.push_back(fabout({.extent = cfg_.length, .color = c, .output_queue = q_.op_oq[i]}));
  }
  const std::size_t waits = ops + (node_.receive != kNoColor ? 1 : 0);
  done_.assign(waits, 0);
  for (std::size_t i = 0; i < waits; ++i)
    done_tasks_.push_back(std::make_unique<csl::LocalTask>(this, [this, i] { done_[i] = 1; }, "done" + std::to_string(i)));
}

void StreamTreeProgram::init() {
  export_function(function_, [this] { activate(start_); });
}

bool StreamTreeProgram::finished() const {
  return started_ && std::all_of(done_.begin(), done_.end(), [](char d) { return d != 0; });
}

int StreamTreeProgram::iq(Color c) const {
  for (auto [col, q] : q_.iq_of)
    if (col == c) return q;
  throw std::logic_error("no input queue for colour " + std::to_string(c));
}

// dest = a (+|max) b in the accumulation type; b is x (this PE's vector) or a second stream.
void StreamTreeProgram::issue_combine(csl::Operand dest, csl::Operand a, csl::Operand b, bool b_is_x, csl::Async opt) {
  const bool max = cfg_.op == ReduceOp::Max;
  if (cfg_.acc_type() == DType::F32) {
    if (b_is_x && cfg_.dtype == DType::F16) {
      fmachs(dest, a, b, csl::f16(1.0f), opt);  // fp32 partial + fp16 x * 1 (exact), fp32 accumulation
    } else if (max) {
      fmaxs(dest, a, b, opt);
    } else {
      fadds(dest, a, b, opt);
    }
  } else if (max) {
    fmaxh(dest, a, b, opt);
  } else {
    faddh(dest, a, b, opt);
  }
}

void StreamTreeProgram::run() {
  started_ = true;
  const bool acc32 = cfg_.acc_type() == DType::F32, x16 = cfg_.dtype == DType::F16;
  std::size_t wait = 0;
  if (node_.receive != kNoColor) {  // posted first: the result may arrive while this PE still streams
    const csl::Async opt{.async = true, .activate = *done_tasks_[wait++]};
    if (acc32 && x16) fs2h(*x_, receive_fabin_, opt);
    else if (x16) fmovh(*x_, receive_fabin_, opt);
    else fmovs(*x_, receive_fabin_, opt);
  }
  if (!node_.sends) return;
  const std::size_t k = node_.inputs.size();
  if (k == 0) {
    const csl::Async opt{.async = true, .activate = *done_tasks_[wait++]};
    if (acc32 && x16) fh2s(fabout_[0], *x_, opt);
    else if (x16) fmovh(fabout_[0], *x_, opt);
    else fmovs(fabout_[0], *x_, opt);
    return;
  }
  issue_combine(fabout_[0], fabin_[0], *x_, true, {.async = true, .activate = *done_tasks_[wait++]});
  for (std::size_t i = 1; i < k; ++i)  // join the previous op's loopback with the next input
    issue_combine(fabout_[i], fabin_[k + i - 1], fabin_[i], false, {.async = true, .activate = *done_tasks_[wait++]});
}

CollectiveLayout build_stream_layout(const CollectiveConfig& cfg, const LinePlan& plan, const std::string& kernel,
                                     const std::string& function) {
  CollectiveLayout out;
  out.config = cfg;
  out.function = function;
  out.layout = std::make_unique<csl::Layout>(cfg.width, cfg.height);
  for (int l = 0; l < cfg.lines(); ++l)
    for (int p = 0; p < plan.size(); ++p) {
      int x, y;
      line_to_xy(cfg, l, p, x, y);
      const StreamNode node = plan.node(p);
      out.layout->set_tile_code(x, y, [node, cfg, kernel, function](int, int) {
        return std::make_unique<StreamTreeProgram>(node, cfg, kernel, function);
      });
    }
  finish_layout(out, cfg, plan);
  return out;
}

}  // namespace wafersim::kernels
