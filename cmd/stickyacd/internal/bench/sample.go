package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CPUFigures are a phase's CPU use in percent of one core (2 cores = 200%).
type CPUFigures struct {
	// Process is the bench process: stickyacd and the emulator in-process,
	// the emulator alone with --addr.
	Process float64 `json:"process_pct"`
	// Machine is every process on the machine, PostgreSQL and Redis
	// included (and anything else running).
	Machine float64 `json:"machine_pct"`
	// Stickyacd is the stickyacd at --addr, from its /metrics; 0 in-process.
	Stickyacd float64 `json:"stickyacd_pct,omitempty"`
	// Split divides the in-process figure between stickyacd, the emulator
	// (with the load generator) and the Go runtime (garbage collector and
	// scheduler), from pprof labels on the CPU profile.
	Split map[string]float64 `json:"split_pct,omitempty"`
}

func (c CPUFigures) String() string {
	s := fmt.Sprintf("process %.0f%%, machine %.0f%%", c.Process, c.Machine)
	if c.Stickyacd > 0 {
		s += fmt.Sprintf(", stickyacd %.0f%%", c.Stickyacd)
	}
	if len(c.Split) > 0 {
		s += fmt.Sprintf(" (stickyacd %.0f%%, emulator %.0f%%, runtime %.0f%%)",
			c.Split[sideStickyacd], c.Split[sideEmulator], c.Split[sideRuntime])
	}
	return s
}

// cpuReading is a moment's CPU counters.
type cpuReading struct {
	process time.Duration // this process, user + system
	busy    int64         // machine jiffies not idle
	total   int64         // all machine jiffies
}

func readCPU() cpuReading {
	var r cpuReading
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r.busy, r.total = machineJiffies()
	return r
}

// machineJiffies reads /proc/stat's aggregate line; zeros elsewhere.
func machineJiffies() (busy, total int64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, 0
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// since is the CPU used from r0 to r over wall time.
func (r cpuReading) since(r0 cpuReading, wall time.Duration) CPUFigures {
	var c CPUFigures
	if wall > 0 {
		c.Process = round(100*(r.process-r0.process).Seconds()/wall.Seconds(), 1)
	}
	if dt := r.total - r0.total; dt > 0 {
		c.Machine = round(100*float64(runtime.NumCPU())*float64(r.busy-r0.busy)/float64(dt), 1)
	}
	return c
}

// peaks are the highest figures a sampler saw.
type peaks struct {
	inFlight   int
	goroutines int
	rssMB      float64
	// remoteCPU is the --addr stickyacd's CPU seconds at the start and
	// end, from its /metrics.
	remoteCPU [2]float64
}

// sampler watches a phase every samplePeriod.
type sampler struct {
	b    *bencher
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	pk   peaks
}

const samplePeriod = 100 * time.Millisecond

func (b *bencher) startSampler() *sampler {
	s := &sampler{b: b, quit: make(chan struct{})}
	if b.remote() {
		s.pk.remoteCPU[0] = b.metrics.scrape()[metricCPU]
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(samplePeriod)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-t.C:
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

// remote reports whether stickyacd runs in another process whose /metrics
// the bench reads.
func (b *bencher) remote() bool { return b.o.Addr != "" && b.metrics != nil }

func (s *sampler) sample() {
	pk := peaks{inFlight: int(s.b.inflight.Load())}
	if s.b.remote() {
		m := s.b.metrics.scrape()
		pk.goroutines = int(m[metricGoroutines])
		pk.rssMB = m[metricRSS] / (1 << 20)
	} else {
		pk.goroutines = runtime.NumGoroutine()
		pk.rssMB = selfRSSMB()
	}
	s.mu.Lock()
	s.pk.inFlight = max(s.pk.inFlight, pk.inFlight)
	s.pk.goroutines = max(s.pk.goroutines, pk.goroutines)
	s.pk.rssMB = max(s.pk.rssMB, pk.rssMB)
	s.mu.Unlock()
}

// stop ends the sampling and returns the peaks.
func (s *sampler) stop() peaks {
	close(s.quit)
	s.wg.Wait()
	if s.b.remote() {
		s.pk.remoteCPU[1] = s.b.metrics.scrape()[metricCPU]
	}
	return s.pk
}

// selfRSSMB is this process's resident set (VmRSS), in MiB.
func selfRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return round(kb/1024, 1)
		}
	}
	return 0
}
