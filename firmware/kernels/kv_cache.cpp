#include "firmware/kernels/kv_cache.hpp"

#include <stdexcept>

#include "common/error.hpp"

namespace wafersim::kernels {

const char* to_string(KvPolicy p) { return p == KvPolicy::Shift ? "shift" : "concat"; }

std::uint64_t kv_capacity_tokens(const KvCacheConfig& cfg) {
  const std::uint64_t rows = cfg.policy == KvPolicy::Shift ? std::uint64_t(cfg.height) : 1;
  return rows * cfg.slots;
}

void KvCachePlan::apply_routes(csl::Layout& layout, const std::string& instance) const {
  if (cfg.policy != KvPolicy::Shift) return;
  using hw::bit;
  using hw::Dir;
  const std::string claimant = "module '" + instance + "' (kv_cache)";
  for (int y = 0; y < cfg.height; ++y)
    for (int x = 0; x < cfg.width; ++x) {
      if (y > 0) layout.set_color_config(x, y, up[y % 2], csl::route(bit(Dir::Ramp), bit(Dir::North)), claimant);
      if (y + 1 < cfg.height)
        layout.set_color_config(x, y, up[(y + 1) % 2], csl::route(bit(Dir::South), bit(Dir::Ramp)), claimant);
    }
}

KvPlanPtr kv_cache_plan(const KvCacheConfig& cfg, const hw::ArchParams& arch) {
  const auto positive = [](const char* field, long long v) {
    if (v < 1) throw ConfigError("kv_cache: " + std::string(field) + " = " + std::to_string(v) + " (must be >= 1)");
  };
  positive("width", cfg.width);
  positive("height", cfg.height);
  positive("dims", cfg.dims);
  positive("slots", cfg.slots);
  positive("layers", cfg.layers);
  auto plan = std::make_shared<KvCachePlan>();
  plan->cfg = cfg;
  if (cfg.policy == KvPolicy::Shift && cfg.height > 1) {
    ColorPool pool(cfg.colors, arch, "kv_cache");
    plan->up = {pool.take("upward shift, even rows"), pool.take("upward shift, odd rows")};
  }
  return plan;
}

KvCacheModule::KvCacheModule(csl::Program* p, std::string instance, KvPlanPtr plan, int y, csl::ModuleParams params)
    : csl::Module(p, std::move(instance), "kv_cache", std::move(params)),
      plan_(std::move(plan)),
      y_(y),
      sent_(this, [this] { on_sent(); }, "sent"),
      stored_(this, [this] { part_done(); }, "stored") {
  const KvCacheConfig& c = plan_->cfg;
  const std::uint32_t n = std::uint32_t(c.layers) * c.dims * c.slots;
  if (c.dtype == DType::F32) {
    k_ = std::make_unique<csl::Array<float>>(&program(), symbol_name("k"), n);
    v_ = std::make_unique<csl::Array<float>>(&program(), symbol_name("v"), n);
  } else {
    k_ = std::make_unique<csl::Array<csl::f16>>(&program(), symbol_name("k"), n);
    v_ = std::make_unique<csl::Array<csl::f16>>(&program(), symbol_name("v"), n);
  }
  layers_.resize(std::size_t(c.layers));
  if (c.policy == KvPolicy::Shift && c.height > 1) {
    const hw::ElemType wire = c.dtype == DType::F32 ? hw::ElemType::F32 : hw::ElemType::F16;
    if (y > 0)
      tx_ = fabout({.extent = c.dims, .color = plan_->up[std::size_t(y % 2)],
                    .output_queue = output_queue("entries to the row above"), .type = wire});
    if (y + 1 < c.height)
      rx_ = fabin({.extent = c.dims, .color = plan_->up[std::size_t((y + 1) % 2)],
                   .input_queue = input_queue("entries from the row below", true), .type = wire});
  }
}

const KvCacheModule::Layer& KvCacheModule::state(int layer) const {
  if (layer < 0 || layer >= plan_->cfg.layers)
    throw std::out_of_range(claimant() + ": layer " + std::to_string(layer) + " (0.." +
                            std::to_string(plan_->cfg.layers - 1) + ")");
  return layers_[std::size_t(layer)];
}

std::uint64_t KvCacheModule::first_position(int layer) const {
  const KvCacheConfig& c = plan_->cfg;
  const std::uint64_t t = state(layer).count;
  if (c.policy == KvPolicy::Concat) return 0;
  const std::uint64_t H = std::uint64_t(c.height), q = t / H, e = t % H, y = std::uint64_t(y_);
  // Rows above H - e hold q entries, the bottom e rows q + 1.
  return y <= H - e ? y * q : (H - e) * q + (y - (H - e)) * (q + 1);
}

std::uint32_t KvCacheModule::k_index(int layer, std::uint32_t s, std::uint32_t j) const {
  const KvCacheConfig& c = plan_->cfg;
  return std::uint32_t(layer) * c.dims * c.slots + j * c.slots + s;
}
std::uint32_t KvCacheModule::v_index(int layer, std::uint32_t s, std::uint32_t j) const {
  const KvCacheConfig& c = plan_->cfg;
  return std::uint32_t(layer) * c.dims * c.slots + s * c.dims + j;
}

csl::MemDsd KvCacheModule::k_slot(int layer, std::uint32_t s) const {
  const KvCacheConfig& c = plan_->cfg;
  return csl::mem1d(*k_, {.extent = c.dims, .stride = std::int32_t(c.slots), .offset = std::int32_t(k_index(layer, s, 0))});
}
csl::MemDsd KvCacheModule::v_slot(int layer, std::uint32_t s) const {
  return csl::mem1d(*v_, {.extent = plan_->cfg.dims, .offset = std::int32_t(v_index(layer, s, 0))});
}

void KvCacheModule::preload(int layer, std::uint64_t tokens,
                            const std::function<float(std::uint64_t, std::uint32_t, bool)>& value) {
  const KvCacheConfig& c = plan_->cfg;
  state(layer);
  if (pending_ > 0) throw std::logic_error(claimant() + ": preload while an append runs");
  if (tokens > kv_capacity_tokens(c))
    throw CapacityError(claimant() + " at row " + std::to_string(y_) + ": layer " + std::to_string(layer) +
                        ": preload of " + std::to_string(tokens) + " tokens over the " + to_string(c.policy) +
                        " cache's capacity " + std::to_string(kv_capacity_tokens(c)));
  const std::uint64_t H = std::uint64_t(c.height), y = std::uint64_t(y_);
  Layer& L = layers_[std::size_t(layer)];
  L.count = tokens;
  L.head = 0;
  if (c.policy == KvPolicy::Concat) L.fill = y == H - 1 ? std::uint32_t(tokens) : 0;
  else L.fill = std::uint32_t(tokens / H + (y >= H - tokens % H ? 1 : 0));  // the bottom tokens mod H rows: one more
  if (!value) return;  // timing-only: fills and order only
  const std::uint64_t first = first_position(layer);
  for (std::uint32_t i = 0; i < L.fill; ++i)
    for (std::uint32_t j = 0; j < c.dims; ++j)
      for (const bool is_v : {false, true}) {
        const float f = value(first + i, j, is_v);
        const std::uint32_t at = is_v ? v_index(layer, i, j) : k_index(layer, i, j);
        csl::ArrayBase& a = is_v ? *v_ : *k_;
        if (c.dtype == DType::F16) {
          const csl::f16 h(f);
          a.write_bytes(&h, at, 1);
        } else {
          a.write_bytes(&f, at, 1);
        }
      }
}

void KvCacheModule::append(int layer, const csl::ArrayBase& k, const csl::ArrayBase& v, csl::Async opt) {
  const KvCacheConfig& c = plan_->cfg;
  state(layer);
  if (k.elem_type() != k_->elem_type() || v.elem_type() != k_->elem_type() || k.size() < c.dims || v.size() < c.dims)
    throw std::invalid_argument(claimant() + ": append of '" + k.name() + "', '" + v.name() + "': expected " +
                                std::to_string(c.dims) + " elements of " + to_string(c.dtype) + " each");
  if (pending_ > 0) throw std::logic_error(claimant() + ": append while the previous one runs");
  Layer& L = layers_[std::size_t(layer)];
  if (L.count >= kv_capacity_tokens(c))
    throw CapacityError(claimant() + " at row " + std::to_string(y_) + ": layer " + std::to_string(layer) +
                        ": the " + to_string(c.policy) + " cache is full at " + std::to_string(L.count) +
                        " tokens (capacity " + std::to_string(kv_capacity_tokens(c)) + ": " +
                        std::to_string(c.slots) + " slots per PE" +
                        (c.policy == KvPolicy::Shift ? " x " + std::to_string(c.height) + " rows)" : " on the tail row)"));
  const int H = c.height, bottom = H - 1;
  bool keeps_new = false, sends = false, receives = false;
  if (c.policy == KvPolicy::Concat) {
    keeps_new = y_ == bottom;
  } else {
    const int e = int(L.count % std::uint64_t(H)), gainer = H - 1 - e;
    keeps_new = y_ == bottom;
    sends = e > 0 && y_ >= H - e;
    receives = y_ >= gainer && y_ < bottom;
  }
  ++L.count;
  done_ = opt.activate;
  layer_ = layer;
  k_new_ = &k;
  v_new_ = &v;
  stores_new_ = keeps_new;
  const bool stores = keeps_new || receives;
  pending_ = 1 + (sends ? 1 : 0) + (stores ? 1 : 0);  // + 1: released at the end of this call
  const std::uint32_t send_slot = L.head;
  store_slot_ = (L.head + L.fill) % c.slots;
  // The slot written is the slot sent only when a full row passes its oldest: then store after sending.
  store_after_send_ = sends && stores && L.fill == c.slots;
  if (sends) L.head = (L.head + 1) % c.slots;
  else if (stores) ++L.fill;
  if (sends) {
    fmov(tx_, k_slot(layer, send_slot), {.async = true});
    fmov(tx_, v_slot(layer, send_slot), {.async = true, .activate = sent_});
  }
  if (stores && !store_after_send_) store();
  part_done();
}

// The new token's slices (bottom row) or the entry arriving from the row below.
void KvCacheModule::store() {
  const std::uint32_t d = plan_->cfg.dims;
  if (stores_new_) {
    fmov(k_slot(layer_, store_slot_), csl::mem1d(*k_new_, {.extent = d}), {});
    fmov(v_slot(layer_, store_slot_), csl::mem1d(*v_new_, {.extent = d}), {.activate = stored_});
  } else {
    fmov(k_slot(layer_, store_slot_), rx_, {.async = true});
    fmov(v_slot(layer_, store_slot_), rx_, {.async = true, .activate = stored_});
  }
}

void KvCacheModule::on_sent() {
  if (store_after_send_) {
    store_after_send_ = false;
    store();
  }
  part_done();
}

void KvCacheModule::part_done() {
  if (--pending_ == 0) activate(done_);
}

}  // namespace wafersim::kernels
