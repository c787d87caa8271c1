"""Python asyncio peer for W1-W6 and W8 (standard library only). Prints the same
CSV rows as coio's programs: workload,impl,metric,value,unit.

    asyncio_bench.py switch | spawn | sleepers [N...] | queue | timers | echo PORT
                   | files FILE

echo listens on 127.0.0.1:PORT (0: any free port) and prints the port. files
runs W8 on FILE as bench/bench_files.c does, every system call through
asyncio.to_thread (asyncio has no asynchronous file I/O; aiofiles does the
same): os.pread, os.write on an O_APPEND fd, os.fdatasync, on the loop's
default executor (a ThreadPoolExecutor of min(32, cpus + 4) threads).

Per-operation figures (W1, W2, W4) run a tenth of the iterations the other
implementations run: the figure is a time per operation, and the full counts
would take minutes in CPython. W3, W5 and W6 run the full definitions; W8 too,
but W8a reads a tenth as many blocks (a rate; each to_thread costs tens of
microseconds of CPU)."""
import asyncio
import os
import random
import resource
import socket
import subprocess
import sys
import time

PY_SHARE = 0.1  # the fraction of W1/W2/W4 iterations run here (see above)


def scaled(n, share=1.0):
    try:
        f = float(os.environ.get("BENCH_SCALE", "1"))
    except ValueError:
        f = 1.0
    return max(1, int(n * share * (f if f > 0 else 1.0)))


def row(workload, metric, value, unit):
    print("%s,asyncio,%s,%.3f,%s" % (workload, metric, value, unit), flush=True)


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def w1_switch():
    n = scaled(10_000_000, PY_SHARE) // 2

    async def yielder():
        for _ in range(n):
            await asyncio.sleep(0)

    t0 = time.perf_counter()
    await asyncio.gather(yielder(), yielder())
    row("W1", "scheduled yield", (time.perf_counter() - t0) * 1e9 / (2 * n), "ns/switch")


async def w2_spawn():
    total, batch = scaled(1_000_000, PY_SHARE), 10_000
    batch = min(batch, total)

    async def trivial(i):
        return i

    done = 0
    t0 = time.perf_counter()
    while done < total:
        tasks = [asyncio.create_task(trivial(i)) for i in range(batch)]
        for t in tasks:
            await t
        done += batch
    row("W2", "spawn+join", (time.perf_counter() - t0) * 1e9 / done, "ns/task")
    row("W2", "peak RSS", peak_rss() / 1048576.0, "MiB")


async def w3_child(n):
    async def sleeper():
        await asyncio.sleep(1.0)

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(sleeper()) for _ in range(n)]
    for t in tasks:
        await t
    print("%f %d" % (time.perf_counter() - t0, peak_rss()))


def w3_sleepers(sizes):
    # Each size in a fresh interpreter so that its peak RSS is its own.
    def child(n):
        out = subprocess.run([sys.executable, __file__, "sleepers-child", str(n)],
                             check=True, capture_output=True, text=True).stdout.split()
        return float(out[0]), int(out[1])

    _, base = child(1)
    for n in sizes:
        wl = "W3-%dk" % (n // 1000)
        try:
            wall, rss = child(n)
        except subprocess.CalledProcessError:
            row(wl, "wall", -1, "s (failed)")
            continue
        row(wl, "wall", wall, "s")
        row(wl, "bytes per task", (rss - base) / n, "B")


async def w4_queue():
    n = scaled(1_000_000, PY_SHARE)
    for cap in (1, 1024):
        q = asyncio.Queue(maxsize=cap)

        async def producer():
            for i in range(n):
                await q.put(i)

        async def consumer():
            s = 0
            for _ in range(n):
                s += await q.get()
            return s

        t0 = time.perf_counter()
        _, s = await asyncio.gather(producer(), consumer())
        dt = time.perf_counter() - t0
        if s != n * (n - 1) // 2:
            sys.exit("asyncio_bench: items lost")
        row("W4", "cap %d" % cap, dt * 1e9 / n, "ns/item")


async def w6_timers():
    n = scaled(1_000_000)
    rng = random.Random(88172645463325252)
    delays = [10.0 + rng.random() * 90.0 for _ in range(n)]  # [10 s, 100 s)
    loop = asyncio.get_running_loop()

    def never():
        pass

    t0 = time.perf_counter()
    handles = [loop.call_later(d, never) for d in delays]
    for h in handles[0::2]:
        h.cancel()
    for h in handles[1::2]:
        h.cancel()
    row("W6", "schedule+cancel", (time.perf_counter() - t0) * 1e9 / n, "ns/timer")


async def w5_echo(port):
    async def handle(reader, writer):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = await reader.read(4096)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_SELF)  # every thread: the executor's too
    return ru.ru_utime + ru.ru_stime


