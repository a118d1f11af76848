// sampleCached(request) -> { promise, cancel }: runs the addon's cached sampler
// (CPU or CUDA, the SamplerRunner it registers) on a worker thread (Napi::AsyncProgressWorker) so the event loop stays free; the
// promise resolves to { levels: Uint8Array, logits?: Float32Array } and how it ran (design,
// vertical, clusterImages, rowGraph, captureRefused: src/backend/native.ts).
//   request: { config: {SPEC.md §2 keys}, weights: { name: Float32Array or float32 tensor },
//              batch, firstImage, temperature, seed, keepLogits,
//              labels?: Int32Array, vectors?: Float32Array, spatial?: Float32Array,
//              known?: Uint8Array, knownMask?: Uint8Array, onRow?: (rowsDone) => void }
// Everything is copied on the JS thread before the work starts (nothing JS is
// touched from the worker), the weights as they are at the call, tensors read from the
// device in the order of the backend's work; weights that are not finite are refused
// (ERR_DIVERGED: every draw would be the top level). cancel() makes the sampler stop
// with ERR_ABORTED.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "../core/errors.h"
#include "../core/sampler_job.h"
#include "../core/tensor.h"
#include "addon_context.h"
#include "guard.h"
#include "ops.h"
#include "tensor_wrap.h"

