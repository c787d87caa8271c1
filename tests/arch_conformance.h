/* tests/arch_conformance.h — the port conformance tests, written once for two
 * harnesses: tests/check_arch.c (libcheck, suite "arch") and
 * tests/conformance_main.c (a plain main for a new port, before libcheck is
 * cross-built). The includer defines CONF_CHECK(cond, fmt, ...). PORTING.md
 * says what each test proves.
 *
 * The raw tests drive the contract of arch/arch.h directly — coio__switch,
 * coio__trampoline, coio__arch_init_frame — on stacks from coio__stack_get.
 * Those symbols are hidden, which only keeps them out of libcoio.so's dynamic
 * symbol table: a program linking libcoio.a resolves them like any other. */
#ifndef COIO_ARCH_CONFORMANCE_H
#define COIO_ARCH_CONFORMANCE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "coio_int.h"

#include <fenv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CONF_HAVE_VALGRIND_H 1
#endif
#endif

static inline int conf_on_valgrind(void)
{
#ifdef CONF_HAVE_VALGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    return 0;
#endif
}

#ifdef COIO_ASAN
#include <sanitizer/common_interface_defs.h>
#define CONF_STACK_SCALE 4 /* instrumented frames are several times larger (as task.c) */
#else
#define CONF_STACK_SCALE 1
#endif

/* ======================================================================== */
/* Per-CPU probes. Each port adds a block here:                             */
/*   the registers the probe loads (the ABI's callee-saved list, sp and the */
/*   return address excepted), in one of two forms:                         */
/*     CONF_REGS           initializer of struct conf_reg entries: name,    */
/*                         kind (CONF_K_INT, CONF_K_FP, CONF_K_VEC), byte   */
/*                         offset in the probe buffers, size in bytes (4,   */
/*                         8 or 16) and a mask of the bits that must        */
/*                         survive (0: all; e.g. the CR fields of POWER),   */
/*                         with CONF_KINDS the kinds it uses; or            */
/*     CONF_NINT, CONF_NFP integer and FP registers of 8 bytes each, at     */
/*                         offsets 0, 8, 16, ... in that order, and         */
/*                         CONF_REG_NAMES their names                       */
/*   CONF_ENTRY_SP_BIAS    (sp + bias) % COIO_STACK_ALIGN == 0 at a         */
/*                         function's first instruction                     */
/*   conf_probe_switch     loads the registers from in[], calls             */
/*                         coio__switch directly, stores them to out[]      */
/*                         (buffers of CONF_PROBE_BYTES, 16-byte aligned)   */
/*   conf_sp_here          returns sp at its own first instruction          */
/*   conf_entry_stub       an entry for coio__arch_init_frame: records sp   */
/*                         at its first instruction in conf_entry_sp and    */
/*                         tail-calls conf_entry_c                          */
/*   conf_fpctl_get/_set   the per-context FP control state (rounding       */
/*                         mode); variant 0 is the ABI's initial state,     */
/*                         1-3 are distinct others; CONF_VARIANT_UP/_DOWN   */
/*                         name the ones rounding 1/3 up and down           */
/* ======================================================================== */

#define CONF_PROBE_BYTES 640

#define CONF_K_INT 1 /* integer registers (and partial ones such as CR fields) */
#define CONF_K_FP 2  /* scalar FP registers */
#define CONF_K_VEC 4 /* vector registers */

struct conf_reg {
    const char *name;
    int kind;
    unsigned off, size; /* in the probe buffers */
    uint64_t mask;      /* bits compared, for size <= 8; 0: all */
};

void *conf_probe_switch(void **save_sp, void *load_sp, void *arg, const void *in, void *out);
uintptr_t conf_sp_here(void);
void conf_entry_stub(void *arg);
/* Called only from the top-level asm of conf_entry_stub: "used" keeps LTO from
   dropping it (the asm's reference is invisible to the compiler). */
__attribute__((used)) void conf_entry_c(void *arg);
uintptr_t conf_entry_sp;

#if defined(__x86_64__)

#define CONF_NINT 6
#define CONF_NFP 0
#define CONF_REG_NAMES "rbx", "rbp", "r12", "r13", "r14", "r15"
#define CONF_ENTRY_SP_BIAS 8 /* the call pushed the return address */

/* in = rcx, out = r8. Seven pushes after the return address leave rsp % 16
   == 0 for the call, as the ABI requires. */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, @function\n"
        "    .p2align 4\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    pushq %rbp\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset rbp, 0\n"
        "    pushq %rbx\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset rbx, 0\n"
        "    pushq %r12\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset r12, 0\n"
        "    pushq %r13\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset r13, 0\n"
        "    pushq %r14\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset r14, 0\n"
        "    pushq %r15\n    .cfi_adjust_cfa_offset 8\n    .cfi_rel_offset r15, 0\n"
        "    pushq %r8\n     .cfi_adjust_cfa_offset 8\n"
        "    movq  0(%rcx), %rbx\n"
        "    movq  8(%rcx), %rbp\n"
        "    movq 16(%rcx), %r12\n"
        "    movq 24(%rcx), %r13\n"
        "    movq 32(%rcx), %r14\n"
        "    movq 40(%rcx), %r15\n"
        "    call coio__switch\n"
        "    popq %r8\n      .cfi_adjust_cfa_offset -8\n"
        "    movq %rbx,  0(%r8)\n"
        "    movq %rbp,  8(%r8)\n"
        "    movq %r12, 16(%r8)\n"
        "    movq %r13, 24(%r8)\n"
        "    movq %r14, 32(%r8)\n"
        "    movq %r15, 40(%r8)\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, @function\n"
        "conf_sp_here:\n"
        "    movq %rsp, %rax\n"
        "    ret\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, @function\n"
        "conf_entry_stub:\n"
        "    movq %rsp, conf_entry_sp(%rip)\n"
        "    jmp  conf_entry_c\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

#elif defined(__aarch64__)

#define CONF_NINT 11
#define CONF_NFP 8
#define CONF_REG_NAMES "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", \
                       "x29", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"
#define CONF_ENTRY_SP_BIAS 0 /* sp % 16 == 0 at all times */

/* The entry stub is reached by the trampoline's blr: under BTI it needs a
   landing pad (bti c, spelt as its hint number). */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define CONF_A64_BTI_C "    hint #34\n"
#else
#define CONF_A64_BTI_C ""
#endif

/* in = x3, out = x4 (kept at [sp, #160] across the call). */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, %function\n"
        "    .p2align 4\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    stp x29, x30, [sp, #-176]!\n"
        "    .cfi_def_cfa_offset 176\n"
        "    .cfi_offset x29, -176\n"
        "    .cfi_offset x30, -168\n"
        "    stp x19, x20, [sp, #16]\n"
        "    stp x21, x22, [sp, #32]\n"
        "    stp x23, x24, [sp, #48]\n"
        "    stp x25, x26, [sp, #64]\n"
        "    stp x27, x28, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x4, [sp, #160]\n"
        "    ldp x19, x20, [x3, #0]\n"
        "    ldp x21, x22, [x3, #16]\n"
        "    ldp x23, x24, [x3, #32]\n"
        "    ldp x25, x26, [x3, #48]\n"
        "    ldp x27, x28, [x3, #64]\n"
        "    ldr x29, [x3, #80]\n"
        "    ldp d8, d9, [x3, #88]\n"
        "    ldp d10, d11, [x3, #104]\n"
        "    ldp d12, d13, [x3, #120]\n"
        "    ldp d14, d15, [x3, #136]\n"
        "    bl coio__switch\n"
        "    ldr x4, [sp, #160]\n"
        "    stp x19, x20, [x4, #0]\n"
        "    stp x21, x22, [x4, #16]\n"
        "    stp x23, x24, [x4, #32]\n"
        "    stp x25, x26, [x4, #48]\n"
        "    stp x27, x28, [x4, #64]\n"
        "    str x29, [x4, #80]\n"
        "    stp d8, d9, [x4, #88]\n"
        "    stp d10, d11, [x4, #104]\n"
        "    stp d12, d13, [x4, #120]\n"
        "    stp d14, d15, [x4, #136]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    ldp x19, x20, [sp, #16]\n"
        "    ldp x21, x22, [sp, #32]\n"
        "    ldp x23, x24, [sp, #48]\n"
        "    ldp x25, x26, [sp, #64]\n"
        "    ldp x27, x28, [sp, #80]\n"
        "    ldp x29, x30, [sp], #176\n"
        "    ret\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, %function\n"
        "conf_sp_here:\n"
        "    mov x0, sp\n"
        "    ret\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, %function\n"
        "conf_entry_stub:\n"
        CONF_A64_BTI_C
        "    mov x9, sp\n"
        "    adrp x10, conf_entry_sp\n"
        "    str x9, [x10, #:lo12:conf_entry_sp]\n"
        "    b conf_entry_c\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

