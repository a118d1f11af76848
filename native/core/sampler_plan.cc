#include "sampler_plan.h"

#include "errors.h"

namespace gpcnn {

BlockGeometry block_geometry(const SamplerConfig& c, int64_t l) {
  if (l == 0) {
    const int64_t r0 = c.first_kernel / 2;
    return {c.channels, r0, c.first_kernel, r0, r0, r0, r0};
  }
  const int64_t r = c.kernel / 2;
  return {c.hidden, r + 1, c.kernel, r, r, r + 1, r};
}

const float* job_weight(const SamplerJob& job, const std::string& name, int64_t count) {
  auto found = job.weights.find(name);
  if (found == job.weights.end()) fail(codes::kArg, "the sampler needs weight ", name);
  if (int64_t(found->second.size()) != count)
    fail(codes::kShape, "weight ", name, " has ", found->second.size(), " values, expected ", count);
  return found->second.data();
}

const float* job_optional_weight(const SamplerJob& job, const std::string& name, bool configured, int64_t count) {
  return configured ? job_weight(job, name, count) : nullptr;
}

namespace {

// Appends weights, each starting on a 64-byte boundary (cuDNN reads the vertical
// filters in place, with vector loads); transposed() turns [rows][cols] into [cols][rows].
class FlatWriter {
 public:
  explicit FlatWriter(std::vector<float>& flat) : flat_(flat) {}
  int64_t copy(const float* src, int64_t count) {
    if (!src) return -1;
    const int64_t at = align();
    flat_.insert(flat_.end(), src, src + count);
    return at;
  }
  // `blocks` consecutive [rows][cols] matrices, each transposed, one after another.
  int64_t transposed(const float* src, int64_t rows, int64_t cols, int64_t blocks = 1) {
    if (!src) return -1;
    const int64_t at = align();
    flat_.resize(flat_.size() + blocks * rows * cols);
    for (int64_t n = 0; n < blocks; ++n)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k) flat_[at + (n * cols + k) * rows + r] = src[(n * rows + r) * cols + k];
    return at;
  }

 private:
  int64_t align() {
    constexpr size_t kFloats = 16;
    flat_.resize((flat_.size() + kFloats - 1) / kFloats * kFloats, 0.f);
    return int64_t(flat_.size());
  }

  std::vector<float>& flat_;
};

// A horizontal filter [outputs][cin][1][kw] with its inputs reordered tap-major,
// [outputs][kw][cin], as the CUDA sampler reads its window.
std::vector<float> tap_major(const float* w, int64_t outputs, int64_t cin, int64_t kw) {
  std::vector<float> out(outputs * cin * kw);
  for (int64_t o = 0; o < outputs; ++o)
    for (int64_t c = 0; c < cin; ++c)
      for (int64_t e = 0; e < kw; ++e) out[(o * kw + e) * cin + c] = w[(o * cin + c) * kw + e];
  return out;
}

// h.bias + vh.bias + vh.weight · v.bias, in double: the horizontal pre-activation's
// constant, when vh is applied to the vertical convolution without its bias.
std::vector<float> horizontal_constant(const float* h_b, const float* vh_b, const float* vh_w, const float* v_b,
                                       int64_t outputs) {
  std::vector<float> base(outputs);
  for (int64_t o = 0; o < outputs; ++o) {
    double sum = double(h_b[o]) + double(vh_b[o]);
    for (int64_t c = 0; c < outputs; ++c) sum += double(vh_w[o * outputs + c]) * double(v_b[c]);
    base[o] = float(sum);
  }
  return base;
}

}  // namespace

