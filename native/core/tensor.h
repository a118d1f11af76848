// A tensor: element type, shape (1 to 5 dimensions, row-major, no strides) and
// a buffer owned by the backend that allocated it (host memory on the CPU,
// device memory under CUDA). Tensors share buffers through shared_ptr so that
// the JS handle and any in-flight native work keep the memory alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gpcnn {

enum class DType : int { F32 = 0, I32 = 1, U8 = 2 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
DType dtype_from_name(const std::string& name);  // throws ERR_DTYPE

using Shape = std::vector<int64_t>;
inline constexpr size_t kMaxDims = 5;

std::string shape_string(const Shape& shape);
int64_t shape_numel(const Shape& shape);
void check_shape_valid(const Shape& shape, const char* what);  // 1..5 dims, each >= 1

// Memory from a backend. The destructor gives it back to that backend.
class Buffer {
 public:
  virtual ~Buffer() = default;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

  // The least and greatest element of integer data whose values the backend saw on the
  // host (an upload, a fill), so that a device backend can check labels and levels
  // without reading device memory back; empty when unknown.
  struct Range {
    int64_t min, max;
  };
  const std::optional<Range>& known_range() const { return known_range_; }
  void set_known_range(std::optional<Range> range) { known_range_ = range; }

 protected:
  Buffer(void* data, size_t bytes) : data_(data), bytes_(bytes) {}

 private:
  void* data_;
  size_t bytes_;
  std::optional<Range> known_range_;
};

struct Tensor {
  DType dtype = DType::F32;
  Shape shape;
  std::shared_ptr<Buffer> buffer;

  int64_t numel() const { return shape_numel(shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  size_t rank() const { return shape.size(); }
  int64_t dim(size_t i) const { return shape[i]; }
  template <typename T>
  T* data() const { return static_cast<T*>(buffer->data()); }
};

}  // namespace gpcnn
