// Fibers for the emulator's threads: a stack of their own, and a switch between two
// of them. On x86-64 the switch is a few instructions and no system call (the
// emulator switches millions of times per test run); elsewhere, and where the build
// protects return addresses with shadow stacks (-fcf-protection), which a switch of
// stacks by `ret` would break, it is ucontext's, correct but slower.
#pragma once

#include <cstddef>

#if defined(__x86_64__) && !(defined(__CET__) && (__CET__ & 2))
#define GPCNN_FIBER_SWITCH_ASM 1
#else
#include <ucontext.h>
#endif

namespace gpcnn::emulator {

struct FiberContext {
#ifdef GPCNN_FIBER_SWITCH_ASM
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
