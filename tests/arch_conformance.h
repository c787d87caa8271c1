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
/*   CONF_NINT, CONF_NFP   callee-saved integer / FP registers the probe    */
/*                         loads (the ABI's list, sp and the return         */
/*                         address excepted), CONF_REG_NAMES their names    */
/*   CONF_ENTRY_SP_BIAS    (sp + bias) % 16 == 0 at a function's first      */
/*                         instruction                                      */
/*   conf_probe_switch     loads in[] into those registers, calls           */
/*                         coio__switch directly, stores them to out[]      */
/*   conf_sp_here          returns sp at its own first instruction          */
/*   conf_entry_stub       an entry for coio__arch_init_frame: records sp   */
/*                         at its first instruction in conf_entry_sp and    */
/*                         tail-calls conf_entry_c                          */
/*   conf_fpctl_get/_set   the per-context FP control state (rounding       */
/*                         mode); variant 0 is the ABI's initial state,     */
/*                         1-3 are distinct others; CONF_VARIANT_UP/_DOWN   */
/*                         name the ones rounding 1/3 up and down           */
/* ======================================================================== */

#define CONF_MAXWORDS 32

void *conf_probe_switch(void **save_sp, void *load_sp, void *arg, const uint64_t *in,
                        uint64_t *out);
uintptr_t conf_sp_here(void);
void conf_entry_stub(void *arg);
void conf_entry_c(void *arg);
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

static uint64_t conf_fpctl_get(void)
{
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (mxcsr & 0xffc0u) | (uint64_t)cw << 32; /* MXCSR bits 0-5 are status */
}

/* Variant k: SSE rounding k, x87 rounding (k + 1) % 4, so the two words are
   checked independently. Rounding only: valgrind models no other bits. */
static uint64_t conf_fpctl_value(int k)
{
    if (k == 0)
        return 0x1F80u | (uint64_t)0x037Fu << 32;
    return (0x1F80u | (uint32_t)k << 13) | (uint64_t)(0x037Fu | (uint32_t)((k + 1) % 4) << 10) << 32;
}

static void conf_fpctl_set(int k)
{
    uint64_t v = conf_fpctl_value(k);
    uint32_t mxcsr = (uint32_t)v;
    uint16_t cw = (uint16_t)(v >> 32);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}
#define CONF_VARIANT_UP 2   /* MXCSR RC = 10: toward +inf */
#define CONF_VARIANT_DOWN 1 /* MXCSR RC = 01: toward -inf */

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

#else
#error "arch_conformance.h: add this CPU's probes (see PORTING.md)"
#endif

#define CONF_NWORDS (CONF_NINT + CONF_NFP)
_Static_assert(CONF_NWORDS <= CONF_MAXWORDS, "probe buffers");

static const char *const conf_reg_names[] = {CONF_REG_NAMES};

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

static void *conf_probe(conf_ctx *from, conf_ctx *to, void *arg, const uint64_t *in, uint64_t *out)
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

static uint64_t conf_in_m1[CONF_MAXWORDS], conf_in_m2[CONF_MAXWORDS], conf_in_c[CONF_MAXWORDS];
static uint64_t conf_out_m1[CONF_MAXWORDS], conf_out_m2[CONF_MAXWORDS], conf_out_c[CONF_MAXWORDS];
static void *conf_probe_entry_arg, *conf_probe_resume_arg;

