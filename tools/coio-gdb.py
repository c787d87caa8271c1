# coio-gdb.py — gdb commands for programs using coio (README "Debugging").
#
#   (gdb) source tools/coio-gdb.py      (installed as $PREFIX/share/coio/coio-gdb.py)
#   (gdb) coio tasks                    every task of every open loop: id, name,
#                                       state, age, what it waits on
#   (gdb) coio bt ID [full|N...]        the backtrace of task ID (or of the task
#                                       at an address: coio bt 0x...), as `bt`
#
# Everything is read from memory through gdb's Python API, with no call into the
# program: it works on a process stopped anywhere, on a core file and against a
# gdbstub (qemu-user). It needs libcoio's debug info (the default build has -g):
# the open loops are found through the list head `coio__gdb_loops` (src/dump.c),
# the tasks through each loop's task list, what a task waits on through the wait
# record it parked with, resolved by the function that unlinks it (as dump.c does).
#
# `coio bt` unwinds a suspended task from the frame coio__switch saved on its
# stack (arch/<cpu>/switch.S; layouts below): a Python unwinder takes the
# thread's innermost frame and gives it the task's saved registers as its
# caller's, so gdb's own unwinder (the .eh_frame/.debug_frame tables) walks the
# task's frames; the thread's real frame #0 is left out of the output, and no
# register of the program is written. x86-64, aarch64, riscv64, i386, ppc64le,
# armhf and s390x.

import re
import time

import gdb
import gdb.unwinder

# ---- ports: the frame coio__switch saves (word index -> register) ------------------
# (arch/<cpu>/arch.h: COIO_X86_*, COIO_A64_*, COIO_RV_*, COIO_I386_*, COIO_P64_*,
# COIO_ARM_*, COIO_S390_*; CFA = saved sp + bytes)
_PORTS = {
    "x86_64": {
        "bytes": 64, "pc": 7, "pcreg": "rip", "spreg": "rsp",
        "regs": {"r15": 1, "r14": 2, "r13": 3, "r12": 4, "rbx": 5, "rbp": 6},
    },
    "aarch64": {
        "bytes": 176, "pc": 13, "pcreg": "pc", "spreg": "sp",
        "regs": dict([("x%d" % (19 + i), 2 + i) for i in range(10)] + [("x29", 12), ("x30", 13)]),
    },
    "riscv64": {
        "bytes": 208, "pc": 0, "pcreg": "pc", "spreg": "sp",
        "regs": dict([("ra", 0), ("s0", 1), ("s1", 2)] + [("s%d" % (2 + i), 3 + i) for i in range(10)]),
    },
    # "word": slot size when not 8; "caller_sp": the caller's sp when not
    # saved sp + bytes (s390x: its save area is in the caller's frame)
    "i386": {
        "bytes": 32, "word": 4, "pc": 7, "pcreg": "eip", "spreg": "esp",
        "regs": {"edi": 2, "esi": 3, "ebx": 4, "ebp": 5},
    },
    "ppc64le": {
        "bytes": 512, "pc": 2, "pcreg": "pc", "spreg": "r1",
        "regs": dict(("r%d" % (14 + i), 4 + i) for i in range(18)),
    },
    "armhf": {
        "bytes": 104, "word": 4, "pc": 25, "pcreg": "pc", "spreg": "sp",
        "regs": dict(("r%d" % (4 + i), 16 + i) for i in range(8)),
    },
    "s390x": {
        "bytes": 232, "caller_sp": 72, "pc": 23, "pcreg": "pc", "spreg": "r15",
        "regs": dict(("r%d" % (6 + i), 15 + i) for i in range(9)),
    },
}


def _port():
    name = gdb.selected_inferior().architecture().name()
    if "x86-64" in name or "x86_64" in name:
        return _PORTS["x86_64"]
    if name.startswith("aarch64"):
        return _PORTS["aarch64"]
    if name.startswith("riscv"):
        return _PORTS["riscv64"]
    if name.startswith("i386"):  # after "i386:x86-64" above
        return _PORTS["i386"]
    if name.startswith("powerpc:common64") and _byteorder() == "little":
        return _PORTS["ppc64le"]
    if name.startswith("arm"):
        return _PORTS["armhf"]
    if name.startswith("s390:64"):
        return _PORTS["s390x"]
    raise gdb.GdbError("coio: no frame layout for architecture %s" % name)