static uint64_t conf_fpctl_get(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static uint64_t conf_fpctl_value(int k) { return (uint64_t)k << 22; } /* FPCR.RMode */

static void conf_fpctl_set(int k)
{
    uint64_t v = conf_fpctl_value(k);
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}
#define CONF_VARIANT_UP 1   /* RMode 01: RP, toward +inf */
#define CONF_VARIANT_DOWN 2 /* RMode 10: RM, toward -inf */

#elif defined(__riscv) && __riscv_xlen == 64

#define CONF_NINT 12
#define CONF_NFP 12
#define CONF_REG_NAMES "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", \
                       "fs0", "fs1", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",   \
                       "fs10", "fs11"
#define CONF_ENTRY_SP_BIAS 0 /* sp % 16 == 0 at all times */

/* in = a3, out = a4 (kept at 200(sp) across the call); frame 208 bytes. */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, @function\n"
        "    .p2align 2\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    addi sp, sp, -208\n"
        "    .cfi_def_cfa_offset 208\n"
        "    sd ra, 0(sp)\n"
        "    .cfi_offset ra, -208\n"
        "    sd s0, 8(sp)\n    sd s1, 16(sp)\n   sd s2, 24(sp)\n   sd s3, 32(sp)\n"
        "    sd s4, 40(sp)\n   sd s5, 48(sp)\n   sd s6, 56(sp)\n   sd s7, 64(sp)\n"
        "    sd s8, 72(sp)\n   sd s9, 80(sp)\n   sd s10, 88(sp)\n  sd s11, 96(sp)\n"
        "    fsd fs0, 104(sp)\n fsd fs1, 112(sp)\n fsd fs2, 120(sp)\n fsd fs3, 128(sp)\n"
        "    fsd fs4, 136(sp)\n fsd fs5, 144(sp)\n fsd fs6, 152(sp)\n fsd fs7, 160(sp)\n"
        "    fsd fs8, 168(sp)\n fsd fs9, 176(sp)\n fsd fs10, 184(sp)\n fsd fs11, 192(sp)\n"
        "    sd a4, 200(sp)\n"
        "    ld s0, 0(a3)\n    ld s1, 8(a3)\n    ld s2, 16(a3)\n   ld s3, 24(a3)\n"
        "    ld s4, 32(a3)\n   ld s5, 40(a3)\n   ld s6, 48(a3)\n   ld s7, 56(a3)\n"
        "    ld s8, 64(a3)\n   ld s9, 72(a3)\n   ld s10, 80(a3)\n  ld s11, 88(a3)\n"
        "    fld fs0, 96(a3)\n  fld fs1, 104(a3)\n fld fs2, 112(a3)\n fld fs3, 120(a3)\n"
        "    fld fs4, 128(a3)\n fld fs5, 136(a3)\n fld fs6, 144(a3)\n fld fs7, 152(a3)\n"
        "    fld fs8, 160(a3)\n fld fs9, 168(a3)\n fld fs10, 176(a3)\n fld fs11, 184(a3)\n"
        "    call coio__switch\n"
        "    ld a4, 200(sp)\n"
        "    sd s0, 0(a4)\n    sd s1, 8(a4)\n    sd s2, 16(a4)\n   sd s3, 24(a4)\n"
        "    sd s4, 32(a4)\n   sd s5, 40(a4)\n   sd s6, 48(a4)\n   sd s7, 56(a4)\n"
        "    sd s8, 64(a4)\n   sd s9, 72(a4)\n   sd s10, 80(a4)\n  sd s11, 88(a4)\n"
        "    fsd fs0, 96(a4)\n  fsd fs1, 104(a4)\n fsd fs2, 112(a4)\n fsd fs3, 120(a4)\n"
        "    fsd fs4, 128(a4)\n fsd fs5, 136(a4)\n fsd fs6, 144(a4)\n fsd fs7, 152(a4)\n"
        "    fsd fs8, 160(a4)\n fsd fs9, 168(a4)\n fsd fs10, 176(a4)\n fsd fs11, 184(a4)\n"
        "    ld ra, 0(sp)\n"
        "    ld s0, 8(sp)\n    ld s1, 16(sp)\n   ld s2, 24(sp)\n   ld s3, 32(sp)\n"
        "    ld s4, 40(sp)\n   ld s5, 48(sp)\n   ld s6, 56(sp)\n   ld s7, 64(sp)\n"
        "    ld s8, 72(sp)\n   ld s9, 80(sp)\n   ld s10, 88(sp)\n  ld s11, 96(sp)\n"
        "    fld fs0, 104(sp)\n fld fs1, 112(sp)\n fld fs2, 120(sp)\n fld fs3, 128(sp)\n"
        "    fld fs4, 136(sp)\n fld fs5, 144(sp)\n fld fs6, 152(sp)\n fld fs7, 160(sp)\n"
        "    fld fs8, 168(sp)\n fld fs9, 176(sp)\n fld fs10, 184(sp)\n fld fs11, 192(sp)\n"
        "    addi sp, sp, 208\n"
        "    ret\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, @function\n"
        "conf_sp_here:\n"
        "    mv a0, sp\n"
        "    ret\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, @function\n"
        "conf_entry_stub:\n"
        "    lla t0, conf_entry_sp\n"
        "    sd sp, 0(t0)\n"
        "    tail conf_entry_c\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

static uint64_t conf_fpctl_get(void)
{
    uint64_t v;
    __asm__ volatile("frrm %0" : "=r"(v));
    return v;
}

static uint64_t conf_fpctl_value(int k)
{
    static const uint64_t frm[4] = {0 /* RNE */, 1 /* RTZ */, 2 /* RDN */, 3 /* RUP */};
    return frm[k];
}

static void conf_fpctl_set(int k)
{
    uint64_t v = conf_fpctl_value(k);
    __asm__ volatile("fsrm %0" : : "r"(v));
}
#define CONF_VARIANT_UP 3   /* RUP */
#define CONF_VARIANT_DOWN 2 /* RDN */

#elif defined(__i386__)

#define CONF_REGS {"ebx", CONF_K_INT, 0, 4, 0}, {"esi", CONF_K_INT, 4, 4, 0}, \
                  {"edi", CONF_K_INT, 8, 4, 0}, {"ebp", CONF_K_INT, 12, 4, 0}
#define CONF_KINDS CONF_K_INT
#define CONF_ENTRY_SP_BIAS 4 /* the call pushed the return address */

/* Arguments on the stack. Four pushes after the return address, then the
   three arguments of coio__switch: esp % 16 == 0 at the call. Position-
   independent (the PIE and the dynamic conformance run): conf_entry_sp is
   reached through the GOT pointer computed in place. */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, @function\n"
        "    .p2align 4\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    pushl %ebp\n    .cfi_adjust_cfa_offset 4\n    .cfi_rel_offset %ebp, 0\n"
        "    pushl %ebx\n    .cfi_adjust_cfa_offset 4\n    .cfi_rel_offset %ebx, 0\n"
        "    pushl %esi\n    .cfi_adjust_cfa_offset 4\n    .cfi_rel_offset %esi, 0\n"
        "    pushl %edi\n    .cfi_adjust_cfa_offset 4\n    .cfi_rel_offset %edi, 0\n"
        "    pushl 28(%esp)\n .cfi_adjust_cfa_offset 4\n" /* arg */
        "    pushl 28(%esp)\n .cfi_adjust_cfa_offset 4\n" /* load_sp */
        "    pushl 28(%esp)\n .cfi_adjust_cfa_offset 4\n" /* save_sp */
        "    movl 44(%esp), %eax\n"                       /* in */
        "    movl  0(%eax), %ebx\n"
        "    movl  4(%eax), %esi\n"
        "    movl  8(%eax), %edi\n"
        "    movl 12(%eax), %ebp\n"
        "    call coio__switch\n"
        "    addl $12, %esp\n .cfi_adjust_cfa_offset -12\n"
        "    movl 36(%esp), %ecx\n"                       /* out */
        "    movl %ebx,  0(%ecx)\n"
        "    movl %esi,  4(%ecx)\n"
        "    movl %edi,  8(%ecx)\n"
        "    movl %ebp, 12(%ecx)\n"
        "    popl %edi\n"
        "    popl %esi\n"
        "    popl %ebx\n"
        "    popl %ebp\n"
        "    ret\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, @function\n"
        "conf_sp_here:\n"
        "    movl %esp, %eax\n"
        "    ret\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, @function\n"
        "conf_entry_stub:\n"
        "    movl %esp, %edx\n"
        "    call 1f\n"
        "1:  popl %ecx\n"
        "    addl $_GLOBAL_OFFSET_TABLE_+(.-1b), %ecx\n"
        "    movl %edx, conf_entry_sp@GOTOFF(%ecx)\n"
        "    jmp  conf_entry_c\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)

/* r14-r31 at 0, f14-f31 at 144, v20-v31 at 288, CR at 480 (4 bytes; only
   the fields cr2-cr4 are nonvolatile). */
#define CONF_P64_R(n) {"r" #n, CONF_K_INT, (n - 14) * 8, 8, 0}
#define CONF_P64_F(n) {"f" #n, CONF_K_FP, 144 + (n - 14) * 8, 8, 0}
#define CONF_P64_V(n) {"v" #n, CONF_K_VEC, 288 + (n - 20) * 16, 16, 0}
#define CONF_REGS                                                                                  \
    CONF_P64_R(14), CONF_P64_R(15), CONF_P64_R(16), CONF_P64_R(17), CONF_P64_R(18),                \
        CONF_P64_R(19), CONF_P64_R(20), CONF_P64_R(21), CONF_P64_R(22), CONF_P64_R(23),            \
        CONF_P64_R(24), CONF_P64_R(25), CONF_P64_R(26), CONF_P64_R(27), CONF_P64_R(28),            \
        CONF_P64_R(29), CONF_P64_R(30), CONF_P64_R(31), CONF_P64_F(14), CONF_P64_F(15),            \
        CONF_P64_F(16), CONF_P64_F(17), CONF_P64_F(18), CONF_P64_F(19), CONF_P64_F(20),            \
        CONF_P64_F(21), CONF_P64_F(22), CONF_P64_F(23), CONF_P64_F(24), CONF_P64_F(25),            \
        CONF_P64_F(26), CONF_P64_F(27), CONF_P64_F(28), CONF_P64_F(29), CONF_P64_F(30),            \
        CONF_P64_F(31), CONF_P64_V(20), CONF_P64_V(21), CONF_P64_V(22), CONF_P64_V(23),            \
        CONF_P64_V(24), CONF_P64_V(25), CONF_P64_V(26), CONF_P64_V(27), CONF_P64_V(28),            \
        CONF_P64_V(29), CONF_P64_V(30), CONF_P64_V(31), {"cr2-cr4", CONF_K_INT, 480, 4, 0x00FFF000u}
#define CONF_KINDS (CONF_K_INT | CONF_K_FP | CONF_K_VEC)
#define CONF_ENTRY_SP_BIAS 0 /* r1 % 16 == 0 at all times */

/* in = r6, out = r7 (kept at 32(r1)). The probe's own frame (528 bytes):
   the ELFv2 header (back chain, CR, LR, TOC words), out, the caller's CR at
   40, r14-r31 at 48, f14-f31 at 192, v20-v31 at 336. conf_entry_stub has a
   global entry point that derives r2 from r12, like every C function
   called through a pointer. */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, @function\n"
        "    .p2align 4\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    mflr 0\n"
        "    std 0, 16(1)\n"
        "    .cfi_offset lr, 16\n"
        "    stdu 1, -528(1)\n"
        "    .cfi_def_cfa_offset 528\n"
        "    std 7, 32(1)\n"
        "    mfcr 0\n"
        "    std 0, 40(1)\n"
        "    std 14, 48(1)\n"
        "    std 15, 56(1)\n"
        "    std 16, 64(1)\n"
        "    std 17, 72(1)\n"
        "    std 18, 80(1)\n"
        "    std 19, 88(1)\n"
        "    std 20, 96(1)\n"
        "    std 21, 104(1)\n"
        "    std 22, 112(1)\n"
        "    std 23, 120(1)\n"
        "    std 24, 128(1)\n"
        "    std 25, 136(1)\n"
        "    std 26, 144(1)\n"
        "    std 27, 152(1)\n"
        "    std 28, 160(1)\n"
        "    std 29, 168(1)\n"
        "    std 30, 176(1)\n"
        "    std 31, 184(1)\n"
        "    stfd 14, 192(1)\n"
        "    stfd 15, 200(1)\n"
        "    stfd 16, 208(1)\n"
        "    stfd 17, 216(1)\n"
        "    stfd 18, 224(1)\n"
        "    stfd 19, 232(1)\n"
        "    stfd 20, 240(1)\n"
        "    stfd 21, 248(1)\n"
        "    stfd 22, 256(1)\n"
        "    stfd 23, 264(1)\n"
        "    stfd 24, 272(1)\n"
        "    stfd 25, 280(1)\n"
        "    stfd 26, 288(1)\n"
        "    stfd 27, 296(1)\n"
        "    stfd 28, 304(1)\n"
        "    stfd 29, 312(1)\n"
        "    stfd 30, 320(1)\n"
        "    stfd 31, 328(1)\n"
        "    addi 8, 1, 336\n"
        "    stvx 20, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 21, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 22, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 23, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 24, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 25, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 26, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 27, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 28, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 29, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 30, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 31, 0, 8\n    addi 8, 8, 16\n"
        "    lwz 0, 480(6)\n    mtcrf 0xff, 0\n"
        "    ld 14, 0(6)\n"
        "    ld 15, 8(6)\n"
        "    ld 16, 16(6)\n"
        "    ld 17, 24(6)\n"
        "    ld 18, 32(6)\n"
        "    ld 19, 40(6)\n"
        "    ld 20, 48(6)\n"
        "    ld 21, 56(6)\n"
        "    ld 22, 64(6)\n"
        "    ld 23, 72(6)\n"
        "    ld 24, 80(6)\n"
        "    ld 25, 88(6)\n"
        "    ld 26, 96(6)\n"
        "    ld 27, 104(6)\n"
        "    ld 28, 112(6)\n"
        "    ld 29, 120(6)\n"
        "    ld 30, 128(6)\n"
        "    ld 31, 136(6)\n"
        "    lfd 14, 144(6)\n"
        "    lfd 15, 152(6)\n"
        "    lfd 16, 160(6)\n"
        "    lfd 17, 168(6)\n"
        "    lfd 18, 176(6)\n"
        "    lfd 19, 184(6)\n"
        "    lfd 20, 192(6)\n"
        "    lfd 21, 200(6)\n"
        "    lfd 22, 208(6)\n"
        "    lfd 23, 216(6)\n"
        "    lfd 24, 224(6)\n"
        "    lfd 25, 232(6)\n"
        "    lfd 26, 240(6)\n"
        "    lfd 27, 248(6)\n"
        "    lfd 28, 256(6)\n"
        "    lfd 29, 264(6)\n"
        "    lfd 30, 272(6)\n"
        "    lfd 31, 280(6)\n"
        "    addi 8, 6, 288\n"
        "    lvx 20, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 21, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 22, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 23, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 24, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 25, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 26, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 27, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 28, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 29, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 30, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 31, 0, 8\n    addi 8, 8, 16\n"
        "    bl coio__switch\n    nop\n"
        "    ld 7, 32(1)\n    mfcr 0\n    stw 0, 480(7)\n"
        "    std 14, 0(7)\n"
        "    std 15, 8(7)\n"
        "    std 16, 16(7)\n"
        "    std 17, 24(7)\n"
        "    std 18, 32(7)\n"
        "    std 19, 40(7)\n"
        "    std 20, 48(7)\n"
        "    std 21, 56(7)\n"
        "    std 22, 64(7)\n"
        "    std 23, 72(7)\n"
        "    std 24, 80(7)\n"
        "    std 25, 88(7)\n"
        "    std 26, 96(7)\n"
        "    std 27, 104(7)\n"
        "    std 28, 112(7)\n"
        "    std 29, 120(7)\n"
        "    std 30, 128(7)\n"
        "    std 31, 136(7)\n"
        "    stfd 14, 144(7)\n"
        "    stfd 15, 152(7)\n"
        "    stfd 16, 160(7)\n"
        "    stfd 17, 168(7)\n"
        "    stfd 18, 176(7)\n"
        "    stfd 19, 184(7)\n"
        "    stfd 20, 192(7)\n"
        "    stfd 21, 200(7)\n"
        "    stfd 22, 208(7)\n"
        "    stfd 23, 216(7)\n"
        "    stfd 24, 224(7)\n"
        "    stfd 25, 232(7)\n"
        "    stfd 26, 240(7)\n"
        "    stfd 27, 248(7)\n"
        "    stfd 28, 256(7)\n"
        "    stfd 29, 264(7)\n"
        "    stfd 30, 272(7)\n"
        "    stfd 31, 280(7)\n"
        "    addi 8, 7, 288\n"
        "    stvx 20, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 21, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 22, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 23, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 24, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 25, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 26, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 27, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 28, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 29, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 30, 0, 8\n    addi 8, 8, 16\n"
        "    stvx 31, 0, 8\n    addi 8, 8, 16\n"
        "    ld 0, 40(1)\n    mtcrf 0x38, 0\n"
        "    ld 14, 48(1)\n"
        "    ld 15, 56(1)\n"
        "    ld 16, 64(1)\n"
        "    ld 17, 72(1)\n"
        "    ld 18, 80(1)\n"
        "    ld 19, 88(1)\n"
        "    ld 20, 96(1)\n"
        "    ld 21, 104(1)\n"
        "    ld 22, 112(1)\n"
        "    ld 23, 120(1)\n"
        "    ld 24, 128(1)\n"
        "    ld 25, 136(1)\n"
        "    ld 26, 144(1)\n"
        "    ld 27, 152(1)\n"
        "    ld 28, 160(1)\n"
        "    ld 29, 168(1)\n"
        "    ld 30, 176(1)\n"
        "    ld 31, 184(1)\n"
        "    lfd 14, 192(1)\n"
        "    lfd 15, 200(1)\n"
        "    lfd 16, 208(1)\n"
        "    lfd 17, 216(1)\n"
        "    lfd 18, 224(1)\n"
        "    lfd 19, 232(1)\n"
        "    lfd 20, 240(1)\n"
        "    lfd 21, 248(1)\n"
        "    lfd 22, 256(1)\n"
        "    lfd 23, 264(1)\n"
        "    lfd 24, 272(1)\n"
        "    lfd 25, 280(1)\n"
        "    lfd 26, 288(1)\n"
        "    lfd 27, 296(1)\n"
        "    lfd 28, 304(1)\n"
        "    lfd 29, 312(1)\n"
        "    lfd 30, 320(1)\n"
        "    lfd 31, 328(1)\n"
        "    addi 8, 1, 336\n"
        "    lvx 20, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 21, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 22, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 23, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 24, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 25, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 26, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 27, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 28, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 29, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 30, 0, 8\n    addi 8, 8, 16\n"
        "    lvx 31, 0, 8\n    addi 8, 8, 16\n"
        "    addi 1, 1, 528\n"
        "    ld 0, 16(1)\n"
        "    mtlr 0\n"
        "    blr\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, @function\n"
        "conf_sp_here:\n"
        "    mr 3, 1\n"
        "    blr\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, @function\n"
        "conf_entry_stub:\n"
        "0:  addis 2, 12, .TOC.-0b@ha\n"
        "    addi 2, 2, .TOC.-0b@l\n"
        "    .localentry conf_entry_stub, .-conf_entry_stub\n"
        "    addis 9, 2, conf_entry_sp@toc@ha\n"
        "    std 1, conf_entry_sp@toc@l(9)\n"
        "    b conf_entry_c\n"
        "    nop\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

/* FPSCR's control byte: RN (bits 62-63), NI, and the enables VE-XE. */
static uint64_t conf_fpctl_get(void)
{
    union {
        double d;
        uint64_t u;
    } v;
    __asm__ volatile("mffs %0" : "=d"(v.d));
    return v.u & 0xff;
}

static uint64_t conf_fpctl_value(int k) { return (uint64_t)k; } /* RN */

static void conf_fpctl_set(int k)
{
    union {
        double d;
        uint64_t u;
    } v = {.u = conf_fpctl_value(k)};
    __asm__ volatile("mtfsf 0x03, %0" : : "d"(v.d)); /* fields 6-7: enables 0, NI 0, RN k */
}
#define CONF_VARIANT_UP 2   /* RN 10: toward +inf */
#define CONF_VARIANT_DOWN 3 /* RN 11: toward -inf */

#elif defined(__arm__)

#define CONF_REGS                                                                                  \
    {"r4", CONF_K_INT, 0, 4, 0}, {"r5", CONF_K_INT, 4, 4, 0}, {"r6", CONF_K_INT, 8, 4, 0},         \
        {"r7", CONF_K_INT, 12, 4, 0}, {"r8", CONF_K_INT, 16, 4, 0}, {"r9", CONF_K_INT, 20, 4, 0},  \
        {"r10", CONF_K_INT, 24, 4, 0}, {"r11", CONF_K_INT, 28, 4, 0}, {"d8", CONF_K_FP, 32, 8, 0}, \
        {"d9", CONF_K_FP, 40, 8, 0}, {"d10", CONF_K_FP, 48, 8, 0}, {"d11", CONF_K_FP, 56, 8, 0},   \
        {"d12", CONF_K_FP, 64, 8, 0}, {"d13", CONF_K_FP, 72, 8, 0}, {"d14", CONF_K_FP, 80, 8, 0},  \
        {"d15", CONF_K_FP, 88, 8, 0}
#define CONF_KINDS (CONF_K_INT | CONF_K_FP)
#define CONF_ENTRY_SP_BIAS 0 /* AAPCS: sp % 8 == 0 at a call */

#if defined(__thumb__)
#define CONF_ARM_FUNC "    .thumb_func\n"
#define CONF_ARM_PC_OFF "4" /* pc reads as the instruction's address + 4 */
#else
#define CONF_ARM_FUNC ""
#define CONF_ARM_PC_OFF "8"
#endif

/* in = r3, out = the fifth argument, on the stack. 36 + 64 + 4 bytes pushed
   keep sp % 8 == 0 at the call; out is then at [sp, #104]. conf_entry_sp
   is reached pc-relatively (no text relocation in a PIE). Written in the
   unified syntax, for Thumb-2 (Debian's default) and ARM (-marm). */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, %function\n"
        "    .p2align 2\n"
        CONF_ARM_FUNC
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    push {r4-r11, lr}\n"
        "    .cfi_adjust_cfa_offset 36\n"
        "    .cfi_rel_offset lr, 32\n"
        "    vpush {d8-d15}\n"
        "    .cfi_adjust_cfa_offset 64\n"
        "    sub sp, sp, #4\n"
        "    .cfi_adjust_cfa_offset 4\n"
        "    ldm r3, {r4-r11}\n"
        "    add r3, r3, #32\n"
        "    vldm r3, {d8-d15}\n"
        "    bl coio__switch\n"
        "    ldr r3, [sp, #104]\n"
        "    stm r3, {r4-r11}\n"
        "    add r3, r3, #32\n"
        "    vstm r3, {d8-d15}\n"
        "    add sp, sp, #4\n"
        "    vpop {d8-d15}\n"
        "    pop {r4-r11, pc}\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, %function\n"
        CONF_ARM_FUNC
        "conf_sp_here:\n"
        "    mov r0, sp\n"
        "    bx lr\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, %function\n"
        "    .p2align 2\n"
        CONF_ARM_FUNC
        "conf_entry_stub:\n"
        "    mov r1, sp\n"
        "    ldr r2, 1f\n"
        "0:  add r2, r2, pc\n"
        "    str r1, [r2]\n"
        "    b conf_entry_c\n"
        "    .p2align 2\n"
        "1:  .word conf_entry_sp - (0b + " CONF_ARM_PC_OFF ")\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

#define CONF_ARM_FPSCR_CTRL 0x07F79F00u /* control bits; the rest is status */

static uint64_t conf_fpctl_get(void)
{
    uint32_t v;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(v));
    return v & CONF_ARM_FPSCR_CTRL;
}