namespace gpcnn {

namespace {

template <typename Array, typename T>
std::vector<T> copy_typed(const Napi::Object& request, const char* key, napi_typedarray_type type) {
  const Napi::Value value = request.Get(key);
  if (value.IsUndefined() || value.IsNull()) return {};
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type)
    fail(codes::kType, key, " has the wrong array type");
  const Array array = value.As<Array>();
  return std::vector<T>(array.Data(), array.Data() + array.ElementLength());
}

double number_field(const Napi::Object& object, const char* key) {
  const Napi::Value value = object.Get(key);
  if (!value.IsNumber()) fail(codes::kType, key, " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(number)) fail(codes::kArg, key, " must be finite, got ", number);
  return number;
}

// The request's weights into job.weights (whose vectors an earlier job may have left,
// with their capacity): each from a Float32Array, or from a float32 tensor of this addon
// (all of those read back at once); the weights must be finite. Every value is got
// first: a getter runs JavaScript, which could dispose a tensor already unwrapped, and
// none runs after.
void read_weights(const Napi::Object& weights, SamplerJob& job) {
  const Napi::Array names = weights.GetPropertyNames();
  std::vector<std::pair<std::string, Napi::Value>> given;
  std::set<std::string> named;
  for (uint32_t k = 0; k < names.Length(); ++k) {
    std::string name = names.Get(k).As<Napi::String>();
    const Napi::Value value = weights.Get(name);
    named.insert(name);
    given.emplace_back(std::move(name), value);
  }
  std::map<std::string, std::vector<float>>& values = *job.weights;
  // An earlier job's weights that this one lacks must not stand in for them.
  for (auto entry = values.begin(); entry != values.end();)
    entry = named.count(entry->first) ? std::next(entry) : values.erase(entry);
  std::vector<std::pair<const Tensor*, void*>> from_tensors;
  for (const auto& [name, value] : given) {
    std::vector<float>& copy = values[name];
    if (value.IsTypedArray()) {
      if (value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        fail(codes::kType, "weight ", name, " must be a Float32Array or a float32 tensor");
      const Napi::Float32Array array = value.As<Napi::Float32Array>();
      copy.assign(array.Data(), array.Data() + array.ElementLength());
    } else {
      const Tensor& tensor = TensorWrap::unwrap(value, name.c_str());
      if (tensor.dtype != DType::F32) fail(codes::kType, "weight ", name, " must be a float32 tensor");
      copy.resize(size_t(tensor.numel()));
      from_tensors.emplace_back(&tensor, copy.data());
    }
  }
  if (!from_tensors.empty()) backend(weights.Env()).download_all(from_tensors);
  for (const auto& [name, value] : given) {
    const std::vector<float>& copy = values.at(name);
    for (size_t i = 0; i < copy.size(); ++i)
      if (!std::isfinite(copy[i]))
        fail(codes::kDiverged, "cannot sample this model: ", name, "[", i, "] is ", copy[i],
             ": weights must be finite (did training diverge?)");
  }
}

int64_t integer_field(const Napi::Object& object, const char* key, int64_t min = 0) {
  const double number = number_field(object, key);
  if (number != std::floor(number) || number < double(min) || number > 9007199254740991.0)
    fail(codes::kArg, key, " must be an integer ≥ ", min, ", got ", number);
  return static_cast<int64_t>(number);
}

// Every array and weight the samplers size from the configuration and the batch must
// hold fewer than 2^40 elements (as any tensor), so that no size they compute overflows.
void check_sizes(const SamplerJob& job) {
  const SamplerConfig& c = job.config;
  const int64_t B = job.batch, H = c.height, W = c.width, P2 = 2 * c.hidden, cin = std::max(c.channels, c.hidden);
  const auto at_least_1 = [](int64_t n) { return std::max<int64_t>(n, 1); };
  const std::pair<Shape, const char*> extents[] = {
      {{B, c.channels, c.levels, H, W}, "the batch's logits"},
      {{c.layers, B, P2, H, W}, "the blocks' activations"},
      {{B, std::max(c.skip, c.head_hidden), H, W}, "the head's activations"},
      {{B, at_least_1(c.spatial_cond), H, W}, "the spatial conditioning"},
      {{P2, cin, c.first_kernel, c.first_kernel}, "the first block's weights"},
      {{c.layers, P2, cin, c.kernel, c.kernel}, "the blocks' weights"},
      {{P2, P2}, "a block's vh weights"},
      {{P2, at_least_1(c.classes + c.cond_dim + c.spatial_cond)}, "a block's conditioning weights"},
      {{c.head_hidden, c.skip}, "the head's hidden weights"},
      {{c.channels, c.levels + c.channels, c.head_hidden}, "the head's output weights"},
  };
  for (const auto& [shape, what] : extents) check_shape_valid(shape, what);
}

SamplerJob read_job(const Napi::Object& request) {
  SamplerJob job;
  const Napi::Value config_value = request.Get("config");
  if (!config_value.IsObject()) fail(codes::kType, "config must be an object");
  const Napi::Object config = config_value.As<Napi::Object>();
  SamplerConfig& c = job.config;
  // SPEC.md §2's constraints, so that a direct caller cannot make the sampler misread memory.
  c.channels = integer_field(config, "channels", 1), c.height = integer_field(config, "height", 1);
  c.width = integer_field(config, "width", 1), c.levels = integer_field(config, "levels", 2);
  c.hidden = integer_field(config, "hidden", 1), c.layers = integer_field(config, "layers", 1);
  c.first_kernel = integer_field(config, "firstKernel", 3), c.kernel = integer_field(config, "kernel", 3);
  c.skip = integer_field(config, "skip", 1), c.head_hidden = integer_field(config, "headHidden", 1);
  c.classes = integer_field(config, "classes"), c.cond_dim = integer_field(config, "condDim");
  c.spatial_cond = integer_field(config, "spatialCond");
  if (c.levels > 256 || c.first_kernel % 2 == 0 || c.kernel % 2 == 0)
    fail(codes::kArg, "config breaks SPEC.md §2 (levels 2…256, odd kernels)");
  const Napi::Value weights_value = request.Get("weights");
  if (!weights_value.IsObject()) fail(codes::kType, "weights must be an object of Float32Arrays or tensors");
  read_weights(weights_value.As<Napi::Object>(), job);
  job.batch = integer_field(request, "batch", 1);
  if (job.batch > 2147483647) fail(codes::kArg, "batch must be < 2^31, got ", job.batch);  // a CUDA grid's limit
  check_sizes(job);
  job.first_image = integer_field(request, "firstImage");
  const double seed = number_field(request, "seed");
  if (seed != std::floor(seed) || std::fabs(seed) > 9007199254740991.0)
    fail(codes::kArg, "seed must be an integer of at most 2^53 − 1, got ", seed);
  job.seed = static_cast<int64_t>(seed);
  job.temperature = number_field(request, "temperature");
  job.keep_logits = request.Get("keepLogits").ToBoolean();
  job.labels = copy_typed<Napi::Int32Array, int32_t>(request, "labels", napi_int32_array);
  job.vectors = copy_typed<Napi::Float32Array, float>(request, "vectors", napi_float32_array);
  job.spatial = copy_typed<Napi::Float32Array, float>(request, "spatial", napi_float32_array);
  job.known = copy_typed<Napi::Uint8Array, uint8_t>(request, "known", napi_uint8_array);
  job.known_mask = copy_typed<Napi::Uint8Array, uint8_t>(request, "knownMask", napi_uint8_array);
  // The TypeScript caller validates too; these checks keep a direct caller from reading out of
  // bounds (the weights' sizes are checked against the configuration by the sampler).
  const int64_t pixels = job.batch * c.channels * c.height * c.width;
  if (!(job.temperature > 0)) fail(codes::kArg, "temperature must be > 0, got ", job.temperature);
  if ((c.classes > 0 && int64_t(job.labels.size()) != job.batch) ||
      (c.cond_dim > 0 && int64_t(job.vectors.size()) != job.batch * c.cond_dim) ||
      (c.spatial_cond > 0 && int64_t(job.spatial.size()) != job.batch * c.spatial_cond * c.height * c.width) ||
      (!job.known_mask.empty() && (int64_t(job.known_mask.size()) != pixels || int64_t(job.known.size()) != pixels)))
    fail(codes::kLength, "the sampling request's arrays do not match its batch and configuration");
  for (int32_t y : job.labels)
    if (y < 0 || y >= c.classes) fail(codes::kRange, "label ", y, " is outside [0, ", c.classes, ")");
  for (size_t at = 0; at < job.known_mask.size(); ++at)
    if (job.known_mask[at] && job.known[at] >= c.levels)
      fail(codes::kRange, "known level ", int(job.known[at]), " is outside [0, ", c.levels, ")");
  return job;
}

class SampleWorker : public Napi::AsyncProgressWorker<int64_t> {
 public:
  SampleWorker(Napi::Env env, SamplerRunner runner, SamplerJob job, Napi::Value on_row,
               std::shared_ptr<std::atomic<bool>> cancel)
      : Napi::AsyncProgressWorker<int64_t>(env, "gated-pixelcnn:sample"),
        runner_(runner),
        deferred_(Napi::Promise::Deferred::New(env)),
        job_(std::move(job)),
        cancel_(std::move(cancel)) {
    if (on_row.IsFunction()) on_row_ = Napi::Persistent(on_row.As<Napi::Function>());
  }

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute(const ExecutionProgress& progress) override {
    try {
      result_ = runner_(job_, [&](int64_t rows) { progress.Send(&rows, 1); }, *cancel_);
    } catch (const Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "ERR_INTERNAL";
      SetError(e.what());
    }
  }

  void OnProgress(const int64_t* rows, size_t count) override {
    if (on_row_.IsEmpty() || count == 0) return;
    try {
      on_row_.Call({Napi::Number::New(Env(), double(rows[count - 1]))});
    } catch (const Napi::Error&) {
      // A throwing progress callback must not take the sampler down; the caller's wrapper reports it.
    }
  }

  // Both run on the JS thread, also while a worker thread's environment is being torn
  // down (Worker.terminate() during a sample); there every Node-API call fails, and the
  // Napi::Error it throws must not escape into node-addon-api, which would abort the
  // process. Nobody can await the promise then. In a live environment a failure to
  // build the result (an allocation) rejects the promise instead.
  void OnOK() override {
    try {
      Resolve();
    } catch (const Napi::Error& error) {
      try {
        deferred_.Reject(error.Value());
      } catch (const Napi::Error&) {
      }
    }
  }

  void OnError(const Napi::Error& error) override {
    try {
      deferred_.Reject(coded_error(Env(), code_, error.Message()).Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  void Resolve() {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    auto levels = Napi::Uint8Array::New(env, result_.levels.size());
    std::copy(result_.levels.begin(), result_.levels.end(), levels.Data());
    result.Set("levels", levels);
    result.Set("design", result_.design);
    result.Set("vertical", result_.vertical);
    result.Set("clusterImages", Napi::Number::New(Env(), double(result_.cluster_images)));
    result.Set("rowGraph", Napi::Boolean::New(Env(), result_.row_graph));
    result.Set("captureRefused", result_.capture_refused);
    if (job_.keep_logits) {
      auto logits = Napi::Float32Array::New(env, result_.logits.size());
      std::copy(result_.logits.begin(), result_.logits.end(), logits.Data());
      result.Set("logits", logits);
    }
    deferred_.Resolve(result);
  }

  SamplerRunner runner_;
  Napi::Promise::Deferred deferred_;
  SamplerJob job_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::FunctionReference on_row_;
  SamplerResult result_;
  std::string code_ = "ERR_INTERNAL";
};

Napi::Value sample_cached(const Napi::CallbackInfo& info, SamplerRunner runner) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) fail(codes::kType, "sampleCached needs a request object");
  const Napi::Object request = info[0].As<Napi::Object>();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new SampleWorker(env, runner, read_job(request), request.Get("onRow"), cancel);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("promise", worker->promise());
  handle.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo& call) {
    cancel->store(true);
    return call.Env().Undefined();
  }));
  worker->Queue();
  return handle;
}

}  // namespace

void register_sample_ops(Napi::Env env, Napi::Object exports, SamplerRunner runner) {
  exports.Set("sampleCached", Napi::Function::New(env, [runner](const Napi::CallbackInfo& info) {
    return with_coded_errors(info.Env(), [&] { return sample_cached(info, runner); });
  }));
}

}  // namespace gpcnn