# ---- reading memory ----------------------------------------------------------------

def _ptr_size():
    return gdb.lookup_type("void").pointer().sizeof


_order = None


def _byteorder():
    global _order
    if _order is None:
        _order = "big" if "big endian" in gdb.execute("show endian", to_string=True) else "little"
    return _order


def _read_word(addr, size=None):
    mem = gdb.selected_inferior().read_memory(addr, size or _ptr_size())
    return int.from_bytes(bytes(mem), _byteorder())


def _offset(struct_type, path):
    """Byte offset of a (dotted) member path in a struct type."""
    off = 0
    t = struct_type.strip_typedefs()
    for name in path.split("."):
        f = t[name]
        off += f.bitpos // 8
        t = f.type.strip_typedefs()
    return off


def _at(addr, struct_type):
    return gdb.Value(addr).cast(struct_type.pointer()).dereference()


def _type(name, block=None):
    try:
        return gdb.lookup_type(name, block) if block is not None else gdb.lookup_type(name)
    except gdb.error:
        return None


def _cstr(addr, maxlen):
    raw = bytes(gdb.selected_inferior().read_memory(addr, maxlen))
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _fn_info(addr):
    """(name, source file, block) of the function at addr, or (None, None, None)."""
    if not addr:
        return None, None, None
    try:
        block = gdb.block_for_pc(addr)
    except RuntimeError:
        block = None
    name = None
    b = block
    while b is not None and not b.is_static and not b.is_global:
        if b.function is not None:  # the outermost one: not a function inlined into it
            name = b.function.name
        b = b.superblock
    if name is None:  # no debug info for it: the ELF symbol, if any
        out = gdb.execute("info symbol 0x%x" % addr, to_string=True)
        m = re.match(r"(\S+) in section", out)
        name = m.group(1) if m else None
    sal = gdb.find_pc_line(addr)
    fname = sal.symtab.filename if sal.symtab else None
    return name, fname, block


# ---- loops and tasks ---------------------------------------------------------------

class _Ctx:
    """Types and the clock, looked up once per command."""

    def __init__(self):
        try:
            head = gdb.parse_and_eval("&coio__gdb_loops")
        except gdb.error:
            raise gdb.GdbError("coio: symbol coio__gdb_loops not found: is this a coio "
                               "program, built with debug info (-g)?")
        self.loop_t = _type("struct coio_loop")
        self.task_t = _type("struct coio__task")
        self.fut_t = _type("struct coio_future")
        if self.loop_t is None or self.task_t is None:
            raise gdb.GdbError("coio: no debug info for libcoio's structures (build it with -g)")
        self.head = int(head)
        self.loop_link = _offset(self.loop_t, "gdb_link")
        self.task_link = _offset(self.task_t, "all_link")
        self.now = None  # CLOCK_MONOTONIC ns, when the target's clock is this machine's
        try:
            kind = gdb.selected_inferior().connection.type
        except AttributeError:
            kind = "native"
        if kind != "core":
            self.now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    def loops(self):
        p = _read_word(self.head + _ptr_size())  # next
        seen = 0
        while p and p != self.head and seen < 4096:
            yield _at(p - self.loop_link, self.loop_t)
            p = _read_word(p + _ptr_size())
            seen += 1

    def tasks(self, loop):
        head = int(loop.address) + _offset(self.loop_t, "tasks")
        p = int(loop["tasks"]["next"])
        seen = 0
        while p and p != head and seen < 1000000:
            yield _at(p - self.task_link, self.task_t)
            p = int(_at(p, _type("struct coio__list"))["next"])
            seen += 1

    def secs(self, ns):
        return "%.3fs" % (ns / 1e9)

    def deadline(self, when_ns):
        if when_ns >= (1 << 63) - 1:
            return "never"
        if self.now is None:
            return "at monotonic %s" % self.secs(when_ns)
        d = when_ns - self.now
        return ("in %s" % self.secs(d)) if d >= 0 else ("passed %s ago" % self.secs(-d))


def _task_name(f):
    name = _cstr(int(f["name"].address), f["name"].type.sizeof)
    if name:
        return name
    return ("Task-%d" if int(f["kind"]) == 2 else "Future-%d") % int(f["id"])


