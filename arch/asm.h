/* arch/asm.h — object-format macros shared by the arch/<cpu>/switch.S files.
 *
 * ELF (Linux, the BSDs) and Mach-O (macOS) spell symbols and their attributes
 * differently:
 *
 *                     ELF                          Mach-O
 *   C name `f`        f                            _f
 *   hidden symbol     .hidden f                    .private_extern _f
 *   symbol type/size  .type f, %function; .size    (none)
 *   local label       .Lname                       Lname
 *   call into libc    abort@PLT (x86-64), abort    _abort
 *   stack note        .note.GNU-stack section      (none: never executable)
 *
 * Every macro below expands to at most one directive, so that it can stand
 * on a line of its own in any assembler syntax (`;` separates statements in
 * GNU as for x86 and AArch64 ELF but starts a comment in Apple's arm64
 * syntax). `%function` is accepted by GNU as on every target, including x86,
 * where `@function` would also do and on ARM would start a comment.
 *
 * Mach-O is assembled, never run: CI checks that x86_64 and aarch64 switch.S
 * assemble with `clang -target x86_64-apple-macos` / `arm64-apple-macos`
 * (`make check-macho-asm`); no test runs on macOS.
 */
#ifndef COIO_ARCH_ASM_H
#define COIO_ARCH_ASM_H

#if defined(__APPLE__) && defined(__MACH__)
#define COIO_SYM(name)          _##name
#define COIO_LOCAL(name)        L##name
#define COIO_HIDDEN(name)       .private_extern _##name
#define COIO_TYPE_FUNC(name)
#define COIO_SIZE(name)
#define COIO_LIBC(name)         _##name
#else
#define COIO_SYM(name)          name
#define COIO_LOCAL(name)        .L##name
#define COIO_HIDDEN(name)       .hidden name
#define COIO_TYPE_FUNC(name)    .type name, %function
#define COIO_SIZE(name)         .size name, .-name
#define COIO_LIBC(name)         name
#endif

/* .globl + hidden visibility: the symbol links into programs that use
   libcoio.a but stays out of libcoio.so's dynamic symbol table. Two lines at
   the use site: COIO_GLOBAL(f) and COIO_HIDDEN(f). */
#define COIO_GLOBAL(name)       .globl COIO_SYM(name)

#endif
