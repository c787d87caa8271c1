/* arch/riscv64/switch.S — context switch and fresh-stack trampoline for
 * RISC-V RV64 with the D extension (LP64D psABI, ELF, GNU as). The worked
 * example in PORTING.md.
 *
 * The psABI (calling convention, "Integer/Floating-point Register
 * Convention") makes s0-s11 (x8, x9, x18-x27), sp and, under LP64D, the
 * 64-bit fs0-fs11 (f8, f9, f18-f27) callee-saved. ra is caller-saved but
 * holds where this call returns to, so it is the resume address and is saved
 * like one. gp and tp are not saved: gp is constant in a program and tp
 * belongs to the thread, which a switch does not change. Everything else
 * (a0-a7, t0-t6, ft0-ft11, fa0-fa7) is caller-saved: the C code calling
 * coio__switch has already spilled whatever it keeps live.
 *
 * fcsr has thread storage duration in the psABI, as the C fenv does; coio
 * gives each context its own rounding mode (frm, fcsr bits 5-7), the same
 * contract as MXCSR on x86-64 and FPCR on AArch64. The accrued exception
 * flags (fflags) are sticky status, not saved.
 *
 * Frame saved on the suspended stack (sp points at word 0; 208 bytes, a
 * multiple of 16 as the psABI requires of sp):
 *
 *   word  offset  content
 *   0     0       ra     resume address (the caller's ra; fresh frame:
 *                        coio__trampoline)
 *   1     8       s0     frame pointer; fresh frame: 0 (ends fp walks)
 *   2     16      s1     fresh frame: the entry function
 *   3     24      s2
 *   4     32      s3
 *   5     40      s4
 *   6     48      s5
 *   7     56      s6
 *   8     64      s7
 *   9     72      s8
 *   10    80      s9
 *   11    88      s10
 *   12    96      s11
 *   13    104     frm    fresh frame: 0 (RNE, round to nearest even)
 *   14    112     fs0
 *   15    120     fs1
 *   16    128     fs2
 *   17    136     fs3
 *   18    144     fs4
 *   19    152     fs5
 *   20    160     fs6
 *   21    168     fs7
 *   22    176     fs8
 *   23    184     fs9
 *   24    192     fs10
 *   25    200     fs11
 *   CFA = saved sp + 208: the caller's sp after coio__switch returns
 *
 * Suspended and fresh frames have the same layout, so the CFI below stays
 * true after sp is swapped: an unwinder stopped anywhere in coio__switch walks
 * into whichever context sp points at, and for a fresh frame it arrives in
 * coio__trampoline, whose CFI ends the walk.
 *
 * The switch returns with `ret` (jalr x0, 0(ra)), which the return-address
 * stack predicts: coio suspends and resumes every task at the same call site
 * (see the x86-64 port's note on `ret` against an indirect jump).
 *
 * Control-flow integrity (Zicfilp landing pads, Zicfiss shadow stacks) is
 * not supported: no compiler this port was built with defines their feature
 * macros, and a shadow stack could not follow this switch's `ret` anyway.
 */

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   a0 = save_sp, a1 = load_sp, a2 = arg; returns arg in a0. */
        .globl  coio__switch
        .hidden coio__switch
        .type   coio__switch, @function
        .p2align 2
coio__switch:
        .cfi_startproc
        addi    sp, sp, -208
        .cfi_def_cfa_offset 208
        sd      ra, 0(sp)               /* word 0: our resume address */
        .cfi_offset ra, -208
        sd      s0, 8(sp)               /* s0-s11: callee-saved */
        .cfi_offset s0, -200
        sd      s1, 16(sp)
        .cfi_offset s1, -192
        sd      s2, 24(sp)
        .cfi_offset s2, -184
        sd      s3, 32(sp)
        .cfi_offset s3, -176
        sd      s4, 40(sp)
        .cfi_offset s4, -168
        sd      s5, 48(sp)
        .cfi_offset s5, -160
        sd      s6, 56(sp)
        .cfi_offset s6, -152
        sd      s7, 64(sp)
        .cfi_offset s7, -144
        sd      s8, 72(sp)
        .cfi_offset s8, -136
        sd      s9, 80(sp)
        .cfi_offset s9, -128
        sd      s10, 88(sp)
        .cfi_offset s10, -120
        sd      s11, 96(sp)
        .cfi_offset s11, -112
        frrm    t0                      /* the rounding mode is per context; */
        sd      t0, 104(sp)             /* t0 and t1 are caller-saved */
        fsd     fs0, 112(sp)            /* fs0-fs11: callee-saved under LP64D */
        .cfi_offset fs0, -96
        fsd     fs1, 120(sp)
        .cfi_offset fs1, -88
        fsd     fs2, 128(sp)
        .cfi_offset fs2, -80
        fsd     fs3, 136(sp)
        .cfi_offset fs3, -72
        fsd     fs4, 144(sp)
        .cfi_offset fs4, -64
        fsd     fs5, 152(sp)
        .cfi_offset fs5, -56
        fsd     fs6, 160(sp)
        .cfi_offset fs6, -48
        fsd     fs7, 168(sp)
        .cfi_offset fs7, -40
        fsd     fs8, 176(sp)
        .cfi_offset fs8, -32
        fsd     fs9, 184(sp)
        .cfi_offset fs9, -24
        fsd     fs10, 192(sp)
        .cfi_offset fs10, -16
        fsd     fs11, 200(sp)
        .cfi_offset fs11, -8

        sd      sp, 0(a0)               /* *save_sp = our frame */
        mv      sp, a1                  /* switch stacks; same frame layout, so
                                           the CFA rule above still holds */

        /* Write frm only when the other side's differs: a CSR write can
           serialise the pipeline, and the two almost never differ. */
        ld      t1, 104(sp)
        bne     t0, t1, .Lload_frm
