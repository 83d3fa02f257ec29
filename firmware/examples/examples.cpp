#include "firmware/examples/examples.hpp"

namespace wafersim::examples {

using csl::mem1d;
using csl::scalar;
using hw::bit;
using hw::Dir;

using csl::route;

// ---- single-PE GEMV -------------------------------------------------------------------------------------------

void Gemv::init() {
  export_function("compute", [this] { activate(compute); });
}

void Gemv::run() {
  fmovs(y, b);
  for (std::uint32_t j = 0; j < N; ++j)  // y += A[:, j] * x[j]
    fmacs(y, y, mem1d(A, {.extent = M, .stride = std::int32_t(N), .offset = std::int32_t(j)}), scalar(x, j));
}

std::unique_ptr<csl::Layout> gemv_layout(std::uint32_t M, std::uint32_t N) {
  auto layout = std::make_unique<csl::Layout>(1, 1);
  layout->set_tile_program<Gemv>(0, 0, M, N);
  for (const char* s : {"A", "x", "b", "y"}) layout->export_symbol(s);
  return layout;
}

// ---- two-PE send / receive ------------------------------------------------------------------------------------

void SendPartial::init() {
  export_function("compute", [this] { activate(compute); });
}

void SendPartial::run() {
  fmovs(y, 0.0f);
  for (std::uint32_t j = 0; j < N; ++j)
    fmacs(y, y, mem1d(A, {.extent = M, .stride = std::int32_t(N), .offset = std::int32_t(j)}), scalar(x, j));
  fmovs(fabout({.extent = M, .color = kColor, .output_queue = 2}), y, {.async = true, .activate = done});
}

void ReceivePartial::init() {
  export_function("compute", [this] { activate(compute); });
}

void ReceivePartial::run() {
  fmovs(y, b);
  for (std::uint32_t j = 0; j < N; ++j)
    fmacs(y, y, mem1d(A, {.extent = M, .stride = std::int32_t(N), .offset = std::int32_t(j)}), scalar(x, j));
  fadds(y, y, fabin({.extent = M, .color = SendPartial::kColor, .input_queue = 2}),
        {.async = true, .activate = done});
}

std::unique_ptr<csl::Layout> send_receive_layout(std::uint32_t M, std::uint32_t N) {
  auto layout = std::make_unique<csl::Layout>(2, 1);
  const std::uint32_t half = N / 2;
  layout->set_tile_program<SendPartial>(0, 0, M, half);
  layout->set_tile_program<ReceivePartial>(1, 0, M, N - half);
  layout->set_color_config(0, 0, SendPartial::kColor, route(bit(Dir::Ramp), bit(Dir::East)));
  layout->set_color_config(1, 0, SendPartial::kColor, route(bit(Dir::West), bit(Dir::Ramp)));
  for (const char* s : {"A", "x", "b", "y"}) layout->export_symbol(s);
  return layout;
}

// ---- row pipeline -----------------------------------------------------------------------------------------------

void PipelineStage::start() {
  const csl::Color in = csl::Color((i + 1) % 2), out = csl::Color(i % 2);  // link i-1 -> i uses colour (i-1) % 2
  if (P == 1) {
    fmovs(y, v);
    finished = true;
  } else if (i == 0) {
    fmovs(fabout({.extent = len, .color = out, .output_queue = 1}), v, {.async = true, .activate = done});
  } else if (i < P - 1) {
    fadds(fabout({.extent = len, .color = out, .output_queue = 1}), fabin({.extent = len, .color = in, .input_queue = 1}),
          v, {.async = true, .activate = done});
  } else {
    fadds(y, fabin({.extent = len, .color = in, .input_queue = 1}), v, {.async = true, .activate = done});
  }
}

std::unique_ptr<csl::Layout> pipeline_layout(int P, std::uint32_t n) {
  auto layout = std::make_unique<csl::Layout>(P, 1);
  for (int i = 0; i < P; ++i) {
    layout->set_tile_program<PipelineStage>(i, 0, i, P, n);
    if (i + 1 < P) {
      const csl::Color c = csl::Color(i % 2);
      layout->set_color_config(i, 0, c, route(bit(Dir::Ramp), bit(Dir::East)));
      layout->set_color_config(i + 1, 0, c, route(bit(Dir::West), bit(Dir::Ramp)));
    }
  }
  layout->export_symbol("v");
  layout->export_symbol("y");
  return layout;
}

// ---- switch-driven broadcast ---------------------------------------------------------------------------------

void BroadcastCentre::start() {
  for (std::uint32_t k = 0; k < 4; ++k) {
    csl::Async opt{.async = true};
    if (k == 3) opt.activate = done;
    fmovs(fabout({.extent = len, .color = kColor, .output_queue = 2, .advance_switch = true}),
          mem1d(data, {.extent = len, .offset = std::int32_t(k * len)}), opt);
  }
}

void BroadcastNeighbour::start() {
  fmovs(buf, fabin({.extent = len, .color = BroadcastCentre::kColor, .input_queue = 2}),
        {.async = true, .activate = done});
}

std::unique_ptr<csl::Layout> broadcast_layout(std::uint32_t n) {
  auto layout = std::make_unique<csl::Layout>(3, 3);
  const csl::Color c = BroadcastCentre::kColor;
  layout->set_tile_program<BroadcastCentre>(1, 1, n);
  hw::ColorConfig centre = route(bit(Dir::Ramp), bit(Dir::East));
  centre.positions[0] = {hw::SwitchPosition::Kind::Tx, bit(Dir::West)};
  centre.positions[1] = {hw::SwitchPosition::Kind::Tx, bit(Dir::North)};
  centre.positions[2] = {hw::SwitchPosition::Kind::Tx, bit(Dir::South)};
  layout->set_color_config(1, 1, c, centre);
  struct N {
    int x, y;
    Dir from;
  };
  for (N nb : {N{2, 1, Dir::West}, N{0, 1, Dir::East}, N{1, 0, Dir::South}, N{1, 2, Dir::North}}) {
    layout->set_tile_program<BroadcastNeighbour>(nb.x, nb.y, n);
    layout->set_color_config(nb.x, nb.y, c, route(bit(nb.from), bit(Dir::Ramp)));
  }
  layout->export_symbol("data");
  layout->export_symbol("buf");
  return layout;
}

}  // namespace wafersim::examples
