#include "onednn_conv.h"

#include <algorithm>
#include <cstring>
#include <dnnl.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/errors.h"
#include "../core/lru_cache.h"

namespace gpcnn {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// Everything about one convolution that fixes its oneDNN primitives.
struct Geometry {
  int64_t batch, in_channels, height, width, out_channels, kh, kw, dy, dx, groups;
  bool bias;
  // Zero rows put on top of the input copy instead of padding: oneDNN's AVX-512
  // backward-weights kernel refuses a top pad of 2 or more and falls back to AVX2.
  int64_t extra_top = 0;

  std::string key(char pass) const {
    std::string k(1, pass);
    for (int64_t v : {batch, in_channels, height, width, out_channels, kh, kw, dy, dx, groups,
                      int64_t{bias}, extra_top})
      k += ',' + std::to_string(v);
    return k;
  }
  // Input rows / columns cut off where a pad would be negative.
  int64_t crop_top() const { return std::max<int64_t>(-dy, 0); }
  int64_t crop_bottom() const { return std::max<int64_t>(dy - (kh - 1), 0); }
  int64_t crop_left() const { return std::max<int64_t>(-dx, 0); }
  int64_t crop_right() const { return std::max<int64_t>(dx - (kw - 1), 0); }
  int64_t view_height() const { return height - crop_top() - crop_bottom(); }
  int64_t view_width() const { return width - crop_left() - crop_right(); }
  // When the kernel never overlaps the image, the output is the bias alone.
  bool reads_nothing() const { return view_height() <= 0 || view_width() <= 0; }
  memory::dims pad_before() const {
    return {std::max<int64_t>(dy, 0) - extra_top, std::max<int64_t>(dx, 0)};
  }
  memory::dims pad_after() const {
    return {std::max<int64_t>(kh - 1 - dy, 0), std::max<int64_t>(kw - 1 - dx, 0)};
  }

  bool crops() const { return view_height() != height || view_width() != width; }
  bool copies_input() const { return crops() || extra_top > 0; }
  int64_t window_height() const { return view_height() + extra_top; }
  // The part of the input the kernel can reach (after any extra zero rows), as a dense tensor.
  memory::desc input_window() const {
    return memory::desc({batch, in_channels, window_height(), view_width()}, dt::f32, tag::nchw);
  }
  memory::desc output() const {
    return memory::desc({batch, out_channels, height, width}, dt::f32, tag::nchw);
  }
  memory::desc weights() const {
    if (groups == 1) return memory::desc({out_channels, in_channels, kh, kw}, dt::f32, tag::oihw);
    return memory::desc({groups, out_channels / groups, in_channels / groups, kh, kw}, dt::f32,
                        tag::goihw);
  }
  memory::desc bias_desc() const { return memory::desc({out_channels}, dt::f32, tag::x); }
};

Geometry geometry_of(const Tensor& x_or_grad_x, const Tensor& w_or_grad_w, bool bias,
                     const ConvParams& p) {
  return Geometry{x_or_grad_x.dim(0), x_or_grad_x.dim(1), x_or_grad_x.dim(2),
                  x_or_grad_x.dim(3), w_or_grad_w.dim(0), w_or_grad_w.dim(2),
                  w_or_grad_w.dim(3), p.dy, p.dx, p.groups, bias};
}

void* ptr(const Tensor& t) { return t.buffer->data(); }

// Copies between a full input [B, C, H, W] and its dense window (after
// extra_top zero rows). A oneDNN sub-memory would avoid the copy, but strided
// sources send oneDNN to its slow reference kernel; the copy costs far less than
// the convolution it enables.
void copy_window(const Geometry& g, const float* full, float* window) {
  const int64_t rows = g.view_height(), cols = g.view_width(), height = g.window_height();
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < g.batch * g.in_channels; ++plane) {
    std::memset(window + plane * height * cols, 0, g.extra_top * cols * sizeof(float));
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(window + (plane * height + g.extra_top + i) * cols,
                  full + (plane * g.height + i + g.crop_top()) * g.width + g.crop_left(),
                  cols * sizeof(float));
  }
}

