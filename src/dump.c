/* dump.c — observability: task dumps (what every task waits on, its age, the
 * backtrace of its suspended stack), coio_task_get_stack/print_stack, the
 * dump signal, fault reports for tasks, and the spawn sites of debug mode.
 *
 * Backtraces of suspended tasks. A suspended task's registers are in the
 * frame coio__switch saved (arch/<cpu>/switch.S). libgcc's unwinder only
 * walks the stack it runs on, so the dump runs it there: it builds a small
 * frame below the task's saved stack pointer (coio__arch_probe_frame) and
 * switches to it. That enters coio__probe_entry, whose CFI describes its
 * caller as the suspended context (CFA = the saved frame + its size, every
 * callee-saved register and the resume address in its slot), and which calls
 * probe_fn: _Unwind_Backtrace there walks probe_fn, the stub, and then the
 * task's own frames by their .eh_frame tables, as a debugger would, with or
 * without frame pointers. probe_fn switches back; the task's saved frame and
 * everything above it are never written. The probe's frames use the free
 * part of the task's stack (about 3 KiB); debug mode's high-water marks are
 * kept true by saving and restoring that part around the probe.
 *
 * Nothing here runs unless a dump, a stack or a fault report is asked for;
 * the hot paths carry no bookkeeping for it (what a task waits on is read
 * from the wait record it parked with, see dump.h) except one coarse clock
 * read per spawn, and in debug mode the spawn site.
 *
 * Everything that may run in a signal handler formats by hand (struct
 * coio__dbuf) and writes with write(2). The unwinder and the symbol lookup
 * (dl_iterate_phdr, open, mmap of the module files) are not async-signal-safe
 * in POSIX's sense; a dump made in a handler says so in its first line.
 */
#define _GNU_SOURCE
#include "dump.h"
#include "poller.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <unwind.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define COIO_VALGRIND 1
#endif
#endif

#define BT_MAX 64        /* frames per backtrace */
#define SPAWN_FRAMES 10  /* frames kept of a spawn site (debug mode) */
#define PROBE_GAP 256    /* bytes left below a suspended sp (x86-64's red zone is 128) */
#define PROBE_NEED 12288 /* free stack the probe wants below that */
#define PROBE_SAVE 16384 /* debug mode: bytes saved and restored around a probe */

volatile sig_atomic_t coio__fault_reported;

/* ---- output ---------------------------------------------------------------------- */

void coio__db_flush(struct coio__dbuf *b)
{
    if (!b->n)
        return;
    if (b->f) {
        fwrite(b->b, 1, b->n, b->f);
    } else {
        const char *p = b->b;
        size_t len = b->n;
        while (len > 0) {
            ssize_t w = write(b->fd, p, len);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            p += w;
            len -= (size_t)w;
        }
    }
    b->n = 0;
}

void coio__db_strn(struct coio__dbuf *b, const char *s, size_t max)
{
    for (; *s && max; s++, max--) {
        if (b->n == sizeof b->b)
            coio__db_flush(b);
        b->b[b->n++] = *s;
    }
}

void coio__db_str(struct coio__dbuf *b, const char *s) { coio__db_strn(b, s, SIZE_MAX); }

void coio__db_u64(struct coio__dbuf *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp - 1;
    tmp[n] = 0;
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    coio__db_str(b, tmp + n);
}

void coio__db_i64(struct coio__dbuf *b, int64_t v)
{
    if (v < 0) {
        coio__db_str(b, "-");
        coio__db_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        coio__db_u64(b, (uint64_t)v);
    }
}

void coio__db_hex(struct coio__dbuf *b, uintptr_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * sizeof v + 3];
    size_t n = sizeof tmp - 1;
    tmp[n] = 0;
    do {
        tmp[--n] = digits[v & 15];
        v >>= 4;
    } while (v);
    tmp[--n] = 'x';
    tmp[--n] = '0';
    coio__db_str(b, tmp + n);
}

void coio__db_secs(struct coio__dbuf *b, int64_t ns)
{
    if (ns < 0) {
        coio__db_str(b, "-");
        ns = ns == INT64_MIN ? INT64_MAX : -ns;
    }
    uint64_t ms = (uint64_t)ns / 1000000u;
    coio__db_u64(b, ms / 1000u);
    coio__db_str(b, ".");
    char frac[4] = {(char)('0' + ms / 100 % 10), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 0};
    coio__db_str(b, frac);
    coio__db_str(b, "s");
}

void coio__db_task(struct coio__dbuf *b, const coio_future *f)
{
    coio__db_str(b, f->kind == COIO__FUT_TASK ? "task '" : "future '");
    if (f->name[0]) {
        coio__db_strn(b, f->name, sizeof f->name);
    } else { /* the default name, made here without touching the future */
        coio__db_str(b, f->kind == COIO__FUT_TASK ? "Task-" : "Future-");
        coio__db_u64(b, f->id);
    }
    coio__db_str(b, "' (id ");
    coio__db_u64(b, f->id);
    coio__db_str(b, ")");
}

void coio__db_deadline(struct coio__dbuf *b, int64_t when, int64_t now)
{
    if (when == INT64_MAX) {
        coio__db_str(b, "never");
        return;
    }
    coio__db_str(b, when >= now ? "in " : "passed ");
    coio__db_secs(b, when >= now ? when - now : now - when);
    if (when < now)
        coio__db_str(b, " ago");
}

