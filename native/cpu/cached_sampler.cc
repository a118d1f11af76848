#include "cached_sampler.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "../core/errors.h"
#include "../core/relu.h"
#include "../core/sample_draw.h"
#include "../core/sampler_plan.h"

namespace gpcnn {

namespace {

// C[M×N] = A[M×K] · B[K×N] (+ C when accumulate); row-major.
void gemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, bool accumulate = false) {
  if (dnnl_sgemm('N', 'N', m, n, k, 1.f, a, k, b, n, accumulate ? 1.f : 0.f, c, n) != dnnl_success)
    fail(codes::kBackend, "oneDNN sgemm failed in the cached sampler");
}

inline float sigmoid(float a) { return 1.f / (1.f + std::exp(-a)); }

// A block's geometry and weights.
struct Block {
  int64_t in_channels, vkh, vkw, vdy, vdx, hkw, hdx;
  const float *v_w, *v_b, *h_w, *h_b, *vh_w, *vh_b, *res_w, *res_b, *skip_w, *skip_b;
  const float *class_v = nullptr, *class_h = nullptr, *cond_v = nullptr, *cond_h = nullptr;
  const float *spatial_v = nullptr, *spatial_h = nullptr;
};

// Samples images [first, first + count) of a job into `result`.
class Sampler {
 public:
  Sampler(const SamplerJob& job, int64_t first, int64_t count, SamplerResult& result)
      : job_(job), c_(job.config), first_(first), result_(result) {
    B = count, C = c_.channels, H = c_.height, W = c_.width, K = c_.levels, P = c_.hidden;
    S = c_.skip, Q = c_.head_hidden, L = c_.layers;
    for (int64_t l = 0; l < L; ++l) blocks_.push_back(block(l));
    hidden_w_ = weight("head.hidden.weight", Q * S), hidden_b_ = weight("head.hidden.bias", Q);
    out_w_ = weight("head.out.weight", C * K * Q), out_b_ = weight("head.out.bias", C * K);
    prev_ = optional("head.prev", C > 1, Q * C * C);

    xt_.assign(B * C * H * W, 0.f);
    v_out_.assign(L, std::vector<float>(B * P * H * W));
    u_row_.assign(L, std::vector<float>(2 * P * B * W));
    h_row_.assign(L, std::vector<float>(B * P * W));
    biases();
  }

  // Returns false when cancelled.
  bool run(const std::function<void(int64_t)>* on_row, const std::atomic<bool>& cancel) {
    for (int64_t i = 0; i < H; ++i) {
      if (cancel.load()) return false;
      vertical_row(i);
      for (int64_t j = 0; j < W; ++j) position(i, j);
      if (on_row) (*on_row)(i + 1);
    }
    return true;
  }

 private:
  const float* weight(const std::string& name, int64_t count) const { return job_weight(job_, name, count); }
  const float* optional(const std::string& name, bool configured, int64_t count) const {
    return job_optional_weight(job_, name, configured, count);
  }

  Block block(int64_t l) const {
    const std::string at = "blocks." + std::to_string(l) + ".";
    const BlockGeometry g = block_geometry(c_, l);
    Block b{};
    b.in_channels = g.cin, b.vkh = g.vkh, b.vkw = g.vkw, b.vdy = g.vdy, b.vdx = g.vdx, b.hkw = g.hkw, b.hdx = g.hdx;
    const int64_t cin = b.in_channels, n = c_.classes, d = c_.cond_dim, sc = c_.spatial_cond;
    b.v_w = weight(at + "v.weight", 2 * P * cin * b.vkh * b.vkw), b.v_b = weight(at + "v.bias", 2 * P);
    b.h_w = weight(at + "h.weight", 2 * P * cin * b.hkw), b.h_b = weight(at + "h.bias", 2 * P);
    b.vh_w = weight(at + "vh.weight", 4 * P * P), b.vh_b = weight(at + "vh.bias", 2 * P);
    b.res_w = weight(at + "res.weight", P * P), b.res_b = weight(at + "res.bias", P);
    b.skip_w = weight(at + "skip.weight", S * P), b.skip_b = weight(at + "skip.bias", S);
    b.class_v = optional(at + "class_v.weight", n > 0, n * 2 * P);
    b.class_h = optional(at + "class_h.weight", n > 0, n * 2 * P);
    b.cond_v = optional(at + "cond_v.weight", d > 0, 2 * P * d);
    b.cond_h = optional(at + "cond_h.weight", d > 0, 2 * P * d);
    b.spatial_v = optional(at + "spatial_v.weight", sc > 0, 2 * P * sc);
    b.spatial_h = optional(at + "spatial_h.weight", sc > 0, 2 * P * sc);
    return b;
  }

