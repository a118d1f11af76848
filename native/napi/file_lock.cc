// lockFile(path) -> lock | null, unlockFile(lock): an exclusive advisory lock (flock) on
// a file, so that two training runs cannot write one folder at once. The kernel drops
// the lock when the process ends, however it ends (kill -9 too), so a run that died
// leaves no stale lock to clear by hand, as a lock made of a file's existence would.
// A second lock on the file, from this process or another, gets null. Where the file
// system cannot lock at all (some network and FUSE ones), and on Windows, which has no
// flock, the lock holds nothing: a run there goes on unguarded rather than not at all.
#ifndef _WIN32
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#endif

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
#ifndef _WIN32
  if (lock->fd >= 0) ::close(lock->fd);  // closing the file releases the flock
#endif
  lock->fd = -1;
}

Napi::Value new_lock(Napi::Env env, int fd) {
  auto lock = Napi::External<HeldLock>::New(env, new HeldLock{fd}, [](Napi::Env, HeldLock* held) {
    close_lock(held);  // a lock object collected without unlockFile
    delete held;
  });
  lock.TypeTag(&kLockTag);
  return lock;
}

Napi::Value lock_file(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) fail(codes::kType, "lockFile: path must be a string");
#ifdef _WIN32
  return new_lock(info.Env(), -1);  // no flock: runs go on unguarded
#else
  const std::string path = info[0].As<Napi::String>();
  // Readable and writable by all that the umask allows, as the run's other files are, so
  // that whoever may resume a run may lock its folder; read-only where it is another's
  // (flock needs no write access, but its emulation on NFS does, so write is tried first).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0 && errno == EACCES) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(codes::kIo, "could not open ", path, ": ", std::strerror(errno));
  int held_fd = fd;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return info.Env().Null();
    // (ENOTSUP and EOPNOTSUPP are one number on Linux, two on macOS.)
    const bool unsupported =
        error == ENOLCK || error == EOPNOTSUPP || error == ENOTSUP || error == ENOSYS || error == EINVAL;
    if (!unsupported) fail(codes::kIo, "could not lock ", path, ": ", std::strerror(error));
    held_fd = -1;
  }
  return new_lock(info.Env(), held_fd);
#endif
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
