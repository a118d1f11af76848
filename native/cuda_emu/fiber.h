// Fibers for the emulator's threads: a stack of their own, and a switch between two
// of them. On x86-64 the switch is a few instructions and no system call (the
// emulator switches millions of times per test run); elsewhere it is ucontext's,
// correct but slower.
#pragma once

#include <cstddef>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace gpcnn::emulator {

struct FiberContext {
#if defined(__x86_64__)
  void* stack_pointer = nullptr;
#else
  ucontext_t context;
#endif
};

// Makes `fiber` start `entry`, which must never return, on [stack, stack + bytes).
void fiber_prepare(FiberContext& fiber, char* stack, size_t bytes, void (*entry)());
// Saves the running context in `from` and continues `to`.
void fiber_switch(FiberContext& from, FiberContext& to);

}  // namespace gpcnn::emulator
