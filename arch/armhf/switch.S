/* arch/armhf/switch.S — context switch and fresh-stack trampoline for 32-bit
 * ARM, AAPCS with the VFP (hard-float) variant, ARMv7-A, ELF (Linux armhf).
 *
 * AAPCS (5.1.1, 5.1.2.1) makes r4-r11 (r9 included: Linux gives it no
 * platform role; r11 is the ARM-state frame pointer, r7 the Thumb one), sp
 * and d8-d15 (s16-s31) callee-saved. lr is not, but holds where this call
 * returns to, so it is the resume address. r0-r3, r12, d0-d7, d16-d31 and
 * FPSCR's status bits are caller-saved.
 *
 * FPSCR mixes control and status. Per context are its control bits (mask
 * 0x07F79F00): the trap enables IOE-IXE and IDE (bits 8-12, 15), Len and
 * Stride (16-18, 20-21; 0 under AAPCS), RMode (22-23), FZ (24), DN (25) and
 * AHP (26). N, Z, C, V (28-31), QC (27) and the cumulative exception flags
 * (0-4, 7) are status: the thread's, never restored (PORTING.md).
 *
 * Frame saved on the suspended stack (sp points at byte 0; 104 bytes, a
 * multiple of 8 as AAPCS wants of sp at a public interface):
 *
 *   offset     content
 *   0 .. 63    d8-d15
 *   64 .. 95   r4-r11      fresh frame: r4 = the entry function, r7 = r11 = 0
 *   96         FPSCR       fresh frame: 0 (round to nearest, no traps)
 *   100        resume address (lr at the call, bit 0 set for a Thumb
 *              caller; fresh frame: coio__trampoline, with its Thumb bit)
 *   CFA = saved sp + 104: the caller's sp after coio__switch returns
 *
 * The file assembles as Thumb-2 when the compiler targets Thumb (Debian's
 * default) and as ARM otherwise (-marm); the two interwork, since the switch
 * leaves through `pop {..., pc}`, which honours bit 0 of the resume address,
 * and the trampoline calls entry with `blx`. No BTI/PAC (ARMv8.1-M only).
 * The unwind information is DWARF CFI (.eh_frame / gdb); no EHABI tables.
 */

#include "../asm.h"

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

        .syntax unified
        .arch   armv7-a
        .fpu    vfpv3-d16
#if defined(__thumb__)
        .thumb
#define COIO_ARM_FUNC .thumb_func
#else
        .arm
#define COIO_ARM_FUNC
#endif
        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   r0 = save_sp, r1 = load_sp, r2 = arg; returns arg in r0. */
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 2
        COIO_ARM_FUNC
