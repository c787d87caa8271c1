/* arch/i386/switch.S — context switch and fresh-stack trampoline for i386
 * (System V i386 ABI with the 16-byte stack alignment of current gcc; ELF).
 *
 * The i386 ABI makes ebx, esi, edi, ebp and esp callee-saved, and, as on
 * x86-64, the x87 control word and MXCSR's control bits (rounding, masks,
 * FTZ/DAZ); eax, ecx, edx, the x87 stack, every xmm register and the status
 * flags are caller-saved. Arguments arrive on the stack. gcc has assumed
 * since version 4.5 that esp % 16 == 0 at every call (the Linux ABI's
 * "16-byte alignment" rule), so the trampoline calls entry with esp aligned.
 * The port needs SSE (stmxcsr/ldmxcsr: any x86 CPU since the Pentium III).
 *
 * Frame saved on the suspended stack (esp points at word 0; 32 bytes):
 *
 *   word  offset  content
 *   0     0x00    MXCSR   fresh frame: 0x1F80 (may be overwritten while it
 *                         is loaded, as on x86-64: dead once loaded)
 *   1     0x04    x87 control word (low 16 bits)   fresh frame: 0x037F
 *   2     0x08    edi
 *   3     0x0c    esi
 *   4     0x10    ebx     fresh frame: the entry function
 *   5     0x14    ebp     fresh frame: 0 (ends frame-pointer walks)
 *   6     0x18    unused (makes a fresh frame end on a 16-byte boundary)
 *   7     0x1c    resume address (the caller's return address; fresh frame:
 *                         coio__trampoline)
 *   CFA = saved esp + 0x20: the caller's esp after coio__switch returns
 *
 * The control words are compared and reloaded only on a difference in the
 * control bits, for the reasons given in arch/x86_64/switch.S; the status
 * flags currently in MXCSR are kept. The switch always leaves through `ret`
 * (the return-address predictor is right when both sides suspended at the
 * same call site, the scheduler's case); the x86-64 port's indirect-`jmp`
 * variant is not carried over.
 *
 * Not supported: CET (no endbr32 landing pads, no property note), so a
 * binary linking coio is not marked IBT-compatible.
 */

#include "../asm.h"

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   4(%esp) = save_sp, 8(%esp) = load_sp, 12(%esp) = arg; returns arg in eax. */
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 4
COIO_SYM(coio__switch):
        .cfi_startproc
        movl    4(%esp), %ecx           /* save_sp (eax, ecx, edx: scratch) */
        movl    8(%esp), %edx           /* load_sp */
        movl    12(%esp), %eax          /* arg: the return value on the far side */
        leal    -0x1c(%esp), %esp       /* words 0-6; word 7 holds our return
                                           address already */
        .cfi_adjust_cfa_offset 0x1c
        stmxcsr (%esp)                  /* MXCSR control bits are callee-saved */
        fnstcw  4(%esp)                 /* x87 control word is callee-saved */
        movl    %edi, 0x08(%esp)        /* edi, esi, ebx, ebp: callee-saved */
        .cfi_rel_offset %edi, 0x08
        movl    %esi, 0x0c(%esp)
        .cfi_rel_offset %esi, 0x0c
        movl    %ebx, 0x10(%esp)
        .cfi_rel_offset %ebx, 0x10
        movl    %ebp, 0x14(%esp)        /* the frame pointer */
        .cfi_rel_offset %ebp, 0x14
        movl    %esp, (%ecx)            /* *save_sp = our frame */
        movl    %esp, %ecx              /* our frame, for the compares below */
        movl    %edx, %esp              /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */
        movl    (%esp), %edx            /* their MXCSR */
        xorl    (%ecx), %edx            /* ^ ours, as just stored */
        testl   $0xFFC0, %edx           /* control bits (6-15) differ? */
        jz      1f
        xorl    (%esp), %edx            /* ours again: keep our status flags */
        andl    $0x003F, %edx           /* (bits 0-5, caller-saved), take */
        andl    $0xFFC0, (%esp)         /* their control bits */
        orl     %edx, (%esp)            /* their frame is dead after this */
        ldmxcsr (%esp)
1:      movzwl  4(%esp), %edx           /* their x87 control word */
        cmpw    4(%ecx), %dx
        je      2f
        fldcw   4(%esp)                 /* only when it differs */
2:
        movl    0x08(%esp), %edi
        .cfi_restore %edi
        movl    0x0c(%esp), %esi
        .cfi_restore %esi
        movl    0x10(%esp), %ebx
        .cfi_restore %ebx
        movl    0x14(%esp), %ebp
        .cfi_restore %ebp
        leal    0x1c(%esp), %esp        /* to word 7 */
        .cfi_adjust_cfa_offset -0x1c
        ret                             /* to the other side's resume address */
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the switch's ret with
   esp % 16 == 0, eax = arg, ebx = entry, ebp = 0.

   The nop before the symbol covers resume address - 1, which unwinders look
   up for a fresh frame (see arch/x86_64/switch.S). */
        .p2align 4
        .cfi_startproc
        .cfi_undefined %eip             /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names this byte in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nop                             /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
COIO_SYM(coio__trampoline):
        subl    $12, %esp               /* 12 + the pushed arg: esp % 16 == 0 */
        pushl   %eax                    /* at the call, 4 at entry's first */
        call    *%ebx                   /* entry(arg); never returns */
        /* Entry returned: a bug, fail loudly. abort@PLT in position-
           independent code wants ebx = the GOT's address (the i386 PIC
           ABI), which nothing here has set: compute it. esp is still
           16-byte aligned for the call. */
        call    1f
1:      popl    %ebx
        addl    $_GLOBAL_OFFSET_TABLE_+(.-1b), %ebx
        call    abort@PLT
        hlt
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (ebx = fn, esi = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and, by the CFI below, out of
   it into the suspended context exactly as if it were stopped in
   coio__switch: CFA = saved frame + 0x20, edi, esi, ebx, ebp and the resume
   address in their slots of the frame table above. fn switches back and
   never returns here. */
        .p2align 4
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
COIO_SYM(coio__probe_entry):
        .cfi_startproc
        .cfi_def_cfa %esi, 0x20
        .cfi_offset %eip, -0x04
        .cfi_offset %edi, -0x18
        .cfi_offset %esi, -0x14
        .cfi_offset %ebx, -0x10
        .cfi_offset %ebp, -0x0c
        subl    $12, %esp               /* as the trampoline: esp % 16 == 0 */
        pushl   %eax                    /* at the call */
        call    *%ebx                   /* fn(arg) */
        ud2                             /* fn never returns */
        .cfi_endproc
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)