int64_t coio__coarse_now_ns(void)
{
    struct timespec ts;
#if defined(CLOCK_MONOTONIC_COARSE)
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- symbols ---------------------------------------------------------------------- */

/* A module (the program or a shared object) with its ELF symbol table mapped,
   when the file has one: names for static functions too, and for statically
   linked programs, where dladdr knows nothing. */
struct module {
    uintptr_t lo, hi;     /* its loaded segments' span */
    uintptr_t bias;       /* load bias: file address = address - bias */
    char path[256];
    void *map;            /* the whole file, or NULL */
    size_t map_size;
    const ElfW(Sym) *syms;
    size_t nsyms;
    const char *strs;
    size_t strs_size;
};

#define MAX_MODULES 8
struct symctx {
    struct module m[MAX_MODULES];
    int n;
};

struct find_arg {
    uintptr_t addr;
    struct module *out;
    int found;
};

static int find_module_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct find_arg *a = p;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < lo)
            lo = s;
        if (e > hi)
            hi = e;
    }
    if (a->addr < lo || a->addr >= hi)
        return 0;
    struct module *m = a->out;
    m->lo = lo;
    m->hi = hi;
    m->bias = info->dlpi_addr;
    const char *name = info->dlpi_name;
    if (!name || !*name) {
        ssize_t r = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
        m->path[r > 0 ? r : 0] = 0;
        if (r <= 0) {
            memcpy(m->path, "<program>", sizeof "<program>");
        }
    } else {
        size_t n = strnlen(name, sizeof m->path - 1);
        memcpy(m->path, name, n);
        m->path[n] = 0;
    }
    a->found = 1;
    return 1;
}

static void module_load_symtab(struct module *m)
{
    m->map = NULL;
    m->syms = NULL;
    m->nsyms = 0;
    if (m->path[0] != '/')
        return; /* the vdso and the like: no file */
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return;
    size_t size = (size_t)st.st_size;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
        eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff > size ||
        (size - eh->e_shoff) / sizeof(ElfW(Shdr)) < eh->e_shnum) {
        munmap(map, size);
        return;
    }
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)((const char *)map + eh->e_shoff);
    for (int pass = 0; pass < 2 && !m->syms; pass++) {
        unsigned want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        for (unsigned i = 0; i < eh->e_shnum; i++) {
            if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum)
                continue;
            const ElfW(Shdr) *str = &sh[sh[i].sh_link];
            if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
                str->sh_offset > size || str->sh_size > size - str->sh_offset)
                continue;
            m->syms = (const ElfW(Sym) *)((const char *)map + sh[i].sh_offset);
            m->nsyms = sh[i].sh_size / sizeof(ElfW(Sym));
            m->strs = (const char *)map + str->sh_offset;
            m->strs_size = str->sh_size;
            break;
        }
    }
    if (m->syms) {
        m->map = map;
        m->map_size = size;
    } else {
        munmap(map, size);
    }
}

static struct module *module_for(struct symctx *c, uintptr_t addr)
{
    for (int i = 0; i < c->n; i++)
        if (addr >= c->m[i].lo && addr < c->m[i].hi)
            return &c->m[i];
    struct module tmp;
    struct find_arg a = {addr, &tmp, 0};
    dl_iterate_phdr(find_module_cb, &a);
    if (!a.found)
        return NULL;
    if (c->n == MAX_MODULES) { /* evict the last */
        if (c->m[MAX_MODULES - 1].map)
            munmap(c->m[MAX_MODULES - 1].map, c->m[MAX_MODULES - 1].map_size);
        c->n--;
    }
    struct module *m = &c->m[c->n++];
    *m = tmp;
    module_load_symtab(m);
    return m;
}

static void symctx_free(struct symctx *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->m[i].map)
            munmap(c->m[i].map, c->m[i].map_size);
    c->n = 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* "name+0xoff (module)" when a symbol covers addr, else "module+0xoff" with the
   file address that `addr2line -e module` takes. */
static void put_symbol(struct coio__dbuf *b, struct symctx *c, uintptr_t addr)
{
    struct module *m = module_for(c, addr);
    if (!m) {
        coio__db_str(b, "??");
        return;
    }
    uintptr_t file_addr = addr - m->bias;
    const ElfW(Sym) *best = NULL;
    for (size_t i = 0; i < m->nsyms; i++) {
        const ElfW(Sym) *s = &m->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF ||
            s->st_name >= m->strs_size)
            continue;
        if (file_addr >= s->st_value && file_addr - s->st_value < (s->st_size ? s->st_size : 1)) {
            best = s;
            if (ELF64_ST_BIND(s->st_info) != STB_LOCAL)
                break; /* prefer a global alias */
        }
    }
    const char *name = NULL;
    uintptr_t off = 0;
    if (best) {
        name = m->strs + best->st_name;
        off = file_addr - best->st_value;
    } else {
        Dl_info info;
        if (dladdr((void *)addr, &info) && info.dli_sname && info.dli_saddr &&
            (uintptr_t)info.dli_saddr <= addr) {
            name = info.dli_sname;
            off = addr - (uintptr_t)info.dli_saddr;
        }
    }
    if (name) {
        coio__db_strn(b, name, 200);
        coio__db_str(b, "+");
        coio__db_hex(b, off);
        coio__db_str(b, " (");
        coio__db_str(b, base_name(m->path));
        coio__db_str(b, ")");
    } else {
        coio__db_str(b, m->path);
        coio__db_str(b, "+");
        coio__db_hex(b, file_addr);
    }
}

void coio__db_symbol(struct coio__dbuf *b, const void *addr)
{
    struct symctx c;
    c.n = 0;
    put_symbol(b, &c, (uintptr_t)addr);
    symctx_free(&c);
}

/* ---- backtraces --------------------------------------------------------------------- */

struct bt {
    void **pc;
    size_t cap, n;
    int exact;        /* index of the first frame interrupted by a signal (its pc is
                         the faulting instruction, not a return address), or -1 */
};

static _Unwind_Reason_Code bt_cb(struct _Unwind_Context *ctx, void *arg)
{
    struct bt *bt = arg;
    if (bt->n >= bt->cap)
        return _URC_END_OF_STACK;
    int before = 0;
    uintptr_t ip = _Unwind_GetIPInfo(ctx, &before);
    if (!ip)
        return _URC_END_OF_STACK;
    if (before && bt->exact < 0)
        bt->exact = (int)bt->n;
    bt->pc[bt->n++] = (void *)ip;
    return _URC_NO_REASON;
}

