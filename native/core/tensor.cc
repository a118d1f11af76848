#include "tensor.h"

#include "errors.h"

namespace gpcnn {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::I32: return 4;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::I32: return "int32";
    case DType::U8: return "uint8";
  }
  return "unknown";
}

DType dtype_from_name(const std::string& name) {
  if (name == "float32") return DType::F32;
  if (name == "int32") return DType::I32;
  if (name == "uint8") return DType::U8;
  fail(codes::kDType, "unknown dtype '", name, "' (expected float32, int32 or uint8)");
}

std::string shape_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void check_shape_valid(const Shape& shape, const char* what) {
  if (shape.empty() || shape.size() > kMaxDims)
    fail(codes::kShape, what, " must have 1 to ", kMaxDims, " dimensions, got ", shape.size());
  // Cap each tensor at 2^40 elements so products below never overflow int64.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 1) fail(codes::kShape, what, " has a dimension < 1: ", shape_string(shape));
    if (d > (int64_t{1} << 40) / n) fail(codes::kShape, what, " is too large: ", shape_string(shape));
    n *= d;
  }
}

}  // namespace gpcnn