void scatter_window(const Geometry& g, const float* window, float* full) {
  const int64_t rows = g.view_height(), cols = g.view_width();
  std::memset(full, 0, sizeof(float) * g.batch * g.in_channels * g.height * g.width);
  for (int64_t plane = 0; plane < g.batch * g.in_channels; ++plane)
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(full + (plane * g.height + i + g.crop_top()) * g.width + g.crop_left(),
                  window + (plane * rows + i) * cols, cols * sizeof(float));
}

// The input as oneDNN should read it: the tensor itself, or a dense copy of its window.
struct InputWindow {
  std::vector<float> copy;
  void* data;
  InputWindow(const Geometry& g, const Tensor& x) : data(ptr(x)) {
    if (!g.copies_input()) return;
    copy.resize(g.batch * g.in_channels * g.window_height() * g.view_width());
    copy_window(g, x.data<float>(), copy.data());
    data = copy.data();
  }
};

// One operand of a planned primitive: the caller's plain NCHW / OIHW memory and,
// when oneDNN runs faster in a layout of its own (channels blocked by 16 for
// AVX-512), that layout and the reorder to or from it. The blocked copy itself is
// taken from the backend's pool for each call, so a plan holds no memory of its own.
struct Operand {
  int arg;  // DNNL_ARG_*
  memory::desc plain;
  bool output;
  std::optional<memory::desc> blocked;
  std::optional<dnnl::reorder> reorder;  // plain -> blocked for inputs, blocked -> plain for outputs
};

Operand make_operand(const dnnl::engine& engine, int arg, const memory::desc& plain,
                     const memory::desc& chosen, bool output) {
  Operand op{arg, plain, output, std::nullopt, std::nullopt};
  if (chosen != plain) {
    op.blocked = chosen;
    op.reorder = output ? dnnl::reorder(dnnl::reorder::primitive_desc(engine, chosen, engine, plain))
                        : dnnl::reorder(dnnl::reorder::primitive_desc(engine, plain, engine, chosen));
  }
  return op;
}

// A primitive with its operands, created once per geometry and pass.
struct Plan {
  dnnl::primitive primitive;
  std::vector<Operand> operands;

  void execute(const dnnl::engine& engine, dnnl::stream& stream, const std::unordered_map<int, void*>& data,
               const OneDnnConvolutions::Allocate& allocate) {
    std::vector<std::shared_ptr<Buffer>> copies;  // the blocked copies, held until the work is done
    std::unordered_map<int, memory> args;
    for (Operand& op : operands) {
      memory plain(op.plain, engine, data.at(op.arg));
      if (!op.blocked) {
        args.emplace(op.arg, plain);
        continue;
      }
      copies.push_back(allocate(op.blocked->get_size()));
      memory blocked(*op.blocked, engine, copies.back()->data());
      if (!op.output) op.reorder->execute(stream, plain, blocked);
      args.emplace(op.arg, blocked);
    }
    primitive.execute(stream, args);
    for (Operand& op : operands)
      if (op.blocked && op.output) {
        memory plain(op.plain, engine, data.at(op.arg));
        op.reorder->execute(stream, args.at(op.arg), plain);
      }
    stream.wait();
  }
};

// Spatial kernels run about 1.5× faster in oneDNN's blocked layouts, which pays for
// the reorders; 1×1 convolutions are as fast on plain NCHW.
memory::desc layout(const memory::desc& plain, const Geometry& g) {
  return g.kh * g.kw > 1 ? memory::desc(plain.dims(), dt::f32, tag::any) : plain;
}

}  // namespace

struct OneDnnConvolutions::State {
  explicit State(Allocate allocate) : allocate(std::move(allocate)) {}
  Allocate allocate;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mutex mutex;  // the plans and the stream are shared by all callers
  LruCache<dnnl::convolution_forward::primitive_desc> forward_descs{kKeptConvolutionPlans};
  LruCache<Plan> plans{kKeptConvolutionPlans};

