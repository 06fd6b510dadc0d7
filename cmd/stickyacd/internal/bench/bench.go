// Package bench is `stickyacd bench`: it drives emulated calls (esl/fstest)
// through stickyacd with the real PostgreSQL and Redis of the configuration,
// on a generated data set, and measures what issue 7 sets targets for.
//
// stickyacd runs in the bench's own process by default; with Options.Addr the
// emulator dials a stickyacd running elsewhere, configured as ServerEnv says.
// Either way the bench works only in a schema and a Redis key prefix of its
// own (see package sandbox), never on a deployment's data.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/app"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/presence"
)

// Sandbox names: the schema and key prefix must start with this.
const sandboxOwner = "stickyacd_bench"

// ThrowawayKey hashes the synthetic ID numbers, whatever the configuration
// says: the data are made up, so no secret is needed, and the deployment's
// key is never printed (--server-env) or spent on them.
const ThrowawayKey = "stickyacd-bench-throwaway-key"

// Options are the flags of `stickyacd bench`.
type Options struct {
	// ConfigFile and LookupEnv load the configuration as every command
	// does; the bench takes PostgreSQL, Redis and the flow's settings from
	// it and overrides what ServerEnv lists.
	ConfigFile string
	LookupEnv  func(string) (string, bool)

	Sizes
	Mix
	Phones

	Schema      string // PostgreSQL schema of the data set
	RedisPrefix string // presence key prefix

	Calls       int     // measured calls at Rate
	Rate        float64 // calls placed per second
	Concurrency int     // at most this many calls in progress
	BurstCalls  int     // then this many at BurstRate (0: no burst)
	BurstRate   float64
	Warmup      int // calls before the measured ones, not counted
	Hold        int // calls held connected to measure heap per call (0: skip)

	Speed float64 // emulated media and ringing run this many times faster
	Seed  uint64

	// Addr is the outbound socket of a stickyacd started separately; ""
	// runs stickyacd in the bench's process.
	Addr string
	// EventSocket is where the emulator's inbound event socket listens.
	EventSocket string
	// Metrics is the /metrics URL of the stickyacd at Addr, for its own
	// CPU, memory and goroutines.
	Metrics string

	LogLevel   string    // stickyacd's log level in-process
	ServerLog  io.Writer // where in-process stickyacd logs; nil: os.Stderr
	CPUProfile string    // write the measured phases' CPU profile here
	MemProfile string    // write an allocation profile here at the end

	// Progress receives a progress bar (a terminal); nil draws none.
	Progress io.Writer
	// Logger receives the bench's own progress messages.
	Logger *slog.Logger

	// holdSettle, holdQuiet and heapWait shorten the heap measurement's
	// waits (tests).
	holdSettle, holdQuiet, heapWait time.Duration
}

// Defaults are the flags' defaults: the standard size of `make bench`
// without its burst.
func Defaults() Options {
	return Options{
		Sizes:       Sizes{Agents: 50_000, TeamSize: 10, Customers: 1_000_000},
		Mix:         Mix{Known: 0.7, IDEntry: 0.15},
		Phones:      Phones{Busy: 0.05, NoAnswer: 0.05, RingFor: time.Second, TalkFor: 10 * time.Second},
		Schema:      sandboxOwner,
		RedisPrefix: sandboxOwner,
		Calls:       20_000,
		Rate:        500,
		Concurrency: 1500,
		BurstRate:   1000,
		Warmup:      500,
		Hold:        1000,
		Speed:       20,
		Seed:        7,
		EventSocket: "127.0.0.1:0",
		LogLevel:    "warn",
	}
}

