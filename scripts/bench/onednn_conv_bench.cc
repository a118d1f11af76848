// oneDNN alone, for comparison with the addon: times the offset convolutions of
// one gated block with the layouts oneDNN picks for itself (format_tag::any, the
// best it can do) and with plain NCHW (the layout the addon keeps tensors in).
// Reorders into oneDNN's layouts are done once, outside the timed loops.
// Usage: onednn_conv_bench BATCH CHANNELS SIZE SECONDS   -> JSON lines on stdout
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dnnl.hpp>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

struct Conv {
  const char* name;
  memory::dim in, out, kh, kw, dy, dx;
};

static double seconds_per_run(const std::function<void()>& run, double budget) {
  run();  // warm-up (JIT, caches)
  int runs = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (runs < 3 || elapsed < budget) {
    run();
    ++runs;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return elapsed / runs;
}

static memory filled(const memory::desc& d, const engine& e) {
  memory m(d, e);
  float* p = static_cast<float*>(m.get_data_handle());
  for (size_t i = 0; i < d.get_size() / sizeof(float); ++i) p[i] = float(std::rand()) / RAND_MAX - 0.5f;
  return m;
}

int main(int argc, char** argv) {
  const memory::dim batch = argc > 1 ? std::atoi(argv[1]) : 32;
  const memory::dim p = argc > 2 ? std::atoi(argv[2]) : 128;
  const memory::dim size = argc > 3 ? std::atoi(argv[3]) : 28;
  const double budget = argc > 4 ? std::atof(argv[4]) : 1.0;
  const Conv convs[] = {{"vertical 2x3", p, 2 * p, 2, 3, 1, 1},
                        {"horizontal 1x2", p, 2 * p, 1, 2, 0, 1},
                        {"1x1", 2 * p, 2 * p, 1, 1, 0, 0}};
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  for (const Conv& c : convs) {
    for (const bool own_layout : {true, false}) {
      const tag data_tag = own_layout ? tag::any : tag::nchw;
      const tag weight_tag = own_layout ? tag::any : tag::oihw;
      memory::desc src({batch, c.in, size, size}, dt::f32, data_tag);
      memory::desc dst({batch, c.out, size, size}, dt::f32, data_tag);
      memory::desc wei({c.out, c.in, c.kh, c.kw}, dt::f32, weight_tag);
      memory::desc bia({c.out}, dt::f32, tag::x);
      const memory::dims strides{1, 1}, pad_l{c.dy, c.dx}, pad_r{c.kh - 1 - c.dy, c.kw - 1 - c.dx};
      convolution_forward::primitive_desc fwd(
          convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                    src, wei, bia, dst, strides, pad_l, pad_r),
          eng);
      convolution_backward_data::primitive_desc bwd_data(
          convolution_backward_data::desc(algorithm::convolution_direct, src, wei, dst, strides,
                                          pad_l, pad_r),
          eng, fwd);
      convolution_backward_weights::primitive_desc bwd_weights(
          convolution_backward_weights::desc(algorithm::convolution_direct, src, wei, bia, dst,
                                             strides, pad_l, pad_r),
          eng, fwd);
      memory x = filled(fwd.src_desc(), eng), w = filled(fwd.weights_desc(), eng),
             b = filled(bia, eng), y = filled(fwd.dst_desc(), eng);
      memory gy = filled(bwd_data.diff_dst_desc(), eng), gx = filled(bwd_data.diff_src_desc(), eng);
      memory wb = filled(bwd_data.weights_desc(), eng);
      memory gw = filled(bwd_weights.diff_weights_desc(), eng), gb = filled(bia, eng);
      memory xw = filled(bwd_weights.src_desc(), eng), gyw = filled(bwd_weights.diff_dst_desc(), eng);
      convolution_forward f(fwd);
      convolution_backward_data bd(bwd_data);
      convolution_backward_weights bw(bwd_weights);
      const double flops = 2.0 * batch * size * size * c.out * c.in * c.kh * c.kw;
      const auto report = [&](const char* pass, double secs) {
        std::printf("{\"conv\":\"%s\",\"pass\":\"%s\",\"layout\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f,\"impl\":\"%s\"}\n",
                    c.name, pass, own_layout ? "onednn" : "nchw", secs * 1e3, flops / secs / 1e9,
                    std::string(pass[0] == 'f' ? fwd.impl_info_str()
                                : pass[9] == 'd' ? bwd_data.impl_info_str()
                                                 : bwd_weights.impl_info_str()).c_str());
      };
      report("forward", seconds_per_run([&] {
        f.execute(s, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}});
        s.wait();
      }, budget));
      report("backward-data", seconds_per_run([&] {
        bd.execute(s, {{DNNL_ARG_DIFF_DST, gy}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, gx}});
        s.wait();
      }, budget));
      report("backward-weights", seconds_per_run([&] {
        bw.execute(s, {{DNNL_ARG_SRC, xw}, {DNNL_ARG_DIFF_DST, gyw}, {DNNL_ARG_DIFF_WEIGHTS, gw}, {DNNL_ARG_DIFF_BIAS, gb}});
        s.wait();
      }, budget));
    }
  }
  return 0;
}