  // The forward primitive descriptor: the forward pass itself, and the hint of both backward passes.
  const dnnl::convolution_forward::primitive_desc& forward_desc(const Geometry& g) {
    return forward_descs.get(g.key('f'), [&] {
      const auto src = layout(g.input_window(), g), wei = layout(g.weights(), g), dst = layout(g.output(), g);
      const auto desc =
          g.bias ? dnnl::convolution_forward::desc(
                       dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                       wei, g.bias_desc(), dst, {1, 1}, g.pad_before(), g.pad_after())
                 : dnnl::convolution_forward::desc(
                       dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src,
                       wei, dst, {1, 1}, g.pad_before(), g.pad_after());
      return dnnl::convolution_forward::primitive_desc(desc, engine);
    });
  }

  Plan& forward_plan(const Geometry& g) {
    return plans.get(g.key('F'), [&] {
      const auto& pd = forward_desc(g);
      Plan plan{dnnl::convolution_forward(pd), {}};
      plan.operands.push_back(make_operand(engine, DNNL_ARG_SRC, g.input_window(), pd.src_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_WEIGHTS, g.weights(), pd.weights_desc(), false));
      if (g.bias) plan.operands.push_back(make_operand(engine, DNNL_ARG_BIAS, g.bias_desc(), pd.bias_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_DST, g.output(), pd.dst_desc(), true));
      return plan;
    });
  }

  Plan& backward_data_plan(const Geometry& g) {
    return plans.get(g.key('D'), [&] {
      const dnnl::convolution_backward_data::desc desc(
          dnnl::algorithm::convolution_direct, layout(g.input_window(), g), layout(g.weights(), g),
          layout(g.output(), g), {1, 1}, g.pad_before(), g.pad_after());
      const dnnl::convolution_backward_data::primitive_desc pd(desc, engine, forward_desc(g));
      Plan plan{dnnl::convolution_backward_data(pd), {}};
      plan.operands.push_back(make_operand(engine, DNNL_ARG_DIFF_DST, g.output(), pd.diff_dst_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_WEIGHTS, g.weights(), pd.weights_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_DIFF_SRC, g.input_window(), pd.diff_src_desc(), true));
      return plan;
    });
  }

  Plan& backward_weights_plan(const Geometry& g) {
    return plans.get(g.key('W'), [&] {
      const auto src = layout(g.input_window(), g), wei = layout(g.weights(), g), dst = layout(g.output(), g);
      const auto desc =
          g.bias ? dnnl::convolution_backward_weights::desc(
                       dnnl::algorithm::convolution_direct, src, wei, g.bias_desc(), dst, {1, 1},
                       g.pad_before(), g.pad_after())
                 : dnnl::convolution_backward_weights::desc(
                       dnnl::algorithm::convolution_direct, src, wei, dst, {1, 1},
                       g.pad_before(), g.pad_after());
      const dnnl::convolution_backward_weights::primitive_desc pd(desc, engine, forward_desc(g));
      Plan plan{dnnl::convolution_backward_weights(pd), {}};
      plan.operands.push_back(make_operand(engine, DNNL_ARG_SRC, g.input_window(), pd.src_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_DIFF_DST, g.output(), pd.diff_dst_desc(), false));
      plan.operands.push_back(make_operand(engine, DNNL_ARG_DIFF_WEIGHTS, g.weights(), pd.diff_weights_desc(), true));
      if (g.bias) plan.operands.push_back(make_operand(engine, DNNL_ARG_DIFF_BIAS, g.bias_desc(), pd.diff_bias_desc(), true));
      return plan;
    });
  }
};

OneDnnConvolutions::OneDnnConvolutions(Allocate allocate) : state_(std::make_unique<State>(std::move(allocate))) {}
OneDnnConvolutions::~OneDnnConvolutions() = default;

size_t OneDnnConvolutions::plan_count() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->plans.size();
}

