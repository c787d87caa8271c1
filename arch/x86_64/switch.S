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
 *                 (the switch may overwrite this word of the frame it
 *                 loads: it is dead once loaded)
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
 * How the switch leaves (measured on the 2-vCPU AMD EPYC of DESIGN.md, ns
 * per one-way switch, bench_switch; fcontext 5.6-5.8 in the same runs):
 *
 *   exit                     raw switch  raw switch asym  scheduled yield
 *   `ret` always                5.9-6.5      10.8-12.4        9.9-15
 *   pop + `jmp *` always        5.6-6.6      5.4-6.5          26-31
 *   `ret` if same resume        5.6-6.3      5.6-6.2          9.5-12
 *     address, else `jmp *`
 *   (the previous switch: `ret` always, compare-and-reload of the control
 *   words below: 6.9-7.6, 10.3-12.0, 11.0-14.5)
 *
 * `ret` predicts its target from the return-stack buffer, whose top is the
 * return address of whoever called coio__switch in the context being left.
 * That is right exactly when both contexts suspended at the same call site,
 * which is what coio's scheduler does for task-to-task switches (every task
 * parks in coio__park), and then the returns that follow in the resumed task
 * are predicted too. Between different call sites (a task and the loop
 * context, the asymmetric benchmark) the `ret` mispredicts every time; an
 * indirect `jmp` is predicted by the branch-target predictor instead, but
 * leaves the return-stack buffer one entry deep, so the resumed task's next
 * returns mispredict: as the only exit it is ruinous for the scheduler
 * (26-31 ns). So the switch compares the two resume addresses and takes
 * `ret` when they are equal and `jmp` when they are not; the extra load and
 * compare cost nothing measurable.
 *
 * MXCSR and the x87 control word are saved on every switch and reloaded
 * only when the incoming context's control bits differ from the outgoing
 * one's. The ABI (3.2.3 "Register Usage") makes only MXCSR's control bits
 * (6-15: DAZ, exception masks, rounding, FTZ) and the x87 control word
 * callee-saved; MXCSR's status flags (bits 0-5) are caller-saved, so they
 * are never restored: a reload keeps the flags currently in the register
 * and takes only the other side's control bits. `stmxcsr` cannot be
 * skipped (a task may have changed its rounding mode since it was resumed);
 * the compare reads back the word it just stored.
 *
 * Why not reload unconditionally, as Boost.Context does (ns per one-way
 * switch, pinned, bench_switch and Boost 1.74 jump_fcontext):
 *
 *   CPU                                  symmetric  asym   asym, status
 *                                                          flags differ
 *   Intel Xeon (family 6 model 207; measured when issue 11 was filed)
 *     unconditional ldmxcsr + fldcw        5.7     73-81     ~80
 *     no ldmxcsr                           5.1     3.6-4.3
 *     Boost.Context jump_fcontext          6.3-6.9  81.9
 *   AMD EPYC (family 26 model 2), this session, same binary before/after
 *     unconditional ldmxcsr + fldcw        5.7-5.9 5.6-5.7   5.3-6.1
 *     compare, reload on difference        see README's W1 rows
 *
 * On that Xeon an `ldmxcsr` in a switch that leaves through an indirect
 * `jmp` to alternating targets costs about 70 ns, and a `stmxcsr` that
 * follows an `ldmxcsr` which changed MXCSR costs about 80 ns even in a
 * straight loop (2.6 ns when the value did not change). Real programs hit
 * both: the loop context and tasks suspend at different call sites, and any
 * task that computes with a `double` carries sticky status flags (e.g.
 * "inexact": 0x1FA0) that differ from the next context's. Comparing first
 * avoids every `ldmxcsr` except where rounding mode, FTZ/DAZ or the
 * exception masks really differ between the two contexts; that case still
 * pays the reload (bench row "asym rounding").
 *
 * Control-flow enforcement (CET): with -fcf-protection=branch (or =full) the
 * compiler defines __CET__ bit 0; both functions then start with `endbr64`
 * and this object carries the GNU property note that marks it IBT-compatible.
 * The resume address is not an `endbr64` landing pad, so with IBT the
 * switch always leaves through `ret` (which IBT does not check) and loses
 * only the asymmetric case above. It does not claim shadow-stack (SHSTK,
 * __CET__ bit 1) compatibility: `ret` returns to the other context's
 * address, which is not the one on the shadow stack, so a binary linking
 * coio must not run with shadow stacks enabled. The linker ANDs the
 * property over all objects, so leaving the SHSTK bit out here keeps the
 * whole binary unmarked for it.
 */

#include "../asm.h"             /* ELF and Mach-O spellings of symbols */

#if defined(__APPLE__)
#define COIO_ABORT _abort
#else
#define COIO_ABORT abort@PLT    /* through the PLT: libcoio.so is PIC */
#endif

