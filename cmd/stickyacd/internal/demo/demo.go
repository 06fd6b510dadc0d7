// Package demo is `stickyacd demo`: the whole call flow for someone without
// FreeSWITCH. It loads a small directory into a schema and Redis prefix of
// its own (reset on each run), runs serve in-process against the configured
// PostgreSQL and Redis with the built-in FreeSWITCH emulator, places
// scripted calls that take each branch of DESIGN.md §1, and prints each
// call's decision trace and the callback tasks' histories.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/app"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/sandbox"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/store/presence"
)

// Sandbox names: the schema and key prefix must start with this.
const sandboxOwner = "stickyacd_demo"

// ThrowawayKey hashes the demo's ID numbers when the configuration has no
// security.id_hash_key: the data are made up.
const ThrowawayKey = "stickyacd-demo-throwaway-key"

// Domain is the SIP realm the demo's phones register in.
const Domain = "demo.local"

// Options are the flags of `stickyacd demo`.
type Options struct {
	ConfigFile string
	LookupEnv  func(string) (string, bool)
	// Schema and RedisPrefix hold the demo's data; both are reset.
	Schema, RedisPrefix string
	// Speed makes emulated media, ringing and stickyacd's own delays run
	// this many times faster.
	Speed float64
	// Log receives stickyacd's own log lines; nil discards them.
	Log io.Writer
	// LogLevel of those lines.
	LogLevel string
}

// Defaults are the flags' defaults.
func Defaults() Options {
	return Options{Schema: sandboxOwner, RedisPrefix: sandboxOwner, Speed: 20, LogLevel: "error"}
}

// offsetClock is the system clock moved forward by Advance; the callback
// worker and the call flow read it (presence keeps Redis's time).
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// demo is one run.
type demo struct {
	o     Options
	out   io.Writer
	cfg   *config.Config
	fs    *fstest.FS
	clock *offsetClock
	api   *apiClient
	pres  *presence.Store
}

// Run plays the demo, writing what happens to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if o.Speed < 1 {
		return errors.New("--speed: at least 1")
	}
	if o.LookupEnv == nil {
		o.LookupEnv = func(string) (string, bool) { return "", false }
	}
	base, schema, err := sandbox.Load(o.ConfigFile, o.LookupEnv, o.Schema, o.RedisPrefix, sandboxOwner)
	if err != nil {
		return err
	}
	if err := schema.Reset(ctx); err != nil {
		return err
	}

	eslAddr, err := sandbox.FreePort()
	if err != nil {
		return err
	}
	fs, err := fstest.New(fstest.Options{Outbound: eslAddr, Password: base.FreeSWITCH.Password, Speed: o.Speed, FileDuration: time.Second})
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	defer fs.Close()

	token := randomHex(16)
	key := base.Security.IDHashKey
	if key == "" {
		key = ThrowawayKey
	}
	env := map[string]string{
		"postgres.dsn":                  schema.DSN(),
		"presence.key_prefix":           o.RedisPrefix,
		"presence.require_registration": "true",
		"esl.listen":                    eslAddr,
		"http.listen":                   "127.0.0.1:0",
		"http.token":                    token,
		"freeswitch.event_socket":       fs.EventSocketAddr(),
		"freeswitch.domain":             Domain,
		"security.id_hash_key":          key,
		"log.level":                     o.LogLevel,
		// No wrap-up or post-failure pauses: each scene sets up its agents
		// itself and must find them as it left them.
		"routing.wrap_up":       "0s",
		"presence.busy_delay":   "0s",
		"presence.reject_delay": "0s",
		// Real-time waits shrink with the emulated time.
		"routing.hangup_grace":    sandbox.Scaled(base.Routing.HangupGrace, o.Speed),
		"callback.complete_after": sandbox.Scaled(base.Callback.CompleteAfter, o.Speed),
		"callback.interval":       sandbox.Scaled(base.Callback.Interval, o.Speed),
		// The worker's clock is moved on by hours; business hours would
		// make the demo depend on the time of day it runs at.
		"callback.business_hours": "00:00-24:00",
		"callback.business_days":  "sun-sat",
	}
	spool, err := os.MkdirTemp("", "stickyacd-demo-spool-")
	if err != nil {
		return fmt.Errorf("spool directory: %w", err)
	}
	defer os.RemoveAll(spool)
	env["callback.spool_dir"] = spool
	lookup := func(k string) (string, bool) {
		for key, v := range env {
			if config.EnvName(key) == k {
				return v, true
			}
		}
		return o.LookupEnv(k)
	}
	cfg, err := config.Load(o.ConfigFile, lookup)
	if err != nil {
		return err
	}
	if err := cfg.Validate(config.Need{HashKey: true}); err != nil {
		return err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	log := app.NewLogger(cfg.Log, logw)

	// The data go in before stickyacd starts, so its first agent snapshot
	// has them; its Redis keys go.
	if _, err := app.Migrate(ctx, cfg, log); err != nil {
		return err
	}
	if err := importCSV(ctx, cfg, log, "agents", agentsCSV); err != nil {
		return err
	}
	if err := importCSV(ctx, cfg, log, "customers", customersCSV()); err != nil {
		return err
	}
	rdb, err := presence.NewClient(presence.ClientOptions{
		Addrs: cfg.Redis.Addrs, DB: cfg.Redis.DB, Password: cfg.Redis.Password, MasterName: cfg.Redis.MasterName,
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer rdb.Close()
	if err := sandbox.DropPrefix(ctx, rdb, o.RedisPrefix); err != nil {
		return err
	}
	pres, err := presence.New(rdb, presence.Options{Prefix: o.RedisPrefix, RequireRegistration: true})
	if err != nil {
		return fmt.Errorf("presence: %w", err)
	}

	clock := &offsetClock{}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	a, err := app.New(actx, cfg, log, "demo", app.Options{Clock: clock})
	if err != nil {
		return err
	}
	defer a.Close()
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	defer func() {
		cancel()
		<-done
	}()

	d := &demo{
		o: o, out: out, cfg: cfg, fs: fs, clock: clock, pres: pres,
		api: &apiClient{base: "http://" + a.HTTPAddr().String(), token: token},
	}
	d.header(schema.Name)
	return d.play(ctx)
}

func importCSV(ctx context.Context, cfg *config.Config, log *slog.Logger, kind, body string) error {
	f, err := os.CreateTemp("", "stickyacd-demo-"+kind+"-*.csv")
	if err != nil {
		return fmt.Errorf("demo %s: %w", kind, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return fmt.Errorf("demo %s: %w", kind, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo %s: %w", kind, err)
	}
	if _, err := app.Import(ctx, cfg, log, kind, f.Name()); err != nil {
		return fmt.Errorf("demo %s: %w", kind, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apiClient calls stickyacd's HTTP API, as an operator's tools would.
type apiClient struct {
	base, token string
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}
