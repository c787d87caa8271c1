// Go peer for W1-W6, standard library only, GOMAXPROCS=1 (set here and by
// bench/run.sh). Prints the same CSV rows as coio's programs:
// workload,impl,metric,value,unit.
//
//	go_bench switch | spawn | sleepers [N...] | queue | timers | echo PORT
//
// echo listens on 127.0.0.1:PORT (0: any free port) and prints the port.
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// scaled applies BENCH_SCALE (quick runs), as bench/bench.h does.
func scaled(n int) int {
	if f, err := strconv.ParseFloat(os.Getenv("BENCH_SCALE"), 64); err == nil && f > 0 {
		n = int(float64(n) * f)
	}
	if n < 1 {
		n = 1
	}
	return n
}

func row(workload, metric string, value float64, unit string) {
	fmt.Printf("%s,go,%s,%.3f,%s\n", workload, metric, value, unit)
}

func peakRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func nsPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

// W1: two goroutines looping runtime.Gosched(): the scheduler's yield.
func benchSwitch() {
	n := scaled(10000000) / 2
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	row("W1", "scheduled yield", nsPer(time.Since(start), 2*n), "ns/switch")
}

// W2: 1,000,000 trivial goroutines, batches of 10,000 started then joined.
func benchSpawn() {
	total, batch := scaled(1000000), 10000
	if batch > total {
		batch = total
	}
	results := make([]int, batch)
	start := time.Now()
	done := 0
	for done < total {
		var wg sync.WaitGroup
		wg.Add(batch)
		for i := 0; i < batch; i++ {
			go func(i int) {
				results[i] = i
				wg.Done()
			}(i)
		}
		wg.Wait()
		done += batch
	}
	row("W2", "spawn+join", nsPer(time.Since(start), done), "ns/task")
	row("W2", "peak RSS", float64(peakRSS())/1048576.0, "MiB")
}

// W3 child: N goroutines alive at once, each sleeps 1 s; prints "wall rss".
// With warm, two such waves in this process; the wall is the second one's
// (W3-warm: the second wave finds the first one's goroutines and stacks).
func sleepersChild(n int, warm bool) {
	wave := func() float64 {
		var wg sync.WaitGroup
		wg.Add(n)
		start := time.Now()
		for i := 0; i < n; i++ {
			go func() {
				time.Sleep(time.Second)
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(start).Seconds()
	}
	wall := wave()
	if warm {
		wall = wave()
	}
	fmt.Printf("%f %d\n", wall, peakRSS())
}

// Each size runs in a fresh process so that its peak RSS is its own.
func runChild(n int) (float64, int64, error) { return runChildMode(n, "sleepers-child") }

func runChildMode(n int, mode string) (float64, int64, error) {
	out, err := exec.Command(os.Args[0], mode, strconv.Itoa(n)).Output()
	if err != nil {
		return 0, 0, err
	}
	var wall float64
	var rss int64
	_, err = fmt.Sscanf(strings.TrimSpace(string(out)), "%f %d", &wall, &rss)
	return wall, rss, err
}

func benchSleepers(sizes []int) {
	_, base, err := runChild(1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_bench:", err)
		os.Exit(1)
	}
	for _, n := range sizes {
		wl := fmt.Sprintf("W3-%dk", n/1000)
		wall, rss, err := runChild(n)
		if err != nil {
			row(wl, "wall", -1, "s (failed)")
			continue
		}
		row(wl, "wall", wall, "s")
		row(wl, "bytes per task", float64(rss-base)/float64(n), "B")
		wl = fmt.Sprintf("W3-warm-%dk", n/1000)
		if wall, _, err = runChildMode(n, "sleepers-warm-child"); err != nil {
			row(wl, "wall", -1, "s (failed)")
		} else {
			row(wl, "wall", wall, "s")
		}
	}
}

// W4: producer goroutine -> consumer through a chan int of capacity 1 / 1024.
func benchQueue() {
	n := scaled(1000000)
	for _, c := range []int{1, 1024} {
		ch := make(chan int, c)
		start := time.Now()
		go func() {
			for i := 0; i < n; i++ {
				ch <- i
			}
		}()
		sum := 0
		for i := 0; i < n; i++ {
			sum += <-ch
		}
		d := time.Since(start)
		if sum != n*(n-1)/2 {
			fmt.Fprintln(os.Stderr, "go_bench: items lost")
			os.Exit(1)
		}
		row("W4", fmt.Sprintf("cap %d", c), nsPer(d, n), "ns/item")
	}
}

// W6: time.AfterFunc with random deadlines within 100 s (from 10 s on, so none
// can fire while the loop runs), Stop every other one, then the rest.
func benchTimers() {
	n := scaled(1000000)
	delay := make([]time.Duration, n)
	x := uint64(88172645463325252) // xorshift64, the same draw as coio's
	for i := range delay {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		delay[i] = time.Duration(1e10 + float64(x>>11)*(9e10/9007199254740992.0)) // [10 s, 100 s)
	}
	timers := make([]*time.Timer, n)
	never := func() {}
	stopped := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		timers[i] = time.AfterFunc(delay[i], never)
	}
	for i := 0; i < n; i += 2 {
		if timers[i].Stop() {
			stopped++
		}
	}
	for i := 1; i < n; i += 2 {
		if timers[i].Stop() {
			stopped++
		}
	}
	d := time.Since(start)
	if stopped != n {
		fmt.Fprintln(os.Stderr, "go_bench: a timer fired")
		os.Exit(1)
	}
	row("W6", "schedule+cancel", nsPer(d, n), "ns/timer")
}

// W5: echo server, a goroutine per connection.
func echo(port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_bench:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if err != nil {
					break
				}
				if _, err := c.Write(buf[:n]); err != nil {
					break
				}
			}
			c.Close()
		}(c)
	}
}

func main() {
	runtime.GOMAXPROCS(1)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_bench switch|spawn|sleepers [N]|queue|timers|echo PORT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "switch":
		benchSwitch()
	case "spawn":
		benchSpawn()
	case "sleepers":
		sizes := []int{100000, 1000000}
		if len(os.Args) > 2 {
			sizes = nil
			for _, a := range os.Args[2:] {
				n, _ := strconv.Atoi(a)
				sizes = append(sizes, n)
			}
		}
		benchSleepers(sizes)
	case "sleepers-child", "sleepers-warm-child":
		n, _ := strconv.Atoi(os.Args[2])
		sleepersChild(n, os.Args[1] == "sleepers-warm-child")
	case "queue":
		benchQueue()
	case "timers":
		benchTimers()
	case "echo":
		echo(os.Args[2])
	default:
		os.Exit(2)
	}
}
