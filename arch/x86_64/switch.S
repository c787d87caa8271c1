/* arch/x86_64/switch.S — context switch and fresh-stack trampoline for
 * x86-64 System V (ELF, GNU as).
 *
 * The System V AMD64 ABI (3.2.1, 3.2.3) makes rbx, rbp, r12-r15 and rsp
 * callee-saved, together with the control bits of MXCSR and the x87 control
 * word; everything else (including all xmm registers) is caller-saved, so the
 * C code calling coio__switch has already spilled whatever it keeps live.
 *
 * Frame saved on the suspended stack (rsp points at word 0; 64 bytes):
 *
 *   word  offset  content
 *   0     0x00    MXCSR (bytes 0-3), x87 control word (bytes 4-5)
 *                 fresh frame: 0x1F80 / 0x037F, the ABI's initial values
 *   1     0x08    r15
 *   2     0x10    r14
 *   3     0x18    r13
 *   4     0x20    r12     fresh frame: the entry function
 *   5     0x28    rbx
 *   6     0x30    rbp     fresh frame: 0 (ends frame-pointer walks)
 *   7     0x38    resume address (the caller's return address; fresh frame:
 *                 coio__trampoline)
 *   CFA = saved rsp + 0x40: the caller's rsp after coio__switch returns
 *
 * Suspended and fresh frames have the same layout, so the CFI below stays
 * true after the stack pointer is swapped: an unwinder stopped anywhere in
 * coio__switch walks into whichever context rsp points at, and for a fresh
 * frame it arrives in coio__trampoline, whose CFI ends the walk.
 *
 * The switch returns with `ret`, which keeps the return-stack buffer
 * balanced: coio's scheduler suspends and resumes every task at the same call
 * site, so the predicted return address is the right one, and the returns
 * that follow in the resumed task (park, sleep, ...) are predicted too. The
 * alternative, `pop` + indirect `jmp` as Boost.Context does, leaves one stale
 * entry per switch and made every later return mispredict: 41 ns per
 * scheduled yield against 11-15 ns with `ret` (Xeon, see README). It only
 * wins for asymmetric ping-pong between two different call sites (4.7 ns
 * against 15-18 ns).
 *
 * Control-flow enforcement (CET): with -fcf-protection=branch (or =full) the
 * compiler defines __CET__ bit 0; both functions then start with `endbr64`
 * and this object carries the GNU property note that marks it IBT-compatible.
 * It does not claim shadow-stack (SHSTK, __CET__ bit 1) compatibility: the
 * `ret` above returns to the other context's address, which is not the one
 * on the shadow stack, so a binary linking coio must not run with shadow
 * stacks enabled. The linker ANDs the property over all objects, so leaving
 * the SHSTK bit out here keeps the whole binary unmarked for it.
 */

#if defined(__CET__) && (__CET__ & 1)
#define COIO_ENDBR endbr64
#else
#define COIO_ENDBR
#endif

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

#if defined(__ELF__) && defined(__CET__) && (__CET__ & 1)
/* ELF note NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_X86_FEATURE_1_AND = IBT. */
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size: "GNU\0" */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4                       /* property data size */
        .long   1                       /* GNU_PROPERTY_X86_FEATURE_1_IBT only */
        .long   0                       /* pad to 8 bytes */
        .popsection
#endif

        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   rdi = save_sp, rsi = load_sp, rdx = arg; returns arg in rax. */
        .globl  coio__switch
        .hidden coio__switch
        .type   coio__switch, @function
        .p2align 4
coio__switch:
        .cfi_startproc
        COIO_ENDBR
        pushq   %rbp                    /* word 6: callee-saved frame pointer */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        pushq   %rbx                    /* word 5: callee-saved */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        pushq   %r12                    /* word 4: callee-saved */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        pushq   %r13                    /* word 3: callee-saved */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        pushq   %r14                    /* word 2: callee-saved */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        pushq   %r15                    /* word 1: callee-saved */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        subq    $8, %rsp                /* word 0: room for the FP control words */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)                  /* MXCSR control bits are callee-saved */
        fnstcw  4(%rsp)                 /* x87 control word is callee-saved */
        movl    (%rsp), %r8d            /* keep ours in scratch registers */
        movzwl  4(%rsp), %r9d           /* (r8-r10 are caller-saved) */

        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */

        /* Reload the other side's control words only where they differ from
           ours. ldmxcsr is serialising on some CPUs (about 45 ns per switch
           on the Xeon we benchmark on) and the words almost never differ.
           MXCSR bits 0-5 are sticky status flags, not callee-saved: compare
           the control bits 6-15 only. */
        xorl    (%rsp), %r8d
        testl   $0xffc0, %r8d
        jnz     .Lload_mxcsr
        cmpw    4(%rsp), %r9w
        jne     .Lload_x87cw
.Lrestore:
        .cfi_remember_state
        addq    $8, %rsp                /* word 0 was read above */
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        movq    %rdx, %rax              /* deliver arg as the return value */
        ret                             /* word 7: to the other side's resume
                                           address */
        .cfi_restore_state
.Lload_mxcsr:
        ldmxcsr (%rsp)                  /* the other side's rounding mode etc. */
        cmpw    4(%rsp), %r9w
        je      .Lrestore
.Lload_x87cw:
        fldcw   4(%rsp)                 /* the other side's x87 precision/rounding */
        jmp     .Lrestore
        .cfi_endproc
        .size   coio__switch, .-coio__switch

/* First code on a fresh stack. Entered by the ret above with rsp % 16 == 0,
   rax = arg, r12 = entry, rbp = 0.

   A fresh frame's resume address is coio__trampoline itself, and unwinders
   look a return address up at address - 1 (the call instruction it follows).
   The nop before the symbol puts that byte inside this function's CFI, which
   says the return address is undefined, so a backtrace taken in coio__switch
   just after it loaded a fresh frame ends here cleanly too. */
        .p2align 4
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame: unwinders stop here */
coio__fresh_frame:                      /* local: names this byte in backtraces */
        .type   coio__fresh_frame, @function
        nop                             /* covers resume address - 1 (above) */
        .size   coio__fresh_frame, .-coio__fresh_frame
        .globl  coio__trampoline
        .hidden coio__trampoline
        .type   coio__trampoline, @function
coio__trampoline:
        COIO_ENDBR
        movq    %rax, %rdi              /* entry's one argument */
        callq   *%r12                   /* entry(arg), with rsp % 16 == 8 at its
                                           first instruction; never returns */
        call    abort@PLT               /* entry returned: a bug, fail loudly */
        hlt
        .cfi_endproc
        .size   coio__trampoline, .-coio__trampoline