static void conf_fill(uint64_t *p, uint64_t side)
{
    for (int i = 0; i < CONF_NWORDS; i++)
        p[i] = (0x9E3779B97F4A7C15ull * (side * 64 + (uint64_t)i + 1)) | 1;
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

static void conf_compare(const uint64_t *want, const uint64_t *got, int from, int to,
                         const char *who)
{
    for (int i = from; i < to; i++)
        CONF_CHECK(want[i] == got[i], "%s: %s was %#llx before the switch, %#llx after", who,
                   conf_reg_names[i], (unsigned long long)want[i], (unsigned long long)got[i]);
}

/* Runs the register round trip and compares registers [from, to). */
static void conf_callee_saved(int from, int to)
{
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_probe_co);
    conf_fill(conf_in_m1, 1);
    conf_fill(conf_in_m2, 2);
    conf_fill(conf_in_c, 3);
    /* main (patterns m1) -> fresh coroutine (patterns c) -> main */
    void *r = conf_probe(&conf_main, &conf_co, (void *)0xA1, conf_in_m1, conf_out_m1);
    CONF_CHECK(conf_probe_entry_arg == (void *)0xA1, "entry got %p", conf_probe_entry_arg);
    CONF_CHECK(r == (void *)0xB1, "switch returned %p", r);
    conf_compare(conf_in_m1, conf_out_m1, from, to, "main");
    /* main (patterns m2) -> suspended coroutine -> main */
    r = conf_probe(&conf_main, &conf_co, (void *)0xA2, conf_in_m2, conf_out_m2);
    CONF_CHECK(conf_probe_resume_arg == (void *)0xA2, "resume got %p", conf_probe_resume_arg);
    CONF_CHECK(r == (void *)0xB2, "switch returned %p", r);
    conf_compare(conf_in_m2, conf_out_m2, from, to, "main");
    conf_compare(conf_in_c, conf_out_c, from, to, "coroutine");
    conf_ctx_free(&conf_co);
}

static void conf_callee_saved_int(void) { conf_callee_saved(0, CONF_NINT); }
#if CONF_NFP > 0
static void conf_callee_saved_fp(void) { conf_callee_saved(CONF_NINT, CONF_NWORDS); }
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
    conf_ctx_new(&conf_co, 64 * 1024, 0, conf_fpctl_co);
    conf_ctx_new(&conf_co2, 64 * 1024, 0, conf_fpctl_co);
    conf_fpctl_set(CONF_VARIANT_DOWN);
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

/* ======================================================================== */
/* Stack alignment at entry, the first frame, and the arg.                  */
/* ======================================================================== */

static uintptr_t conf_c_sp;
static void *conf_entry_arg;

void conf_entry_c(void *arg)
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
        CONF_CHECK((conf_entry_sp + CONF_ENTRY_SP_BIAS) % 16 == 0,
                   "top offset %zu: sp at entry %#lx breaks the ABI's alignment", offs[i],
                   (unsigned long)conf_entry_sp);
        CONF_CHECK((conf_c_sp + CONF_ENTRY_SP_BIAS) % 16 == 0, "sp in a call from entry %#lx",
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
                    (void *)(uintptr_t)0x8000000000000000ull, (void *)0x5555aaaa5555aaaaull};
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
    CONF_CHECK((sp + CONF_ENTRY_SP_BIAS) % 16 == 0, "task: sp %#lx misaligned", (unsigned long)sp);
    conf_min_sp = 0;
    uint64_t s = conf_deep((int)(intptr_t)arg, conf_yield_bottom);
    sp = conf_sp_here();
    CONF_CHECK((sp + CONF_ENTRY_SP_BIAS) % 16 == 0, "task after yield: sp %#lx", (unsigned long)sp);
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

/* The list both harnesses run. expect_abort: the test passes by SIGABRT. */
struct conf_test {
    const char *name;
    void (*fn)(void);
    int expect_abort;
};

static const struct conf_test conf_tests[] = {
    {"callee_saved_int_regs_survive", conf_callee_saved_int, 0},
#if CONF_NFP > 0
    {"callee_saved_fp_regs_survive", conf_callee_saved_fp, 0},
#endif
    {"fp_control_per_context", conf_fp_control_per_context, 0},
    {"entry_alignment_and_first_frame", conf_entry_alignment, 0},
    {"arg_passes_through_switch", conf_arg_passing, 0},
    {"entry_return_aborts", conf_entry_return_aborts, 1},
    {"deep_recursion_40k_on_64k", conf_deep_recursion, 0},
    {"switch_inside_deep_call_chain", conf_switch_in_deep_chain, 0},
    {"ring_of_10000_coroutines", conf_many_coroutines, 0},
    {"api_doubles_live_across_yield", conf_api_doubles_across_yield, 0},
    {"api_deep_recursion_default_stack", conf_api_deep_recursion, 0},
    {"api_10000_tasks_round_robin", conf_api_many_tasks, 0},
};

#endif
