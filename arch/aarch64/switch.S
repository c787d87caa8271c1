/* arch/aarch64/switch.S — context switch and fresh-stack trampoline for
 * AArch64 (AAPCS64, ELF, GNU as).
 *
 * AAPCS64 makes x19-x28, the frame pointer x29 and sp callee-saved, and of
 * the SIMD registers only the low 64 bits of v8-v15 (that is, d8-d15). x30
 * (lr) is not callee-saved but holds where this call returns to, so it is
 * the resume address and is saved like one. Everything else (x0-x18,
 * v0-v7, v16-v31, the high halves of v8-v15, FPSR's sticky flags) is
 * caller-saved: the C code calling coio__switch has already spilled whatever
 * it keeps live. x18 is the platform register; Linux leaves it to the
 * compiler as a temporary, so it is not saved either.
 *
 * FPCR (rounding mode, flush-to-zero, default NaN) is what AAPCS64 calls a
 * global register: only support functions such as fesetround change it. Each
 * thread has its own, and so does each coio context: a task that changes its
 * rounding mode must not change it for the task that runs next, the same
 * contract as MXCSR's control bits on x86-64.
 *
 * Frame saved on the suspended stack (sp points at word 0; 176 bytes, a
 * multiple of 16 as AAPCS64 requires of sp at all times):
 *
 *   word  offset  content
 *   0     0x00    FPCR   fresh frame: 0 (round to nearest, no FZ, no DN)
 *   1     0x08    unused (pads the frame to a multiple of 16)
 *   2     0x10    x19    fresh frame: the entry function
 *   3     0x18    x20
 *   4     0x20    x21
 *   5     0x28    x22
 *   6     0x30    x23
 *   7     0x38    x24
 *   8     0x40    x25
 *   9     0x48    x26
 *   10    0x50    x27
 *   11    0x58    x28
 *   12    0x60    x29    fresh frame: 0 (ends frame-pointer walks)
 *   13    0x68    x30    resume address (the caller's lr; fresh frame:
 *                        coio__trampoline)
 *   14    0x70    d8
 *   15    0x78    d9
 *   16    0x80    d10
 *   17    0x88    d11
 *   18    0x90    d12
 *   19    0x98    d13
 *   20    0xa0    d14
 *   21    0xa8    d15
 *   CFA = saved sp + 0xb0: the caller's sp after coio__switch returns
 *
 * The switch returns with `ret` rather than `br x30`: `ret` pops the
 * return-address predictor, and coio suspends and resumes every task at the
 * same call site, so the prediction is right, while a `br` would leave the
 * predictor one entry deep and make the resumed task's returns mispredict
 * (see the x86-64 port's table). The x86-64 port takes an indirect jump only
 * when the two resume addresses differ; that is not done here: a `br` to a
 * resume address, which is no `bti j` landing pad, faults in a BTI-enforced
 * binary, and the gain has not been measured on AArch64 hardware.
 *
 * Branch protection: with -mbranch-protection=bti (or =standard) the
 * compiler defines __ARM_FEATURE_BTI_DEFAULT; both functions then start with
 * a `bti c` landing pad and this object carries the GNU property note that
 * marks it BTI-compatible, so that a BTI-enforced binary may contain it.
 *
 * With -mbranch-protection=pac-ret (or =standard) the compiler defines
 * __ARM_FEATURE_PAC_DEFAULT (bit 0: key A, bit 1: key B), and the resume
 * address in a suspended frame is signed: the switch signs x30 on entry with
 * sp as the modifier (`paciasp`, the caller's sp), stores it signed, and
 * after loading the other side's frame and popping it authenticates it
 * against the sp it now has, which is the sp the other side signed with
 * (`autiasp`), before `ret`. A saved resume address overwritten in memory
 * then fails authentication: `ret` faults (SIGSEGV on a non-canonical
 * address; SIGILL at `autiasp` on cores with FEAT_FPAC) instead of jumping
 * where the attacker wrote. coio__arch_init_frame signs the fresh frame's
 * trampoline address the same way, with the stack top as the modifier
 * (`pacia1716`). All of these are hint-space instructions: on a core without
 * pointer authentication they do nothing, and the same binary runs. The
 * note then claims PAC too.
 *
 * Suspended and fresh frames have the same layout, so the CFI below stays
 * true after sp is swapped: an unwinder stopped anywhere in coio__switch walks
 * into whichever context sp points at, and for a fresh frame it arrives in
 * coio__trampoline, whose CFI ends the walk.
 */

#include "../asm.h"             /* ELF and Mach-O spellings of symbols */

#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define COIO_BTI_C bti c
#define COIO_NOTE_BTI 1
#else
#define COIO_BTI_C
#define COIO_NOTE_BTI 0
#endif

