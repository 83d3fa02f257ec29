#include "runtime/relayout.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/error.hpp"
#include "firmware/kernels/ring_allreduce.hpp"
#include "firmware/kernels/tiling.hpp"

namespace wafersim::runtime {

FabricTransfer::FabricTransfer(int x0, int y0, int width, int height)
    : x0_(x0), y0_(y0), w_(std::max(width, 1)), h_(std::max(height, 1)),
      cells_(std::size_t(w_) * std::size_t(h_)) {}

void FabricTransfer::outside(int x, int y) const {
  throw std::out_of_range("FabricTransfer: PE (" + std::to_string(x) + ", " + std::to_string(y) +
                          ") is outside the box at (" + std::to_string(x0_) + ", " + std::to_string(y0_) + ") of " +
                          std::to_string(w_) + "x" + std::to_string(h_));
}

std::size_t FabricTransfer::at(int x, int y) const {
  const int rx = x - x0_, ry = y - y0_;
  if (rx < 0 || ry < 0 || rx >= w_ || ry >= h_) outside(x, y);
  return std::size_t(ry) * std::size_t(w_) + std::size_t(rx);
}

void FabricTransfer::move(int sx, int sy, int dx, int dy, std::uint64_t n) {
  const std::size_t s = at(sx, sy), d = at(dx, dy);
  if (n == 0 || s == d) return;
  const std::size_t c = at(dx, sy);  // the corner: X along row sy to column dx, then Y along column dx
  cells_[s].sent += n;
  cells_[d].received += n;
  moved_ += n;
  hops_max_ = std::max(hops_max_, std::abs(sx - dx) + std::abs(sy - dy));
  // +X: the links leaving sx .. dx - 1; -X: those entering dx .. sx - 1 (from the east); +Y and -Y likewise.
  if (dx > sx) cells_[s].plus_x += n, cells_[c].plus_x -= n;
  else if (dx < sx) cells_[c].minus_x += n, cells_[s].minus_x -= n;
  if (dy > sy) cells_[c].plus_y += n, cells_[d].plus_y -= n;
  else if (dy < sy) cells_[d].minus_y += n, cells_[c].minus_y -= n;
}

std::uint64_t FabricTransfer::sent(int x, int y) const { return cells_[at(x, y)].sent; }
std::uint64_t FabricTransfer::received(int x, int y) const { return cells_[at(x, y)].received; }

std::uint64_t FabricTransfer::link(int x, int y, Dir d) const {
  at(x, y);
  // The prefix sum up to the link's index: the PE it leaves (+X, +Y) or the one it enters (-X, -Y).
  const int rx = x - x0_ - (d == MinusX ? 1 : 0), ry = y - y0_ - (d == MinusY ? 1 : 0);
  if (rx < 0 || ry < 0) return 0;  // the link leaves the box
  std::uint64_t sum = 0;
  if (d == PlusX || d == MinusX)
    for (int k = 0; k <= rx; ++k) {
      const Cell& cell = cells_[std::size_t(ry) * std::size_t(w_) + std::size_t(k)];
      sum += d == PlusX ? cell.plus_x : cell.minus_x;
    }
  else
    for (int k = 0; k <= ry; ++k) {
      const Cell& cell = cells_[std::size_t(k) * std::size_t(w_) + std::size_t(rx)];
      sum += d == PlusY ? cell.plus_y : cell.minus_y;
    }
  return sum;
}

TransferCost FabricTransfer::cost(const hw::ArchParams& arch) const {
  TransferCost c;
  c.words_moved = moved_;
  c.hops_max = hops_max_;
  for (const Cell& cell : cells_) c.words_per_pe_max = std::max({c.words_per_pe_max, cell.sent, cell.received});
  const auto W = std::size_t(w_);
  for (std::size_t y = 0; y < std::size_t(h_); ++y) {  // the prefix sums along each row
    std::uint64_t p = 0, m = 0;
    for (std::size_t x = 0; x < W; ++x) {
      p += cells_[y * W + x].plus_x;
      m += cells_[y * W + x].minus_x;
      c.link_words_max = std::max({c.link_words_max, p, m});
    }
  }
  std::vector<std::uint64_t> p(W, 0), m(W, 0);  // and down each column, a row at a time
  for (std::size_t y = 0; y < std::size_t(h_); ++y)
    for (std::size_t x = 0; x < W; ++x) {
      p[x] += cells_[y * W + x].plus_y;
      m[x] += cells_[y * W + x].minus_y;
      c.link_words_max = std::max({c.link_words_max, p[x], m[x]});
    }
  if (c.words_moved == 0) return c;
  const auto width = std::uint64_t(arch.router.ramp_width);
  c.cycles = std::max((c.words_per_pe_max + width - 1) / width, c.link_words_max) +
             std::uint64_t(c.hops_max) * std::uint64_t(arch.router.hop_latency()) +
             2 * std::uint64_t(arch.router.ramp_latency);
  return c;
}

namespace {

// Appends one element going from prefill index `from` to decode index `to`: extends the last run or starts one.
void add_to_runs(std::vector<AxisRun>& runs, int from, int to) {
  if (runs.empty() || runs.back().from != from || runs.back().to != to) runs.push_back({from, to, 0});
  ++runs.back().n;
}

// Runs of the elements 0..count-1 of an axis: element i in prefill block i / block, decode index to(i).
template <typename To>
std::vector<AxisRun> axis_runs(std::uint32_t count, std::uint32_t block, To to) {
  std::vector<AxisRun> runs;
  for (std::uint32_t i = 0; i < count; ++i) add_to_runs(runs, int(i / block), to(i));
  return runs;
}

}  // namespace

void add_matrix_moves(FabricTransfer& t, int P, int px, int py, int dx, int dy, const std::vector<AxisRun>& k,
                      const std::vector<AxisRun>& n, bool k_on_rows, std::uint64_t layers) {
  const std::vector<int> ring = kernels::interleave_ring(P);
  for (const AxisRun& rn : n) {
    const int sx = px + ring[std::size_t(rn.from)];
    for (const AxisRun& rk : k) {
      const int sy = py + ring[std::size_t(((rk.from - rn.from) % P + P) % P)];
      const int col = k_on_rows ? rn.to : rk.to, row = k_on_rows ? rk.to : rn.to;
      t.move(sx, sy, dx + col, dy + row, rk.n * rn.n * layers);
    }
  }
}

KvHandover kv_handover(const DecodeLayout& l, kernels::KvPolicy policy, int P, std::uint64_t tokens, int layers,
                       const hw::ArchParams& arch) {
  KvHandover h;
  h.tokens = tokens;
  if (tokens == 0) return h;
  const models::LlamaConfig& c = l.config;
  const int W = l.width, H = l.height;
  const std::uint64_t qd = std::uint64_t(c.q_dim()), kvd = std::uint64_t(c.kv_dim());
  // Tokens: runs of (prefill row, decode row, count), in sequence order.
  std::vector<AxisRun> rows;
  const kernels::Split seq(std::uint32_t(tokens), P);
  const std::uint64_t q = tokens / std::uint64_t(H), e = tokens % std::uint64_t(H);
  int y = policy == kernels::KvPolicy::Concat ? H - 1 : 0;
  std::uint64_t left = policy == kernels::KvPolicy::Concat ? tokens : q + (std::uint64_t(y) >= H - e ? 1 : 0);
  for (std::uint64_t t = 0; t < tokens; ++t) {
    while (left == 0) left = q + (std::uint64_t(++y) >= H - e ? 1 : 0);  // shift: the bottom e rows hold one more
    --left;
    add_to_runs(rows, int(t / seq.block), y);
  }
  // K and V elements of a token: runs of (prefill column, decode column, count), in K then V dim order.
  const kernels::Split fused(std::uint32_t(qd + 2 * kvd), P);
  std::vector<AxisRun> cols;
  for (const std::uint64_t base : {qd, qd + kvd})
    for (std::uint64_t d = 0; d < kvd; ++d)
      add_to_runs(cols, int((base + d) / fused.block), l.kv_slot(int(d / c.head_dim), int(d % c.head_dim)).column);
  FabricTransfer t(0, 0, W, H);
  for (const AxisRun& r : rows)
    for (const AxisRun& col : cols) t.move(col.from, r.from, col.to, r.to, col.n * r.n * std::uint64_t(layers));
  static_cast<TransferCost&>(h) = t.cost(arch);
  return h;
}

std::vector<Stage> single_stage(int layers) {
  Stage s;
  s.layers = layers;
  s.lm_head = true;
  return {s};
}

FabricTransfer weight_transfer(int P, const std::vector<Stage>& ps, const DecodeLayout& l,
                               const std::vector<Stage>& ds, std::uint64_t* elements) {
  const models::LlamaConfig& c = l.config;
  const int layers = int(c.num_hidden_layers);
  const auto covers = [&](const std::vector<Stage>& st) {
    int next = 0;
    for (const Stage& s : st) {
      if (s.first_layer != next || s.layers < 0) return false;
      next += s.layers;
    }
    return next == layers && !st.empty() && st.back().lm_head;
  };
  const auto span = [](const std::vector<Stage>& st) {
    return st.empty() ? std::string("none")
                      : "layers 0.." + std::to_string(st.back().first_layer + st.back().layers - 1);
  };
  if (P < 1 || !covers(ps) || !covers(ds))
    throw ConfigError("weight_relayout: the prefill stages (" + span(ps) + ", P = " + std::to_string(P) +
                      ") and the decode stages (" + span(ds) + ") must each hold layers 0.." +
                      std::to_string(layers - 1) + " of " + l.model + " in order, lm_head on the last");
  // The box holding every stage of both phases.
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool first = true;
  const auto extend = [&](const Stage& s, int w, int h) {
    x0 = first ? s.x0 : std::min(x0, s.x0);
    y0 = first ? s.y0 : std::min(y0, s.y0);
    x1 = first ? s.x0 + w : std::max(x1, s.x0 + w);
    y1 = first ? s.y0 + h : std::max(y1, s.y0 + h);
    first = false;
  };
  for (const Stage& s : ps) extend(s, P, P);
  for (const Stage& s : ds) extend(s, l.width, l.height);
  FabricTransfer t(x0, y0, x1 - x0, y1 - y0);

  // The axes: prefill block (Split over P) and decode row (hidden) or column (the rest).
  const auto E = std::uint32_t(c.hidden_size), F = std::uint32_t(c.intermediate_size), qd = std::uint32_t(c.q_dim()),
             kvd = std::uint32_t(c.kv_dim()), V = std::uint32_t(c.vocab_size), hd = std::uint32_t(c.head_dim);
  const auto split = [&](std::uint32_t n) { return kernels::Split(n, P).block; };
  const auto hidden_row = [&](std::uint32_t e) { return int(e / l.hidden.block); };
  const auto q_col = [&](std::uint32_t i) { return l.q_slot(int(i / hd), int(i % hd)).column; };
  const auto fused_col = [&](std::uint32_t i) {  // [W_q; W_k; W_v] rows, HF order
    if (i < qd) return q_col(i);
    const std::uint32_t d = (i - qd) % kvd;
    return l.kv_slot(int(d / hd), int(d % hd)).column;
  };
  const std::vector<AxisRun> qkv_k = axis_runs(E, split(E), hidden_row),
                             qkv_n = axis_runs(qd + 2 * kvd, split(qd + 2 * kvd), fused_col),
                             wo_k = axis_runs(qd, split(qd), q_col), wo_n = axis_runs(E, split(E), hidden_row),
                             gu_n = axis_runs(2 * F, split(2 * F),
                                              [&](std::uint32_t i) { return int((i % F) / l.ffn.block); }),
                             down_k = axis_runs(F, split(F), [&](std::uint32_t i) { return int(i / l.ffn.block); }),
                             lm_n = axis_runs(V, split(V), [&](std::uint32_t i) { return int(i / l.vocab.block); });
  const std::uint64_t per_layer = std::uint64_t(E) * (qd + 2 * kvd) + std::uint64_t(qd) * E + 2ull * E * F +
                                  std::uint64_t(F) * E;
  for (const Stage& p : ps)
    for (const Stage& d : ds) {
      const int from = std::max(p.first_layer, d.first_layer),
                to = std::min(p.first_layer + p.layers, d.first_layer + d.layers);
      if (to <= from) continue;
      const auto n = std::uint64_t(to - from);
      add_matrix_moves(t, P, p.x0, p.y0, d.x0, d.y0, qkv_k, qkv_n, true, n);
      add_matrix_moves(t, P, p.x0, p.y0, d.x0, d.y0, wo_k, wo_n, false, n);
      add_matrix_moves(t, P, p.x0, p.y0, d.x0, d.y0, qkv_k, gu_n, true, n);
      add_matrix_moves(t, P, p.x0, p.y0, d.x0, d.y0, down_k, wo_n, false, n);
    }
  add_matrix_moves(t, P, ps.back().x0, ps.back().y0, ds.back().x0, ds.back().y0, qkv_k, lm_n, true, 1);
  if (elements) *elements = per_layer * std::uint64_t(layers) + std::uint64_t(E) * V;
  return t;
}

WeightRelayout weight_relayout(int P, const std::vector<Stage>& ps, const DecodeLayout& l, const std::vector<Stage>& ds,
                               const hw::ArchParams& arch) {
  WeightRelayout r;
  const FabricTransfer t = weight_transfer(P, ps, l, ds, &r.elements);
  static_cast<TransferCost&>(r) = t.cost(arch);
  r.layers = int(l.config.num_hidden_layers);
  return r;
}

nlohmann::json to_json(const KvHandover& h) {
  return {{"tokens", h.tokens}, {"words_per_pe_max", h.words_per_pe_max}, {"words_moved", h.words_moved},
          {"link_words_max", h.link_words_max}, {"hops_max", h.hops_max}};
}

nlohmann::json to_json(const WeightRelayout& r) {
  return {{"elements", r.elements}, {"words_moved", r.words_moved}, {"words_per_pe_max", r.words_per_pe_max},
          {"link_words_max", r.link_words_max}, {"hops_max", r.hops_max}};
}

}  // namespace wafersim::runtime
