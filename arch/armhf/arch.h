/* arch/armhf/arch.h — constants and the first-frame builder of the 32-bit
 * ARM hard-float (AAPCS-VFP) port. The frame layout is drawn at the top of
 * switch.S. */
#ifndef COIO_ARCH_ARMHF_H
#define COIO_ARCH_ARMHF_H

#if !defined(__ARM_PCS_VFP)
#error "coio's 32-bit ARM port needs the hard-float ABI (-mfloat-abi=hard)"
#endif

#define COIO_ARCH_NAME "armhf"
/* coio__regs_probe (switch.S): fault reports go on past a function with
   no EHABI entry (static glibc's abort()) from registers found on the stack. */
#define COIO_ARCH_REGS_PROBE 1
#define COIO_STACK_ALIGN 8
#define COIO_FRAME_BYTES 104

/* Frame slots, in 4-byte words from the saved stack pointer. */
enum {
    COIO_ARM_D8 = 0,         /* d8-d15: words 0-15, two each */
    COIO_ARM_R4 = 16,        /* r4-r11: words 16-23 */
    COIO_ARM_R7 = COIO_ARM_R4 + 3,
    COIO_ARM_R11 = COIO_ARM_R4 + 7,
    COIO_ARM_FPSCR = 24,     /* FPSCR; its control bits are restored */
    COIO_ARM_PC,             /* where the switch returns to: the resume address */
    COIO_ARM_WORDS
};

_Static_assert(COIO_ARM_WORDS * 4 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    /* AAPCS: sp % 8 == 0 at a public interface; the switch pops the frame,
       so the trampoline calls entry at top. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)7;
    uint32_t *f = (uint32_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_ARM_WORDS; i++)
        f[i] = 0;
    /* FPSCR 0: round to nearest, no flush to zero, no default NaN, no
       traps: the ABI's initial state. */
    f[COIO_ARM_FPSCR] = 0;
    f[COIO_ARM_R4] = (uint32_t)(uintptr_t)entry;
    f[COIO_ARM_R7] = 0;  /* Thumb frame pointer */
    f[COIO_ARM_R11] = 0; /* ARM frame pointer */
    /* A function pointer carries the Thumb bit when the trampoline was
       assembled as Thumb; the switch's pop into pc honours it. */
    f[COIO_ARM_PC] = (uint32_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): r4 = fn, r5 = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint32_t *f = (uint32_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_ARM_R4 + 1] = (uint32_t)(uintptr_t)target_sp;
    f[COIO_ARM_PC] = (uint32_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