/* Sign / authenticate the resume address in x30 with sp as the modifier, as
   hint-space instructions (no-ops without FEAT_PAuth): paciasp = hint #25,
   autiasp = hint #29, pacibsp = hint #27, autibsp = hint #31. */
#if defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 2)
#define COIO_PAC_SIGN hint #27
#define COIO_PAC_AUTH hint #31
#define COIO_PAC_CFI .cfi_negate_ra_state
#define COIO_NOTE_PAC 2
#elif defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 1)
#define COIO_PAC_SIGN hint #25
#define COIO_PAC_AUTH hint #29
#define COIO_PAC_CFI .cfi_negate_ra_state
#define COIO_NOTE_PAC 2
#else
#define COIO_PAC_SIGN
#define COIO_PAC_AUTH
#define COIO_PAC_CFI
#define COIO_NOTE_PAC 0
#endif

#if defined(__ELF__)
        .section .note.GNU-stack,"",%progbits   /* the stack is not executable */
#endif

#if defined(__ELF__) && (COIO_NOTE_BTI | COIO_NOTE_PAC)
/* ELF note NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_AARCH64_FEATURE_1_AND =
   BTI (1) and/or PAC (2). The linker ANDs these bits over all objects, so a
   binary is marked only if every object, this one included, says so. */
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .word   4                       /* name size: "GNU\0" */
        .word   16                      /* descriptor size */
        .word   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .word   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .word   4                       /* property data size */
        .word   COIO_NOTE_BTI | COIO_NOTE_PAC   /* FEATURE_1_BTI, _PAC */
        .word   0                       /* pad to 8 bytes */
        .popsection
#endif

        .text

/* void *coio__switch(void **save_sp, void *load_sp, void *arg)
   x0 = save_sp, x1 = load_sp, x2 = arg; returns arg in x0. */
        COIO_GLOBAL(coio__switch)
        COIO_HIDDEN(coio__switch)
        COIO_TYPE_FUNC(coio__switch)
        .p2align 4