.Lrestore:
        .cfi_remember_state
        fld     fs0, 112(sp)
        .cfi_restore fs0
        fld     fs1, 120(sp)
        .cfi_restore fs1
        fld     fs2, 128(sp)
        .cfi_restore fs2
        fld     fs3, 136(sp)
        .cfi_restore fs3
        fld     fs4, 144(sp)
        .cfi_restore fs4
        fld     fs5, 152(sp)
        .cfi_restore fs5
        fld     fs6, 160(sp)
        .cfi_restore fs6
        fld     fs7, 168(sp)
        .cfi_restore fs7
        fld     fs8, 176(sp)
        .cfi_restore fs8
        fld     fs9, 184(sp)
        .cfi_restore fs9
        fld     fs10, 192(sp)
        .cfi_restore fs10
        fld     fs11, 200(sp)
        .cfi_restore fs11
        ld      s0, 8(sp)
        .cfi_restore s0
        ld      s1, 16(sp)
        .cfi_restore s1
        ld      s2, 24(sp)
        .cfi_restore s2
        ld      s3, 32(sp)
        .cfi_restore s3
        ld      s4, 40(sp)
        .cfi_restore s4
        ld      s5, 48(sp)
        .cfi_restore s5
        ld      s6, 56(sp)
        .cfi_restore s6
        ld      s7, 64(sp)
        .cfi_restore s7
        ld      s8, 72(sp)
        .cfi_restore s8
        ld      s9, 80(sp)
        .cfi_restore s9
        ld      s10, 88(sp)
        .cfi_restore s10
        ld      s11, 96(sp)
        .cfi_restore s11
        ld      ra, 0(sp)               /* the other side's resume address */
        .cfi_restore ra
        addi    sp, sp, 208
        .cfi_def_cfa_offset 0
        mv      a0, a2                  /* deliver arg as the return value */
        ret                             /* to the other side's resume address */
        .cfi_restore_state
.Lload_frm:
        fsrm    t1                      /* the other side's rounding mode */
        j       .Lrestore
        .cfi_endproc
        .size   coio__switch, .-coio__switch

/* First code on a fresh stack. Entered by the ret above with sp % 16 == 0,
   a0 = arg, s1 = entry, s0 = 0.

   A fresh frame's resume address is coio__trampoline itself, and unwinders
   look a return address up at address - 1 (inside the call it follows). The
   nop before the symbol puts that address inside this function's CFI, which
   says the return address is undefined, so a backtrace taken in coio__switch
   just after it loaded a fresh frame ends here cleanly too. */
        .p2align 2
        .cfi_startproc
        .cfi_undefined ra               /* outermost frame: unwinders stop here */
coio__fresh_frame:                      /* local: names this nop in backtraces */
        .type   coio__fresh_frame, @function
        nop                             /* covers resume address - 1 (above) */
        .size   coio__fresh_frame, .-coio__fresh_frame
        .globl  coio__trampoline
        .hidden coio__trampoline
        .type   coio__trampoline, @function
coio__trampoline:
        jalr    s1                      /* entry(arg), arg already in a0;
                                           never returns */
        call    abort                   /* entry returned: a bug, fail loudly */
        unimp
        .cfi_endproc
        .size   coio__trampoline, .-coio__trampoline

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (s1 = fn, s2 = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and, by the CFI below, out of
   it into the suspended context exactly as if it were stopped in
   coio__switch: CFA = saved frame + 208, each callee-saved register and the
   resume address (ra) in its slot of the frame table above. fn switches
   back and never returns here. */
        .p2align 2
        .globl  coio__probe_entry
        .hidden coio__probe_entry
        .type   coio__probe_entry, @function
coio__probe_entry:
        .cfi_startproc
        .cfi_def_cfa s2, 208
        .cfi_offset ra, -208
        .cfi_offset s0, -200
        .cfi_offset s1, -192
        .cfi_offset s2, -184
        .cfi_offset s3, -176
        .cfi_offset s4, -168
        .cfi_offset s5, -160
        .cfi_offset s6, -152
        .cfi_offset s7, -144
        .cfi_offset s8, -136
        .cfi_offset s9, -128
        .cfi_offset s10, -120
        .cfi_offset s11, -112
        .cfi_offset fs0, -96
        .cfi_offset fs1, -88
        .cfi_offset fs2, -80
        .cfi_offset fs3, -72
        .cfi_offset fs4, -64
        .cfi_offset fs5, -56
        .cfi_offset fs6, -48
        .cfi_offset fs7, -40
        .cfi_offset fs8, -32
        .cfi_offset fs9, -24
        .cfi_offset fs10, -16
        .cfi_offset fs11, -8
        jalr    s1                      /* fn(arg), arg already in a0 */
        unimp                           /* fn never returns */
        .cfi_endproc
        .globl  coio__probe_end
        .hidden coio__probe_end
coio__probe_end:
        .size   coio__probe_entry, .-coio__probe_entry