def _task_label(f):
    return "%s '%s' (id %d)" % ("task" if int(f["kind"]) == 2 else "future", _task_name(f), int(f["id"]))


def _fut(addr, ctx):
    return _at(addr, ctx.fut_t)


def _running(loop, t):
    return int(loop["current"]) == int(t.address) and int(loop["running"])


def _state(loop, t):
    if _running(loop, t):
        return "RUNNING"
    if not int(t["started"]):
        return "not started (ready)"
    if int(t["queued"]):
        return "ready (woken, not resumed yet)"
    return "suspended"


# What a parked task waits on: the unlink function of its wait record says which
# structure holds the record (the describers of src/*.c, dump.h).

def _timer_armed(t):
    return int(t["timer"]["index"]) != (1 << (8 * t["timer"]["index"].type.sizeof)) - 1


def _deadline_suffix(t, ctx):
    return (", deadline " + ctx.deadline(int(t["timer"]["when"]))) if _timer_armed(t) else ""


def _describe_wait(t, loop, ctx):
    w = int(t["parked_on"])
    if not w:
        if _timer_armed(t):
            return "sleep, wakes " + ctx.deadline(int(t["timer"]["when"]))
        return "yield (next loop iteration)"
    wait_t = _type("struct coio__wait")
    rec = _at(w, wait_t)
    unlink = int(rec["unlink"])
    cancel_name = _fn_info(int(rec["cancel"]))[0]
    if not unlink and cancel_name == "coio__wait_cancel_unlink":
        return "sleep, wakes " + (ctx.deadline(int(t["timer"]["when"])) if _timer_armed(t) else "now")
    name, fname, block = _fn_info(unlink)
    fname = (fname or "").rsplit("/", 1)[-1]

    def outer(tname, member):
        st = _type(tname, block)
        if st is None:
            return None
        return _at(w - _offset(st, member), st)

    try:
        if name == "waiter_unlink":
            wt = outer("struct waiter", "w")
            kinds = ["?", "lock", "event", "condition", "semaphore", "barrier"]
            k = int(wt["kind"])
            prim = int(wt["prim"])
            s = "%s at 0x%x" % (kinds[k] if 0 <= k < len(kinds) else "?", prim)
            if int(wt["woken"]):
                s += " (granted, not resumed yet)"
            if k == 1:
                lk = _at(prim, _type("struct lock", block))
                owner = int(lk["owner"])
                if int(lk["locked"]) and owner and any(int(x.address) == owner for x in ctx.tasks(loop)):
                    s += ", held by " + _task_label(_fut(owner, ctx))
            elif k == 4:
                s += ", value %d" % int(_at(prim, _type("struct semaphore", block))["value"])
            elif k == 5:
                b = _at(prim, _type("struct barrier", block))
                s += ", %d of %d parties" % (int(b["count"]), int(b["parties"]))
            return s
        if name == "qwaiter_unlink":
            wt = outer("struct qwaiter_task", "q.w")
            q = wt["queue"].dereference()
            lst = int(wt["list"])
            base = int(q.address)
            qt = q.type.strip_typedefs()
            kind = ("queue get" if lst == base + _offset(qt, "getters") else
                    "queue put" if lst == base + _offset(qt, "putters") else "queue join")
            s = "%s on 0x%x (qsize %d, maxsize %d" % (kind, base, int(q["n"]), max(int(q["maxsize"]), 0))
            if kind == "queue join":
                s += ", unfinished %d" % int(q["unfinished"])
            s += ")"
            if int(wt["q"]["woken"]):
                s += " (woken, not resumed yet)"
            return s
        if name == "fd_unlink":
            fw = outer("struct fd_wait", "w")
            return "fd %d %s%s" % (int(fw["fd"]), "writable" if bool(fw["write"]) else "readable",
                                   _deadline_suffix(t, ctx))
        if name == "await_unlink":
            aw = outer("struct await_wait", "w")
            f = aw["fut"].dereference()
            if int(f["kind"]) == 2:
                return "await of " + _task_label(f)
            return "await of future 0x%x" % int(aw["fut"])
        if name == "multi_unlink":
            m = outer("struct multi", "w")
            mode = "gather" if int(m["mode"]) in (0, 1) else "wait"
            return "%s of %d futures (%d done)%s" % (mode, int(m["n"]), int(m["n"]) - int(m["remaining"]),
                                                     _deadline_suffix(t, ctx))
        if name == "wf_unlink":
            r = outer("struct wf_wait", "w")
            return "wait_for of " + _task_label(r["t"].dereference()) + _deadline_suffix(t, ctx)
        if name == "ac_unlink":
            return "as_completed" + _deadline_suffix(t, ctx)
        if name == "job_unlink":
            j = outer("struct job", "w")
            fn = int(j["fn"])
            st = int(j["state"])
            s = "thread-pool call 0x%x (%s) %s" % (fn, _fn_info(fn)[0] or "??",
                                                    "queued" if st == 1 else "running")
            if ctx.now is not None:
                s += " for " + ctx.secs(ctx.now - int(j["t_state"]))
            return s
        if name == "exit_unlink":
            ew = outer("struct exit_wait", "w")
            g = ew["g"].dereference()
            n = int(g["npending"])
            return "task-group exit at 0x%x, waiting for %d %s%s" % (
                int(ew["g"]), n, "child" if n == 1 else "children",
                " (cancelled)" if int(g["aborting"]) else "")
        if name == "lwait_unlink" and fname == "process.c":
            return "subprocess (exit or pipe)"
        if name == "lwait_unlink" and fname == "stream.c":
            return "stream (drain, reader data, close or server)"
    except (gdb.error, gdb.MemoryError, TypeError) as e:
        return "wait record 0x%x (%s: %s)" % (w, name, e)
    return "wait record 0x%x (unlink %s)" % (w, name or "0x%x" % unlink)