COIO_SYM(coio__switch):
        .cfi_startproc
        COIO_BTI_C
        COIO_PAC_SIGN                   /* pac-ret: sign x30 with our sp */
        COIO_PAC_CFI
        sub     sp, sp, #176
        .cfi_def_cfa_offset 176
        stp     x19, x20, [sp, #0x10]   /* x19-x28: callee-saved */
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        stp     x21, x22, [sp, #0x20]   /* callee-saved */
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        stp     x23, x24, [sp, #0x30]   /* callee-saved */
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        stp     x25, x26, [sp, #0x40]   /* callee-saved */
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        stp     x27, x28, [sp, #0x50]   /* callee-saved */
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        stp     x29, x30, [sp, #0x60]   /* x29: callee-saved frame pointer;
                                           x30: our return address */
        .cfi_offset x29, -80
        .cfi_offset x30, -72
        stp     d8, d9, [sp, #0x70]     /* d8-d15: low halves of v8-v15 are
                                           callee-saved */
        .cfi_offset d8, -64
        .cfi_offset d9, -56
        stp     d10, d11, [sp, #0x80]   /* callee-saved */
        .cfi_offset d10, -48
        .cfi_offset d11, -40
        stp     d12, d13, [sp, #0x90]   /* callee-saved */
        .cfi_offset d12, -32
        .cfi_offset d13, -24
        stp     d14, d15, [sp, #0xa0]   /* callee-saved */
        .cfi_offset d14, -16
        .cfi_offset d15, -8
        mrs     x9, fpcr                /* FPCR is per context (see above); */
        str     x9, [sp, #0x00]         /* x9 and x10 are caller-saved */

        mov     x10, sp
        str     x10, [x0]               /* *save_sp = our frame */
        mov     sp, x1                  /* switch stacks */

        /* Write FPCR only when the other side's differs from ours: writing
           it can stall the pipeline on some cores, and the two almost never
           differ. FPCR holds control bits only (the sticky flags live in
           FPSR), so the whole word is compared. */
        ldr     x10, [sp, #0x00]
        cmp     x9, x10
        b.ne    COIO_LOCAL(load_fpcr)
COIO_LOCAL(restore):
        .cfi_remember_state
        ldp     d14, d15, [sp, #0xa0]
        .cfi_restore d14
        .cfi_restore d15
        ldp     d12, d13, [sp, #0x90]
        .cfi_restore d12
        .cfi_restore d13
        ldp     d10, d11, [sp, #0x80]
        .cfi_restore d10
        .cfi_restore d11
        ldp     d8, d9, [sp, #0x70]
        .cfi_restore d8
        .cfi_restore d9
        ldp     x29, x30, [sp, #0x60]
        .cfi_restore x29
        .cfi_restore x30
        ldp     x27, x28, [sp, #0x50]
        .cfi_restore x27
        .cfi_restore x28
        ldp     x25, x26, [sp, #0x40]
        .cfi_restore x25
        .cfi_restore x26
        ldp     x23, x24, [sp, #0x30]
        .cfi_restore x23
        .cfi_restore x24
        ldp     x21, x22, [sp, #0x20]
        .cfi_restore x21
        .cfi_restore x22
        ldp     x19, x20, [sp, #0x10]
        .cfi_restore x19
        .cfi_restore x20
        add     sp, sp, #176
        .cfi_def_cfa_offset 0
        mov     x0, x2                  /* deliver arg as the return value */
        COIO_PAC_AUTH                   /* pac-ret: with the sp it was signed
                                           with; a forged x30 faults at ret */
        COIO_PAC_CFI
        ret                             /* to the other side's resume address */
        .cfi_restore_state
COIO_LOCAL(load_fpcr):
        msr     fpcr, x10
        b       COIO_LOCAL(restore)
        .cfi_endproc
        COIO_SIZE(coio__switch)

/* First code on a fresh stack. Entered by the ret above with sp % 16 == 0,
   x0 = arg, x19 = entry, x29 = 0.

   A fresh frame's resume address is coio__trampoline itself, and unwinders
   look a return address up at address - 1 (inside the call it follows). The
   nop before the symbol puts that address inside this function's CFI, which
   says the return address is undefined, so a backtrace taken in coio__switch
   just after it loaded a fresh frame ends here cleanly too. */
        .p2align 4
        .cfi_startproc
        .cfi_undefined x30              /* outermost frame: unwinders stop here */
COIO_SYM(coio__fresh_frame):            /* local: names this byte in backtraces */
        COIO_TYPE_FUNC(coio__fresh_frame)
        nop                             /* covers resume address - 1 (above) */
        COIO_SIZE(coio__fresh_frame)
        COIO_GLOBAL(coio__trampoline)
        COIO_HIDDEN(coio__trampoline)
        COIO_TYPE_FUNC(coio__trampoline)
COIO_SYM(coio__trampoline):
        COIO_BTI_C                      /* reached by ret, which BTI does not
                                           check; kept for uniformity */
        mov     x29, #0                 /* and frame-pointer walks stop here */
        blr     x19                     /* entry(arg), arg already in x0;
                                           never returns */
        bl      COIO_LIBC(abort)        /* entry returned: a bug, fail loudly */
        brk     #0x3e8
        .cfi_endproc
        COIO_SIZE(coio__trampoline)

/* The unwind probe (src/dump.c): a backtrace of a suspended task. The dump
   builds a frame below the task's saved stack pointer with
   coio__arch_probe_frame (x19 = fn, x20 = the task's saved frame, resume
   address = coio__probe_entry) and switches to it; fn(arg) then calls the
   unwinder, which walks from fn into this stub and, by the CFI below, out of
   it into the suspended context exactly as if it were stopped in
   coio__switch: CFA = saved frame + 176, each callee-saved register and the
   resume address (x30) in its slot of the frame table above. fn switches
   back and never returns here. */
        .p2align 4
        COIO_GLOBAL(coio__probe_entry)
        COIO_HIDDEN(coio__probe_entry)
        COIO_TYPE_FUNC(coio__probe_entry)
COIO_SYM(coio__probe_entry):
        .cfi_startproc
        .cfi_def_cfa x20, 176
        .cfi_offset x19, -160
        .cfi_offset x20, -152
        .cfi_offset x21, -144
        .cfi_offset x22, -136
        .cfi_offset x23, -128
        .cfi_offset x24, -120
        .cfi_offset x25, -112
        .cfi_offset x26, -104
        .cfi_offset x27, -96
        .cfi_offset x28, -88
        .cfi_offset x29, -80
        .cfi_offset x30, -72
        .cfi_offset d8, -64
        .cfi_offset d9, -56
        .cfi_offset d10, -48
        .cfi_offset d11, -40
        .cfi_offset d12, -32
        .cfi_offset d13, -24
        .cfi_offset d14, -16
        .cfi_offset d15, -8
        COIO_BTI_C
        blr     x19                     /* fn(arg), arg already in x0 */
        brk     #0x3e9                  /* fn never returns */
        .cfi_endproc
        COIO_GLOBAL(coio__probe_end)
        COIO_HIDDEN(coio__probe_end)
COIO_SYM(coio__probe_end):
        COIO_SIZE(coio__probe_entry)