/* Frames of the calling context; the first is inside this function. */
static __attribute__((noinline)) size_t bt_here(void **pc, size_t cap, int *exact)
{
    struct bt bt = {pc, cap, 0, -1};
    _Unwind_Backtrace(bt_cb, &bt);
    if (exact)
        *exact = bt.exact;
    return bt.n;
}

/* ARM's EHABI unwinder does not say which frame a signal interrupted
   (_Unwind_GetIPInfo never sets its flag there): find it by the pc in the
   handler's ucontext. Elsewhere the unwinder's flag is used. */
static void bt_find_interrupted(void **pc, size_t n, const void *uc, int *exact)
{
#if defined(__arm__) && defined(__linux__)
    if (*exact >= 0 || !uc)
        return;
    uintptr_t at = (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.arm_pc & ~(uintptr_t)1;
    for (size_t i = 0; i < n; i++)
        if ((uintptr_t)pc[i] == at) {
            *exact = (int)i;
            return;
        }
#else
    (void)pc, (void)n, (void)uc, (void)exact;
#endif
}

/* Keep the frames from the first one equal to from (a return address the
   caller knows is in its caller), if found. */
static size_t bt_trim_to(void **pc, size_t n, const void *from)
{
#if defined(__arm__)
    /* A Thumb caller's return address carries bit 0; the unwinder's has it
       cleared. */
    from = (const void *)((uintptr_t)from & ~(uintptr_t)1);
#endif
    for (size_t i = 0; i < n; i++)
        if (pc[i] == from) {
            memmove(pc, pc + i, (n - i) * sizeof *pc);
            return n - i;
        }
    return n;
}

static char *task_stack_lo(const struct coio__task *t)
{
    return (char *)t->stack.map + (t->stack.guarded ? coio__page_size() : 0);
}

static char *task_stack_hi(const struct coio__task *t)
{
    return (char *)t->stack.map + t->stack.map_size;
}

struct probe {
    struct bt bt;
    void *back;       /* the dumper's saved sp */
    void *dead;       /* the probe's, never resumed */
#ifdef COIO_ASAN
    const void *from_bottom;
    size_t from_size;
#endif
};

static void probe_fn(void *arg)
{
    struct probe *p = arg;
#ifdef COIO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &p->from_bottom, &p->from_size);
#endif
    _Unwind_Backtrace(bt_cb, &p->bt);
#ifdef COIO_ASAN
    __sanitizer_start_switch_fiber(NULL, p->from_bottom, p->from_size);
#endif
    coio__switch(&p->dead, p->back, NULL);
    abort(); /* never resumed */
}

/* The backtrace of a suspended task (see the top of this file): return
   addresses, innermost first, from the function that called into the
   scheduler outward. 0 frames when the stack cannot be walked from here (the
   dumper runs on it, or it has too little room left). */
static size_t probe_task(struct coio__task *t, void **out, size_t cap, bool in_signal)
{
    char *lo = task_stack_lo(t), *hi = task_stack_hi(t);
    char *sp = t->sp;
    char here;
    if ((char *)&here >= (char *)t->stack.map && (char *)&here < hi)
        return 0; /* we run on this stack (a signal handler interrupting a switch) */
    if (sp <= lo || sp >= hi || (size_t)(sp - lo) < PROBE_GAP + PROBE_NEED)
        return 0;
    char *top = sp - PROBE_GAP;
#ifdef COIO_VALGRIND
    /* memcheck marks what lies below a stack pointer that moved up as
       inaccessible: the probe may use it (and marks it so again after). */
    VALGRIND_MAKE_MEM_UNDEFINED(lo, (size_t)(top - lo));
#endif
    /* Debug mode measures the deepest use of the stack: put back what the
       probe overwrites. Not in a signal handler (no allocation there). */
    char *save_lo = NULL;
    void *saved = NULL;
    size_t save_n = 0;
    if (t->dbg_stack && !in_signal) {
        save_lo = top - PROBE_SAVE > lo ? top - PROBE_SAVE : lo;
        save_n = (size_t)(top - save_lo);
        saved = malloc(save_n);
        if (saved) {
#ifdef COIO_VALGRIND
            VALGRIND_DISABLE_ERROR_REPORTING; /* below sp: undefined words */
#endif
            for (size_t i = 0; i < save_n; i++)
                ((volatile char *)saved)[i] = ((volatile char *)save_lo)[i];
#ifdef COIO_VALGRIND
            VALGRIND_ENABLE_ERROR_REPORTING;
#endif
        }
    }
    void *pc[BT_MAX + 8];
    struct probe p;
    memset(&p, 0, sizeof p);
    p.bt.pc = pc;
    p.bt.cap = sizeof pc / sizeof pc[0];
    p.bt.exact = -1;
    void *frame = coio__arch_probe_frame(top, sp, probe_fn);
#ifdef COIO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, lo, (size_t)(hi - lo));
#endif
    coio__switch(&p.back, frame, &p);
#ifdef COIO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
#ifdef COIO_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(lo, (size_t)(top - lo)); /* the switch back hid it again */
#endif
    if (saved) {
        for (size_t i = 0; i < save_n; i++)
            ((volatile char *)save_lo)[i] = ((volatile char *)saved)[i];
        free(saved);
    }
#ifdef COIO_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(lo, (size_t)(top - lo));
#endif
    /* Drop probe_fn and the stub: the task's frames follow the stub's. */
    size_t i = 0;
    while (i < p.bt.n && !((uintptr_t)pc[i] - 1 >= (uintptr_t)coio__probe_entry &&
                           (uintptr_t)pc[i] - 1 < (uintptr_t)coio__probe_end))
        i++;
    if (i == p.bt.n)
        return 0;
    i++;
    size_t n = 0;
    for (; i < p.bt.n && n < cap; i++)
        out[n++] = pc[i];
    return n;
}

/* ---- walks from a signal's interrupted context -------------------------------------------- */

#ifdef COIO_ARCH_REGS_PROBE
/* A walk with the registers of its last frame kept (ARM: where the scan
   below starts). */
struct bt_regs {
    struct bt bt;
    uintptr_t last[16];
};

static _Unwind_Reason_Code bt_regs_cb(struct _Unwind_Context *ctx, void *arg)
{
    struct bt_regs *r = arg;
    size_t n0 = r->bt.n;
    _Unwind_Reason_Code rc = bt_cb(ctx, &r->bt);
#if defined(__arm__)
    if (r->bt.n > n0)
        for (int i = 0; i < 16; i++)
            r->last[i] = _Unwind_GetGR(ctx, i);
#else
    (void)n0;
#endif
    return rc;
}

static void regs_probe_fn(void *arg)
{
    _Unwind_Backtrace(bt_regs_cb, arg);
}

/* The frames of the context whose registers regs holds (see
   coio__regs_probe in arch/arch.h), innermost first, appended to
   out[n..cap); *exact becomes the index of the first frame if the port's
   probe marks it interrupted. last (ARM) receives the registers of the last
   frame. Returns the new count; n if nothing was walked. */
static size_t bt_from_regs(const void *regs, void **out, size_t n, size_t cap, int *exact,
                           uintptr_t *last)
{
    void *pc[BT_MAX + 16];
    struct bt_regs r;
    memset(&r, 0, sizeof r);
    r.bt.pc = pc;
    r.bt.cap = sizeof pc / sizeof pc[0];
    r.bt.exact = -1;
    coio__regs_probe(regs, regs_probe_fn, &r);
    uintptr_t lo = (uintptr_t)coio__regs_probe & ~(uintptr_t)1, hi = (uintptr_t)coio__regs_probe_end;
    size_t i = 0;
    while (i < r.bt.n && !((uintptr_t)pc[i] - 1 >= lo && (uintptr_t)pc[i] - 1 < hi))
        i++;
    if (i++ >= r.bt.n || i == r.bt.n)
        return n; /* the stub's caller was not walked */
    if (exact && r.bt.exact == (int)i)
        *exact = (int)n;
    for (; i < r.bt.n && n < cap; i++)
        out[n++] = pc[i];
    if (last)
        memcpy(last, r.last, sizeof r.last);
    return n;
}
#endif

#if defined(__arm__) && defined(COIO_ARCH_REGS_PROBE)
/* Where the function covering addr starts (bit 0 clear), by the symbol
   table; 0 if no symbol covers it. */
static uintptr_t func_start(struct symctx *c, uintptr_t addr)
{
    struct module *m = module_for(c, addr);
    if (!m)
        return 0;
    uintptr_t fa = addr - m->bias;
    for (size_t i = 0; i < m->nsyms; i++) {
        const ElfW(Sym) *s = &m->syms[i];
        uintptr_t v = s->st_value & ~(uintptr_t)1;
        if (ELF32_ST_TYPE(s->st_info) == STT_FUNC && s->st_shndx != SHN_UNDEF && s->st_size &&
            fa >= v && fa - v < s->st_size)
            return v + m->bias;
    }
    return 0;
}

struct text_arg {
    uintptr_t lo, hi;
    int found;
};

static int in_text_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct text_arg *a = p;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && a->lo >= s && a->hi <= s + ph->p_filesz) {
            a->found = 1;
            return 1;
        }
    }
    return 0;
}