def _describe_scopes(t, ctx):
    out = []
    p = int(t["scopes"])
    n = 0
    while p and n < 64:
        sc = _at(p, _type("struct coio__scope"))
        name, fname, block = _fn_info(int(sc["abandon"]))
        if name == "abandon" and (fname or "").endswith("timeout.c"):
            st = _type("struct tscope", block)
            s = _at(p - _offset(st, "scope"), st)
            when = float(s["when"])
            if when == float("inf"):
                d = "no deadline"
            else:
                d = "deadline " + ctx.deadline(int(when * 1e9))
            exp = " (expired)" if int(s["state"]) in (2, 3) else ""
            out.append("in timeout scope at 0x%x, %s%s" % (int(s.address), d, exp))
        p = int(sc["next"])
        n += 1
    return out


def _find_task(ctx, spec):
    try:
        v = int(gdb.parse_and_eval(spec))
    except gdb.error:
        raise gdb.GdbError("coio: not a task id or address: %s" % spec)
    found = []
    for loop in ctx.loops():
        for t in ctx.tasks(loop):
            if int(t["f"]["id"]) == v or int(t.address) == v:
                found.append((loop, t))
    if not found:
        raise gdb.GdbError("coio: no live task with id or address %s" % spec)
    if len(found) > 1:
        gdb.write("coio: %d loops have a task with id %d; showing the first (give its address "
                  "to choose)\n" % (len(found), v))
    return found[0]


def _thread_of(loop):
    """The gdb thread the loop runs on, if gdb can tell."""
    want = int(loop["thread"])
    threads = gdb.selected_inferior().threads()
    for th in threads:
        try:
            h = th.handle()
        except Exception:
            continue
        if h and int.from_bytes(bytes(h), _byteorder()) == want:
            return th
    return threads[0] if len(threads) == 1 else None


# ---- the unwinder behind `coio bt` ---------------------------------------------------

class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _TaskUnwinder(gdb.unwinder.Unwinder):
    def __init__(self):
        super().__init__("coio-task")
        self.saved = None  # [(register, value)] of the task to show, or None
        self.frame0 = None  # (sp, pc) of the thread's innermost frame

    def __call__(self, pf):
        if self.saved is None:
            return None
        port = self.port
        sp = pf.read_register(port["spreg"])
        pc = pf.read_register(port["pcreg"])
        try:
            innermost = pf.level() == 0
        except AttributeError:  # gdb < 12: recognise the thread's own frame #0
            innermost = (int(sp), int(pc)) == self.frame0
        if not innermost:
            return None
        info = pf.create_unwind_info(_FrameId(sp, pc))
        for reg, val in self.saved:
            info.add_saved_register(reg, gdb.Value(val).cast(pf.read_register(reg).type))
        return info


