#include "fiber.h"

#include <cstdint>

#ifdef GPCNN_FIBER_SWITCH_ASM
// Saves the callee-saved registers of the System V ABI on the running stack, stores
// its pointer in *save, switches to `load` and restores that context's registers;
// `ret` then continues where that context last switched (or at its entry). The
// floating-point control words are callee-saved too, but no fiber changes them.
extern "C" void gpcnn_emulator_switch(void** save, void* load);
asm(R"(
  .text
  .globl gpcnn_emulator_switch
  .hidden gpcnn_emulator_switch
  .type gpcnn_emulator_switch, @function
gpcnn_emulator_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size gpcnn_emulator_switch, .-gpcnn_emulator_switch
)");
#endif

namespace gpcnn::emulator {

#ifdef GPCNN_FIBER_SWITCH_ASM

void fiber_prepare(FiberContext& fiber, char* stack, size_t bytes, void (*entry)()) {
  // A new fiber's stack looks like one that switched away just before calling entry:
  // six saved registers, then entry as the return address, then a slot for entry's
  // own return address, which makes the stack 16-byte aligned at the call as the ABI wants.
  void** top = reinterpret_cast<void**>(reinterpret_cast<uintptr_t>(stack + bytes) & ~uintptr_t{15});
  *--top = nullptr;
  *--top = reinterpret_cast<void*>(entry);
  for (int reg = 0; reg < 6; ++reg) *--top = nullptr;
  fiber.stack_pointer = top;
}

void fiber_switch(FiberContext& from, FiberContext& to) { gpcnn_emulator_switch(&from.stack_pointer, to.stack_pointer); }

#else

void fiber_prepare(FiberContext& fiber, char* stack, size_t bytes, void (*entry)()) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack;
  fiber.context.uc_stack.ss_size = bytes;
  fiber.context.uc_link = nullptr;
  makecontext(&fiber.context, entry, 0);
}

void fiber_switch(FiberContext& from, FiberContext& to) { swapcontext(&from.context, &to.context); }

#endif

}  // namespace gpcnn::emulator
