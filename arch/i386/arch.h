/* arch/i386/arch.h — constants and the first-frame builder of the i386
 * (System V) port. The frame layout is drawn at the top of switch.S. */
#ifndef COIO_ARCH_I386_H
#define COIO_ARCH_I386_H

#define COIO_ARCH_NAME "i386"
#define COIO_STACK_ALIGN 16
#define COIO_FRAME_BYTES 32

/* Frame slots, in 4-byte words from the saved stack pointer. */
enum {
    COIO_I386_MXCSR = 0, /* MXCSR */
    COIO_I386_X87CW,     /* x87 control word (low 16 bits) */
    COIO_I386_EDI, COIO_I386_ESI, COIO_I386_EBX, COIO_I386_EBP,
    COIO_I386_PAD,       /* unused: a fresh frame ends 16-byte aligned */
    COIO_I386_PC,        /* where the switch returns to: the resume address */
    COIO_I386_WORDS
};

_Static_assert(COIO_I386_WORDS * 4 == COIO_FRAME_BYTES, "switch.S frame size");

static inline void *coio__arch_init_frame(void *stack_top, void (*entry)(void *))
{
    /* After the switch pops the frame the trampoline sees esp % 16 == 0; it
       pushes 16 bytes (padding and arg) and calls entry. */
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    uint32_t *f = (uint32_t *)(top - COIO_FRAME_BYTES);
    for (int i = 0; i < COIO_I386_WORDS; i++)
        f[i] = 0;
    /* The ABI's initial control words: all exceptions masked, round to
       nearest; x87 extended precision. */
    f[COIO_I386_MXCSR] = 0x1F80u;
    f[COIO_I386_X87CW] = 0x037Fu;
    f[COIO_I386_EBX] = (uint32_t)(uintptr_t)entry;
    f[COIO_I386_PC] = (uint32_t)(uintptr_t)coio__trampoline;
    return f;
}

/* A frame for the unwind probe (switch.S): ebx = fn, esi = target_sp. */
static inline void *coio__arch_probe_frame(void *stack_top, void *target_sp, void (*fn)(void *))
{
    uint32_t *f = (uint32_t *)coio__arch_init_frame(stack_top, fn);
    f[COIO_I386_ESI] = (uint32_t)(uintptr_t)target_sp;
    f[COIO_I386_PC] = (uint32_t)(uintptr_t)coio__probe_entry;
    return f;
}

#endif