static uint64_t conf_fpctl_value(int k) { return (uint64_t)k << 22; } /* RMode */

static void conf_fpctl_set(int k)
{
    uint32_t v;
    __asm__ volatile("vmrs %0, fpscr" : "=r"(v));
    v = (v & ~CONF_ARM_FPSCR_CTRL) | (uint32_t)conf_fpctl_value(k);
    __asm__ volatile("vmsr fpscr, %0" : : "r"(v));
}
#define CONF_VARIANT_UP 1   /* RMode 01: RP, toward +inf */
#define CONF_VARIANT_DOWN 2 /* RMode 10: RM, toward -inf */

#elif defined(__s390x__)

#define CONF_NINT 8
#define CONF_NFP 8
#define CONF_REG_NAMES "r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13", \
                       "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15"
#define CONF_ENTRY_SP_BIAS 0 /* r15 % 8 == 0 at all times */

/* in = r5, out = r6 (the fifth argument; kept at 224(r15)). The probe saves
   r6-r15 in its caller's save area, then allocates 160 bytes for its own
   callee, 64 for the caller's f8-f15 and 8 for out. */
__asm__(".pushsection .text\n"
        "    .globl  conf_probe_switch\n"
        "    .hidden conf_probe_switch\n"
        "    .type   conf_probe_switch, @function\n"
        "    .p2align 4\n"
        "conf_probe_switch:\n"
        "    .cfi_startproc\n"
        "    stmg %r6, %r15, 48(%r15)\n"
        "    .cfi_offset %r14, -48\n"
        "    .cfi_offset %r15, -40\n"
        "    aghi %r15, -232\n"
        "    .cfi_adjust_cfa_offset 232\n"
        "    std %f8, 160(%r15)\n  std %f9, 168(%r15)\n  std %f10, 176(%r15)\n"
        "    std %f11, 184(%r15)\n std %f12, 192(%r15)\n std %f13, 200(%r15)\n"
        "    std %f14, 208(%r15)\n std %f15, 216(%r15)\n"
        "    stg %r6, 224(%r15)\n"
        "    lmg %r6, %r13, 0(%r5)\n"
        "    ld %f8, 64(%r5)\n  ld %f9, 72(%r5)\n  ld %f10, 80(%r5)\n ld %f11, 88(%r5)\n"
        "    ld %f12, 96(%r5)\n ld %f13, 104(%r5)\n ld %f14, 112(%r5)\n ld %f15, 120(%r5)\n"
        "    brasl %r14, coio__switch\n"
        "    lg %r1, 224(%r15)\n"
        "    stmg %r6, %r13, 0(%r1)\n"
        "    std %f8, 64(%r1)\n  std %f9, 72(%r1)\n  std %f10, 80(%r1)\n std %f11, 88(%r1)\n"
        "    std %f12, 96(%r1)\n std %f13, 104(%r1)\n std %f14, 112(%r1)\n std %f15, 120(%r1)\n"
        "    ld %f8, 160(%r15)\n  ld %f9, 168(%r15)\n  ld %f10, 176(%r15)\n"
        "    ld %f11, 184(%r15)\n ld %f12, 192(%r15)\n ld %f13, 200(%r15)\n"
        "    ld %f14, 208(%r15)\n ld %f15, 216(%r15)\n"
        "    lmg %r6, %r15, 232+48(%r15)\n"
        "    br %r14\n"
        "    .cfi_endproc\n"
        "    .size conf_probe_switch, .-conf_probe_switch\n"
        "\n"
        "    .globl  conf_sp_here\n"
        "    .hidden conf_sp_here\n"
        "    .type   conf_sp_here, @function\n"
        "conf_sp_here:\n"
        "    lgr %r2, %r15\n"
        "    br %r14\n"
        "    .size conf_sp_here, .-conf_sp_here\n"
        "\n"
        "    .globl  conf_entry_stub\n"
        "    .hidden conf_entry_stub\n"
        "    .type   conf_entry_stub, @function\n"
        "conf_entry_stub:\n"
        "    larl %r1, conf_entry_sp\n"
        "    stg %r15, 0(%r1)\n"
        "    jg conf_entry_c\n"
        "    .size conf_entry_stub, .-conf_entry_stub\n"
        ".popsection\n");

