/* arch/arch.h — the whole contract between coio's C code and a CPU port.
 *
 * A port is one directory arch/<cpu>/ with switch.S (the two symbols below)
 * and arch.h (the constants and the inline frame builder below). Nothing else
 * in coio is CPU-specific. See PORTING.md.
 */
#ifndef COIO_ARCH_H
#define COIO_ARCH_H

#include <stddef.h>
#include <stdint.h>

/* Save the callee-saved state of the running context on its own stack, store
   the resulting stack pointer in *save_sp, load load_sp (a pointer stored by an
   earlier coio__switch, or built by coio__arch_init_frame) and restore that
   context. The call "returns" arg in the other context: to the coio__switch
   call that suspended it, or, for a fresh frame, to the trampoline. */
void *coio__switch(void **save_sp, void *load_sp, void *arg);

/* First code run on a fresh stack: calls entry(arg) with the arg that the
   switch delivered, at an ABI-correct stack alignment. entry must never
   return; if it does, the trampoline aborts the process. CFI marks the return
   address undefined so that debuggers' backtraces stop here. */
void coio__trampoline(void);

/* The unwind probe (src/dump.c): entered by a switch to a frame built by
   coio__arch_probe_frame, it calls fn(arg) with CFI that describes its
   caller as the context suspended at target_sp, so that an unwinder started
   in fn walks the suspended task's stack. coio__probe_end follows its last
   instruction. */
void coio__probe_entry(void);
extern char coio__probe_end[];

/* The register probe (src/dump.c), in the ports that define
   COIO_ARCH_REGS_PROBE (ppc64le, armhf): calls fn(arg) with an unwind
   description that makes its caller the context in regs (the port's
   ucontext register block: gp_regs on ppc64le, arm_r0..arm_pc on armhf), so
   that an unwinder started in fn walks that context's stack. It returns.
   coio__regs_probe_end follows its last instruction. */
void coio__regs_probe(const void *regs, void (*fn)(void *), void *arg);
extern char coio__regs_probe_end[];

/* Provided by arch/<cpu>/arch.h:
     COIO_ARCH_NAME      string, e.g. "x86_64"
     COIO_STACK_ALIGN    stack alignment the ABI wants at a call
     COIO_FRAME_BYTES    size of the frame coio__switch saves
     static inline void *coio__arch_init_frame(void *stack_top,
                                               void (*entry)(void *));
         builds a first frame below stack_top (any alignment) and returns the
         stack pointer to pass to coio__switch as load_sp.
     static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp,
                                                void (*fn)(void *));
         the same for coio__probe_entry: a frame below stack_top whose
         switch enters the probe with fn and target_sp (a suspended
         context's saved stack pointer) in the registers its CFI names. */
#if defined(__x86_64__) && defined(__ILP32__)
#error "coio: the x32 ABI (-mx32) is not supported; build for x86-64 or, with -m32, for i386"
#elif defined(__x86_64__)
#include "x86_64/arch.h"
#elif defined(__aarch64__)
#include "aarch64/arch.h"
#elif defined(__riscv) && __riscv_xlen == 64
#include "riscv64/arch.h"
#elif defined(__i386__)
#include "i386/arch.h"
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
#include "ppc64le/arch.h"
#elif defined(__arm__)
#include "armhf/arch.h"
#elif defined(__s390x__)
#include "s390x/arch.h"
#else
#error "coio: no port for this CPU; see PORTING.md"
#endif

#endif