/* The target of the call instruction that ends where the return address ret
   points (bit 0 set: a Thumb caller): Thumb-2 BL/BLX or ARM BL/BLX with an
   immediate; 0 if the instruction there is none of them. Reads only a
   loaded executable segment (a module's span may have unmapped holes). */
static uintptr_t arm_call_target(struct symctx *c, uintptr_t ret)
{
    uintptr_t at = (ret & ~(uintptr_t)1) - 4;
    if (ret < 4 || !module_for(c, at))
        return 0;
    struct text_arg ta = {at, at + 4, 0};
    dl_iterate_phdr(in_text_cb, &ta);
    if (!ta.found)
        return 0;
    if (ret & 1) {
        uint16_t h1, h2;
        memcpy(&h1, (const void *)at, 2);
        memcpy(&h2, (const void *)(at + 2), 2);
        if ((h1 & 0xF800u) != 0xF000u || (h2 & 0xC000u) != 0xC000u)
            return 0;
        uint32_t s = (h1 >> 10) & 1u, i1 = !(((h2 >> 13) & 1u) ^ s), i2 = !(((h2 >> 11) & 1u) ^ s);
        uint32_t imm = s << 24 | i1 << 23 | i2 << 22 | (h1 & 0x3FFu) << 12 | (h2 & 0x7FFu) << 1;
        int32_t off = (int32_t)(imm << 7) >> 7;
        uintptr_t base = at + 4;
        return (h2 & 0x1000u) ? base + (uintptr_t)off : (base & ~(uintptr_t)3) + (uintptr_t)off;
    }
    uint32_t w;
    memcpy(&w, (const void *)at, 4);
    int32_t off = (int32_t)(w << 8) >> 6;
    if ((w & 0x0F000000u) == 0x0B000000u && (w >> 28) != 0xFu)
        return at + 8 + (uintptr_t)off;
    if ((w & 0xFE000000u) == 0xFA000000u)
        return at + 8 + (uintptr_t)off + ((w >> 23) & 2u);
    return 0;
}

#define SCAN_BYTES 2048 /* how far above a stuck frame's sp its return address is looked for */