#define CONF_S390_FPC_CTRL 0xFF000077u /* masks and rounding modes; the rest is status */

static uint64_t conf_fpctl_get(void)
{
    unsigned int v;
    __asm__ volatile("efpc %0" : "=d"(v));
    return v & CONF_S390_FPC_CTRL;
}

static uint64_t conf_fpctl_value(int k) { return (uint64_t)k; } /* BFP rounding mode */

static void conf_fpctl_set(int k)
{
    unsigned int v;
    __asm__ volatile("efpc %0" : "=d"(v));
    v = (v & ~CONF_S390_FPC_CTRL) | (unsigned int)conf_fpctl_value(k);
    __asm__ volatile("sfpc %0" : : "d"(v));
}
#define CONF_VARIANT_UP 2   /* 010: toward +inf */
#define CONF_VARIANT_DOWN 3 /* 011: toward -inf */

#else
#error "arch_conformance.h: add this CPU's probes (see PORTING.md)"
#endif

/* x86-64 and i386 share their FP control state: MXCSR and the x87 control word. */
#if defined(__x86_64__) || defined(__i386__)
static uint64_t conf_fpctl_get(void)
{
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (mxcsr & 0xffc0u) | (uint64_t)cw << 32; /* MXCSR bits 0-5 are status */
}