COIO_SYM(coio__switch):
        .cfi_startproc
        vmrs    r12, fpscr              /* FPSCR's control bits are per context */
        push    {r4-r12, lr}            /* r4-r11: callee-saved; r12: FPSCR; */
        .cfi_adjust_cfa_offset 40       /* lr: our resume address */
        .cfi_rel_offset r4, 0
        .cfi_rel_offset r5, 4
        .cfi_rel_offset r6, 8
        .cfi_rel_offset r7, 12
        .cfi_rel_offset r8, 16
        .cfi_rel_offset r9, 20
        .cfi_rel_offset r10, 24
        .cfi_rel_offset r11, 28
        .cfi_rel_offset lr, 36
        vpush   {d8-d15}                /* d8-d15: callee-saved */
        .cfi_adjust_cfa_offset 64
        .cfi_rel_offset d8, 0
        .cfi_rel_offset d9, 8
        .cfi_rel_offset d10, 16
        .cfi_rel_offset d11, 24
        .cfi_rel_offset d12, 32
        .cfi_rel_offset d13, 40
        .cfi_rel_offset d14, 48
        .cfi_rel_offset d15, 56
        mov     r3, sp
        str     r3, [r0]                /* *save_sp = our frame */
        mov     sp, r1                  /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */
        ldr     r1, [sp, #96]           /* their FPSCR (r12 holds ours) */
        movw    r3, #0x9F00             /* the control bits */
        movt    r3, #0x07F7
        eor     r0, r1, r12
        tst     r0, r3                  /* differ? */
        beq     1f
        and     r1, r1, r3              /* their control bits, */
        bic     r12, r12, r3            /* our status bits */
        orr     r1, r1, r12
        vmsr    fpscr, r1
1:      vpop    {d8-d15}
        .cfi_adjust_cfa_offset -64
        .cfi_restore d8
        .cfi_restore d9
        .cfi_restore d10
        .cfi_restore d11
        .cfi_restore d12
        .cfi_restore d13
        .cfi_restore d14
        .cfi_restore d15
        mov     r0, r2                  /* deliver arg as the return value */
        pop     {r4-r12, pc}            /* to the other side's resume address,
                                           in ARM or Thumb state by its bit 0 */
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the switch's pop with sp % 8 == 0,
   r0 = arg, r4 = entry, r7 = r11 = 0.

   The nop before the symbol covers resume address - 1, which unwinders look
   up for a fresh frame (PORTING.md). */
        .p2align 2
        .cfi_startproc
        .cfi_undefined lr               /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names this byte in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nop                             /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
        COIO_ARM_FUNC
COIO_SYM(coio__trampoline):
        blx     r4                      /* entry(arg), arg already in r0;
                                           never returns */
        bl      abort                   /* entry returned: a bug, fail loudly */
        udf     #0
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (r4 = fn, r5 = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and out of it into the
   suspended context exactly as if it were stopped in coio__switch: CFA =
   saved frame + 104, d8-d15, r4-r11 and the resume address in their slots
   of the frame table above.

   Two descriptions say so. libgcc's unwinder on ARM EABI reads the EHABI
   tables (.ARM.exidx), so the stub has .fnstart/.fnend directives: read
   backwards, as an unwinder applies them, they say vsp = r5, pop d8-d15,
   pop r4-r11, skip the FPSCR word, pop lr (the resume address, which
   becomes pc). gdb reads the DWARF CFI, which says the same. fn switches
   back and never returns here. */
        .p2align 2
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
        COIO_ARM_FUNC
COIO_SYM(coio__probe_entry):
        .fnstart
        .save   {lr}
        .pad    #4
        .save   {r4-r11}
        .vsave  {d8-d15}
        .movsp  r5
        .cfi_startproc
        .cfi_def_cfa r5, 104
        .cfi_offset lr, -4
        .cfi_offset r4, -40
        .cfi_offset r5, -36
        .cfi_offset r6, -32
        .cfi_offset r7, -28
        .cfi_offset r8, -24
        .cfi_offset r9, -20
        .cfi_offset r10, -16
        .cfi_offset r11, -12
        .cfi_offset d8, -104
        .cfi_offset d9, -96
        .cfi_offset d10, -88
        .cfi_offset d11, -80
        .cfi_offset d12, -72
        .cfi_offset d13, -64
        .cfi_offset d14, -56
        .cfi_offset d15, -48
        blx     r4                      /* fn(arg), arg already in r0 */
        udf     #0                      /* fn never returns */
        .cfi_endproc
        .fnend
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)

/* The register probe (src/dump.c): a backtrace begun from a given set of
   registers instead of the caller's. void coio__regs_probe(const uint32_t
   regs[16], void (*fn)(void *), void *arg): regs holds r0-r15 as a
   ucontext's arm_r0..arm_pc do. The stub keeps regs in r5 and calls
   fn(arg); its EHABI entry, true at that call's return address, says: vsp
   = r5, pop r0-r15, so the unwinder's next frame is the context in regs
   (sp and pc included, lr its own). The dump uses it to go on past a
   function with no unwind entry (static glibc's abort()). fn returns. */
        .p2align 2
        COIO_GLOBAL(coio__regs_probe)
        COIO_HIDDEN(coio__regs_probe)
        COIO_TYPE_FUNC(coio__regs_probe)
        COIO_ARM_FUNC
COIO_SYM(coio__regs_probe):
        .fnstart
        .save   {r0-r15}
        .movsp  r5
        push    {r4, r5, r6, lr}
        mov     r5, r0                  /* regs, for the entry above */
        mov     r0, r2
        blx     r1                      /* fn(arg) */
        pop     {r4, r5, r6, pc}
        .fnend
        COIO_GLOBAL(coio__regs_probe_end)
        COIO_HIDDEN(coio__regs_probe_end)
COIO_SYM(coio__regs_probe_end):
        COIO_SIZE(coio__regs_probe)
