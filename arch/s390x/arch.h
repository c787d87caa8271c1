/* arch/s390x/arch.h — constants and the first-frame builder of the s390x
 * (64-bit IBM Z) port. The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_S390X_H
#define COIO_ARCH_S390X_H

#define COIO_ARCH_NAME "s390x"
#define COIO_STACK_ALIGN 8
/* The 72 bytes coio__switch allocates and the 160-byte register save area
   of its caller, which it also fills. */
#define COIO_FRAME_BYTES (72 + 160)

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum {
    COIO_S390_F8 = 0,                      /* f8-f15: words 0-7 */
    COIO_S390_FPC = 8,                     /* FPC in the high half (big-endian) */
    COIO_S390_AREA,                        /* the caller's save area: back chain */
    COIO_S390_R6 = COIO_S390_AREA + 6,     /* r6-r14 at area + 48 */
    COIO_S390_R11 = COIO_S390_R6 + 5,
    COIO_S390_R12 = COIO_S390_R6 + 6,
    COIO_S390_R14 = COIO_S390_R6 + 8,      /* the resume address */
    COIO_S390_WORDS = COIO_S390_AREA + 20
};

_Static_assert(COIO_S390_WORDS * 8 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)7;
    uint64_t *f = (uint64_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_S390_WORDS; i++)
        f[i] = 0;
    /* FPC 0: round to nearest, all IEEE exceptions masked: the ABI's
       initial state. The switch reads it as the 4 bytes at offset 64. */
    f[COIO_S390_FPC] = 0;
    f[COIO_S390_AREA] = 0; /* back chain: the end */
    f[COIO_S390_R11] = 0;  /* frame pointer */
    f[COIO_S390_R12] = (uint64_t)(uintptr_t)entry;
    f[COIO_S390_R14] = (uint64_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): r12 = fn, r13 = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint64_t *f = (uint64_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_S390_R6 + 7] = (uint64_t)(uintptr_t)target_sp;
    f[COIO_S390_R14] = (uint64_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