/* ARM's unwinder stops at a function with no EHABI entry (static glibc's
   abort(), which a SIGABRT report walks through). The walk of a task's
   stack goes on past it: above the last frame's stack pointer, the first
   word that is a return address just after a call to the function that
   frame is in (decoded BL/BLX, its target that function's start by the
   symbol table) is where that function's caller resumes; its frame's sp
   is just above that word (AAPCS code pushes lr last, at the top of its
   frame). From there the walk continues through coio__regs_probe, the
   other registers as the stuck frame had them; a caller with no entry
   either is scanned for in turn. Stops at coio__trampoline, the outermost
   frame of every task, and never reads outside [lo, hi). */
static size_t bt_arm_resume(struct symctx *c, void **pc, size_t n, size_t cap, uintptr_t *regs,
                            uintptr_t lo, uintptr_t hi)
{
    uintptr_t tramp = (uintptr_t)coio__trampoline & ~(uintptr_t)1;
    for (int round = 0; round < 8 && n > 0 && n < cap; round++) {
        uintptr_t at = (uintptr_t)pc[n - 1];
        if (at - tramp < 64)
            return n; /* complete */
        uintptr_t fn = func_start(c, at - 1);
        uintptr_t sp = regs[13];
        if (!fn || sp < lo || sp >= hi || (sp & 3))
            return n;
        uintptr_t slot = 0;
        for (uintptr_t a = sp; a + 4 <= hi && a - sp < SCAN_BYTES; a += 4)
            if (arm_call_target(c, *(const uint32_t *)a) == fn) {
                slot = a;
                break;
            }
        if (!slot)
            return n;
        uintptr_t ret = *(const uint32_t *)slot;
        regs[13] = slot + 4;
        regs[14] = regs[15] = ret;
        size_t m = bt_from_regs(regs, pc, n, cap, NULL, regs);
        if (m == n) { /* its caller has no entry either: keep it, scan on */
            pc[n++] = (void *)(ret & ~(uintptr_t)1);
        } else {
            n = m;
        }
    }
    return n;
}
#endif

/* The frames of the context a signal interrupted, from the interrupted
   instruction on (*exact = 0 then), for a handler with ucontext uc; t is
   the task it interrupted (NULL: the loop). */
static __attribute__((noinline)) size_t bt_interrupted(void **pc, size_t cap, void *uc,
                                                       const struct coio__task *t,
                                                       struct symctx *c, int *exact)
{
    size_t n = 0;
    *exact = -1;
#if defined(COIO_ARCH_REGS_PROBE) && defined(__powerpc64__)
    /* From the registers the kernel saved: qemu-user's signal trampoline is
       not the kernel's, and libgcc's walk stops at it. */
    (void)t, (void)c;
    if (uc) {
        n = bt_from_regs(((ucontext_t *)uc)->uc_mcontext.gp_regs, pc, 0, cap, exact, NULL);
        if (n)
            return n;
    }
#endif
#if defined(COIO_ARCH_REGS_PROBE) && defined(__arm__)
    struct bt_regs r;
    memset(&r, 0, sizeof r);
    r.bt.pc = pc;
    r.bt.cap = cap;
    r.bt.exact = -1;
    _Unwind_Backtrace(bt_regs_cb, &r);
    n = r.bt.n;
    *exact = r.bt.exact;
#else
    n = bt_here(pc, cap, exact);
#endif
    bt_find_interrupted(pc, n, uc, exact);
    if (*exact > 0) { /* from the interrupted instruction on */
        memmove(pc, pc + *exact, (n - (size_t)*exact) * sizeof *pc);
        n -= (size_t)*exact;
        *exact = 0;
    }
#if defined(COIO_ARCH_REGS_PROBE) && defined(__arm__)
    if (t && t->stack.map)
        n = bt_arm_resume(c, pc, n, cap, r.last, (uintptr_t)task_stack_lo(t),
                          (uintptr_t)task_stack_hi(t));
#else
    (void)t, (void)c;
#endif
    return n;
}

/* ---- describing a task ------------------------------------------------------------------ */

bool coio__task_live(const coio_loop *l, const struct coio__task *t)
{
    for (const struct coio__list *p = l->tasks.next; p != &l->tasks; p = p->next)
        if (coio__container_of(p, struct coio__task, all_link) == t)
            return true;
    return false;
}

static coio__describe_fn *const describers[] = {
    coio__describe_sync,     coio__describe_queue,   coio__describe_io,
    coio__describe_await,    coio__describe_combine, coio__describe_executor,
    coio__describe_taskgroup, coio__describe_process, coio__describe_stream,
};

static void describe_wait(struct coio__dbuf *b, const struct coio__task *t, int64_t now)
{
    const struct coio__wait *w = t->parked_on;
    if (!w) {
        if (t->timer.index != COIO_NOT_IN_HEAP) {
            coio__db_str(b, "sleep, wakes ");
            coio__db_deadline(b, t->timer.when, now);
        } else {
            coio__db_str(b, "yield (next loop iteration)");
        }
        return;
    }
    if (w->cancel == coio__wait_cancel_unlink && !w->unlink) {
        coio__db_str(b, "sleep, wakes ");
        coio__db_deadline(b, t->timer.index != COIO_NOT_IN_HEAP ? t->timer.when : now, now);
        return;
    }
    for (size_t i = 0; i < sizeof describers / sizeof describers[0]; i++)
        if (describers[i](w, t, now, b))
            return;
    coio__db_str(b, "wait record ");
    coio__db_hex(b, (uintptr_t)w);
}

static void put_frames(struct coio__dbuf *b, struct symctx *c, void *const *pc, size_t n,
                       int exact, const char *indent)
{
    for (size_t i = 0; i < n; i++) {
        coio__db_str(b, indent);
        coio__db_str(b, "#");
        coio__db_u64(b, i);
        coio__db_str(b, " ");
        coio__db_hex(b, (uintptr_t)pc[i]);
        coio__db_str(b, " in ");
        /* A return address names the call before it. */
        put_symbol(b, c, (uintptr_t)pc[i] - ((int)i == exact ? 0 : 1));
        coio__db_str(b, "\n");
        if (b->f)
            coio__db_flush(b);
    }
}