func (o Options) validate() error {
	var errs []error
	check := func(ok bool, flag, why string) {
		if !ok {
			errs = append(errs, fmt.Errorf("--%s: %s", flag, why))
		}
	}
	check(o.Agents >= 1, "agents", "at least 1")
	check(o.TeamSize >= 1, "team-size", "at least 1")
	check(o.Customers >= 1, "customers", "at least 1")
	check(o.Known >= 0 && o.IDEntry >= 0 && o.Known+o.IDEntry <= 1, "known/--id-entry", "shares between 0 and 1, together at most 1")
	check(o.Busy >= 0 && o.NoAnswer >= 0 && o.Busy+o.NoAnswer <= 1, "busy/--no-answer", "shares between 0 and 1, together at most 1")
	check(o.Calls >= 1, "calls", "at least 1")
	check(o.Rate > 0, "rate", "positive")
	check(o.Concurrency >= 1, "concurrency", "at least 1")
	check(o.BurstCalls == 0 || o.BurstRate > 0, "burst-rate", "positive")
	check(o.Speed >= 1, "speed", "at least 1")
	check(o.Hold >= 0 && o.Warmup >= 0 && o.BurstCalls >= 0, "hold/--warmup/--burst-calls", "not negative")
	check(o.Addr == "" || o.Hold == 0 || o.Metrics != "", "hold", "needs --metrics with --addr (the heap is the other process's)")
	check(o.Addr == "" || !strings.HasSuffix(o.EventSocket, ":0"), "event-socket", "a fixed port with --addr: the other instance is configured with it")
	return errors.Join(errs...)
}

// ServerEnv is the configuration stickyacd runs with under the bench, as
// environment variables over the user's configuration: in-process they are
// applied as is, and a stickyacd started for --addr needs the same. base
// is the user's configuration; eventSocket the emulator's inbound socket.
func ServerEnv(base *config.Config, o Options, schema sandbox.Schema, eventSocket string) map[string]string {
	return map[string]string{
		config.EnvName("postgres.dsn"):                  schema.DSN(),
		config.EnvName("presence.key_prefix"):           o.RedisPrefix,
		config.EnvName("presence.require_registration"): "false",
		config.EnvName("presence.busy_delay"):           sandbox.Scaled(base.Presence.BusyDelay, o.Speed),
		config.EnvName("presence.reject_delay"):         sandbox.Scaled(base.Presence.RejectDelay, o.Speed),
		config.EnvName("presence.no_answer_delay"):      sandbox.Scaled(base.Presence.NoAnswerDelay, o.Speed),
		config.EnvName("routing.wrap_up"):               sandbox.Scaled(base.Routing.WrapUp, o.Speed),
		config.EnvName("routing.hangup_grace"):          sandbox.Scaled(base.Routing.HangupGrace, o.Speed),
		config.EnvName("freeswitch.event_socket"):       eventSocket,
		config.EnvName("security.id_hash_key"):          ThrowawayKey,
	}
}

func overlay(env map[string]string, next func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return next(k)
	}
}

// bencher is one run.
type bencher struct {
	o        Options
	log      *slog.Logger
	base     *config.Config
	schema   sandbox.Schema
	db       *store.DB
	fs       *fstest.FS
	promise  string
	plan     *planner
	pres     *presence.Store
	metrics  *remoteMetrics
	inflight atomic.Int64
}