// oneDNN reports failures as dnnl::error; turn them into our error type.
template <typename Body>
static void run_guarded(const char* what, Body body) {
  try {
    body();
  } catch (const dnnl::error& e) {
    fail(codes::kBackend, "oneDNN failed in ", what, ": ", e.what());
  }
}

void OneDnnConvolutions::forward(const Tensor& x, const Tensor& w, const Tensor* b,
                                 const ConvParams& p, Tensor& y) {
  const Geometry g = geometry_of(x, w, b != nullptr, p);
  if (g.reads_nothing()) {
    // Every output is just the bias.
    const int64_t plane = g.height * g.width;
    float* out = y.data<float>();
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t o = 0; o < g.out_channels; ++o)
        std::fill_n(out + (n * g.out_channels + o) * plane, plane, b ? b->data<float>()[o] : 0.f);
    return;
  }
  run_guarded("the convolution forward pass", [&] {
    const InputWindow input(g, x);
    std::unordered_map<int, void*> data{{DNNL_ARG_SRC, input.data}, {DNNL_ARG_WEIGHTS, ptr(w)}, {DNNL_ARG_DST, ptr(y)}};
    if (b) data.emplace(DNNL_ARG_BIAS, ptr(*b));
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->forward_plan(g).execute(state_->engine, state_->stream, data, state_->allocate);
  });
}

void OneDnnConvolutions::backward_data(const Tensor& grad_y, const Tensor& w, const ConvParams& p,
                                       Tensor& grad_x) {
  const Geometry g = geometry_of(grad_x, w, false, p);
  if (g.reads_nothing()) {
    std::memset(ptr(grad_x), 0, grad_x.bytes());
    return;
  }
  // With a crop, oneDNN writes the window's gradient; the cropped rows and columns get zero.
  std::vector<float> window(g.crops() ? g.batch * g.in_channels * g.view_height() * g.view_width() : 0);
  void* target = g.crops() ? window.data() : ptr(grad_x);
  run_guarded("the convolution backward-data pass", [&] {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->backward_data_plan(g).execute(
        state_->engine, state_->stream,
        {{DNNL_ARG_DIFF_DST, ptr(grad_y)}, {DNNL_ARG_WEIGHTS, ptr(w)}, {DNNL_ARG_DIFF_SRC, target}}, state_->allocate);
  });
  if (g.crops()) scatter_window(g, window.data(), grad_x.data<float>());
}

void OneDnnConvolutions::backward_weights(const Tensor& x, const Tensor& grad_y,
                                          const ConvParams& p, Tensor& grad_w, Tensor* grad_b) {
  Geometry g = geometry_of(x, grad_w, grad_b != nullptr, p);
  if (!g.crops() && g.kh * g.kw > 1 && g.pad_before()[0] >= 2) g.extra_top = g.pad_before()[0];
  if (g.reads_nothing()) {
    std::memset(ptr(grad_w), 0, grad_w.bytes());
    if (grad_b) {
      const int64_t plane = g.height * g.width;
      for (int64_t o = 0; o < g.out_channels; ++o) {
        double sum = 0;
        for (int64_t n = 0; n < g.batch; ++n) {
          const float* row = grad_y.data<float>() + (n * g.out_channels + o) * plane;
          for (int64_t i = 0; i < plane; ++i) sum += row[i];
        }
        grad_b->data<float>()[o] = static_cast<float>(sum);
      }
    }
    return;
  }
  run_guarded("the convolution backward-weights pass", [&] {
    const InputWindow input(g, x);
    std::unordered_map<int, void*> data{{DNNL_ARG_SRC, input.data}, {DNNL_ARG_DIFF_DST, ptr(grad_y)}, {DNNL_ARG_DIFF_WEIGHTS, ptr(grad_w)}};
    if (grad_b) data.emplace(DNNL_ARG_DIFF_BIAS, ptr(*grad_b));
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->backward_weights_plan(g).execute(state_->engine, state_->stream, data, state_->allocate);
  });
}

}  // namespace gpcnn