  // Per-image conditioning biases c_z (class + global vector), [L][2][2P × B].
  void biases() {
    bias_.assign(L, std::vector<float>(2 * 2 * P * B, 0.f));
    for (int64_t l = 0; l < L; ++l)
      for (int z = 0; z < 2; ++z) {
        float* out = bias_[l].data() + z * 2 * P * B;
        const float* table = z == 0 ? blocks_[l].class_v : blocks_[l].class_h;
        const float* cond = z == 0 ? blocks_[l].cond_v : blocks_[l].cond_h;
        for (int64_t o = 0; o < 2 * P; ++o)
          for (int64_t b = 0; b < B; ++b) {
            float sum = 0;
            if (table) sum += table[job_.labels[first_ + b] * 2 * P + o];
            if (cond)
              for (int64_t d = 0; d < c_.cond_dim; ++d) sum += cond[o * c_.cond_dim + d] * job_.vectors[(first_ + b) * c_.cond_dim + d];
            out[o * B + b] = sum;
          }
      }
  }

  // The spatial term W_s · S at row i (all columns: [2P × B·W]) or at (i, j) ([2P × B]).
  void spatial_term(const float* w, int64_t i, int64_t j, float* out, int64_t columns) {
    const int64_t s = c_.spatial_cond;
    std::vector<float>& gathered = scratch(gather_, s * B * columns);
    for (int64_t k = 0; k < s; ++k)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t x = 0; x < columns; ++x)
          gathered[(k * B + b) * columns + x] = job_.spatial[(((first_ + b) * s + k) * H + i) * W + (columns == 1 ? j : x)];
    gemm(2 * P, B * columns, s, w, gathered.data(), out, true);
  }

