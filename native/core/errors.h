// Errors raised by native code. Each carries a stable code that the Node-API
// boundary copies onto the JS Error, so callers can branch on `err.code`
// instead of parsing messages. Native code never aborts: it throws these.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace gpcnn {

// Every code here is one of src/errors.ts's ErrorCode, which JavaScript callers branch on.
namespace codes {
inline constexpr const char* kShape = "ERR_SHAPE";        // tensor shapes do not fit the op
inline constexpr const char* kDType = "ERR_DTYPE";        // wrong element type
inline constexpr const char* kLength = "ERR_LENGTH";      // array length does not match a shape
inline constexpr const char* kDisposed = "ERR_DISPOSED";  // tensor used after dispose()
inline constexpr const char* kRange = "ERR_RANGE";        // a label or level outside its range
inline constexpr const char* kArg = "ERR_ARG";            // a bad scalar argument (NaN, negative...)
inline constexpr const char* kType = "ERR_TYPE";          // a value of the wrong JS type
inline constexpr const char* kBackend = "ERR_BACKEND";    // the compute library failed
inline constexpr const char* kOutOfMemory = "ERR_OOM";    // a host allocation failed
inline constexpr const char* kAborted = "ERR_ABORTED";    // the caller stopped the work
inline constexpr const char* kCuda = "ERR_CUDA";          // a CUDA, cuDNN or kernel failure
inline constexpr const char* kCudaOutOfMemory = "ERR_CUDA_OOM";  // device memory ran out
inline constexpr const char* kDiverged = "ERR_DIVERGED";  // logits that are not finite: diverged weights
inline constexpr const char* kIo = "ERR_IO";              // a file could not be opened or locked
inline constexpr const char* kInternal = "ERR_INTERNAL";  // a bug: an exception of no known kind
}  // namespace codes

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A message part as written; numbers that are not finite as JavaScript writes them
// (NaN, Infinity), since these messages reach JavaScript callers, not C++ ones.
template <typename Part>
void write_part(std::ostringstream& message, const Part& part) {
  if constexpr (std::is_floating_point_v<Part>) {
    if (std::isnan(part)) {
      message << "NaN";
      return;
    }
    if (std::isinf(part)) {
      message << (part < 0 ? "-Infinity" : "Infinity");
      return;
    }
  }
  message << part;
}

// fail(codes::kShape, "x has ", n, " channels") builds the message from its parts.
template <typename... Parts>
[[noreturn]] void fail(const char* code, const Parts&... parts) {
  std::ostringstream message;
  (write_part(message, parts), ...);
  throw Error(code, message.str());
}

}  // namespace gpcnn
