/* arch/riscv64/arch.h — constants and the first-frame builder of the RISC-V
 * RV64 port (LP64D psABI). The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_RISCV64_H
#define COIO_ARCH_RISCV64_H

#if !defined(__riscv_float_abi_double)
#error "coio's riscv64 port saves fs0-fs11 as doubles: build for the LP64D ABI (rv64gc)"
#endif

#define COIO_ARCH_NAME "riscv64"
#define COIO_STACK_ALIGN 16
#define COIO_FRAME_BYTES 208

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum {
    COIO_RV_RA = 0,    /* where the switch returns to: the resume address */
    COIO_RV_S0,        /* frame pointer */
    COIO_RV_S1,        /* fresh frame: the entry function */
    COIO_RV_S2, COIO_RV_S3, COIO_RV_S4, COIO_RV_S5, COIO_RV_S6,
    COIO_RV_S7, COIO_RV_S8, COIO_RV_S9, COIO_RV_S10, COIO_RV_S11,
    COIO_RV_FRM,       /* the rounding mode (fcsr.frm); the flags are not kept */
    COIO_RV_FS0, COIO_RV_FS1, COIO_RV_FS2, COIO_RV_FS3, COIO_RV_FS4, COIO_RV_FS5,
    COIO_RV_FS6, COIO_RV_FS7, COIO_RV_FS8, COIO_RV_FS9, COIO_RV_FS10, COIO_RV_FS11,
    COIO_RV_WORDS
};

_Static_assert(COIO_RV_WORDS * 8 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    /* The psABI wants sp % 16 == 0 always; the switch adds the frame size
       back to sp before its ret, so the trampoline and entry run at top. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint64_t *f = (uint64_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_RV_WORDS; i++)
        f[i] = 0;
    f[COIO_RV_FRM] = 0; /* RNE, round to nearest even: the initial mode */
    f[COIO_RV_S0] = 0;  /* ends frame-pointer walks */
    f[COIO_RV_S1] = (uint64_t)(uintptr_t)entry;
    f[COIO_RV_RA] = (uint64_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): s1 = fn, s2 = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint64_t *f = (uint64_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_RV_S2] = (uint64_t)(uintptr_t)target_sp;
    f[COIO_RV_RA] = (uint64_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