  // The vertical stacks of every block at row i.
  void vertical_row(int64_t i) {
    for (int64_t l = 0; l < L; ++l) {
      const Block& bl = blocks_[l];
      const float* input = l == 0 ? xt_.data() : v_out_[l - 1].data();
      const int64_t cin = bl.in_channels, taps = cin * bl.vkh * bl.vkw;
      std::vector<float>& col = scratch(col_, taps * B * W);
      for (int64_t c = 0; c < cin; ++c)
        for (int64_t a = 0; a < bl.vkh; ++a)
          for (int64_t e = 0; e < bl.vkw; ++e) {
            float* row = col.data() + ((c * bl.vkh + a) * bl.vkw + e) * B * W;
            const int64_t src_i = i - bl.vdy + a;
            for (int64_t b = 0; b < B; ++b)
              for (int64_t j = 0; j < W; ++j) {
                const int64_t src_j = j - bl.vdx + e;
                row[b * W + j] = (src_i >= 0 && src_i < H && src_j >= 0 && src_j < W)
                                     ? input[((b * cin + c) * H + src_i) * W + src_j] : 0.f;
              }
          }
      float* u = u_row_[l].data();  // u_v at row i, [2P × B·W]; vh reads it
      for (int64_t o = 0; o < 2 * P; ++o) std::fill_n(u + o * B * W, B * W, bl.v_b[o]);
      gemm(2 * P, B * W, taps, bl.v_w, col.data(), u, true);
      if (l == L - 1) continue;  // the last block's v_out feeds nothing
      // v_out = gate(u_v + c_v)
      std::vector<float>& a = scratch(a_, 2 * P * B * W);
      for (int64_t o = 0; o < 2 * P; ++o)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < W; ++j) a[(o * B + b) * W + j] = u[(o * B + b) * W + j] + bias_[l][o * B + b];
      if (bl.spatial_v) spatial_term(bl.spatial_v, i, 0, a.data(), W);
      for (int64_t c = 0; c < P; ++c)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t j = 0; j < W; ++j)
            v_out_[l][((b * P + c) * H + i) * W + j] =
                std::tanh(a[(c * B + b) * W + j]) * sigmoid(a[((c + P) * B + b) * W + j]);
    }
  }

  // Horizontal stacks, skip sum, head and the draws at (i, j).
  void position(int64_t i, int64_t j) {
    std::vector<float>& skip = scratch(skip_, S * B);
    std::fill(skip.begin(), skip.end(), 0.f);
    for (int64_t l = 0; l < L; ++l) horizontal(l, i, j, skip.data());
    // Head: z_s = hidden(relu(skip)), then each channel in turn.
    for (float& v : skip) v = relu(v);
    std::vector<float>& zs = scratch(zs_, Q * B);
    for (int64_t k = 0; k < Q; ++k) std::fill_n(zs.data() + k * B, B, hidden_b_[k]);
    gemm(Q, B, S, hidden_w_, skip.data(), zs.data(), true);
    std::vector<float>& z = scratch(z_, Q * B);
    std::vector<float>& logits = scratch(logits_, K * B);
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t k = 0; k < Q; ++k)
        for (int64_t b = 0; b < B; ++b) {
          float sum = zs[k * B + b];
          for (int64_t cp = 0; cp < c; ++cp) sum += prev_[(k * C + c) * C + cp] * xt_[((b * C + cp) * H + i) * W + j];
          z[k * B + b] = relu(sum);
        }
      for (int64_t k = 0; k < K; ++k) std::fill_n(logits.data() + k * B, B, out_b_[c * K + k]);
      gemm(K, B, Q, out_w_ + c * K * Q, z.data(), logits.data(), true);
      draw(c, i, j, logits.data());
    }
  }

  void horizontal(int64_t l, int64_t i, int64_t j, float* skip) {
    const Block& bl = blocks_[l];
    const int64_t cin = bl.in_channels, taps = cin * bl.hkw;
    // h_in at (i, j − hdx + e): the image itself for block 0, else the row below's h_out.
    std::vector<float>& col = scratch(col_, taps * B);
    for (int64_t c = 0; c < cin; ++c)
      for (int64_t e = 0; e < bl.hkw; ++e) {
        const int64_t src_j = j - bl.hdx + e;
        for (int64_t b = 0; b < B; ++b)
          col[(c * bl.hkw + e) * B + b] =
              src_j < 0 || src_j >= W ? 0.f
              : l == 0                ? xt_[((b * C + c) * H + i) * W + src_j]
                                      : h_row_[l - 1][(b * P + c) * W + src_j];
      }
    std::vector<float>& a = scratch(a_, 2 * P * B);
    for (int64_t o = 0; o < 2 * P; ++o)
      for (int64_t b = 0; b < B; ++b) a[o * B + b] = bl.h_b[o] + bl.vh_b[o] + bias_[l][(2 * P + o) * B + b];
    gemm(2 * P, B, taps, bl.h_w, col.data(), a.data(), true);
    // vh(u_v) at (i, j).
    std::vector<float>& uv = scratch(uv_, 2 * P * B);
    for (int64_t o = 0; o < 2 * P; ++o)
      for (int64_t b = 0; b < B; ++b) uv[o * B + b] = u_row_[l][(o * B + b) * W + j];
    gemm(2 * P, B, 2 * P, bl.vh_w, uv.data(), a.data(), true);
    if (bl.spatial_h) spatial_term(bl.spatial_h, i, j, a.data(), 1);
    std::vector<float>& g = scratch(g_, P * B);
    for (int64_t k = 0; k < P * B; ++k) g[k] = std::tanh(a[k]) * sigmoid(a[P * B + k]);
    for (int64_t o = 0; o < S; ++o)
      for (int64_t b = 0; b < B; ++b) skip[o * B + b] += bl.skip_b[o];
    gemm(S, B, P, bl.skip_w, g.data(), skip, true);
    if (l == L - 1) return;  // the last block's h_out feeds nothing
    std::vector<float>& r = scratch(r_, P * B);
    for (int64_t o = 0; o < P; ++o) std::fill_n(r.data() + o * B, B, bl.res_b[o]);
    gemm(P, B, P, bl.res_w, g.data(), r.data(), true);
    for (int64_t o = 0; o < P; ++o)
      for (int64_t b = 0; b < B; ++b) {
        // Block 0 has no residual: h_in is the image itself.
        const float residual = l == 0 ? 0.f : h_row_[l - 1][(b * P + o) * W + j];
        h_row_[l][(b * P + o) * W + j] = residual + r[o * B + b];
      }
  }

  void draw(int64_t c, int64_t i, int64_t j, const float* logits) {
    const int64_t position = (i * W + j) * C + c;  // generation order, as the naive sampler counts
    for (int64_t b = 0; b < B; ++b) {
      const int64_t image = first_ + b;  // in the job
      const int64_t at = ((image * C + c) * H + i) * W + j;
      if (job_.keep_logits)
        for (int64_t k = 0; k < K; ++k) result_.logits[(((image * C + c) * K + k) * H + i) * W + j] = logits[k * B + b];
      int level;
      if (!job_.known_mask.empty() && job_.known_mask[at]) {
        level = job_.known[at];
      } else {
        const double u = sample_uniform(job_.seed, job_.first_image + image, position);
        level = draw_level(logits + b, B, K, job_.temperature, u, scratch(weights_, K).data());
        if (level == kNoLevel)
          fail(codes::kDiverged, "the logits of image ", job_.first_image + image, " at row ", i, ", column ", j,
               " are not finite: the model's weights overflow them, as those of a run that diverged do");
      }
      result_.levels[at] = uint8_t(level);
      xt_[((b * C + c) * H + i) * W + j] = float(2.0 * level / double(K - 1) - 1.0);  // as toUnit() rounds it
    }
  }

  template <typename T>
  static std::vector<T>& scratch(std::vector<T>& buffer, int64_t size) {
    if (int64_t(buffer.size()) < size) buffer.resize(size);
    return buffer;
  }

  const SamplerJob& job_;
  const SamplerConfig& c_;
  const int64_t first_;
  SamplerResult& result_;
  int64_t B, C, H, W, K, P, S, Q, L;
  std::vector<Block> blocks_;
  const float *hidden_w_, *hidden_b_, *out_w_, *out_b_, *prev_;
  std::vector<float> xt_;
  std::vector<std::vector<float>> v_out_, u_row_, h_row_, bias_;
  std::vector<float> col_, gather_, skip_, zs_, z_, logits_, a_, uv_, g_, r_;
  std::vector<double> weights_;
};

}  // namespace

