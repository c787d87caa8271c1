/* arch/ppc64le/switch.S — context switch and fresh-stack trampoline for
 * 64-bit PowerPC, little-endian, ELFv2 ABI (Linux ppc64el).
 *
 * ELFv2 (2.2.1.1 "Register Roles") makes r14-r31, f14-f31 (the FPR half of
 * vs14-vs31), v20-v31 (vs52-vs63, all 128 bits), the condition register
 * fields cr2-cr4 and r1 (sp) nonvolatile. r2 (TOC) is not saved: every call
 * of coio__switch comes from libcoio itself, whose TOC r2 holds before and
 * after, and the switch does not touch it. r13 is the thread pointer and
 * stays the thread's. VRSAVE is unused on Linux. The rest (r0, r3-r12, f0-f13,
 * v0-v19, cr0, cr1, cr5-cr7, XER, CTR, FPSCR's status bits) is volatile, so
 * the C code calling coio__switch has already spilled what it keeps.
 *
 * FPSCR holds both status and control bits. Per context are the control
 * bits, FPSCR bits 56-63 (the low byte): the exception enables VE, OE, UE,
 * ZE, XE, the non-IEEE mode NI and the rounding mode RN; they are exactly
 * FPSCR fields 6 and 7, so `mtfsf 0x03` writes them without touching any
 * status bit. The sticky exception flags (FX, OX, UX, ZX, XX, VX*) and
 * FR/FI/FPRF are status: the thread's, never restored (PORTING.md).
 *
 * Frame saved on the suspended stack (r1 points at its byte 0; 512 bytes,
 * 16-byte aligned as ELFv2 requires of r1):
 *
 *   offset        content
 *   0             back chain (the caller's r1; fresh frame: the
 *                 trampoline's frame at top - 32)
 *   8             CR (all of it; only cr2-cr4 are restored)   fresh: 0
 *   16            resume address (LR at the call)   fresh: coio__trampoline
 *   24            FPSCR (only the low byte is restored)   fresh: 0, round
 *                 to nearest, no traps
 *   32 .. 175     r14-r31, 8 bytes each   fresh: r31 = the entry function
 *   176 .. 319    f14-f31, 8 bytes each
 *   320 .. 511    v20-v31, 16 bytes each
 *   CFA = saved r1 + 512: the caller's r1
 *
 * A fresh frame sits 32 bytes below the 16-byte-aligned top: when the switch
 * pops it, r1 = top - 32, a minimum ELFv2 frame (back chain 0, CR and LR
 * save words, TOC save word) that belongs to the trampoline, because the
 * entry function it calls may store its LR and CR into its caller's frame.
 *
 * The trampoline's ABI duties at the indirect call of entry: r12 = the
 * address called (entry's global entry point computes its TOC pointer r2
 * from r12), r2 saved in the TOC save word 24(r1) and reloaded after the
 * call (entry may live in another module), r1 16-byte aligned with that
 * 32-byte frame. A static executable hides a missing r12, because the
 * linker rewrites the TOC set-up of global entry points into absolute
 * loads there; the dynamically linked conformance run (make check-ppc64le)
 * catches it.
 */