#if defined(__CET__) && (__CET__ & 1)
#define COIO_ENDBR endbr64
#define COIO_JMP_RESUME 0       /* IBT: an indirect jmp needs an endbr64 target */
#else
#define COIO_ENDBR
#define COIO_JMP_RESUME 1
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
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 4
COIO_SYM(coio__switch):
        .cfi_startproc
        COIO_ENDBR
        leaq    -0x38(%rsp), %rsp       /* words 0-6; word 7 holds our return
                                           address already */
        .cfi_adjust_cfa_offset 0x38
        stmxcsr (%rsp)                  /* MXCSR control bits are callee-saved */
        fnstcw  4(%rsp)                 /* x87 control word is callee-saved */
        movq    %r15, 0x08(%rsp)        /* r15, r14, r13, r12, rbx, rbp: */
        .cfi_rel_offset r15, 0x08       /* callee-saved */
        movq    %r14, 0x10(%rsp)
        .cfi_rel_offset r14, 0x10
        movq    %r13, 0x18(%rsp)
        .cfi_rel_offset r13, 0x18
        movq    %r12, 0x20(%rsp)
        .cfi_rel_offset r12, 0x20
        movq    %rbx, 0x28(%rsp)
        .cfi_rel_offset rbx, 0x28
        movq    %rbp, 0x30(%rsp)        /* the frame pointer */
        .cfi_rel_offset rbp, 0x30
#if COIO_JMP_RESUME
        movq    0x38(%rsp), %r9         /* our resume address (r8-r10 are */
#endif                                  /* caller-saved scratch) */

        movq    %rsp, %r10              /* our frame, for the compares below */
        movq    %rsp, (%rdi)            /* *save_sp = our frame */
        movq    %rsi, %rsp              /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */
#if COIO_JMP_RESUME
        movq    0x38(%rsp), %r8         /* theirs, early for the jmp below */
#endif
        movl    (%rsp), %ecx            /* their MXCSR */
        movl    (%r10), %r11d           /* ours, as just stored */
        xorl    %ecx, %r11d
        testl   $0xFFC0, %r11d          /* control bits (6-15) differ? */
        jz      1f
        xorl    %ecx, %r11d             /* ours again: keep our status flags */
        andl    $0x003F, %r11d          /* (bits 0-5, caller-saved), take */
        andl    $0xFFC0, %ecx           /* their control bits */
        orl     %r11d, %ecx
        movl    %ecx, (%rsp)            /* their frame is dead after this */
        ldmxcsr (%rsp)
1:      movzwl  4(%rsp), %ecx           /* their x87 control word */
        cmpw    4(%r10), %cx
        je      2f
        fldcw   4(%rsp)                 /* only when it differs */
2:
        movq    0x08(%rsp), %r15
        .cfi_restore r15
        movq    0x10(%rsp), %r14
        .cfi_restore r14
        movq    0x18(%rsp), %r13
        .cfi_restore r13
        movq    0x20(%rsp), %r12
        .cfi_restore r12
        movq    0x28(%rsp), %rbx
        .cfi_restore rbx
        movq    0x30(%rsp), %rbp
        .cfi_restore rbp
        movq    %rdx, %rax              /* deliver arg as the return value */
#if COIO_JMP_RESUME
        cmpq    %r8, %r9                /* same call site as ours? */
        jne     COIO_LOCAL(jmp_resume)
#endif
        .cfi_remember_state
        leaq    0x38(%rsp), %rsp        /* to word 7 */
        .cfi_adjust_cfa_offset -0x38
        ret                             /* predicted right: to the other side's
                                           resume address, equal to ours */
#if COIO_JMP_RESUME
        .cfi_restore_state
COIO_LOCAL(jmp_resume):
        leaq    0x40(%rsp), %rsp        /* past word 7, which stays readable in
                                           the red zone for unwinders */
        .cfi_adjust_cfa_offset -0x40
        jmp     *%r8                    /* another call site: predicted by the
                                           branch-target predictor, not the
                                           return-stack buffer */
#endif
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the switch's ret or jmp with
   rsp % 16 == 0, rax = arg, r12 = entry, rbp = 0.

   A fresh frame's resume address is coio__trampoline itself, and unwinders
   look a return address up at address - 1 (the call instruction it follows).
   The nop before the symbol puts that byte inside this function's CFI, which
   says the return address is undefined, so a backtrace taken in coio__switch
   just after it loaded a fresh frame ends here cleanly too. */
        .p2align 4
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names this byte in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nop                             /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
COIO_SYM(coio__trampoline):
        COIO_ENDBR
        movq    %rax, %rdi              /* entry's one argument */
        callq   *%r12                   /* entry(arg), with rsp % 16 == 8 at its
                                           first instruction; never returns */
        call    COIO_ABORT              /* entry returned: a bug, fail loudly */
        hlt
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (r12 = fn, rbx = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and, by the CFI below, out of
   it into the suspended context exactly as if it were stopped in
   coio__switch: CFA = saved frame + 0x40, each callee-saved register and the
   resume address in its slot of the frame table above. So the walk follows
   the frame tables (.eh_frame) of whatever the task is suspended in, with or
   without frame pointers. fn switches back and never returns here. */
        .p2align 4
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
COIO_SYM(coio__probe_entry):
        .cfi_startproc
        .cfi_def_cfa rbx, 0x40
        .cfi_offset rip, -0x08
        .cfi_offset r15, -0x38
        .cfi_offset r14, -0x30
        .cfi_offset r13, -0x28
        .cfi_offset r12, -0x20
        .cfi_offset rbx, -0x18
        .cfi_offset rbp, -0x10
        COIO_ENDBR
        movq    %rax, %rdi              /* fn's one argument */
        callq   *%r12                   /* fn(arg), rsp % 16 == 8 at its entry */
        ud2                             /* fn never returns */
        .cfi_endproc
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)
