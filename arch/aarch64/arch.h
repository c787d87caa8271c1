/* arch/aarch64/arch.h — constants and the first-frame builder of the AArch64
 * (AAPCS64) port. The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_AARCH64_H
#define COIO_ARCH_AARCH64_H

#define COIO_ARCH_NAME "aarch64"
#define COIO_STACK_ALIGN 16
#define COIO_FRAME_BYTES 176

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum {
    COIO_A64_FPCR = 0, /* FPCR (control bits only; the flags live in FPSR) */
    COIO_A64_PAD,      /* unused: keeps the frame a multiple of 16 bytes */
    COIO_A64_X19, COIO_A64_X20, COIO_A64_X21, COIO_A64_X22, COIO_A64_X23,
    COIO_A64_X24, COIO_A64_X25, COIO_A64_X26, COIO_A64_X27, COIO_A64_X28,
    COIO_A64_X29,      /* frame pointer */
    COIO_A64_X30,      /* where the switch returns to: the resume address */
    COIO_A64_D8, COIO_A64_D9, COIO_A64_D10, COIO_A64_D11,
    COIO_A64_D12, COIO_A64_D13, COIO_A64_D14, COIO_A64_D15,
    COIO_A64_WORDS
};

_Static_assert(COIO_A64_WORDS * 8 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    /* AAPCS64 wants sp % 16 == 0 always; the switch adds the frame size back
       to sp before its ret, so the trampoline and entry run at top. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint64_t *f = (uint64_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_A64_WORDS; i++)
        f[i] = 0;
    /* FPCR 0 is the ABI's initial state: round to nearest, no flush to zero,
       NaN propagation, IEEE half precision, no traps. */
    f[COIO_A64_FPCR] = 0;
    f[COIO_A64_X19] = (uint64_t)(uintptr_t)entry;
    f[COIO_A64_X29] = 0;
    f[COIO_A64_X30] = (uint64_t)(uintptr_t)coio__trampoline;
#if defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 3)
    /* pac-ret: the switch authenticates the resume address against the sp
       it has after popping this frame, top; sign it with that modifier, as
       the switch signs x30 (pacia1716 / pacib1716 sign x17 with x16: hint
       space, a no-op without FEAT_PAuth). */
    register uint64_t x17 __asm__("x17") = f[COIO_A64_X30];
    register uint64_t x16 __asm__("x16") = (uint64_t)top;
#if __ARM_FEATURE_PAC_DEFAULT & 2
    __asm__("hint #10" : "+r"(x17) : "r"(x16)); /* pacib1716 */
#else
    __asm__("hint #8" : "+r"(x17) : "r"(x16)); /* pacia1716 */
#endif
    f[COIO_A64_X30] = x17;
#endif
    return f;
}

/* A frame for the unwind probe (switch.S): x19 = fn, x20 = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint64_t *f = (uint64_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_A64_X20] = (uint64_t)(uintptr_t)target_sp;
    f[COIO_A64_X30] = (uint64_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