// Run runs the bench and returns its figures.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LookupEnv == nil {
		o.LookupEnv = func(string) (string, bool) { return "", false }
	}
	base, schema, err := sandbox.Load(o.ConfigFile, o.LookupEnv, o.Schema, o.RedisPrefix, sandboxOwner)
	if err != nil {
		return nil, err
	}
	b := &bencher{o: o, log: o.Logger, base: base, schema: schema, promise: base.Prompts.CallbackPromise}
	res := &Result{Mode: "in-process", Sizes: o.Sizes, Mix: o.Mix, Speed: o.Speed}
	if o.Addr != "" {
		res.Mode = "addr"
	}

	// The data set, the emulator and stickyacd's configuration.
	env := ServerEnv(base, o, schema, o.EventSocket)
	if err := b.prepareData(ctx, env, res); err != nil {
		return nil, err
	}
	defer b.db.Close()
	closeRedis, err := b.preparePresence(ctx)
	if err != nil {
		return nil, err
	}
	defer closeRedis()

	var eslAddr string
	if o.Addr != "" {
		eslAddr = o.Addr
	} else if eslAddr, err = sandbox.FreePort(); err != nil {
		return nil, err
	}
	pprof.Do(ctx, pprof.Labels(sideLabel, sideEmulator), func(context.Context) {
		b.fs, err = fstest.New(fstest.Options{
			Outbound: eslAddr, Listen: o.EventSocket, Password: base.FreeSWITCH.Password,
			Speed: o.Speed, FileDuration: time.Second,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("emulator: %w", err)
	}
	defer b.fs.Close()
	b.setPhones(base)

	if o.Addr == "" {
		env[config.EnvName("freeswitch.event_socket")] = b.fs.EventSocketAddr()
		env[config.EnvName("esl.listen")] = eslAddr
		env[config.EnvName("http.listen")] = "127.0.0.1:0"
		env[config.EnvName("log.level")] = o.LogLevel
		env[config.EnvName("esl.max_sessions")] = strconv.Itoa(2 * max(o.Concurrency, o.Hold))
		spool, err := os.MkdirTemp("", "stickyacd-bench-spool-")
		if err != nil {
			return nil, fmt.Errorf("spool directory: %w", err)
		}
		defer os.RemoveAll(spool)
		env[config.EnvName("callback.spool_dir")] = spool
		stop, addr, err := b.startServer(ctx, env)
		if err != nil {
			return nil, err
		}
		defer stop()
		b.metrics = newRemoteMetrics("http://" + addr + "/metrics")
	} else if o.Metrics != "" {
		b.metrics = newRemoteMetrics(o.Metrics)
	}

	run, err := (&dataset{db: b.db}).nextRun(ctx)
	if err != nil {
		return nil, err
	}
	b.plan = newPlanner(o.Seed, o.Sizes, o.Mix, run)

	if o.Warmup > 0 {
		b.log.Info("bench: warm-up", "calls", o.Warmup)
		b.phase(ctx, "warm-up", o.Warmup, o.Rate, nil)
	}
	prof := &profiler{file: o.CPUProfile}
	b.log.Info("bench: measured calls", "calls", o.Calls, "rate", o.Rate)
	res.Phase, err = b.measured(ctx, "calls", o.Calls, o.Rate, prof, "")
	if err != nil {
		return nil, err
	}
	if o.BurstCalls > 0 {
		b.log.Info("bench: burst", "calls", o.BurstCalls, "rate", o.BurstRate)
		burst, err := b.measured(ctx, "burst", o.BurstCalls, o.BurstRate, prof, ".burst")
		if err != nil {
			return nil, err
		}
		res.Burst = &burst
	}
	if o.Hold > 0 {
		b.log.Info("bench: heap per connected call", "calls", o.Hold)
		h, err := b.heapPerCall(ctx)
		if err != nil {
			return nil, err
		}
		res.Heap = h
		res.HeapPerCallKiB = h.StickyacdKiB
	}
	res.RSSMB, res.Goroutines = b.peaks(res)
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// prepareData creates and migrates the schema and loads the data set
// unless one of the same sizes is there already.
func (b *bencher) prepareData(ctx context.Context, env map[string]string, res *Result) error {
	cfg, err := config.Load(b.o.ConfigFile, overlay(env, b.o.LookupEnv))
	if err != nil {
		return err
	}
	hasher, err := store.NewIDHasher([]byte(cfg.Security.IDHashKey))
	if err != nil {
		return err
	}
	if err := b.schema.Ensure(ctx); err != nil {
		return err
	}
	if b.db, err = store.Open(ctx, b.schema.DSN(), store.Pool{MaxOpen: 4}); err != nil {
		return err
	}
	ds := &dataset{db: b.db, hasher: hasher, log: b.log}
	fp := keyFingerprint(cfg.Security.IDHashKey)
	var present bool
	if err := b.db.SQL().GetContext(ctx, &present, `SELECT to_regclass('bench_dataset') IS NOT NULL`); err != nil {
		return fmt.Errorf("look for a bench data set: %w", err)
	}
	if present {
		if present, err = ds.matches(ctx, b.o.Sizes, fp); err != nil {
			return err
		}
	}
	if present {
		b.log.Info("bench: reusing the data set in the schema", "schema", b.schema.Name, "agents", b.o.Agents, "customers", b.o.Customers)
		res.Dataset.Reused = true
	} else {
		b.log.Info("bench: building the data set", "schema", b.schema.Name, "agents", b.o.Agents, "customers", b.o.Customers)
		if err := b.schema.Reset(ctx); err != nil {
			return err
		}
		start := time.Now()
		if _, err := app.Migrate(ctx, cfg, b.log); err != nil {
			return err
		}
		skills := make([]string, 0, len(cfg.BusinessTypes))
		for _, bt := range cfg.BusinessTypes {
			skills = append(skills, bt.Code)
		}
		if err := ds.load(ctx, b.o.Sizes, skills, fp); err != nil {
			return err
		}
		res.Dataset.LoadSeconds = time.Since(start).Seconds()
	}
	n, err := ds.closeLeftovers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		b.log.Info("bench: cancelled open tasks of earlier runs", "tasks", n)
	}
	return nil
}

// preparePresence forgets earlier runs' presence and makes every agent
// available. The client stays open for the run: close it.
func (b *bencher) preparePresence(ctx context.Context) (close func(), err error) {
	rdb, err := presence.NewClient(presence.ClientOptions{
		Addrs: b.base.Redis.Addrs, DB: b.base.Redis.DB, Password: b.base.Redis.Password, MasterName: b.base.Redis.MasterName,
		PoolSize: 32,
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	close = func() { _ = rdb.Close() }
	if err := b.setUpPresence(ctx, rdb); err != nil {
		close()
		return nil, err
	}
	return close, nil
}

func (b *bencher) setUpPresence(ctx context.Context, rdb redis.UniversalClient) error {
	if err := sandbox.DropPrefix(ctx, rdb, b.o.RedisPrefix); err != nil {
		return err
	}
	ps, err := presence.New(rdb, presence.Options{Prefix: b.o.RedisPrefix})
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	b.pres = ps
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := 0; i < b.o.Agents; i++ {
		g.Go(func() error {
			return ps.SetStatus(gctx, agentID(i), presence.StatusAvailable, "bench")
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("make the agents available: %w", err)
	}
	b.log.Info("bench: agents available", "agents", b.o.Agents, "seconds", time.Since(start).Seconds())
	return nil
}

// setPhones scripts every agent's phone on the emulator.
func (b *bencher) setPhones(cfg *config.Config) {
	for i := 0; i < b.o.Agents; i++ {
		b.fs.SetEndpoint(target(cfg, i), b.o.Phones.endpoint(i))
	}
}

// target is the dial string of agent i's phone as stickyacd builds it
// from agents.dial_string, which is what the emulator looks phones up by.
func target(cfg *config.Config, i int) string {
	return strings.NewReplacer("{extension}", extension(i), "{agent_id}", agentID(i)).Replace(cfg.Agents.DialString)
}

// startServer runs stickyacd in-process; stop ends it.
func (b *bencher) startServer(ctx context.Context, env map[string]string) (stop func(), httpAddr string, err error) {
	cfg, err := config.Load(b.o.ConfigFile, overlay(env, b.o.LookupEnv))
	if err != nil {
		return nil, "", err
	}
	if err := cfg.Validate(config.Need{HashKey: true}); err != nil {
		return nil, "", err
	}
	w := b.o.ServerLog
	if w == nil {
		w = os.Stderr
	}
	log := app.NewLogger(cfg.Log, w)
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var a *app.App
	done := make(chan error, 1)
	pprof.Do(actx, pprof.Labels(sideLabel, sideStickyacd), func(actx context.Context) {
		a, err = app.New(actx, cfg, log, "bench", app.Options{})
		if err == nil {
			go func() { done <- a.Run(actx) }()
		}
	})
	if err != nil {
		cancel()
		return nil, "", err
	}
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			b.log.Error("bench: stickyacd stopped with an error", "err", err)
		}
		a.Close()
	}
	return stop, a.HTTPAddr().String(), nil
}

// measured runs a phase under the CPU profiler and counts its tasks.
func (b *bencher) measured(ctx context.Context, name string, calls int, rate float64, prof *profiler, suffix string) (Phase, error) {
	if err := prof.start(); err != nil {
		return Phase{}, err
	}
	ph := b.phase(ctx, name, calls, rate, prof)
	split, err := prof.stop(suffix)
	if err != nil {
		return Phase{}, err
	}
	ph.CPU.Split = split
	if err := b.countTasks(ctx, &ph); err != nil {
		return Phase{}, err
	}
	return ph, nil
}

// phase places calls at rate, at most Concurrency at a time, waits for all
// of them to end and sums them up.
func (b *bencher) phase(ctx context.Context, name string, calls int, rate float64, prof *profiler) Phase {
	recs := make([]callRecord, calls)
	bar := newProgress(b.o.Progress, name, calls)
	defer bar.finish()
	sem := make(chan struct{}, b.o.Concurrency)
	var wg sync.WaitGroup
	var done, failed atomic.Int64
	samp := b.startSampler()
	cpu0 := readCPU()
	start := time.Now()
	lastDial := start
	pprof.Do(ctx, pprof.Labels(sideLabel, sideEmulator), func(ctx context.Context) {
		for i := 0; i < calls; i++ {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
			sem <- struct{}{}
			kind, spec := b.plan.next()
			lastDial = time.Now()
			wg.Add(1)
			b.inflight.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem; b.inflight.Add(-1) }()
				recs[i] = b.call(ctx, kind, spec)
				if recs[i].err != "" {
					failed.Add(1)
				}
				bar.set(int(done.Add(1)), int(failed.Load()))
			}()
		}
		wg.Wait()
	})
	end := time.Now()
	cpu := readCPU().since(cpu0, end.Sub(start))
	peaks := samp.stop()
	if b.remote() {
		cpu.Stickyacd = round(100*(peaks.remoteCPU[1]-peaks.remoteCPU[0])/end.Sub(start).Seconds(), 1)
	}
	return summarize(recs, start, lastDial, end, rate, cpu, peaks)
}

// callTimeout bounds one call; the longest script (three ID tries, every
// agent of a chain ringing out) takes far less at any useful speed.
const callTimeout = 2 * time.Minute

// call places one call and waits for its end.
func (b *bencher) call(ctx context.Context, kind callerKind, spec fstest.CallSpec) callRecord {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	dialled := time.Now()
	c, err := b.fs.Call(ctx, spec)
	if err != nil {
		return callRecord{kind: kind, outcome: outcomeFailed, err: "place call: " + err.Error()}
	}
	res, err := c.Wait(ctx)
	if err != nil {
		return callRecord{uuid: c.UUID(), kind: kind, outcome: outcomeFailed, err: err.Error()}
	}
	return record(res, kind, dialled, b.promise)
}

// taskSettle bounds the wait for the tasks of a phase: a task PostgreSQL
// could not take in time is spooled and replayed a little later.
const (
	taskSettle     = time.Minute
	taskSettleIdle = 5 * time.Second
)

// countTasks counts the callback tasks the phase's calls created, waiting
// until every promise has its task or the count stops growing.
func (b *bencher) countTasks(ctx context.Context, ph *Phase) error {
	deadline := time.Now().Add(taskSettle)
	last, lastChange := -1, time.Now()
	for {
		if err := b.db.SQL().GetContext(ctx, &ph.TasksCreated,
			`SELECT count(*) FROM callback_tasks WHERE call_uuid = ANY($1)`, pq.Array(ph.uuids)); err != nil {
			return fmt.Errorf("count tasks: %w", err)
		}
		if ph.TasksCreated != last {
			last, lastChange = ph.TasksCreated, time.Now()
		}
		if ph.TasksCreated >= ph.Promises || time.Since(lastChange) > taskSettleIdle || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	ph.uuids = nil
	return nil
}

// peaks are the highest RSS and goroutine count seen: stickyacd's own
// with --addr and --metrics, else the bench process's (stickyacd and the
// emulator together).
func (b *bencher) peaks(res *Result) (float64, int) {
	rss, gs := res.Phase.peak.rssMB, res.Phase.peak.goroutines
	if res.Burst != nil {
		rss, gs = max(rss, res.Burst.peak.rssMB), max(gs, res.Burst.peak.goroutines)
	}
	return rss, gs
}

func writeHeapProfile(path string) error {
	var buf bytes.Buffer
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(&buf, 0); err != nil {
		return fmt.Errorf("memory profile: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("memory profile: %w", err)
	}
	return nil
}

// WriteServerEnv prints the environment a stickyacd started for --addr
// needs, over the same configuration file: one KEY='value' per line, for a
// shell to source.
func WriteServerEnv(w io.Writer, o Options) error {
	base, schema, err := sandbox.Load(o.ConfigFile, o.LookupEnv, o.Schema, o.RedisPrefix, sandboxOwner)
	if err != nil {
		return err
	}
	env := ServerEnv(base, o, schema, o.EventSocket)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		// Quoted for a shell: a DSN holds '&'.
		if _, err := fmt.Fprintf(w, "%s='%s'\n", k, strings.ReplaceAll(env[k], "'", `'\''`)); err != nil {
			return err
		}
	}
	return nil
}