def xorshift(s):
    s ^= (s << 13) & 0xFFFFFFFFFFFFFFFF
    s ^= s >> 7
    s ^= (s << 17) & 0xFFFFFFFFFFFFFFFF
    return s


async def w8_files(path):
    ntasks, blk = 64, 4096
    fsize = os.stat(path).st_size & ~((1 << 20) - 1)
    if fsize < (1 << 20):
        sys.exit("asyncio_bench: %s: the file needs at least 1 MiB" % path)
    nblk = fsize // blk
    n_a, n_c = scaled(500_000, PY_SHARE), scaled(32_768)
    mib_b = scaled(4096)
    to_thread = asyncio.to_thread

    # W8a: 64 tasks, random aligned 4 KiB reads; a tenth of them first as a
    # warm-up (the executor starts its threads on demand).
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    left = 0

    async def reader(i):
        nonlocal left
        s = (i * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF
        while left > 0:
            left -= 1
            s = xorshift(s)
            data = await to_thread(os.pread, fd, blk, (s % nblk) * blk)
            if len(data) != blk:
                sys.exit("asyncio_bench: W8a: short read")

    for measured in (False, True):
        left = n_a if measured else max(1, n_a // 10)
        t0, c0 = time.perf_counter(), cpu_now()
        await asyncio.gather(*(reader(i + 1) for i in range(ntasks)))
        if measured:
            row("W8a", "random 4k reads", n_a / (time.perf_counter() - t0), "ops/s")
            row("W8a", "cpu per read", (cpu_now() - c0) * 1e9 / n_a, "ns")

    # W8b: one task, sequential 1 MiB reads, whole passes over the file.
    total = 0.0
    t0 = time.perf_counter()
    while total < mib_b:
        for off in range(0, fsize, 1 << 20):
            data = await to_thread(os.pread, fd, 1 << 20, off)
            if not data:
                sys.exit("asyncio_bench: W8b: unexpected end of file")
            total += len(data) / (1 << 20)
    row("W8b", "sequential 1m reads", total / (time.perf_counter() - t0), "MiB/s")
    os.close(fd)

    # W8c: 64 tasks appending 4 KiB writes; the writer of every 64th write
    # calls fdatasync. The position is the end (O_APPEND): os.write.
    wpath = path + ".w8c"
    try:
        os.unlink(wpath)
    except FileNotFoundError:
        pass
    fd = os.open(wpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
    buf = b"c" * blk
    left, writes = n_c, 0

    async def writer():
        nonlocal left, writes
        while left > 0:
            left -= 1
            if await to_thread(os.write, fd, buf) != blk:
                sys.exit("asyncio_bench: W8c: short write")
            writes += 1
            if writes % 64 == 0:
                await to_thread(os.fdatasync, fd)

    t0, c0 = time.perf_counter(), cpu_now()
    await asyncio.gather(*(writer() for _ in range(ntasks)))
    row("W8c", "append 4k+fdatasync/64", n_c / (time.perf_counter() - t0), "ops/s")
    row("W8c", "cpu per write", (cpu_now() - c0) * 1e9 / n_c, "ns")
    os.close(fd)
    os.unlink(wpath)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "switch":
        asyncio.run(w1_switch())
    elif cmd == "spawn":
        asyncio.run(w2_spawn())
    elif cmd == "sleepers":
        w3_sleepers([int(a) for a in sys.argv[2:]] or [100_000, 1_000_000])
    elif cmd == "sleepers-child":
        asyncio.run(w3_child(int(sys.argv[2])))
    elif cmd == "queue":
        asyncio.run(w4_queue())
    elif cmd == "timers":
        asyncio.run(w6_timers())
    elif cmd == "echo":
        asyncio.run(w5_echo(int(sys.argv[2])))
    elif cmd == "files" and len(sys.argv) == 3:
        asyncio.run(w8_files(sys.argv[2]))
    else:
        sys.exit("usage: asyncio_bench.py switch|spawn|sleepers [N]|queue|timers|echo PORT|files FILE")


if __name__ == "__main__":
    main()