struct dump_ctx {
    struct coio__dbuf *b;
    struct symctx sym;
    int64_t now;
    bool in_signal;
    void *const *cur_pc; /* the running task's frames, found by the caller */
    size_t cur_n;
    int cur_exact;
};

static void dump_task(struct dump_ctx *d, struct coio__task *t, int limit)
{
    struct coio__dbuf *b = d->b;
    coio_loop *l = t->f.loop;
    coio__db_str(b, "--- ");
    coio__db_task(b, &t->f);
    coio__db_str(b, ": ");
    bool running = l->current == t && (l->running || d->in_signal);
    if (running)
        coio__db_str(b, "RUNNING");
    else if (!t->started)
        coio__db_str(b, "not started (ready)");
    else if (t->queued)
        coio__db_str(b, "ready (woken, not resumed yet)");
    else
        coio__db_str(b, "suspended");
    if (t->must_cancel || t->cancelling) {
        coio__db_str(b, ", cancelling ");
        coio__db_i64(b, t->cancelling);
    }
    coio__db_str(b, ", age ");
    coio__db_secs(b, coio__coarse_now_ns() - t->born);
    coio__db_str(b, "\n");
    if (!running && t->started) {
        coio__db_str(b, "    waits on: ");
        describe_wait(b, t, d->now);
        coio__db_str(b, "\n");
    }
    for (const struct coio__scope *s = t->scopes; s; s = s->next) {
        struct coio__dbuf tmp; /* only the timeout scopes describe themselves */
        tmp.f = NULL;
        tmp.fd = -1;
        tmp.n = 0;
        if (coio__describe_timeout(s, d->now, &tmp)) {
            coio__db_str(b, "    in ");
            coio__db_strn(b, tmp.b, tmp.n);
            coio__db_str(b, "\n");
        }
    }
    void *pc[BT_MAX];
    size_t n = 0;
    int exact = -1;
    const char *why = NULL;
    if (running) {
        if (d->cur_pc) {
            n = d->cur_n < BT_MAX ? d->cur_n : BT_MAX;
            memcpy(pc, d->cur_pc, n * sizeof *pc);
            exact = d->cur_exact;
        } else {
            why = "(running on another thread's request: not walked)";
        }
    } else if (t->started) {
        n = probe_task(t, pc, BT_MAX, d->in_signal);
        if (!n)
            why = "(stack not walkable from here)";
    }
    if (limit >= 0 && n > (size_t)limit)
        n = (size_t)limit;
    if (n || why)
        coio__db_str(b, running ? "    stack (running):\n" : "    stack:\n");
    if (why) {
        coio__db_str(b, "      ");
        coio__db_str(b, why);
        coio__db_str(b, "\n");
    }
    put_frames(b, &d->sym, pc, n, exact, "      ");
    if (t->spawn_site && t->spawn_site[0]) {
        coio__db_str(b, "    spawned at:\n");
        put_frames(b, &d->sym, t->spawn_site + 1, (size_t)(uintptr_t)t->spawn_site[0], -1, "      ");
    }
}

static void dump_loop(struct dump_ctx *d, coio_loop *l)
{
    struct coio__dbuf *b = d->b;
    coio__db_str(b, "coio: task dump of loop ");
    coio__db_hex(b, (uintptr_t)l);
    coio__db_str(b, ", ");
    coio__db_u64(b, l->ntasks);
    coio__db_str(b, l->ntasks == 1 ? " task" : " tasks");
    if (d->in_signal)
        coio__db_str(b, " (made in a signal handler while a task ran: possibly inconsistent)");
    coio__db_str(b, "\n");
    for (struct coio__list *p = l->tasks.next; p != &l->tasks; p = p->next)
        dump_task(d, coio__container_of(p, struct coio__task, all_link), -1);
    coio__db_str(b, "coio: end of task dump\n");
    coio__db_flush(b);
}

static bool loop_thread_ok(const coio_loop *l)
{
    return !l->running || pthread_equal(l->thread, pthread_self());
}

static int loop_dump(coio_loop *l, FILE *out, const void *caller)
{
    if (!coio__loop_valid(l) || l->closed || !out) {
        errno = EINVAL;
        return -1;
    }
    if (!loop_thread_ok(l)) {
        errno = EPERM;
        return -1;
    }
    int e = errno;
    struct coio__dbuf b;
    b.f = out;
    b.fd = -1;
    b.n = 0;
    struct dump_ctx d;
    memset(&d, 0, sizeof d);
    d.b = &b;
    d.now = coio__now_ns();
    d.cur_exact = -1;
    void *pc[BT_MAX + 8];
    if (l->current && l->running) { /* called from inside a task */
        size_t n = bt_here(pc, sizeof pc / sizeof pc[0], NULL);
        d.cur_pc = pc;
        d.cur_n = bt_trim_to(pc, n, caller);
    }
    dump_loop(&d, l);
    symctx_free(&d.sym);
    fflush(out);
    errno = e;
    return ferror(out) ? (errno = EIO, -1) : 0;
}

__attribute__((noinline)) int coio_loop_dump_tasks(coio_loop *loop, FILE *out)
{
    return loop_dump(loop, out, __builtin_return_address(0));
}

__attribute__((noinline)) int coio_dump_tasks(FILE *out)
{
    coio_loop *l = coio__tls_running ? coio__tls_running : coio__tls_loop;
    if (!l) {
        errno = EINVAL;
        return -1;
    }
    return loop_dump(l, out, __builtin_return_address(0));
}

/* ---- one task's stack ------------------------------------------------------------------ */

