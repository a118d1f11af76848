#include "sampler_plan.h"

#include <array>

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
  auto found = job.weights->find(name);
  if (found == job.weights->end()) fail(codes::kArg, "the sampler needs weight ", name);
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
// `flat` is emptied, and holds at least `capacity` floats before the first write: grown
// step by step, it would move megabytes several times, each time into fresh memory.
class FlatWriter {
 public:
  FlatWriter(std::vector<float>& flat, size_t capacity) : flat_(flat) {
    flat_.clear();
    flat_.reserve(capacity);
  }
  int64_t copy(const float* src, int64_t count) {
    if (!src) return -1;
    const int64_t at = align();
    flat_.insert(flat_.end(), src, src + count);
    return at;
  }
  // `blocks` consecutive [rows][cols] matrices, each transposed, one after another.
  int64_t transposed(const float* src, int64_t rows, int64_t cols, int64_t blocks = 1) {
    return permuted(src, {blocks, cols, rows}, {rows * cols, 1, cols});
  }
  // A horizontal filter [outputs][cin][1][kw] with its inputs reordered tap-major, as the
  // CUDA sampler reads its window, then transposed: [kw][cin][outputs].
  int64_t taps_transposed(const float* w, int64_t outputs, int64_t cin, int64_t kw) {
    return permuted(w, {kw, cin, outputs}, {1, kw, cin * kw});
  }

 private:
  // Appends out[(a · B + b) · C + c] = src[a · sa + b · sb + c · sc] for the extents
  // {A, B, C} and the source's strides {sa, sb, sc}.
  int64_t permuted(const float* src, std::array<int64_t, 3> extents, std::array<int64_t, 3> strides) {
    if (!src) return -1;
    const int64_t at = align();
    flat_.resize(flat_.size() + extents[0] * extents[1] * extents[2]);
    float* out = flat_.data() + at;
    for (int64_t a = 0; a < extents[0]; ++a)
      for (int64_t b = 0; b < extents[1]; ++b)
        for (int64_t c = 0; c < extents[2]; ++c)
          *out++ = src[a * strides[0] + b * strides[1] + c * strides[2]];
    return at;
  }

  int64_t align() {
    constexpr size_t kFloats = 16;
    flat_.resize((flat_.size() + kFloats - 1) / kFloats * kFloats, 0.f);
    return int64_t(flat_.size());
  }

  std::vector<float>& flat_;
};

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
  // Room for every weight of the job, each block's horizontal constant, and each piece's
  // alignment (fewer than 20 pieces a block, 5 for the head).
  size_t capacity = size_t(16 * (20 * c.layers + 5) + P2 * c.layers);
  for (const auto& [name, values] : *job.weights) capacity += values.size();
  FlatWriter out(*a.flat, capacity);
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
    b.h_wt = out.taps_transposed(w("h.weight", P2 * htaps), P2, g.cin, g.hkw);
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
  p.blocks = a.blocks.data(), p.w = a.flat->data();
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