/* Variant k: rounding k in the unit that computes doubles (SSE on x86-64,
   the x87 on i386 unless built with -mfpmath=sse), (k + 1) % 4 in the other,
   so the two words are checked independently. Rounding only: valgrind
   models no other bits. */
static uint64_t conf_fpctl_value(int k)
{
    if (k == 0)
        return 0x1F80u | (uint64_t)0x037Fu << 32;
#if defined(__SSE2_MATH__)
    int sse = k, x87 = (k + 1) % 4;
#else
    int sse = (k + 1) % 4, x87 = k;
#endif
    return (0x1F80u | (uint32_t)sse << 13) | (uint64_t)(0x037Fu | (uint32_t)x87 << 10) << 32;
}

static void conf_fpctl_set(int k)
{
    uint64_t v = conf_fpctl_value(k);
    uint32_t mxcsr = (uint32_t)v;
    uint16_t cw = (uint16_t)(v >> 32);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}
#define CONF_VARIANT_UP 2   /* RC = 10: toward +inf */
#define CONF_VARIANT_DOWN 1 /* RC = 01: toward -inf */

#endif

#ifdef CONF_REGS
static const struct conf_reg conf_regs[] = {CONF_REGS};
#define CONF_NREGS ((int)(sizeof conf_regs / sizeof conf_regs[0]))
static struct conf_reg conf_reg_at(int i) { return conf_regs[i]; }
#else
/* The short form: CONF_NINT integer then CONF_NFP FP registers, 8 bytes each. */
#define CONF_KINDS (CONF_K_INT | (CONF_NFP > 0 ? CONF_K_FP : 0))
#define CONF_NREGS (CONF_NINT + CONF_NFP)
static const char *const conf_reg_names[] = {CONF_REG_NAMES};
_Static_assert(sizeof conf_reg_names / sizeof conf_reg_names[0] == CONF_NREGS, "CONF_REG_NAMES");
static struct conf_reg conf_reg_at(int i)
{
    struct conf_reg r = {conf_reg_names[i], i < CONF_NINT ? CONF_K_INT : CONF_K_FP, 8u * (unsigned)i,
                         8, 0};
    return r;
}
#endif

/* ======================================================================== */
/* Raw contexts: a saved sp and, except for the thread's own, a stack.      */
/* ======================================================================== */

typedef struct {
    void *sp;
    struct coio__stack st; /* st.map == NULL: the thread's own stack */
    void *fake;            /* AddressSanitizer's fake-stack slot */
} conf_ctx;

#ifdef COIO_ASAN
static void conf_bounds(const conf_ctx *c, const void **bottom, size_t *size)
{
    if (c->st.map) {
        size_t g = c->st.guarded ? coio__page_size() : 0;
        *bottom = (char *)c->st.map + g;
        *size = c->st.map_size - g;
        return;
    }
    pthread_attr_t a;
    void *addr = NULL;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &addr, &sz);
        pthread_attr_destroy(&a);
    }
    *bottom = addr;
    *size = sz;
}
#endif

/* AddressSanitizer must hear of every stack change (as loop.c does); these
   bracket a switch. Without ASan they compile to nothing. */
static inline void conf_pre(conf_ctx *from, conf_ctx *to, int dying)
{
#ifdef COIO_ASAN
    const void *b;
    size_t s;
    conf_bounds(to, &b, &s);
    __sanitizer_start_switch_fiber(dying ? NULL : &from->fake, b, s);
#else
    (void)from, (void)to, (void)dying;
#endif
}

static inline void conf_post(conf_ctx *self)
{
#ifdef COIO_ASAN
    __sanitizer_finish_switch_fiber(self->fake, NULL, NULL);
#else
    (void)self;
#endif
}

/* First statement of every entry function. */
static inline void conf_entered(void)
{
#ifdef COIO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

static void *conf_switch(conf_ctx *from, conf_ctx *to, void *arg)
{
    conf_pre(from, to, 0);
    void *r = coio__switch(&from->sp, to->sp, arg);
    conf_post(from);
    return r;
}

/* The last switch out of a context that is never resumed. */
static _Noreturn void conf_switch_final(conf_ctx *from, conf_ctx *to, void *arg)
{
    conf_pre(from, to, 1);
    coio__switch(&from->sp, to->sp, arg);
    abort(); /* resumed after all: the test is broken */
}

static void *conf_probe(conf_ctx *from, conf_ctx *to, void *arg, const void *in, void *out)
{
    conf_pre(from, to, 0);
    void *r = conf_probe_switch(&from->sp, to->sp, arg, in, out);
    conf_post(from);
    return r;
}

/* A context with a stack of size bytes (scaled under ASan) whose first frame
   is built top_off bytes below the end of the mapping. */
static void conf_ctx_new(conf_ctx *c, size_t size, size_t top_off, void (*entry)(void *))
{
    memset(c, 0, sizeof *c);
    int rc = coio__stack_get(NULL, size * CONF_STACK_SCALE, &c->st);
    CONF_CHECK(rc == 0, "coio__stack_get(%zu): %s", size, strerror(errno));
    c->sp = coio__arch_init_frame((char *)c->st.map + c->st.map_size - top_off, entry);
}

static void conf_ctx_free(conf_ctx *c)
{
    if (c->st.map)
        coio__stack_put(NULL, &c->st);
    memset(c, 0, sizeof *c);
}

static uintptr_t conf_stack_top(const conf_ctx *c)
{
    return (uintptr_t)c->st.map + c->st.map_size;
}

static conf_ctx conf_main, conf_co, conf_co2;

/* ======================================================================== */
/* Callee-saved registers survive a switch.                                 */
/* ======================================================================== */

static _Alignas(16) unsigned char conf_in_m1[CONF_PROBE_BYTES], conf_in_m2[CONF_PROBE_BYTES],
    conf_in_c[CONF_PROBE_BYTES];
static _Alignas(16) unsigned char conf_out_m1[CONF_PROBE_BYTES], conf_out_m2[CONF_PROBE_BYTES],
    conf_out_c[CONF_PROBE_BYTES];
static void *conf_probe_entry_arg, *conf_probe_resume_arg;

static void conf_fill(unsigned char *p, uint64_t side)
{
    for (int i = 0; i < CONF_PROBE_BYTES / 8; i++) {
        uint64_t v = (0x9E3779B97F4A7C15ull * (side * 128 + (uint64_t)i + 1)) | 1;
        memcpy(p + 8 * i, &v, 8);
    }
}

static void conf_probe_co(void *arg)
{
    conf_entered();
    conf_probe_entry_arg = arg;
    /* Load our own patterns into every callee-saved register and switch back:
       main's values survive only if the switch restored them. */
    conf_probe_resume_arg = conf_probe(&conf_co, &conf_main, (void *)0xB1, conf_in_c, conf_out_c);
    conf_switch_final(&conf_co, &conf_main, (void *)0xB2);
}

/* A register's value as read from a probe buffer: its own width, native
   byte order, masked. */
static uint64_t conf_reg_value(const struct conf_reg *r, const unsigned char *p)
{
    uint64_t v;
    if (r->size == 4) {
        uint32_t w;
        memcpy(&w, p + r->off, 4);
        v = w;
    } else {
        memcpy(&v, p + r->off, 8);
    }
    return r->mask ? v & r->mask : v;
}

static void conf_hex(char *buf, const unsigned char *p, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sprintf(buf + 2 * i, "%02x", p[i]);
}

static void conf_compare(const unsigned char *want, const unsigned char *got, int kinds,
                         const char *who)
{
    for (int i = 0; i < CONF_NREGS; i++) {
        struct conf_reg r = conf_reg_at(i);
        if (!(r.kind & kinds))
            continue;
        CONF_CHECK(r.off + r.size <= CONF_PROBE_BYTES && (r.size == 4 || r.size == 8 || r.size == 16),
                   "probe table: %s at %u, %u bytes", r.name, r.off, r.size);
        if (r.size <= 8) {
            uint64_t w = conf_reg_value(&r, want), g = conf_reg_value(&r, got);
            CONF_CHECK(w == g, "%s: %s was %#llx before the switch, %#llx after%s", who, r.name,
                       (unsigned long long)w, (unsigned long long)g, r.mask ? " (masked)" : "");
        } else {
            char wb[2 * 16 + 1], gb[2 * 16 + 1];
            conf_hex(wb, want + r.off, r.size);
            conf_hex(gb, got + r.off, r.size);
            CONF_CHECK(memcmp(want + r.off, got + r.off, r.size) == 0,
                       "%s: %s was %s before the switch, %s after (bytes in memory order)", who,
                       r.name, wb, gb);
        }
    }
}

/* Runs the register round trip and compares the registers of the kinds given. */
static void conf_callee_saved(int kinds)
{
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_probe_co);
    conf_fill(conf_in_m1, 1);
    conf_fill(conf_in_m2, 2);
    conf_fill(conf_in_c, 3);
    /* main (patterns m1) -> fresh coroutine (patterns c) -> main */
    void *r = conf_probe(&conf_main, &conf_co, (void *)0xA1, conf_in_m1, conf_out_m1);
    CONF_CHECK(conf_probe_entry_arg == (void *)0xA1, "entry got %p", conf_probe_entry_arg);
    CONF_CHECK(r == (void *)0xB1, "switch returned %p", r);
    conf_compare(conf_in_m1, conf_out_m1, kinds, "main");
    /* main (patterns m2) -> suspended coroutine -> main */
    r = conf_probe(&conf_main, &conf_co, (void *)0xA2, conf_in_m2, conf_out_m2);
    CONF_CHECK(conf_probe_resume_arg == (void *)0xA2, "resume got %p", conf_probe_resume_arg);
    CONF_CHECK(r == (void *)0xB2, "switch returned %p", r);
    conf_compare(conf_in_m2, conf_out_m2, kinds, "main");
    conf_compare(conf_in_c, conf_out_c, kinds, "coroutine");
    conf_ctx_free(&conf_co);
}

