# coio — GNU make build.
#   make                   libcoio.a and libcoio.so for the compiler's target
#   make check             build and run the libcheck suites in tests/
#   make check-aarch64     the same suites cross-built for aarch64, run under qemu-aarch64
#   make check-riscv64     the port conformance program for riscv64, under qemu-riscv64
#   make check-i386 check-ppc64le check-armhf check-s390x
#                          conformance (static and dynamic) and every suite, cross-built,
#                          under qemu-user (Debian cross compilers and check:<arch>)
#   make check-aarch64-pac the aarch64 switch with pac-ret + BTI under qemu-aarch64 -cpu max
#   make check-macho-asm   arch/{x86_64,aarch64}/switch.S assemble for macOS (Mach-O; clang)
#   make conformance       the port conformance program (no libcheck needed)
#   make check-valgrind    the suites under valgrind (memcheck)
#   make check SANITIZE=address|undefined|thread (thread: with clang when installed)
#   make check FAULTS=1    the fault-injection suite (tests/check_faults.c), with
#                          injection points compiled in (src/fault.h); add SANITIZE=address
#   make check LTO=1       link-time optimized build (e.g. CFLAGS="-O3 -g"); CC=clang works too
#   make bench             benchmarks in bench/, printed as a table
#   make fuzz FUZZ_SECONDS=N   the libFuzzer targets in tests/fuzz/ (clang), N s each
#   make soak SOAK_SECONDS=N   the example servers under tests/soak/'s load client
#   make install PREFIX=/usr/local   (also share/coio/coio-gdb.py, the gdb commands)
# Variables: CC, POLLER (epoll|kqueue; auto), SANITIZE, STATIC=1 (static test
# binaries), RUNNER (prefix command for running tests, e.g. qemu-aarch64),
# COIO_TEST_SLACK (multiplies the time bounds of timing tests), POLLER_CFLAGS and
# POLLER_LIBS (e.g. to build POLLER=kqueue on Linux against libkqueue).

CC       ?= cc
ifeq ($(origin CC),default)
CC       := cc
# ThreadSanitizer: clang's runtime when there is one. GCC 12's libtsan takes
# milliseconds to make the fiber each task is (src/coio_int.h), which puts the
# suites that start thousands of tasks past their time limits; clang 14's
# takes a fraction of one. CC=gcc SANITIZE=thread still works, slowly.
ifeq ($(SANITIZE),thread)
ifneq ($(shell command -v clang 2>/dev/null),)
CC       := clang
endif
endif
endif
PREFIX   ?= /usr/local
TRIPLE   := $(shell $(CC) -dumpmachine)
CPU      := $(firstword $(subst -, ,$(TRIPLE)))