#include "../asm.h"

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

        .abiversion 2
        .machine power8
        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   r3 = save_sp, r4 = load_sp, r5 = arg; returns arg in r3. */
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 4
COIO_SYM(coio__switch):
        .cfi_startproc
        mflr    %r0                     /* our return address: the resume address */
        .cfi_register lr, %r0
        stdu    %r1, -512(%r1)          /* the frame, back chain at 0 */
        .cfi_def_cfa_offset 512
        std     %r0, 16(%r1)
        .cfi_offset lr, -496
        mfcr    %r6                     /* cr2-cr4 are nonvolatile */
        std     %r6, 8(%r1)
        mffs    %f0                     /* FPSCR: its control bits are per context */
        stfd    %f0, 24(%r1)

        std     %r14, 32(%r1)           /* r14-r31: nonvolatile */
        .cfi_offset %r14, -480
        std     %r15, 40(%r1)
        .cfi_offset %r15, -472
        std     %r16, 48(%r1)
        .cfi_offset %r16, -464
        std     %r17, 56(%r1)
        .cfi_offset %r17, -456
        std     %r18, 64(%r1)
        .cfi_offset %r18, -448
        std     %r19, 72(%r1)
        .cfi_offset %r19, -440
        std     %r20, 80(%r1)
        .cfi_offset %r20, -432
        std     %r21, 88(%r1)
        .cfi_offset %r21, -424
        std     %r22, 96(%r1)
        .cfi_offset %r22, -416
        std     %r23, 104(%r1)
        .cfi_offset %r23, -408
        std     %r24, 112(%r1)
        .cfi_offset %r24, -400
        std     %r25, 120(%r1)
        .cfi_offset %r25, -392
        std     %r26, 128(%r1)
        .cfi_offset %r26, -384
        std     %r27, 136(%r1)
        .cfi_offset %r27, -376
        std     %r28, 144(%r1)
        .cfi_offset %r28, -368
        std     %r29, 152(%r1)
        .cfi_offset %r29, -360
        std     %r30, 160(%r1)
        .cfi_offset %r30, -352
        std     %r31, 168(%r1)
        .cfi_offset %r31, -344
        stfd    %f14, 176(%r1)          /* f14-f31: nonvolatile */
        .cfi_offset 46, -336
        stfd    %f15, 184(%r1)
        .cfi_offset 47, -328
        stfd    %f16, 192(%r1)
        .cfi_offset 48, -320
        stfd    %f17, 200(%r1)
        .cfi_offset 49, -312
        stfd    %f18, 208(%r1)
        .cfi_offset 50, -304
        stfd    %f19, 216(%r1)
        .cfi_offset 51, -296
        stfd    %f20, 224(%r1)
        .cfi_offset 52, -288
        stfd    %f21, 232(%r1)
        .cfi_offset 53, -280
        stfd    %f22, 240(%r1)
        .cfi_offset 54, -272
        stfd    %f23, 248(%r1)
        .cfi_offset 55, -264
        stfd    %f24, 256(%r1)
        .cfi_offset 56, -256
        stfd    %f25, 264(%r1)
        .cfi_offset 57, -248
        stfd    %f26, 272(%r1)
        .cfi_offset 58, -240
        stfd    %f27, 280(%r1)
        .cfi_offset 59, -232
        stfd    %f28, 288(%r1)
        .cfi_offset 60, -224
        stfd    %f29, 296(%r1)
        .cfi_offset 61, -216
        stfd    %f30, 304(%r1)
        .cfi_offset 62, -208
        stfd    %f31, 312(%r1)
        .cfi_offset 63, -200
        addi    %r7, %r1, 320           /* v20-v31: nonvolatile, 16-byte slots */
        stvx    %v20, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v21, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v22, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v23, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v24, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v25, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v26, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v27, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v28, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v29, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v30, 0, %r7
        addi    %r7, %r7, 16
        stvx    %v31, 0, %r7

        std     %r1, 0(%r3)             /* *save_sp = our frame */
        mr      %r8, %r1                /* our frame, for the compare below */
        mr      %r1, %r4                /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */
        ld      %r9, 24(%r1)            /* their FPSCR */
        ld      %r10, 24(%r8)           /* ours, as just stored */
        xor     %r10, %r10, %r9
        andi.   %r10, %r10, 0xff        /* control bits (fields 6, 7) differ? */
        beq     %cr0, 1f
        lfd     %f0, 24(%r1)
        mtfsf   0x03, %f0               /* their control bits; our status stays */