static void conf_callee_saved_int(void) { conf_callee_saved(CONF_K_INT); }
#if CONF_KINDS & CONF_K_FP
static void conf_callee_saved_fp(void) { conf_callee_saved(CONF_K_FP); }
#endif
#if CONF_KINDS & CONF_K_VEC
static void conf_callee_saved_vec(void) { conf_callee_saved(CONF_K_VEC); }
#endif

/* ======================================================================== */
/* FP control state (rounding mode) is per context; a fresh context starts  */
/* with the ABI's initial state.                                            */
/* ======================================================================== */

static double conf_third(void)
{
    volatile double one = 1.0, three = 3.0;
    return one / three;
}

static double conf_q[4];
static int conf_fp_rounds;

/* Ring main (variant DOWN) -> co (UP) -> co2 (the third) -> main. */
static void conf_fpctl_co(void *arg)
{
    conf_entered();
    int k = (int)(intptr_t)arg;
    conf_ctx *self = k == CONF_VARIANT_UP ? &conf_co : &conf_co2;
    conf_ctx *next = k == CONF_VARIANT_UP ? &conf_co2 : &conf_main;
    int next_k = 6 - CONF_VARIANT_UP - CONF_VARIANT_DOWN; /* the remaining one of 1..3 */
    CONF_CHECK(conf_fpctl_get() == conf_fpctl_value(0),
               "fresh context: FP control %#llx, want the ABI's initial %#llx",
               (unsigned long long)conf_fpctl_get(), (unsigned long long)conf_fpctl_value(0));
    conf_fpctl_set(k);
    conf_q[k] = conf_third();
    for (int r = 0; r < conf_fp_rounds; r++) {
        void *a = next == &conf_main ? NULL : (void *)(intptr_t)next_k;
        conf_switch(self, next, a);
        CONF_CHECK(conf_fpctl_get() == conf_fpctl_value(k), "context %d: FP control %#llx, want %#llx",
                   k, (unsigned long long)conf_fpctl_get(), (unsigned long long)conf_fpctl_value(k));
        CONF_CHECK(conf_third() == conf_q[k], "context %d: 1/3 rounds differently", k);
    }
    conf_switch_final(self, next, NULL);
}

static void conf_fp_control_per_context(void)
{
    conf_fp_rounds = 5;
    /* The contexts are made after main changed its mode: a port whose first
       frame captured the creator's control state would fail the fresh check. */
    conf_fpctl_set(CONF_VARIANT_DOWN);
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_fpctl_co);
    conf_ctx_new(&conf_co2, 64 * 1024, 0, conf_fpctl_co);
    conf_q[CONF_VARIANT_DOWN] = conf_third();
    for (int r = 0; r <= conf_fp_rounds; r++) {
        conf_switch(&conf_main, &conf_co, (void *)(intptr_t)CONF_VARIANT_UP);
        CONF_CHECK(conf_fpctl_get() == conf_fpctl_value(CONF_VARIANT_DOWN),
                   "main: FP control %#llx, want %#llx", (unsigned long long)conf_fpctl_get(),
                   (unsigned long long)conf_fpctl_value(CONF_VARIANT_DOWN));
        CONF_CHECK(conf_third() == conf_q[CONF_VARIANT_DOWN], "main: 1/3 rounds differently");
    }
    conf_fpctl_set(0);
    /* The modes were really in force: 1/3 rounded up exceeds 1/3 rounded down.
       Valgrind keeps the control words but computes SSE arithmetic to nearest
       whatever they say, so there only the words themselves are checked. */
    if (!conf_on_valgrind())
        CONF_CHECK(conf_q[CONF_VARIANT_UP] > conf_q[CONF_VARIANT_DOWN], "up %a, down %a",
                   conf_q[CONF_VARIANT_UP], conf_q[CONF_VARIANT_DOWN]);
    conf_ctx_free(&conf_co);
    conf_ctx_free(&conf_co2);
}

/* FP status (exception) flags belong to the thread, not to a context: the  */
/* ABIs make them caller-saved, so a switch neither restores the flags a    */
/* context had when it suspended nor clears the ones raised before it. Run  */
/* once with both contexts in the same rounding mode and once with          */
/* different ones (a port may reload the control state only on a            */
/* difference, and must keep the flags then too).                           */

static int conf_flags_seen, conf_flags_rounds;

static void conf_fpflags_co(void *arg)
{
    conf_entered();
    conf_fpctl_set((int)(intptr_t)arg);
    for (int r = 0; r <= conf_flags_rounds; r++) {
        /* main raised "inexact" just before switching here */
        conf_flags_seen = fetestexcept(FE_INEXACT) != 0;
        feclearexcept(FE_ALL_EXCEPT);
        conf_switch(&conf_co, &conf_main, NULL);
    }
    conf_switch_final(&conf_co, &conf_main, NULL);
}

static void conf_fp_status_flags_not_restored(void)
{
    /* valgrind does not model the exception flags: only the order of the
       switches is exercised there. */
    int flags_modelled = !conf_on_valgrind();
    int modes[2] = {0, CONF_VARIANT_UP};
    conf_flags_rounds = 3;
    for (int m = 0; m < 2; m++) {
        conf_fpctl_set(0);
        conf_ctx_new(&conf_co, 64 * 1024, 0, conf_fpflags_co);
        for (int r = 0; r <= conf_flags_rounds + 1; r++) {
            feclearexcept(FE_ALL_EXCEPT);
            volatile double q = conf_third(); /* inexact */
            (void)q;
            if (flags_modelled)
                CONF_CHECK(fetestexcept(FE_INEXACT), "1/3 did not raise inexact");
            conf_flags_seen = -1;
            conf_switch(&conf_main, &conf_co, (void *)(intptr_t)modes[m]);
            if (r == 0 || r == conf_flags_rounds + 1)
                continue; /* its first run set its mode only; its last ended it */
            if (flags_modelled) {
                CONF_CHECK(conf_flags_seen == 1,
                           "mode %d: the switch in cleared or replaced the thread's flags", m);
                CONF_CHECK(fetestexcept(FE_ALL_EXCEPT) == 0,
                           "mode %d: the switch back restored main's old flags (%#x)", m,
                           fetestexcept(FE_ALL_EXCEPT));
            }
            CONF_CHECK(conf_fpctl_get() == conf_fpctl_value(0),
                       "mode %d: main's FP control %#llx, want %#llx", m,
                       (unsigned long long)conf_fpctl_get(), (unsigned long long)conf_fpctl_value(0));
        }
        conf_ctx_free(&conf_co);
    }
    feclearexcept(FE_ALL_EXCEPT);
}

/* ======================================================================== */
/* Stack alignment at entry, the first frame, and the arg.                  */
/* ======================================================================== */

static uintptr_t conf_c_sp;
static void *conf_entry_arg;

__attribute__((used)) void conf_entry_c(void *arg)
{
    conf_entered();
    conf_entry_arg = arg;
    conf_c_sp = conf_sp_here();
    conf_switch_final(&conf_co, &conf_main, arg);
}

static void conf_entry_alignment(void)
{
    static const size_t offs[] = {0, 1, 4, 7, 8, 9, 12, 15, 16, 100};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        conf_ctx_new(&conf_co, 16 * 1024, offs[i], conf_entry_stub);
        uintptr_t top = conf_stack_top(&conf_co) - offs[i];
        uintptr_t sp = (uintptr_t)conf_co.sp;
        /* The first frame: aligned, below top, at most one alignment unit of
           padding above it. */
        CONF_CHECK(sp % COIO_STACK_ALIGN == 0, "init_frame sp %#lx", (unsigned long)sp);
        CONF_CHECK(sp + COIO_FRAME_BYTES <= top && top - sp < COIO_FRAME_BYTES + COIO_STACK_ALIGN,
                   "init_frame: top %#lx, sp %#lx", (unsigned long)top, (unsigned long)sp);
        conf_entry_sp = 0;
        void *arg = (void *)(uintptr_t)(0x1000 + i);
        void *r = conf_switch(&conf_main, &conf_co, arg);
        CONF_CHECK(r == arg && conf_entry_arg == arg, "arg %p: entry got %p, returned %p", arg,
                   conf_entry_arg, r);
        CONF_CHECK(conf_entry_sp != 0 && conf_entry_sp <= top && conf_entry_sp > top - 4096,
                   "entry sp %#lx not just below top %#lx", (unsigned long)conf_entry_sp,
                   (unsigned long)top);
        CONF_CHECK((conf_entry_sp + CONF_ENTRY_SP_BIAS) % COIO_STACK_ALIGN == 0,
                   "top offset %zu: sp at entry %#lx breaks the ABI's alignment", offs[i],
                   (unsigned long)conf_entry_sp);
        CONF_CHECK((conf_c_sp + CONF_ENTRY_SP_BIAS) % COIO_STACK_ALIGN == 0, "sp in a call from entry %#lx",
                   (unsigned long)conf_c_sp);
        conf_ctx_free(&conf_co);
    }
}