static struct coio__task *stack_task(const coio_task *f)
{
    struct coio__task *t = coio__future_valid(f) ? coio__as_task((coio_future *)f) : NULL;
    if (!t || f->loop->closed) {
        errno = EINVAL;
        return NULL;
    }
    if (!loop_thread_ok(f->loop)) {
        errno = EPERM;
        return NULL;
    }
    return t;
}

static long get_stack(coio_task *f, void **frames, size_t cap, const void *caller)
{
    struct coio__task *t = stack_task(f);
    if (!t)
        return -1;
    if (f->state != COIO_PENDING || !t->started)
        return 0; /* asyncio: no frames for a done (or not started) task */
    void *pc[BT_MAX + 8];
    size_t n;
    if (t->f.loop->current == t && t->f.loop->running) {
        n = bt_here(pc, sizeof pc / sizeof pc[0], NULL);
        n = bt_trim_to(pc, n, caller);
    } else {
        n = probe_task(t, pc, BT_MAX, false);
        if (!n) {
            errno = ENOSPC;
            return -1;
        }
    }
    if (n > cap)
        n = cap;
    if (frames)
        memcpy(frames, pc, n * sizeof *pc);
    return (long)n;
}

__attribute__((noinline)) long coio_task_get_stack(coio_task *t, void **frames, size_t cap)
{
    if (!frames && cap) {
        errno = EINVAL;
        return -1;
    }
    return get_stack(t, frames, cap, __builtin_return_address(0));
}

__attribute__((noinline)) int coio_task_print_stack(coio_task *t, FILE *out, int limit)
{
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    void *pc[BT_MAX];
    long n = get_stack(t, pc, BT_MAX, __builtin_return_address(0));
    if (n < 0)
        return -1;
    if (limit >= 0 && n > limit)
        n = limit;
    struct coio__dbuf b;
    b.f = out;
    b.fd = -1;
    b.n = 0;
    struct symctx c;
    c.n = 0;
    coio__db_str(&b, "Stack for ");
    coio__db_task(&b, t);
    coio__db_str(&b, n ? " (most recent call first):\n" : ": no frames\n");
    put_frames(&b, &c, pc, (size_t)n, -1, "  ");
    coio__db_flush(&b);
    symctx_free(&c);
    return ferror(out) ? (errno = EIO, -1) : 0;
}

/* ---- debug mode: spawn sites ---------------------------------------------------------------- */

void *coio__dump_spawn_site(struct coio__task *t)
{
    void **site = (void **)((char *)t - (SPAWN_FRAMES + 1) * sizeof(void *));
    void *pc[SPAWN_FRAMES + 4];
    size_t n = bt_here(pc, sizeof pc / sizeof pc[0], NULL);
    /* Drop bt_here and this function; coio_loop_spawn's caller chain stays
       (coio_spawn_opts/coio_spawn show as the first frames). */
    size_t skip = n >= 2 ? 2 : n;
    size_t k = n - skip < SPAWN_FRAMES ? n - skip : SPAWN_FRAMES;
    site[0] = (void *)(uintptr_t)k;
    memcpy(site + 1, pc + skip, k * sizeof *pc);
    t->spawn_site = site;
    return site;
}

/* ---- the dump signal ------------------------------------------------------------------------ */

#define MAX_DUMP_LOOPS 16
static _Atomic(coio_loop *) dump_loops[MAX_DUMP_LOOPS];
static pthread_mutex_t dump_mu = PTHREAD_MUTEX_INITIALIZER;

/* Every open loop (coio_loop_new to coio_loop_close), linked through
   gdb_link under dump_mu. Nothing in the library reads it: it is where a
   debugger finds the loops and, through their task lists, every task, in a
   live process stopped anywhere or in a core file (tools/coio-gdb.py looks
   it up by this name in the debug info). */
struct coio__list coio__gdb_loops = {&coio__gdb_loops, &coio__gdb_loops};
#ifndef NSIG
#define NSIG 65
#endif
static struct sigaction dump_old[NSIG]; /* what was there before ours */
static int dump_users[NSIG];            /* loops using each signal, under dump_mu */

/* In the handler: write the dump straight to stderr. */
static void signal_dump(coio_loop *l, void *uc)
{
    struct coio__dbuf b;
    b.f = NULL;
    b.fd = STDERR_FILENO;
    b.n = 0;
    struct dump_ctx d;
    memset(&d, 0, sizeof d);
    d.b = &b;
    d.now = coio__now_ns();
    d.in_signal = true;
    void *pc[BT_MAX + 16];
    int exact;
    size_t n = bt_interrupted(pc, sizeof pc / sizeof pc[0], uc, l->current, &d.sym, &exact);
    d.cur_pc = pc;
    d.cur_n = n;
    d.cur_exact = exact;
    dump_loop(&d, l);
    symctx_free(&d.sym);
}

static void on_dump_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    int e = errno;
    for (int i = 0; i < MAX_DUMP_LOOPS; i++) {
        coio_loop *l = atomic_load(&dump_loops[i]);
        if (!l || l->dump_sig != sig || !l->running)
            continue;
        if (!pthread_equal(l->thread, pthread_self())) {
            pthread_kill(l->thread, sig); /* the loop's thread decides */
            continue;
        }
        if (l->current || atomic_exchange(&l->dump_req, 1)) {
            /* A task is running (it may never yield), or an earlier request
               was not served yet (the loop context is stuck): dump here. */
            atomic_store(&l->dump_req, 0);
            signal_dump(l, uc);
        } else if (!atomic_exchange(&l->xpending, 1)) {
            coio__poll_wakeup(l->poller);
        }
    }
    errno = e;
}

void coio__dump_requested(coio_loop *l)
{
    if (!atomic_exchange(&l->dump_req, 0))
        return;
    int e = errno;
    loop_dump(l, stderr, NULL);
    errno = e;
}

static int sig_parse(const char *s)
{
    static const struct { const char *name; int sig; } names[] = {
        {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
    };
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name))
            return names[i].sig;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v < NSIG ? (int)v : 0;
}

