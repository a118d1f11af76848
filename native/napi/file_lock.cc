// lockFile(path) -> lock | null, unlockFile(lock): an exclusive advisory lock (flock) on
// a file, so that two training runs cannot write one folder at once. The kernel drops
// the lock when the process ends, however it ends (kill -9 too), so a run that died
// leaves no stale lock to clear by hand, as a lock made of a file's existence would.
// A second lock on the file, from this process or another, gets null. Where the file
// system cannot lock at all (some network and FUSE ones), the lock holds nothing: a run
// there goes on unguarded rather than not at all.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "guard.h"
#include "ops.h"

namespace gpcnn {

namespace {

struct HeldLock {
  int fd;
};

// A lock is an External tagged as one, so that no other External passes for it.
constexpr napi_type_tag kLockTag = {0x5b1d7e0c94a3f268ULL, 0xc2e8a4170f6b93d5ULL};

void close_lock(HeldLock* lock) {
  if (lock->fd >= 0) ::close(lock->fd);  // closing the file releases the flock
  lock->fd = -1;
}

Napi::Value lock_file(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) fail(codes::kType, "lockFile: path must be a string");
  const std::string path = info[0].As<Napi::String>();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail(codes::kIo, "could not open ", path, ": ", std::strerror(errno));
  int held_fd = fd;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return info.Env().Null();
    const bool unsupported = error == ENOLCK || error == EOPNOTSUPP || error == ENOSYS || error == EINVAL;
    if (!unsupported) fail(codes::kIo, "could not lock ", path, ": ", std::strerror(error));
    held_fd = -1;
  }
  auto lock = Napi::External<HeldLock>::New(info.Env(), new HeldLock{held_fd}, [](Napi::Env, HeldLock* held) {
    close_lock(held);  // a lock object collected without unlockFile
    delete held;
  });
  lock.TypeTag(&kLockTag);
  return lock;
}

Napi::Value unlock_file(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<HeldLock>>().CheckTypeTag(&kLockTag))
    fail(codes::kType, "unlockFile: expected a lock from lockFile");
  close_lock(info[0].As<Napi::External<HeldLock>>().Data());
  return info.Env().Undefined();
}

}  // namespace

void register_file_lock(Napi::Env env, Napi::Object exports) {
  export_function<lock_file>(env, exports, "lockFile");
  export_function<unlock_file>(env, exports, "unlockFile");
}

}  // namespace gpcnn