1:
        ld      %r6, 8(%r1)
        mtcrf   0x38, %r6               /* cr2, cr3, cr4 only */
        ld      %r0, 16(%r1)
        mtlr    %r0                     /* their resume address */
        .cfi_restore lr
        ld      %r14, 32(%r1)
        .cfi_restore %r14
        ld      %r15, 40(%r1)
        .cfi_restore %r15
        ld      %r16, 48(%r1)
        .cfi_restore %r16
        ld      %r17, 56(%r1)
        .cfi_restore %r17
        ld      %r18, 64(%r1)
        .cfi_restore %r18
        ld      %r19, 72(%r1)
        .cfi_restore %r19
        ld      %r20, 80(%r1)
        .cfi_restore %r20
        ld      %r21, 88(%r1)
        .cfi_restore %r21
        ld      %r22, 96(%r1)
        .cfi_restore %r22
        ld      %r23, 104(%r1)
        .cfi_restore %r23
        ld      %r24, 112(%r1)
        .cfi_restore %r24
        ld      %r25, 120(%r1)
        .cfi_restore %r25
        ld      %r26, 128(%r1)
        .cfi_restore %r26
        ld      %r27, 136(%r1)
        .cfi_restore %r27
        ld      %r28, 144(%r1)
        .cfi_restore %r28
        ld      %r29, 152(%r1)
        .cfi_restore %r29
        ld      %r30, 160(%r1)
        .cfi_restore %r30
        ld      %r31, 168(%r1)
        .cfi_restore %r31
        lfd     %f14, 176(%r1)
        .cfi_restore 46
        lfd     %f15, 184(%r1)
        .cfi_restore 47
        lfd     %f16, 192(%r1)
        .cfi_restore 48
        lfd     %f17, 200(%r1)
        .cfi_restore 49
        lfd     %f18, 208(%r1)
        .cfi_restore 50
        lfd     %f19, 216(%r1)
        .cfi_restore 51
        lfd     %f20, 224(%r1)
        .cfi_restore 52
        lfd     %f21, 232(%r1)
        .cfi_restore 53
        lfd     %f22, 240(%r1)
        .cfi_restore 54
        lfd     %f23, 248(%r1)
        .cfi_restore 55
        lfd     %f24, 256(%r1)
        .cfi_restore 56
        lfd     %f25, 264(%r1)
        .cfi_restore 57
        lfd     %f26, 272(%r1)
        .cfi_restore 58
        lfd     %f27, 280(%r1)
        .cfi_restore 59
        lfd     %f28, 288(%r1)
        .cfi_restore 60
        lfd     %f29, 296(%r1)
        .cfi_restore 61
        lfd     %f30, 304(%r1)
        .cfi_restore 62
        lfd     %f31, 312(%r1)
        .cfi_restore 63
        addi    %r7, %r1, 320
        lvx     %v20, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v21, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v22, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v23, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v24, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v25, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v26, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v27, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v28, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v29, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v30, 0, %r7
        addi    %r7, %r7, 16
        lvx     %v31, 0, %r7
        addi    %r1, %r1, 512
        .cfi_def_cfa_offset 0
        mr      %r3, %r5                /* deliver arg as the return value */
        blr                             /* to the other side's resume address */
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the switch's blr with r1 = the
   trampoline's 32-byte frame (back chain 0), r3 = arg, r31 = entry, r2 =
   libcoio's TOC (the switching context's, untouched by the switch).

   The nop before the symbol covers resume address - 1, which unwinders look
   up for a fresh frame (see PORTING.md). */
        .p2align 4
        .cfi_startproc
        .cfi_undefined lr               /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names this word in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nop                             /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
COIO_SYM(coio__trampoline):
        std     %r2, 24(%r1)            /* TOC save word, for after the call */
        mr      %r12, %r31              /* ELFv2: r12 = the address called, */
        mtctr   %r12                    /* from which entry's global entry */
        bctrl                           /* point derives its r2; never returns */
        ld      %r2, 24(%r1)            /* entry returned: a bug, fail loudly */
        bl      abort                   /* through the PLT stub, which needs */
        nop                             /* our r2; the nop is the linker's */
        trap                            /* TOC-restore slot */
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (r31 = fn, r30 = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; the stub calls fn(arg)
   as the trampoline calls entry, and fn calls the unwinder, which walks from
   fn into this stub and, by the CFI below, out of it into the suspended
   context exactly as if it were stopped in coio__switch: CFA = saved frame
   + 512, the resume address (lr), r14-r31 and f14-f31 in their slots of the
   frame table above. fn switches back and never returns here. */
        .p2align 4
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
COIO_SYM(coio__probe_entry):
        .cfi_startproc
        .cfi_def_cfa %r30, 512
        .cfi_offset lr, -496
        .cfi_offset %r14, -480
        .cfi_offset %r15, -472
        .cfi_offset %r16, -464
        .cfi_offset %r17, -456
        .cfi_offset %r18, -448
        .cfi_offset %r19, -440
        .cfi_offset %r20, -432
        .cfi_offset %r21, -424
        .cfi_offset %r22, -416
        .cfi_offset %r23, -408
        .cfi_offset %r24, -400
        .cfi_offset %r25, -392
        .cfi_offset %r26, -384
        .cfi_offset %r27, -376
        .cfi_offset %r28, -368
        .cfi_offset %r29, -360
        .cfi_offset %r30, -352
        .cfi_offset %r31, -344
        .cfi_offset 46, -336
        .cfi_offset 47, -328
        .cfi_offset 48, -320
        .cfi_offset 49, -312
        .cfi_offset 50, -304
        .cfi_offset 51, -296
        .cfi_offset 52, -288
        .cfi_offset 53, -280
        .cfi_offset 54, -272
        .cfi_offset 55, -264
        .cfi_offset 56, -256
        .cfi_offset 57, -248
        .cfi_offset 58, -240
        .cfi_offset 59, -232
        .cfi_offset 60, -224
        .cfi_offset 61, -216
        .cfi_offset 62, -208
        .cfi_offset 63, -200
        std     %r2, 24(%r1)            /* TOC save word (the trampoline's frame) */
        mr      %r12, %r31              /* ELFv2: r12 = the address called */
        mtctr   %r12
        bctrl                           /* fn(arg), arg already in r3 */
        trap                            /* fn never returns */
        .cfi_endproc
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)