# The CPU port: arch/<cpu>/. Add a port by adding a directory (PORTING.md).
# The first field of the compiler's triple names the CPU; the compiler's own
# macros (with CFLAGS, so that CFLAGS=-m32 counts) settle the ABI where one
# triple covers several: x86-64 compilers with -m32 build the i386 port, -mx32
# is refused, and 32-bit ARM needs the hard-float ABI.
ARCH_x86_64      := x86_64
ARCH_amd64       := x86_64
ARCH_aarch64     := aarch64
ARCH_arm64       := aarch64
ARCH_riscv64     := riscv64
ARCH_i386        := i386
ARCH_i486        := i386
ARCH_i586        := i386
ARCH_i686        := i386
ARCH_powerpc64le := ppc64le
ARCH_ppc64le     := ppc64le
ARCH_s390x       := s390x
ARCH_arm         := armhf
ARCH_armv7l      := armhf
ARCH_armv7       := armhf
ARCH := $(ARCH_$(CPU))
CC_MACROS := $(if $(filter x86_64 i386 armhf,$(ARCH)),$(shell $(CC) $(CFLAGS) $(EXTRA_CFLAGS) -dM -E -x c /dev/null 2>/dev/null))
ifeq ($(ARCH),x86_64)
ifneq ($(findstring __i386__,$(CC_MACROS)),)
ARCH := i386
else ifneq ($(findstring __ILP32__,$(CC_MACROS)),)
$(error coio does not support the x32 ABI (-mx32: 32-bit pointers on x86-64); build for x86-64 without -mx32, or for i386 with -m32)
endif
endif
ifeq ($(ARCH),armhf)
ifeq ($(findstring __ARM_PCS_VFP,$(CC_MACROS)),)
$(error coio's 32-bit ARM port needs the hard-float ABI (arm-linux-gnueabihf-gcc, or -mfloat-abi=hard); soft-float and softfp are not supported)
endif
endif
ifeq ($(TRIPLE),)
$(error '$(CC) -dumpmachine' printed nothing: is the compiler '$(CC)' installed?)
endif
ifeq ($(ARCH),)
$(error coio has no port for CPU '$(CPU)' (target $(TRIPLE)); see PORTING.md for how to add arch/$(CPU)/)
endif
ifeq ($(wildcard arch/$(ARCH)/switch.S),)
$(error coio: target $(TRIPLE) maps to the port arch/$(ARCH)/, which does not exist in this tree)
endif

ifeq ($(POLLER),)
ifneq ($(findstring linux,$(TRIPLE)),)
POLLER := epoll
else
POLLER := kqueue
endif
endif

# TLS over OpenSSL 3 (src/tls.c), found with pkg-config: built when present; TLS=0
# leaves it out (the coio_tls_* functions then fail with ENOTSUP). Cross builds find
# the target's OpenSSL only (below; without the target's libssl-dev: TLS=0).
# A cross build (another triple, or -m32 on x86-64) looks only in the target's
# multiarch directory, unless PKG_CONFIG_LIBDIR says where.
PKG_CONFIG ?= pkg-config
HOST_TRIPLE := $(shell cc -dumpmachine 2>/dev/null)
TLS_MULTIARCH := $(if $(filter i386,$(ARCH)),i386-linux-gnu,$(TRIPLE))
TLS_CROSS := $(if $(filter $(firstword $(subst -, ,$(HOST_TRIPLE))),$(CPU)),$(if $(filter i386,$(ARCH)),$(if $(filter i386,$(ARCH_$(CPU))),,1)),1)
TLS_PKG := $(if $(TLS_CROSS),$(if $(PKG_CONFIG_LIBDIR),,PKG_CONFIG_LIBDIR=/usr/lib/$(TLS_MULTIARCH)/pkgconfig ))$(PKG_CONFIG)
TLS ?= $(shell $(TLS_PKG) --exists 'openssl >= 3' 2>/dev/null && echo 1 || echo 0)
ifeq ($(TLS),1)
TLS_CFLAGS := -DCOIO_TLS=1 $(shell $(TLS_PKG) --cflags openssl)
TLS_LIBS := $(shell $(TLS_PKG) $(if $(STATIC),--static) --libs openssl)
endif

BUILDDIR ?= build
BUILD := $(BUILDDIR)/$(TRIPLE)$(if $(filter i386,$(ARCH)),$(if $(filter i386,$(ARCH_$(CPU))),,-m32))$(if $(SANITIZE),-$(SANITIZE))$(if $(FAULTS),-faults)$(if $(STATIC),-static)$(if $(filter-out epoll,$(POLLER)),-$(POLLER))$(if $(filter 1,$(TLS)),,-notls)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -Iinclude -Iarch -Isrc $(POLLER_CFLAGS) $(EXTRA_CFLAGS)
# 64-bit off_t and struct stat on 32-bit glibc ports too (i386, armhf): file
# offsets past 2 GiB, and the ABI coio.h asserts (coio.pc's Cflags carry it).
ALL_CFLAGS += -D_FILE_OFFSET_BITS=64
# 32-bit ARM: gcc emits no unwind tables (.ARM.exidx) for C unless asked, and
# task dumps walk stacks with libgcc's EHABI unwinder (src/dump.c).
ifeq ($(ARCH),armhf)
ALL_CFLAGS += -funwind-tables
endif
ifeq ($(SANITIZE),address)
ALL_CFLAGS += -fsanitize=address -fno-omit-frame-pointer
SAN_LD := -fsanitize=address
else ifeq ($(SANITIZE),undefined)
ALL_CFLAGS += -fsanitize=undefined -fno-sanitize-recover=all -DCOIO_POISON_SPAWN
SAN_LD := -fsanitize=undefined
else ifeq ($(SANITIZE),thread)
ALL_CFLAGS += -fsanitize=thread
SAN_LD := -fsanitize=thread
else ifneq ($(SANITIZE),)
$(error SANITIZE must be address, undefined or thread)
endif
# LTO=1: link-time optimization, in its own build directory (CI: with -O3).
ifeq ($(LTO),1)
ALL_CFLAGS += -flto=auto
SAN_LD += -flto=auto
BUILD := $(BUILD)-lto
endif
ifneq ($(FAULTS),)
ALL_CFLAGS += -DCOIO_FAULTS
endif
LDLIBS := -lpthread -lm $(POLLER_LIBS)
ALL_CFLAGS += $(TLS_CFLAGS)
LDLIBS += $(TLS_LIBS)

# Every src/*.c except the pollers, plus the one poller chosen.
SRCS := $(sort $(filter-out src/poll_%.c,$(wildcard src/*.c))) src/poll_$(POLLER).c
OBJS := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/arch/$(ARCH)/switch.o
HDRS := include/coio.h $(wildcard src/*.h) arch/arch.h $(wildcard arch/$(ARCH)/*.h)

LIB_A  := $(BUILD)/libcoio.a
LIB_SO := $(BUILD)/libcoio.so

.PHONY: fuzz fuzz-bins soak
.PHONY: all lib check check-aarch64 check-aarch64-pac check-riscv64 check-macho-asm check-i386 check-ppc64le check-armhf check-s390x conformance check-valgrind bench examples install clean
all: lib
lib: $(LIB_A) $(LIB_SO)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_A): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# The shared library's SONAME carries the major version; install adds the
# usual symlinks (libcoio.so -> libcoio.so.0 -> libcoio.so.0.1.0).
SO_MAJOR := 0
SO_FULL  := 0.1.0
$(LIB_SO): $(OBJS)
	$(CC) -shared $(SAN_LD) -Wl,-soname,libcoio.so.$(SO_MAJOR) -o $@ $^ $(LDLIBS)

# ---- tests ----------------------------------------------------------------
# TESTS="check_task check_io" runs a subset.
# check_faults needs the injection points: FAULTS=1 builds and runs it alone
# (TESTS= adds others), and the ordinary builds leave it out.
TEST_SRCS := $(if $(TESTS),$(TESTS:%=tests/%.c),$(if $(FAULTS),tests/check_faults.c,\
  $(filter-out tests/check_faults.c,$(wildcard tests/check_*.c))))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
ifeq ($(STATIC),)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm -lpthread)
else
CHECK_LIBS := -static -lcheck -lsubunit -lrt -lm -lpthread
endif

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $< -o $@ $(LIB_A) $(SAN_LD) $(CHECK_LIBS) $(LDLIBS)

# The example servers driven by real clients (curl, socat, nc, wrk): part of every
# full `make check`; EXAMPLES_NET=1 adds it to a TESTS= subset, EXAMPLES_NET= drops it.
EXAMPLES_NET ?= $(if $(TESTS)$(FAULTS),,1)
NET_EXAMPLES := $(if $(EXAMPLES_NET),$(addprefix $(BUILD)/examples/,https_server tls_client echo_server echo_client http_server chat_server file_server udp_echo request_id http_file_server))
# The tutorial examples with an expected output in examples/expected/ (NAME.out
# or NAME@TAG.out), run by tests/examples.sh: part of every full `make check`
# (about 11 s, most of them at once); EXAMPLES_TUT=1 adds them to a TESTS= subset.
EXAMPLES_TUT ?= $(if $(TESTS)$(FAULTS),,1)
TUT_EXAMPLES := $(if $(EXAMPLES_TUT),$(sort $(foreach f,$(wildcard examples/expected/*.out),\
  $(BUILD)/examples/$(firstword $(subst @, ,$(basename $(notdir $(f))))))))

# examples/hang_demo, run by tests/hang_demo.sh (its SIGQUIT dumps, its fault
# report) and tests/gdb.sh (tools/coio-gdb.py under gdb -batch; gdb-multiarch
# and qemu's gdbstub for cross builds): part of every full `make check`;
# EXAMPLES_DEBUG=1 adds them to a TESTS= subset.
EXAMPLES_DEBUG ?= $(if $(TESTS)$(FAULTS),,1)
DEBUG_EXAMPLES := $(if $(EXAMPLES_DEBUG),$(BUILD)/examples/hang_demo)

# ThreadSanitizer runs code several times slower: more time for the suites
# that start tens of thousands of tasks, and slack for the timing bounds.
TSAN_ENV := $(if $(filter thread,$(SANITIZE)),CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-8} \
  COIO_TEST_SLACK=$${COIO_TEST_SLACK:-2})

check: $(TEST_BINS) $(NET_EXAMPLES) $(TUT_EXAMPLES) $(DEBUG_EXAMPLES)
	@command -v pkg-config >/dev/null && pkg-config --exists check 2>/dev/null || [ -n "$(STATIC)" ] || \
	  { echo "libcheck is missing: apt-get install check pkg-config"; exit 1; }
	@RUNNER="$(RUNNER)" $(TSAN_ENV) sh tests/run.sh $(TEST_BINS)
	@$(if $(EXAMPLES_NET),RUNNER="$(RUNNER)" sh tests/examples_net.sh $(BUILD)/examples)
	@$(if $(EXAMPLES_NET),TLS=$(TLS) RUNNER="$(RUNNER)" sh tests/examples_tls.sh $(BUILD)/examples)
	@$(if $(EXAMPLES_NET),RUNNER="$(RUNNER)" sh tests/examples_files.sh $(BUILD)/examples)
	@$(if $(EXAMPLES_TUT),RUNNER="$(RUNNER)" sh tests/examples.sh $(BUILD)/examples)
	@$(if $(EXAMPLES_DEBUG),RUNNER="$(RUNNER)" sh tests/hang_demo.sh $(BUILD)/examples/hang_demo)
	@$(if $(EXAMPLES_DEBUG),RUNNER="$(RUNNER)" SANITIZE="$(SANITIZE)" sh tests/gdb.sh $(BUILD)/examples/hang_demo)

check-aarch64:
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null && \
	  [ -f /usr/lib/aarch64-linux-gnu/libcheck.a ] || { echo "missing: dpkg --add-architecture arm64 && apt-get update && apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user check:arm64"; exit 1; }
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig $(MAKE) CC=aarch64-linux-gnu-gcc STATIC=1 RUNNER=qemu-aarch64 JOBS=$${JOBS:-2} \
	  CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-10} COIO_TEST_SLACK=$${COIO_TEST_SLACK:-3} \
	  SUITE_TIMEOUT=$${SUITE_TIMEOUT:-1800} check

# aarch64 with -mbranch-protection=standard (BTI landing pads, pac-ret: the
# switch signs the saved resume address) under a qemu CPU with FEAT_PAuth
# and BTI (pauth-impdef=on: qemu's fast implementation-defined signing
# instead of QARMA, 3-4x quicker; the architected behaviour is the same): the
# conformance program (with its forged-resume-address test)
# and the suites that switch most. Own build directory: the flags are not
# part of the triple.
check-aarch64-pac:
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null && \
	  [ -f /usr/lib/aarch64-linux-gnu/libcheck.a ] || { echo "missing: see check-aarch64"; exit 1; }
	$(MAKE) BUILDDIR=$(BUILDDIR)/pac CC=aarch64-linux-gnu-gcc STATIC=1 EXTRA_CFLAGS=-mbranch-protection=standard \
	  RUNNER="qemu-aarch64 -cpu max,pauth-impdef=on" conformance
	$(MAKE) BUILDDIR=$(BUILDDIR)/pac CC=aarch64-linux-gnu-gcc STATIC=1 EXTRA_CFLAGS=-mbranch-protection=standard \
	  RUNNER="qemu-aarch64 -cpu max,pauth-impdef=on" JOBS=$${JOBS:-2} CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-10} \
	  COIO_TEST_SLACK=$${COIO_TEST_SLACK:-3} SUITE_TIMEOUT=$${SUITE_TIMEOUT:-1800} \
	  TESTS="check_arch check_stack check_task check_sync check_queue check_run" check

# The port conformance tests without libcheck (tests/conformance_main.c): the
# first test of a new port. check-riscv64 cross-builds them and runs them
# under qemu-riscv64 (PORTING.md).
$(BUILD)/tests/conformance: tests/conformance_main.c $(wildcard tests/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $< -o $@ $(LIB_A) $(SAN_LD) $(if $(STATIC),-static) $(LDLIBS)

conformance: $(BUILD)/tests/conformance
	COIO_CONF_TIMEOUT=$${COIO_CONF_TIMEOUT:-$(if $(RUNNER),600,60)} $(RUNNER) $(BUILD)/tests/conformance

check-riscv64:
	@command -v riscv64-linux-gnu-gcc >/dev/null && command -v qemu-riscv64 >/dev/null || \
	  { echo "missing: apt-get install gcc-riscv64-linux-gnu qemu-user"; exit 1; }
	PKG_CONFIG_LIBDIR=/usr/lib/riscv64-linux-gnu/pkgconfig $(MAKE) CC=riscv64-linux-gnu-gcc STATIC=1 RUNNER=qemu-riscv64 conformance

# The qemu-user ports: for each, the cross compiler's triple, qemu's name for
# the CPU and Debian's name for the architecture. check-<port> runs the
# conformance program statically linked, then dynamically linked (a
# trampoline that calls entry without the register an indirect call must
# carry, r12 on ppc64le, fails only there), then every suite, statically
# linked, two at a time. The dynamic run points qemu -L and LD_LIBRARY_PATH
# at the cross libc, so that loader and libc match: the multiarch
# libc6:<arch> that check:<arch> pulls in may be a newer build, and the cross
# loader with it dies of "stack smashing detected" on ppc64el.
QPORT_CC_i386      := i686-linux-gnu
QPORT_QEMU_i386    := i386
QPORT_DEB_i386     := i386
QPORT_CC_ppc64le   := powerpc64le-linux-gnu
QPORT_QEMU_ppc64le := ppc64le
QPORT_DEB_ppc64le  := ppc64el
QPORT_CC_armhf     := arm-linux-gnueabihf
QPORT_QEMU_armhf   := arm
QPORT_DEB_armhf    := armhf
QPORT_CC_s390x     := s390x-linux-gnu
QPORT_QEMU_s390x   := s390x
QPORT_DEB_s390x    := s390x
QPORTS := i386 ppc64le armhf s390x

$(addprefix check-,$(QPORTS)): check-%:
	@t=$(QPORT_CC_$*); command -v $$t-gcc >/dev/null && command -v qemu-$(QPORT_QEMU_$*) >/dev/null && \
	  [ -f /usr/lib/$$(echo $$t | sed 's/^i686/i386/')/libcheck.a ] || { echo "missing: dpkg --add-architecture $(QPORT_DEB_$*) && \
	  apt-get update && apt-get install gcc-$$t libc6-dev-$(QPORT_DEB_$*)-cross qemu-user check:$(QPORT_DEB_$*)"; exit 1; }
	@set -e; q="qemu-$(QPORT_QEMU_$*)"; qd="$$q -L /usr/$(QPORT_CC_$*) -E LD_LIBRARY_PATH=/usr/$(QPORT_CC_$*)/lib"; \
	if [ "$*" = i386 ] && mkdir -p $(BUILDDIR) && printf 'int main(void){return 0;}\n' | \
	  $(QPORT_CC_$*)-gcc -static -x c - -o $(BUILDDIR)/i386-probe 2>/dev/null && $(BUILDDIR)/i386-probe 2>/dev/null; then \
	  echo "check-i386: this kernel runs i386 binaries: running them natively, not under qemu-i386"; q=""; qd=""; fi; \
	$(MAKE) CC=$(QPORT_CC_$*)-gcc STATIC=1 RUNNER="$$q" conformance; \
	$(MAKE) CC=$(QPORT_CC_$*)-gcc RUNNER="$$qd" conformance; \
	$(MAKE) CC=$(QPORT_CC_$*)-gcc STATIC=1 RUNNER="$$q" JOBS=$${JOBS:-2} \
	  CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-10} COIO_TEST_SLACK=$${COIO_TEST_SLACK:-3} \
	  SUITE_TIMEOUT=$${SUITE_TIMEOUT:-1800} check

# Mach-O: the x86-64 and AArch64 switches assemble for macOS (arch/asm.h holds the
# ELF/Mach-O spellings), plain and with the CPU's branch protection. Nothing is
# linked or run: there is no macOS machine in CI.
MACHO_CLANG ?= clang
check-macho-asm:
	@command -v $(MACHO_CLANG) >/dev/null || { echo "missing: apt-get install clang"; exit 1; }
	@mkdir -p $(BUILDDIR)/macho
	@set -e; for t in x86_64:x86_64-apple-macos:-fcf-protection=full aarch64:arm64-apple-macos:-mbranch-protection=standard; do \
	  a=$${t%%:*}; r=$${t#*:}; f=$${r#*:}; r=$${r%%:*}; \
	  for x in "" $$f; do \
	    $(MACHO_CLANG) -target $$r $$x -c arch/$$a/switch.S -o $(BUILDDIR)/macho/$$a.o; \
	    echo "arch/$$a/switch.S assembles for $$r $$x"; \
	  done; done

check-valgrind: $(TEST_BINS)
	@command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind"; exit 1; }
	@RUNNER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no" \
	  JOBS=$${JOBS:-2} CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-20} COIO_TEST_SLACK=$${COIO_TEST_SLACK:-4} sh tests/run.sh $(TEST_BINS)

# ---- examples -----------------------------------------------------------------
# Every examples/NAME.c becomes $(BUILD)/examples/NAME.
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LIB_A) $(SAN_LD) $(if $(STATIC),-static) $(LDLIBS)

examples: $(EXAMPLE_BINS)

# ---- benchmarks ---------------------------------------------------------------
BENCH_SRCS := $(wildcard bench/bench_*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%) $(BUILD)/bench/echo_server \
              $(BUILD)/bench/echo_server_streams $(BUILD)/bench/echo_client

$(BUILD)/bench/%: bench/%.c bench/bench.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ibench $< -o $@ $(LIB_A) $(SAN_LD) $(LDLIBS)

# Peers (bench/peers/) are built when their toolchains are installed; run.sh
# takes BENCH_QUICK=1, REPEAT, BENCH_IMPLS, BENCH_WORKLOADS (see its header).
# W7 drives examples/http_server with wrk.
bench: $(BENCH_BINS) $(BUILD)/examples/http_server $(if $(filter 1,$(TLS)),$(BUILD)/examples/https_server)
	@CC="$(CC)" CXX="$(CXX)" sh bench/peers/build.sh $(BUILD)/bench/peers
	@sh bench/run.sh $(BUILD)

# ---- fuzzing -----------------------------------------------------------------
# make fuzz FUZZ_SECONDS=N: build the libFuzzer targets tests/fuzz/fuzz_*.c and
# the library with clang (-fsanitize=fuzzer,address,undefined, in their own build
# dir) and run each N seconds from its seed corpus tests/fuzz/corpus/NAME/ (new
# inputs go to the build dir; the committed corpus is not touched). A crash, a
# sanitizer report, a leak or a failed check fails it (tests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard examples/*.h) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iexamples $< -o $@ $(LIB_A) -fsanitize=fuzzer,address,undefined $(LDLIBS)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

fuzz:
	@command -v $(FUZZ_CC) >/dev/null || { echo "clang is missing: apt-get install clang libclang-rt-14-dev"; exit 1; }
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILDDIR=$(BUILDDIR)/fuzz EXTRA_CFLAGS="$(FUZZ_FLAGS)" fuzz-bins
	@sh tests/fuzz/run.sh $(BUILDDIR)/fuzz/$(shell $(FUZZ_CC) -dumpmachine 2>/dev/null)/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

# ---- soak ----------------------------------------------------------------------
# make soak SOAK_SECONDS=N: echo_server, then http_server, each N/2 s under the
# load client tests/soak/soak_client.c (tests/soak/run.sh): on loopback, bounded
# concurrency, correct traffic checked byte for byte beside resets, half-closes,
# stalls and clients that never read; no fd growth, bounded RSS, still answering.
SOAK_SECONDS ?= 60

$(BUILD)/tests/soak/soak_client: tests/soak/soak_client.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LIB_A) $(SAN_LD) $(LDLIBS)

soak: $(BUILD)/tests/soak/soak_client $(BUILD)/examples/echo_server $(BUILD)/examples/http_server
	@sh tests/soak/run.sh $(BUILD) $(SOAK_SECONDS)

# ---- install ------------------------------------------------------------------
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libcoio.so.$(SO_FULL)
	ln -sf libcoio.so.$(SO_FULL) $(DESTDIR)$(PREFIX)/lib/libcoio.so.$(SO_MAJOR)
	ln -sf libcoio.so.$(SO_MAJOR) $(DESTDIR)$(PREFIX)/lib/libcoio.so
	install -m 644 include/coio.h $(DESTDIR)$(PREFIX)/include/
	install -d $(DESTDIR)$(PREFIX)/share/coio
	install -m 644 tools/coio-gdb.py $(DESTDIR)$(PREFIX)/share/coio/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' \
	  $(if $(filter 1,$(TLS)),-e 's|@REQUIRES_PRIVATE@|openssl|',-e '/@REQUIRES_PRIVATE@/d') \
	  coio.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/coio.pc

clean:
	rm -rf $(BUILDDIR)