/* Any pointer value travels through the switch both ways. */
static void *conf_echo_seen[8];

static void conf_echo_co(void *arg)
{
    conf_entered();
    for (int i = 0;; i++) {
        conf_echo_seen[i & 7] = arg;
        /* Answer with the complement, so each direction is checked. */
        arg = conf_switch(&conf_co, &conf_main, (void *)~(uintptr_t)arg);
    }
}

static void conf_arg_passing(void)
{
    int local;
    void *vals[] = {NULL, (void *)1, (void *)UINTPTR_MAX, &local, (void *)conf_echo_co,
                    (void *)((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1)), /* the high bit */
                    (void *)(UINTPTR_MAX / 3)};                            /* 0x5555... */
    conf_ctx_new(&conf_co, 16 * 1024, 0, conf_echo_co);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        void *r = conf_switch(&conf_main, &conf_co, vals[i]);
        CONF_CHECK(conf_echo_seen[i & 7] == vals[i], "sent %p, coroutine got %p", vals[i],
                   conf_echo_seen[i & 7]);
        CONF_CHECK(r == (void *)~(uintptr_t)vals[i], "sent back %p, got %p",
                   (void *)~(uintptr_t)vals[i], r);
    }
    conf_ctx_free(&conf_co); /* abandoned mid-loop: never resumed */
}

/* Entry returned: the trampoline must abort (the harness expects SIGABRT). */
static void conf_returning_entry(void *arg)
{
    conf_entered();
    (void)arg;
}

static void conf_entry_return_aborts(void)
{
    conf_ctx_new(&conf_co, 16 * 1024, 0, conf_returning_entry);
    conf_switch(&conf_main, &conf_co, NULL);
    CONF_CHECK(0, "the trampoline returned to the switch after entry returned");
}

/* ======================================================================== */
/* Deep call chains.                                                        */
/* ======================================================================== */

#define CONF_FRAME 480
static uintptr_t conf_min_sp;

/* About CONF_FRAME + 32 bytes of stack per level; the bytes are summed on the
   way out, so a switch that corrupts a frame changes the result. */
__attribute__((noinline)) static uint64_t conf_deep(int n, uint64_t (*bottom)(void))
{
    volatile unsigned char buf[CONF_FRAME];
    for (int i = 0; i < CONF_FRAME; i++)
        buf[i] = (unsigned char)(n * 7 + i);
    uint64_t s;
    if (n == 0) {
        uintptr_t sp = conf_sp_here();
        if (!conf_min_sp || sp < conf_min_sp)
            conf_min_sp = sp;
        s = bottom ? bottom() : 1;
    } else {
        s = conf_deep(n - 1, bottom);
    }
    for (int i = 0; i < CONF_FRAME; i++)
        s += buf[i];
    return s;
}

static uint64_t conf_deep_expect(int n, uint64_t base)
{
    uint64_t s = base;
    for (int k = 0; k <= n; k++)
        for (int i = 0; i < CONF_FRAME; i++)
            s += (unsigned char)(k * 7 + i);
    return s;
}

static uint64_t conf_deep_result;

static void conf_deep_co(void *arg)
{
    conf_entered();
    conf_deep_result = conf_deep((int)(intptr_t)arg, NULL);
    conf_switch_final(&conf_co, &conf_main, NULL);
}

/* 40 KiB and more of frames on a 64 KiB stack. */
static void conf_deep_recursion(void)
{
    int depth = 84;
    conf_min_sp = 0;
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_deep_co);
    conf_switch(&conf_main, &conf_co, (void *)(intptr_t)depth);
    CONF_CHECK(conf_deep_result == conf_deep_expect(depth, 1), "checksum %llu, want %llu",
               (unsigned long long)conf_deep_result, (unsigned long long)conf_deep_expect(depth, 1));
    size_t used = conf_stack_top(&conf_co) - conf_min_sp;
    CONF_CHECK(used >= 40 * 1024 && used < conf_co.st.size, "used %zu bytes of the stack", used);
    conf_ctx_free(&conf_co);
}

/* Both sides descend 50 levels, then switch back and forth 100 times from
   the bottom of their chains, then unwind. */
#define CONF_PINGS 100
static uint64_t conf_chain_bad;

static uint64_t conf_co_bottom(void)
{
    uint64_t acc = 0;
    for (uint64_t k = 0; k < CONF_PINGS; k++) {
        uint64_t v = (uint64_t)(uintptr_t)conf_switch(&conf_co, &conf_main, (void *)(uintptr_t)(2 * k + 1));
        conf_chain_bad += v != 2 * k + 2;
        acc += v;
    }
    return acc;
}

static uint64_t conf_main_bottom(void)
{
    uint64_t acc = 0;
    uint64_t v = (uint64_t)(uintptr_t)conf_switch(&conf_main, &conf_co, NULL);
    for (uint64_t k = 0; k < CONF_PINGS; k++) {
        conf_chain_bad += v != 2 * k + 1;
        acc += v;
        v = (uint64_t)(uintptr_t)conf_switch(&conf_main, &conf_co, (void *)(uintptr_t)(2 * k + 2));
    }
    conf_chain_bad += v != 0xD0;
    return acc;
}

static void conf_chain_co(void *arg)
{
    conf_entered();
    (void)arg;
    conf_deep_result = conf_deep(50, conf_co_bottom);
    conf_switch_final(&conf_co, &conf_main, (void *)0xD0);
}

static void conf_switch_in_deep_chain(void)
{
    conf_chain_bad = 0;
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_chain_co);
    uint64_t m = conf_deep(50, conf_main_bottom);
    uint64_t odd = 0, even = 0;
    for (uint64_t k = 0; k < CONF_PINGS; k++)
        odd += 2 * k + 1, even += 2 * k + 2;
    CONF_CHECK(conf_chain_bad == 0, "%llu values arrived out of order",
               (unsigned long long)conf_chain_bad);
    CONF_CHECK(m == conf_deep_expect(50, odd), "main's chain checksum %llu, want %llu",
               (unsigned long long)m, (unsigned long long)conf_deep_expect(50, odd));
    CONF_CHECK(conf_deep_result == conf_deep_expect(50, even),
               "coroutine's chain checksum %llu, want %llu", (unsigned long long)conf_deep_result,
               (unsigned long long)conf_deep_expect(50, even));
    conf_ctx_free(&conf_co);
}

/* ======================================================================== */
/* Many live coroutines: a ring of 10,000 switching directly to each other. */
/* ======================================================================== */

#ifdef COIO_TSAN
/* ThreadSanitizer takes these raw switches (which it is not told of) for one
   thread's ever deeper calls: a smaller ring keeps the test in its time. */
#define CONF_RING 1000
#else
#define CONF_RING 10000
#endif
#define CONF_RING_ROUNDS 3
static conf_ctx *conf_ring;
static int *conf_ring_hits;
static long conf_ring_bad;

static void conf_ring_co(void *arg)
{
    conf_entered();
    long seq = (long)(intptr_t)arg;
    int me = (int)(seq % CONF_RING);
    for (int r = 0;; r++) {
        conf_ring_bad += seq != (long)r * CONF_RING + me;
        conf_ring_hits[me]++;
        conf_ctx *next = me + 1 < CONF_RING ? &conf_ring[me + 1] : &conf_ring[0];
        if (r == CONF_RING_ROUNDS - 1) {
            if (me + 1 == CONF_RING)
                next = &conf_main;
            conf_switch_final(&conf_ring[me], next, (void *)(intptr_t)(seq + 1));
        }
        seq = (long)(intptr_t)conf_switch(&conf_ring[me], next, (void *)(intptr_t)(seq + 1));
    }
}

static void conf_many_coroutines(void)
{
    conf_ring = calloc(CONF_RING, sizeof *conf_ring);
    conf_ring_hits = calloc(CONF_RING, sizeof *conf_ring_hits);
    CONF_CHECK(conf_ring && conf_ring_hits, "out of memory");
    conf_ring_bad = 0;
    for (int i = 0; i < CONF_RING; i++)
        conf_ctx_new(&conf_ring[i], 16 * 1024, 0, conf_ring_co);
    void *r = conf_switch(&conf_main, &conf_ring[0], (void *)0);
    CONF_CHECK(r == (void *)(intptr_t)((long)CONF_RING * CONF_RING_ROUNDS), "ring ended with %ld",
               (long)(intptr_t)r);
    CONF_CHECK(conf_ring_bad == 0, "%ld switches arrived out of order", conf_ring_bad);
    for (int i = 0; i < CONF_RING; i++)
        CONF_CHECK(conf_ring_hits[i] == CONF_RING_ROUNDS, "coroutine %d ran %d times", i,
                   conf_ring_hits[i]);
    for (int i = 0; i < CONF_RING; i++)
        conf_ctx_free(&conf_ring[i]);
    free(conf_ring);
    free(conf_ring_hits);
}

