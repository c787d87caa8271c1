/* arch/x86_64/arch.h — constants and the first-frame builder of the x86-64
 * System V port. The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_X86_64_H
#define COIO_ARCH_X86_64_H

#define COIO_ARCH_NAME "x86_64"
#define COIO_STACK_ALIGN 16
#define COIO_FRAME_BYTES 64

/* Frame slots, in 8-byte words from the saved stack pointer. */
enum {
    COIO_X86_CSR = 0,  /* MXCSR (low 32 bits) and x87 control word (bits 32-47) */
    COIO_X86_R15, COIO_X86_R14, COIO_X86_R13, COIO_X86_R12,
    COIO_X86_RBX, COIO_X86_RBP,
    COIO_X86_PC,       /* where the switch returns to: the resume address */
    COIO_X86_WORDS
};

_Static_assert(COIO_X86_WORDS * 8 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    /* After the switch pops the 8 words the trampoline must see rsp % 16 == 0,
       so that its `call` leaves rsp % 16 == 8 at entry's first instruction. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint64_t *f = (uint64_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_X86_WORDS; i++)
        f[i] = 0;
    /* The ABI's initial control words: all exceptions masked, round to
       nearest; x87 extended precision. */
    f[COIO_X86_CSR] = 0x1F80u | ((uint64_t)0x037Fu << 32);
    f[COIO_X86_R12] = (uint64_t)(uintptr_t)entry;
    f[COIO_X86_PC] = (uint64_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): r12 = fn, rbx = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint64_t *f = (uint64_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_X86_RBX] = (uint64_t)(uintptr_t)target_sp;
    f[COIO_X86_PC] = (uint64_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