SamplerResult run_cached_sampler(const SamplerJob& job, const std::function<void(int64_t)>& on_row,
                                 const std::atomic<bool>& cancel) {
  const SamplerConfig& c = job.config;
  SamplerResult result;
  result.design = result.vertical = "cpu";
  result.levels.assign(job.batch * c.channels * c.height * c.width, 0);
  if (job.keep_logits) result.logits.assign(job.batch * c.channels * c.levels * c.height * c.width, 0.f);
  // The per-position products are too small to share among threads, so each thread
  // samples its own share of the images (sgemm runs single-threaded inside).
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), job.batch));
  bool completed = true;
  std::string failure;
  std::string failure_code;
#pragma omp parallel num_threads(threads) reduction(&& : completed)
  {
    // sgemm on this thread alone, also in a team of one: such a region is inactive, and
    // oneDNN would fork every thread for each tiny product (40 times slower for one image).
    omp_set_num_threads(1);
    const int64_t t = omp_get_thread_num();
    const int64_t first = job.batch * t / threads, last = job.batch * (t + 1) / threads;
    try {
      Sampler sampler(job, first, last - first, result);
      completed = sampler.run(t == 0 ? &on_row : nullptr, cancel);
    } catch (const Error& e) {  // nothing may escape an OpenMP region
#pragma omp critical
      failure = e.what(), failure_code = e.code();
      completed = false;
    } catch (const std::bad_alloc&) {
#pragma omp critical
      failure = "out of host memory", failure_code = codes::kOutOfMemory;
      completed = false;
    } catch (const std::exception& e) {
#pragma omp critical
      failure = e.what(), failure_code = "ERR_INTERNAL";
      completed = false;
    }
  }
  if (!failure.empty()) throw Error(failure_code, failure);
  if (!completed) fail(codes::kAborted, "sampling was aborted");
  return result;
}

}  // namespace gpcnn