ArrangedWeights arrange_weights(const SamplerJob& job) {
  const SamplerConfig& c = job.config;
  const int64_t P = c.hidden, P2 = 2 * P, S = c.skip, Q = c.head_hidden, K = c.levels, C = c.channels;
  const int64_t n = c.classes, d = c.cond_dim, sc = c.spatial_cond;
  ArrangedWeights a;
  FlatWriter out(a.flat);
  for (int64_t l = 0; l < c.layers; ++l) {
    const BlockGeometry g = block_geometry(c, l);
    const std::string at = "blocks." + std::to_string(l) + ".";
    auto w = [&](const char* name, int64_t count) { return job_weight(job, at + name, count); };
    auto optional = [&](const char* name, bool configured, int64_t count) {
      return job_optional_weight(job, at + name, configured, count);
    };
    BlockPlan b{};
    b.cin = g.cin, b.vkh = g.vkh, b.vkw = g.vkw, b.vdy = g.vdy, b.vdx = g.vdx, b.hkw = g.hkw, b.hdx = g.hdx;
    const int64_t vtaps = g.cin * g.vkh * g.vkw, htaps = g.cin * g.hkw;
    const float* v_b = w("v.bias", P2);
    const float* vh_w = w("vh.weight", P2 * P2);
    b.v_w = out.copy(w("v.weight", P2 * vtaps), P2 * vtaps), b.v_b = out.copy(v_b, P2);
    b.vh_w = out.copy(vh_w, P2 * P2);
    const std::vector<float> base = horizontal_constant(w("h.bias", P2), w("vh.bias", P2), vh_w, v_b, P2);
    b.h_base_b = out.copy(base.data(), P2);
    b.h_wt = out.transposed(tap_major(w("h.weight", P2 * htaps), P2, g.cin, g.hkw).data(), P2, htaps);
    b.res_wt = out.transposed(w("res.weight", P * P), P, P), b.res_b = out.copy(w("res.bias", P), P);
    b.skip_wt = out.transposed(w("skip.weight", S * P), S, P), b.skip_b = out.copy(w("skip.bias", S), S);
    b.class_v = out.copy(optional("class_v.weight", n > 0, n * P2), n * P2);
    b.class_h = out.copy(optional("class_h.weight", n > 0, n * P2), n * P2);
    b.cond_vt = out.transposed(optional("cond_v.weight", d > 0, P2 * d), P2, d);
    b.cond_ht = out.transposed(optional("cond_h.weight", d > 0, P2 * d), P2, d);
    b.spatial_vt = out.transposed(optional("spatial_v.weight", sc > 0, P2 * sc), P2, sc);
    b.spatial_ht = out.transposed(optional("spatial_h.weight", sc > 0, P2 * sc), P2, sc);
    a.blocks.push_back(b);
  }
  a.hidden_wt = out.transposed(job_weight(job, "head.hidden.weight", Q * S), Q, S);
  a.hidden_b = out.copy(job_weight(job, "head.hidden.bias", Q), Q);
  a.out_wt = out.transposed(job_weight(job, "head.out.weight", C * K * Q), K, Q, C);  // per channel [Q][K]
  a.out_b = out.copy(job_weight(job, "head.out.bias", C * K), C * K);
  a.prev = out.copy(job_optional_weight(job, "head.prev", C > 1, Q * C * C), Q * C * C);
  return a;
}

SamplerStateSizes state_sizes(const SamplerPlan& p, bool keep_logits) {
  const int64_t image = p.B * p.C * p.H * p.W, hidden_layers = p.L > 1 ? p.L - 1 : 0;
  return {image,
          hidden_layers * p.B * p.P * p.H * p.W,
          p.B * 2 * p.P * p.W,
          p.B * 2 * p.P * p.W,
          p.L * p.B * 2 * p.P * p.W,
          hidden_layers * p.B * p.P * p.W,
          p.L * p.B * 2 * 2 * p.P,
          image,
          keep_logits ? image * p.K : 0};
}

SamplerPlan plan_for(const SamplerJob& job, const ArrangedWeights& a) {
  const SamplerConfig& c = job.config;
  SamplerPlan p{};
  p.B = job.batch, p.C = c.channels, p.H = c.height, p.W = c.width, p.K = c.levels, p.P = c.hidden;
  p.S = c.skip, p.Q = c.head_hidden, p.L = c.layers, p.cond_dim = c.cond_dim, p.spatial_cond = c.spatial_cond;
  p.blocks = a.blocks.data(), p.w = a.flat.data();
  p.hidden_wt = a.hidden_wt, p.hidden_b = a.hidden_b, p.out_wt = a.out_wt, p.out_b = a.out_b, p.prev = a.prev;
  p.temperature = job.temperature, p.seed = job.seed, p.first_image = job.first_image;
  p.labels = job.labels.empty() ? nullptr : job.labels.data();
  p.vectors = job.vectors.empty() ? nullptr : job.vectors.data();
  p.spatial = job.spatial.empty() ? nullptr : job.spatial.data();
  p.known = job.known_mask.empty() ? nullptr : job.known.data();
  p.known_mask = job.known_mask.empty() ? nullptr : job.known_mask.data();
  return p;
}

}  // namespace gpcnn