_unwinder = _TaskUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _task_regs(t):
    port = _port()
    sp = int(t["sp"])
    words = {}
    for reg, i in list(port["regs"].items()) + [(port["pcreg"], port["pc"])]:
        word = port.get("word", 8)
        words[reg] = _read_word(sp + word * i, word)
    words[port["spreg"]] = sp + port.get("caller_sp", port["bytes"])
    return port, list(words.items())


def _renumber(text):
    """Drop frame #0 (the thread's own) from bt's output and renumber the rest."""
    out = []
    skipping = False
    for line in text.splitlines(True):
        m = re.match(r"#(\d+)(\s+)", line)
        if m:
            n = int(m.group(1))
            skipping = n == 0
            if not skipping:
                line = ("#%-2d " % (n - 1)) + line[m.end():]
        if not skipping:
            out.append(line)
    return "".join(out)


# ---- commands -------------------------------------------------------------------------

class CoioCommand(gdb.Command):
    """coio runtime inspection: coio tasks, coio bt ID."""

    def __init__(self):
        super().__init__("coio", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)

    def invoke(self, arg, from_tty):
        gdb.execute("help coio", from_tty)


class CoioTasks(gdb.Command):
    """List every task of every open coio loop: id, name, state, age, what it waits on."""

    def __init__(self):
        super().__init__("coio tasks", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        ctx = _Ctx()
        nloops = 0
        for loop in ctx.loops():
            nloops += 1
            n = int(loop["ntasks"])
            where = ""
            if int(loop["running"]):
                th = _thread_of(loop)
                where = ", running on thread %d" % th.num if th else ", running"
            gdb.write("loop 0x%x: %d %s%s\n" % (int(loop.address), n, "task" if n == 1 else "tasks", where))
            for t in ctx.tasks(loop):
                f = t["f"]
                line = "  %-4d %-20s %s" % (int(f["id"]), "'%s'" % _task_name(f), _state(loop, t))
                if int(t["must_cancel"]) or int(t["cancelling"]):
                    line += ", cancelling %d" % int(t["cancelling"])
                if ctx.now is not None:
                    line += ", age " + ctx.secs(ctx.now - int(t["born"]))
                gdb.write(line + "\n")
                if int(t["started"]) and not _running(loop, t):
                    gdb.write("         waits on: %s\n" % _describe_wait(t, loop, ctx))
                for s in _describe_scopes(t, ctx):
                    gdb.write("         %s\n" % s)
        if not nloops:
            gdb.write("coio: no open loop\n")


class CoioBt(gdb.Command):
    """Backtrace of a suspended coio task: coio bt ID|ADDRESS [bt options, e.g. full or N]."""

    def __init__(self):
        super().__init__("coio bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: coio bt ID|ADDRESS [full|N]")
        ctx = _Ctx()
        loop, t = _find_task(ctx, argv[0])
        label = _task_label(t["f"])
        if _running(loop, t):
            th = _thread_of(loop)
            gdb.write("%s is RUNNING%s: its frames are that thread's (`thread N`, then `bt`)\n"
                      % (label, " on thread %d" % th.num if th else ""))
            return
        if not int(t["started"]):
            gdb.write("%s has not started: no frames\n" % label)
            return
        port, regs = _task_regs(t)
        try:
            keep = gdb.selected_frame().level()
        except gdb.error:
            keep = None
        newest = gdb.newest_frame()
        _unwinder.frame0 = (int(newest.read_register(port["spreg"])), int(newest.read_register(port["pcreg"])))
        _unwinder.port = port
        _unwinder.saved = regs
        gdb.invalidate_cached_frames()
        # bt's own frame #0 (the thread's) is dropped: count it in a limit N.
        opts = [str(int(a) + 1) if re.fullmatch(r"[0-9]+", a) else a for a in argv[1:]]
        try:
            text = gdb.execute("bt " + " ".join(opts), to_string=True)
        finally:
            _unwinder.saved = None
            gdb.invalidate_cached_frames()
            if keep:
                gdb.execute("frame %d" % keep, to_string=True)
        gdb.write("%s, %s:\n" % (label, _state(loop, t)))
        gdb.write(_renumber(text))


CoioCommand()
CoioTasks()
CoioBt()
