/* arch/x86_64/switch.S — context switch and fresh-stack trampoline for
 * x86-64 System V (ELF, GNU as).
 *
 * The System V AMD64 ABI (3.2.1, 3.2.3) makes rbx, rbp, r12-r15 and rsp
 * callee-saved, together with the control bits of MXCSR and the x87 control
 * word; everything else (including all xmm registers) is caller-saved, so the
 * C code calling coio__switch has already spilled whatever it keeps live.
 *
 * Frame saved on the suspended stack (rsp points at word 0):
 *
 *   word  offset  content
 *   0     0x00    MXCSR (bytes 0-3), x87 control word (bytes 4-5)
 *   1     0x08    r15
 *   2     0x10    r14
 *   3     0x18    r13
 *   4     0x20    r12     fresh frame: the entry function
 *   5     0x28    rbx
 *   6     0x30    rbp     fresh frame: 0 (ends frame-pointer walks)
 *   7     0x38    resume address (the caller's return address; fresh frame:
 *                 coio__trampoline)
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
 */

#if defined(__linux__) && defined(__ELF__)
        .section .note.GNU-stack,"",%progbits
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
        pushq   %rbp                    /* callee-saved: frame pointer */
        .cfi_adjust_cfa_offset 8
        pushq   %rbx                    /* callee-saved */
        .cfi_adjust_cfa_offset 8
        pushq   %r12                    /* callee-saved */
        .cfi_adjust_cfa_offset 8
        pushq   %r13                    /* callee-saved */
        .cfi_adjust_cfa_offset 8
        pushq   %r14                    /* callee-saved */
        .cfi_adjust_cfa_offset 8
        pushq   %r15                    /* callee-saved */
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                /* room for the FP control words */
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)                  /* MXCSR control bits are callee-saved */
        fnstcw  4(%rsp)                 /* x87 control word is callee-saved */
        movl    (%rsp), %r8d            /* keep ours in scratch registers */
        movzwl  4(%rsp), %r9d           /* (r8-r10 are caller-saved) */

        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* switch stacks */

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
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        movq    %rdx, %rax              /* deliver arg as the return value */
        ret                             /* to the other side's resume address */
.Lload_mxcsr:
        ldmxcsr (%rsp)
        cmpw    4(%rsp), %r9w
        je      .Lrestore
.Lload_x87cw:
        fldcw   4(%rsp)
        jmp     .Lrestore
        .cfi_endproc
        .size   coio__switch, .-coio__switch

/* First code on a fresh stack. Entered by the ret above with rsp % 16 == 0,
   rax = arg, r12 = entry. */
        .globl  coio__trampoline
        .hidden coio__trampoline
        .type   coio__trampoline, @function
        .p2align 4
coio__trampoline:
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame: unwinders stop here */
        movq    %rax, %rdi              /* entry's one argument */
        callq   *%r12                   /* entry(arg); never returns */
        call    abort@PLT               /* entry returned: a bug, fail loudly */
        hlt
        .cfi_endproc
        .size   coio__trampoline, .-coio__trampoline
