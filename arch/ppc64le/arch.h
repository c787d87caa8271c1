/* arch/ppc64le/arch.h — constants and the first-frame builder of the
 * ppc64le (ELFv2) port. The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_PPC64LE_H
#define COIO_ARCH_PPC64LE_H

#if !defined(_CALL_ELF) || _CALL_ELF != 2
#error "coio's ppc64le port implements the ELFv2 ABI only"
#endif

#define COIO_ARCH_NAME "ppc64le"
/* coio__regs_probe (switch.S): dumps made in a signal handler walk the
   interrupted task from its ucontext, not through qemu-user's signal
   trampoline, which libgcc does not recognise. */
#define COIO_ARCH_REGS_PROBE 1
#define COIO_STACK_ALIGN 16
/* The 512 bytes coio__switch saves, and below the top the 32-byte minimum
   frame the trampoline calls entry from. */
#define COIO_FRAME_BYTES (512 + 32)

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum {
    COIO_P64_BACKCHAIN = 0, /* the caller's r1 */
    COIO_P64_CR,            /* CR; cr2-cr4 restored */
    COIO_P64_LR,            /* where the switch returns to: the resume address */
    COIO_P64_FPSCR,         /* FPSCR; its low byte (control bits) restored */
    COIO_P64_R14,           /* r14-r31: words 4-21 */
    COIO_P64_R31 = COIO_P64_R14 + 17,
    COIO_P64_F14,           /* f14-f31: words 22-39 */
    COIO_P64_V20 = COIO_P64_F14 + 18, /* v20-v31: words 40-63, two each */
    COIO_P64_WORDS = COIO_P64_V20 + 24,
    /* the trampoline's frame, above the switch frame */
    COIO_P64_TRAMP_BACKCHAIN = COIO_P64_WORDS,
    COIO_P64_ALL_WORDS = COIO_P64_WORDS + 4
};

_Static_assert(COIO_P64_WORDS * 8 == 512, "switch.S frame size");
_Static_assert(COIO_P64_ALL_WORDS * 8 == COIO_FRAME_BYTES, "fresh frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint64_t *f = (uint64_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_P64_ALL_WORDS; i++)
        f[i] = 0;
    /* Back chains: the switch frame's points at the trampoline's frame,
       whose own is 0 (the end of the chain for back-chain walkers). */
    f[COIO_P64_BACKCHAIN] = (uint64_t)(uintptr_t)&f[COIO_P64_TRAMP_BACKCHAIN];
    f[COIO_P64_TRAMP_BACKCHAIN] = 0;
    /* FPSCR 0: round to nearest, no traps, IEEE mode: the ABI's initial
       state. */
    f[COIO_P64_FPSCR] = 0;
    f[COIO_P64_R31] = (uint64_t)(uintptr_t)entry;
    f[COIO_P64_LR] = (uint64_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): r31 = fn, r30 = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint64_t *f = (uint64_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_P64_R14 + 16] = (uint64_t)(uintptr_t)target_sp;
    f[COIO_P64_LR] = (uint64_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
