/* arch/s390x/switch.S — context switch and fresh-stack trampoline for
 * 64-bit IBM Z (s390x ELF ABI, Linux; big-endian).
 *
 * The s390x ELF ABI makes r6-r13, r15 (sp) and f8-f15 callee-saved; r14
 * holds the return address, so it is the resume address. r0-r5, f0-f7 and
 * the vector registers' other halves (v0-v31 beyond f8-f15) are caller-saved.
 * The access registers a0/a1 hold the thread pointer: the thread's, never
 * touched. Every caller provides a 160-byte register save area at 0(r15) in
 * which a callee may store r6-r15 (at 48-127): the switch stores r6-r14
 * there, in its caller's frame, as any s390x function does.
 *
 * FPC (the floating-point control register) mixes control and status. Per
 * context are its control bits (mask 0xFF000077): the IEEE exception masks
 * (byte 0), the DFP rounding mode (bits 25-27) and the BFP rounding mode
 * (bits 29-31). The IEEE flags (byte 1) and the data-exception code (byte
 * 2) are status: the thread's, never restored (PORTING.md).
 *
 * Frame saved on the suspended stack (r15 points at byte 0; 72 bytes of
 * its own plus the caller's save area above, 8-byte aligned as the ABI
 * wants of r15):
 *
 *   offset      content
 *   0 .. 63     f8-f15
 *   64          FPC (4 bytes; 68-71 unused)
 *   72          the caller's register save area (160 bytes): back chain
 *               (fresh frame: 0), ..., r6-r14 at 72+48 .. 72+119; fresh
 *               frame: r12 = the entry function, r11 = 0, r14 =
 *               coio__trampoline
 *   CFA = saved r15 + 72 + 160, by the s390x convention (CFA = r15 + 160
 *   at a function's entry)
 *
 * A fresh frame is 232 bytes: after the switch pops its 72, r15 points at
 * the 160 bytes the trampoline gives entry as its register save area.
 */

#include "../asm.h"

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   r2 = save_sp, r3 = load_sp, r4 = arg; returns arg in r2. */
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 4
COIO_SYM(coio__switch):
        .cfi_startproc
        stmg    %r6, %r14, 48(%r15)     /* r6-r13 callee-saved, r14 our resume
                                           address: into our caller's save area */
        .cfi_offset %r6, -112
        .cfi_offset %r7, -104
        .cfi_offset %r8, -96
        .cfi_offset %r9, -88
        .cfi_offset %r10, -80
        .cfi_offset %r11, -72
        .cfi_offset %r12, -64
        .cfi_offset %r13, -56
        .cfi_offset %r14, -48
        aghi    %r15, -72
        .cfi_adjust_cfa_offset 72
        std     %f8, 0(%r15)            /* f8-f15: callee-saved */
        .cfi_offset %f8, -232
        std     %f9, 8(%r15)
        .cfi_offset %f9, -224
        std     %f10, 16(%r15)
        .cfi_offset %f10, -216
        std     %f11, 24(%r15)
        .cfi_offset %f11, -208
        std     %f12, 32(%r15)
        .cfi_offset %f12, -200
        std     %f13, 40(%r15)
        .cfi_offset %f13, -192
        std     %f14, 48(%r15)
        .cfi_offset %f14, -184
        std     %f15, 56(%r15)
        .cfi_offset %f15, -176
        stfpc   64(%r15)                /* FPC: its control bits are per context */
        stg     %r15, 0(%r2)            /* *save_sp = our frame */
        lgr     %r1, %r15               /* our frame, for the compare below */
        lgr     %r15, %r3               /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */
        l       %r0, 64(%r15)           /* their FPC */
        x       %r0, 64(%r1)            /* ^ ours */
        nilf    %r0, 0xFF000077         /* control bits differ? */
        jz      1f
        l       %r0, 64(%r1)
        nilf    %r0, 0x00FFFF88         /* our status bits */
        l       %r5, 64(%r15)
        nilf    %r5, 0xFF000077         /* their control bits */
        or      %r5, %r0
        st      %r5, 64(%r15)           /* their frame is dead after this */
        lfpc    64(%r15)
1:      ld      %f8, 0(%r15)
        .cfi_restore %f8
        ld      %f9, 8(%r15)
        .cfi_restore %f9
        ld      %f10, 16(%r15)
        .cfi_restore %f10
        ld      %f11, 24(%r15)
        .cfi_restore %f11
        ld      %f12, 32(%r15)
        .cfi_restore %f12
        ld      %f13, 40(%r15)
        .cfi_restore %f13
        ld      %f14, 48(%r15)
        .cfi_restore %f14
        ld      %f15, 56(%r15)
        .cfi_restore %f15
        aghi    %r15, 72
        .cfi_adjust_cfa_offset -72
        lmg     %r6, %r14, 48(%r15)
        .cfi_restore %r6
        .cfi_restore %r7
        .cfi_restore %r8
        .cfi_restore %r9
        .cfi_restore %r10
        .cfi_restore %r11
        .cfi_restore %r12
        .cfi_restore %r13
        .cfi_restore %r14
        lgr     %r2, %r4                /* deliver arg as the return value */
        br      %r14                    /* to the other side's resume address */
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the switch's br with r15 = the
   160-byte save area entry may use (back chain 0), r2 = arg, r12 = entry,
   r11 = 0.

   The nopr before the symbol covers resume address - 1, which unwinders
   look up for a fresh frame (PORTING.md). */
        .p2align 4
        .cfi_startproc
        .cfi_undefined %r14             /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names these bytes in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nopr                            /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
COIO_SYM(coio__trampoline):
        basr    %r14, %r12              /* entry(arg), arg already in r2;
                                           never returns */
        brasl   %r14, abort@PLT         /* entry returned: a bug, fail loudly */
        .long   0                       /* an invalid instruction */
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (r12 = fn, r13 = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and, by the CFI below, out of
   it into the suspended context exactly as if it were stopped in
   coio__switch: CFA = saved frame + 232, r6-r14 (r14: the resume address)
   and f8-f15 in their slots of the frame table above. fn switches back and
   never returns here. */
        .p2align 4
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
COIO_SYM(coio__probe_entry):
        .cfi_startproc
        .cfi_def_cfa %r13, 232
        .cfi_val_offset %r15, -160      /* the caller's r15: saved frame + 72
                                           (its save area), not the CFA */
        .cfi_offset %r6, -112
        .cfi_offset %r7, -104
        .cfi_offset %r8, -96
        .cfi_offset %r9, -88
        .cfi_offset %r10, -80
        .cfi_offset %r11, -72
        .cfi_offset %r12, -64
        .cfi_offset %r13, -56
        .cfi_offset %r14, -48
        .cfi_offset %f8, -232
        .cfi_offset %f9, -224
        .cfi_offset %f10, -216
        .cfi_offset %f11, -208
        .cfi_offset %f12, -200
        .cfi_offset %f13, -192
        .cfi_offset %f14, -184
        .cfi_offset %f15, -176
        basr    %r14, %r12              /* fn(arg), arg already in r2 */
        .long   0                       /* fn never returns: an invalid
                                           instruction */
        .cfi_endproc
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)