/* ======================================================================== */
/* Through the public API.                                                  */
/* ======================================================================== */

static int conf_no_yield(void) { return 0; }

/* Twenty doubles live across every yield: on AArch64 and RISC-V the compiler
   keeps some in the callee-saved FP registers, elsewhere it spills them. */
__attribute__((noinline)) static double conf_fp_work(double seed, int (*yield)(void))
{
#define CONF_D(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) \
    X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
#define CONF_DECL(i) double a##i = seed + i;
#define CONF_STEP(i) a##i = a##i * (1.0 + i * 1e-4) + a##i * 1e-3 + seed;
#define CONF_SUM(i) + a##i
    CONF_D(CONF_DECL)
    for (int it = 0; it < 40; it++) {
        CONF_D(CONF_STEP)
        if (yield() != 0)
            return -1.0;
    }
    return 0.0 CONF_D(CONF_SUM);
#undef CONF_D
#undef CONF_DECL
#undef CONF_STEP
#undef CONF_SUM
}

static double conf_fp_results[3];

static void *conf_fp_task(void *arg)
{
    int i = (int)(intptr_t)arg;
    conf_fp_results[i] = conf_fp_work(1.5 + i, coio_yield);
    return NULL;
}

static void *conf_fp_main(void *arg)
{
    (void)arg;
    coio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = coio_spawn(conf_fp_task, (void *)(intptr_t)i);
    for (int i = 0; i < 3; i++) {
        CONF_CHECK(t[i] && coio_await(t[i], NULL) == 0, "task %d failed", i);
        coio_task_release(t[i]);
    }
    return NULL;
}

static void conf_api_doubles_across_yield(void)
{
    CONF_CHECK(coio_run(conf_fp_main, NULL, NULL) == 0, "coio_run: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        double want = conf_fp_work(1.5 + i, conf_no_yield);
        CONF_CHECK(conf_fp_results[i] == want, "task %d: %a, want %a", i, conf_fp_results[i], want);
    }
}

static uint64_t conf_yield_bottom(void) { return coio_yield() == 0 ? 0 : 1000000; }

/* Tasks start aligned, keep their alignment across yields, and recurse 40 KiB
   deep on the default stack. */
static void *conf_deep_task(void *arg)
{
    uintptr_t sp = conf_sp_here();
    CONF_CHECK((sp + CONF_ENTRY_SP_BIAS) % COIO_STACK_ALIGN == 0, "task: sp %#lx misaligned", (unsigned long)sp);
    conf_min_sp = 0;
    uint64_t s = conf_deep((int)(intptr_t)arg, conf_yield_bottom);
    sp = conf_sp_here();
    CONF_CHECK((sp + CONF_ENTRY_SP_BIAS) % COIO_STACK_ALIGN == 0, "task after yield: sp %#lx", (unsigned long)sp);
    return (void *)(uintptr_t)s;
}

static void *conf_deep_main(void *arg)
{
    (void)arg;
    int depth = 84;
    coio_task *t = coio_spawn(conf_deep_task, (void *)(intptr_t)depth);
    CONF_CHECK(t != NULL, "spawn: %s", strerror(errno));
    void *r = NULL;
    CONF_CHECK(coio_await(t, &r) == 0, "await: %s", strerror(errno));
    /* coio_yield returned 0 at the bottom of the chain. */
    CONF_CHECK((uint64_t)(uintptr_t)r == conf_deep_expect(depth, 0), "checksum %llu, want %llu",
               (unsigned long long)(uintptr_t)r, (unsigned long long)conf_deep_expect(depth, 0));
    uintptr_t top = (uintptr_t)t; /* the control block sits at the stack's top */
    CONF_CHECK(top - conf_min_sp >= 40 * 1024, "used only %lu bytes",
               (unsigned long)(top - conf_min_sp));
    coio_task_release(t);
    return NULL;
}

static void conf_api_deep_recursion(void)
{
    CONF_CHECK(coio_run(conf_deep_main, NULL, NULL) == 0, "coio_run: %s", strerror(errno));
}

/* 10,000 tasks yielding round-robin: every task's r-th step comes after all
   tasks' (r-1)-th step. */
#define CONF_TASKS 10000
static long conf_step_seq, conf_step_bad;

static void *conf_rr_task(void *arg)
{
    (void)arg;
    for (long r = 0; r < CONF_RING_ROUNDS; r++) {
        long s = conf_step_seq++;
        conf_step_bad += s < r * CONF_TASKS || s >= (r + 1) * CONF_TASKS;
        if (coio_yield() != 0)
            conf_step_bad++;
    }
    return NULL;
}

static void *conf_rr_main(void *arg)
{
    (void)arg;
    coio_task **t = calloc(CONF_TASKS, sizeof *t);
    CONF_CHECK(t != NULL, "out of memory");
    for (int i = 0; i < CONF_TASKS; i++) {
        t[i] = coio_spawn(conf_rr_task, NULL);
        CONF_CHECK(t[i] != NULL, "spawn %d: %s", i, strerror(errno));
    }
    for (int i = 0; i < CONF_TASKS; i++) {
        CONF_CHECK(coio_await(t[i], NULL) == 0, "await %d: %s", i, strerror(errno));
        coio_task_release(t[i]);
    }
    free(t);
    return NULL;
}

static void conf_api_many_tasks(void)
{
    conf_step_seq = conf_step_bad = 0;
    CONF_CHECK(coio_run(conf_rr_main, NULL, NULL) == 0, "coio_run: %s", strerror(errno));
    CONF_CHECK(conf_step_seq == (long)CONF_TASKS * CONF_RING_ROUNDS, "%ld steps", conf_step_seq);
    CONF_CHECK(conf_step_bad == 0, "%ld steps out of round-robin order", conf_step_bad);
}

/* ======================================================================== */
/* aarch64 built with pac-ret: a forged resume address faults.              */
/* ======================================================================== */

#if defined(__aarch64__) && defined(__ARM_FEATURE_PAC_DEFAULT) && (__ARM_FEATURE_PAC_DEFAULT & 3)
#include <signal.h>
#include <sys/auxv.h>
#define CONF_PAC 1
#ifndef HWCAP_PACA
#define HWCAP_PACA (1UL << 30)
#endif

static void conf_pac_fault(int sig)
{
    (void)sig;
    abort(); /* the expected end: authentication poisoned the address */
}

static void conf_pac_landed(void)
{
    CONF_CHECK(0, "the switch jumped to a forged, unsigned resume address");
}

static void conf_pac_co(void *arg)
{
    conf_entered();
    (void)arg;
    for (;;)
        conf_switch(&conf_co, &conf_main, NULL);
}

/* The suspended frame's saved x30 (word 13) is signed; overwritten with a
   plain code address, the switch into that context must fault, not jump. A
   core without pointer authentication executes the signing instructions as
   no-ops: then the frame holds the plain address, which is checked instead,
   and the test ends as the fault would. */
static void conf_pac_forged_resume_faults(void)
{
    conf_ctx_new(&conf_co, 16 * 1024, 0, conf_pac_co);
    uint64_t fresh = ((uint64_t *)conf_co.sp)[13];
    int have_pac = (getauxval(AT_HWCAP) & HWCAP_PACA) != 0;
    if (!have_pac) {
        CONF_CHECK(fresh == (uint64_t)(uintptr_t)coio__trampoline, "unsigned frame %#llx",
                   (unsigned long long)fresh);
        abort();
    }
    CONF_CHECK(fresh != (uint64_t)(uintptr_t)coio__trampoline,
               "the fresh frame's resume address is not signed");
    conf_switch(&conf_main, &conf_co, NULL); /* now suspended in conf_switch */
    uint64_t *f = conf_co.sp;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = conf_pac_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    f[13] = (uint64_t)(uintptr_t)conf_pac_landed; /* the forgery */
    conf_switch(&conf_main, &conf_co, NULL);
    CONF_CHECK(0, "the forged context returned");
}
#endif

/* The list both harnesses run. expect_abort: the test passes by SIGABRT. */
struct conf_test {
    const char *name;
    void (*fn)(void);
    int expect_abort;
};

static const struct conf_test conf_tests[] = {
    {"callee_saved_int_regs_survive", conf_callee_saved_int, 0},
#if CONF_KINDS & CONF_K_FP
    {"callee_saved_fp_regs_survive", conf_callee_saved_fp, 0},
#endif
#if CONF_KINDS & CONF_K_VEC
    {"callee_saved_vector_regs_survive", conf_callee_saved_vec, 0},
#endif
    {"fp_control_per_context", conf_fp_control_per_context, 0},
    {"fp_status_flags_not_restored", conf_fp_status_flags_not_restored, 0},
    {"entry_alignment_and_first_frame", conf_entry_alignment, 0},
    {"arg_passes_through_switch", conf_arg_passing, 0},
    {"entry_return_aborts", conf_entry_return_aborts, 1},
    {"deep_recursion_40k_on_64k", conf_deep_recursion, 0},
    {"switch_inside_deep_call_chain", conf_switch_in_deep_chain, 0},
    {"ring_of_10000_coroutines", conf_many_coroutines, 0},
    {"api_doubles_live_across_yield", conf_api_doubles_across_yield, 0},
    {"api_deep_recursion_default_stack", conf_api_deep_recursion, 0},
    {"api_10000_tasks_round_robin", conf_api_many_tasks, 0},
#ifdef CONF_PAC
    {"pac_forged_resume_address_faults", conf_pac_forged_resume_faults, 1},
#endif
};

#endif