static void dump_signal_drop(coio_loop *l)
{
    int sig = l->dump_sig;
    if (!sig)
        return;
    for (int i = 0; i < MAX_DUMP_LOOPS; i++)
        if (atomic_load(&dump_loops[i]) == l)
            atomic_store(&dump_loops[i], NULL);
    l->dump_sig = 0;
    if (--dump_users[sig] == 0) {
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
            cur.sa_sigaction == on_dump_signal)
            sigaction(sig, &dump_old[sig], NULL);
    }
}

int coio_loop_set_dump_signal(coio_loop *loop, int sig)
{
    if (!coio__loop_valid(loop) || loop->closed || sig < 0 || sig >= NSIG || sig == SIGKILL ||
        sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
        sig == SIGABRT) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&dump_mu);
    dump_signal_drop(loop);
    int rc = 0;
    if (sig) {
        int slot = -1;
        for (int i = 0; i < MAX_DUMP_LOOPS && slot < 0; i++)
            if (!atomic_load(&dump_loops[i]))
                slot = i;
        if (slot < 0) {
            errno = ENOSPC;
            rc = -1;
        } else {
            if (dump_users[sig]++ == 0) {
                struct sigaction sa;
                memset(&sa, 0, sizeof sa);
                sa.sa_sigaction = on_dump_signal;
                sa.sa_flags = SA_SIGINFO | SA_RESTART;
                sigemptyset(&sa.sa_mask);
                sigaction(sig, &sa, &dump_old[sig]);
            }
            loop->dump_sig = sig;
            atomic_store(&dump_loops[slot], loop);
        }
    }
    pthread_mutex_unlock(&dump_mu);
    return rc;
}

/* ---- fault reports ---------------------------------------------------------------------------- */

static int fault_users;
static int fault_enabled = 1;
static struct sigaction fault_old_ill, fault_old_fpe, fault_old_abrt;

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGABRT: return "SIGABRT";
    default: return "signal";
    }
}

void coio__fault_report(struct coio__task *t, int sig, void *sip, void *uc)
{
    siginfo_t *si = sip;
    if (!fault_enabled || coio__fault_reported)
        return;
    coio__fault_reported = 1;
    int e = errno;
    struct coio__dbuf b;
    b.f = NULL;
    b.fd = STDERR_FILENO;
    b.n = 0;
    coio__db_str(&b, "coio: ");
    coio__db_str(&b, sig_name(sig));
    coio__db_str(&b, " in ");
    coio__db_task(&b, &t->f);
    if (sig != SIGABRT) {
        coio__db_str(&b, " at ");
        coio__db_hex(&b, (uintptr_t)si->si_addr);
    }
    coio__db_str(&b, "\n");
    void *pc[BT_MAX + 16];
    int exact;
    struct symctx c;
    c.n = 0;
    size_t n = bt_interrupted(pc, sizeof pc / sizeof pc[0], uc, t, &c, &exact);
    coio__db_str(&b, "    stack:\n");
    put_frames(&b, &c, pc, n, exact, "      ");
    if (t->spawn_site && t->spawn_site[0]) {
        coio__db_str(&b, "    spawned at:\n");
        put_frames(&b, &c, t->spawn_site + 1, (size_t)(uintptr_t)t->spawn_site[0], -1, "      ");
    }
    coio__db_flush(&b);
    symctx_free(&c);
    errno = e;
}

static void fault_chain(const struct sigaction *old, int sig, siginfo_t *si, void *uc)
{
    if (old->sa_flags & SA_SIGINFO) {
        if (old->sa_sigaction) {
            old->sa_sigaction(sig, si, uc);
            return;
        }
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* The default action: a faulting instruction runs again and takes it; a
       sent signal (abort(), kill) is raised again. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (si->si_code <= 0)
        raise(sig);
}

static void on_fault2(int sig, siginfo_t *si, void *uc)
{
    struct coio__task *t = coio__self();
    if (t)
        coio__fault_report(t, sig, si, uc);
    fault_chain(sig == SIGILL ? &fault_old_ill : sig == SIGFPE ? &fault_old_fpe : &fault_old_abrt,
                sig, si, uc);
}

static void fault_restore(int sig, const struct sigaction *old)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault2)
        sigaction(sig, old, NULL);
}

void coio__dump_loop_init(coio_loop *l)
{
    const char *fr = getenv("COIO_FAULT_REPORT");
    const char *ds = getenv("COIO_DUMP_SIGNAL");
    pthread_mutex_lock(&dump_mu);
    coio__list_push(&coio__gdb_loops, &l->gdb_link);
    if (fault_users++ == 0) {
        fault_enabled = !(fr && !strcmp(fr, "0"));
        if (fault_enabled) {
            /* Warm the unwinder up here, outside any handler: its first use
               looks up the frame tables and may load libgcc_s. */
            void *pc[4];
            (void)bt_here(pc, 4, NULL);
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_sigaction = on_fault2;
            sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGILL, &sa, &fault_old_ill);
            sigaction(SIGFPE, &sa, &fault_old_fpe);
            sigaction(SIGABRT, &sa, &fault_old_abrt);
        }
    }
    pthread_mutex_unlock(&dump_mu);
    if (ds && *ds) {
        int sig = sig_parse(ds);
        if (sig)
            (void)coio_loop_set_dump_signal(l, sig);
    }
}

void coio__dump_loop_close(coio_loop *l)
{
    pthread_mutex_lock(&dump_mu);
    coio__list_del(&l->gdb_link);
    dump_signal_drop(l);
    if (--fault_users == 0 && fault_enabled) {
        fault_restore(SIGILL, &fault_old_ill);
        fault_restore(SIGFPE, &fault_old_fpe);
        fault_restore(SIGABRT, &fault_old_abrt);
    }
    pthread_mutex_unlock(&dump_mu);
}