/* The register probe (src/dump.c): a backtrace of the context a signal
   interrupted, begun from the registers the kernel saved rather than by
   unwinding through the signal trampoline (libgcc recognises the kernel's
   trampoline, not qemu-user's). void coio__regs_probe(const void *regs,
   void (*fn)(void *), void *arg): regs is the handler's ucontext gp_regs
   (r0-r31 in words 0-31, the interrupted pc in word 32, lr in word 36, as
   <asm/ptrace.h> numbers them). The stub keeps regs in r31 and calls
   fn(arg); its CFI, true at that call's return address, describes its
   caller as the interrupted context: every GPR and lr in its word of regs,
   the pc in word 32 under a return column of its own (r0's, so that lr
   keeps its own value: a leaf interrupted before saving lr returns
   through it), and signal-frame ('S') so that unwinders look the pc up
   as the faulting instruction, not a return address. The CFA is regs
   itself (r1's rule gives the caller its stack pointer). fn returns. */
        .p2align 4
        COIO_GLOBAL(coio__regs_probe)
        COIO_HIDDEN(coio__regs_probe)
        COIO_TYPE_FUNC(coio__regs_probe)
COIO_SYM(coio__regs_probe):
        .cfi_startproc
        .cfi_signal_frame
        .cfi_return_column %r0
        .cfi_def_cfa %r31, 0
        .cfi_offset %r0, 256
        .cfi_offset %r1, 8
        .cfi_offset %r2, 16
        .cfi_offset %r3, 24
        .cfi_offset %r4, 32
        .cfi_offset %r5, 40
        .cfi_offset %r6, 48
        .cfi_offset %r7, 56
        .cfi_offset %r8, 64
        .cfi_offset %r9, 72
        .cfi_offset %r10, 80
        .cfi_offset %r11, 88
        .cfi_offset %r12, 96
        .cfi_offset %r13, 104
        .cfi_offset %r14, 112
        .cfi_offset %r15, 120
        .cfi_offset %r16, 128
        .cfi_offset %r17, 136
        .cfi_offset %r18, 144
        .cfi_offset %r19, 152
        .cfi_offset %r20, 160
        .cfi_offset %r21, 168
        .cfi_offset %r22, 176
        .cfi_offset %r23, 184
        .cfi_offset %r24, 192
        .cfi_offset %r25, 200
        .cfi_offset %r26, 208
        .cfi_offset %r27, 216
        .cfi_offset %r28, 224
        .cfi_offset %r29, 232
        .cfi_offset %r30, 240
        .cfi_offset %r31, 248
        .cfi_offset lr, 288
        mflr    %r0
        std     %r31, -8(%r1)
        std     %r0, 16(%r1)
        stdu    %r1, -48(%r1)
        mr      %r31, %r3               /* regs, for the CFI above */
        mr      %r12, %r4               /* ELFv2: r12 = the address called */
        mtctr   %r12
        mr      %r3, %r5
        std     %r2, 24(%r1)
        bctrl                           /* fn(arg) */
        ld      %r2, 24(%r1)
        addi    %r1, %r1, 48
        ld      %r0, 16(%r1)
        ld      %r31, -8(%r1)
        mtlr    %r0
        blr
        .cfi_endproc
        COIO_GLOBAL(coio__regs_probe_end)
        COIO_HIDDEN(coio__regs_probe_end)
COIO_SYM(coio__regs_probe_end):
        COIO_SIZE(coio__regs_probe)
