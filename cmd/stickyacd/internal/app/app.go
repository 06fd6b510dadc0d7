package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/stickyacd/stickyacd/callback"
	"github.com/stickyacd/stickyacd/callback/webhook"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/feed"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/httpapi"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/metrics"
	"github.com/stickyacd/stickyacd/esl"
	"github.com/stickyacd/stickyacd/routing"
	"github.com/stickyacd/stickyacd/store"
	"github.com/stickyacd/stickyacd/store/presence"
	"github.com/stickyacd/stickyacd/store/spool"
)

// Clock is the source of time of the call flow and the callback worker;
// tests replace it to move time forward.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Options are what tests and the demo change; zero values suit production.
type Options struct {
	Clock Clock
	// DBWait is how long start-up waits for PostgreSQL. Default 30s.
	DBWait time.Duration
	// ReconcileGrace is presence's protection of fresh changes from
	// reconciliation (presence.Options.ReconcileGrace); 0 keeps its default.
	ReconcileGrace time.Duration
}

// App is a running stickyacd: every component of `serve`, built from the
// configuration. Listeners are bound by New, so their addresses are known
// before Run.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	version string
	clock   Clock

	db      *store.DB
	repo    *store.Repo
	tasks   *store.Tasks
	spool   *spool.Spool
	webhook *webhook.Deliverer
	rdb     redis.UniversalClient
	pres    *presence.Store
	hub     *feed.Hub
	metrics *metrics.Metrics
	fs      *esl.Client
	events  *fsEvents
	esl     *esl.Server
	router  *routing.Router
	worker  *callback.Worker
	live    *liveCalls
	// featureCalls are the channels of agents dialling a login, logout or
	// break code: reconciliation must not take them for calls.
	featureCalls sync.Map

	eslLn    net.Listener
	httpLn   net.Listener
	http     *http.Server
	httpBase context.Context
	stopHTTP context.CancelFunc

	closeOnce sync.Once
}

// Serve runs stickyacd until drain ends (SIGTERM: calls in progress finish,
// new calls go back to the dialplan) or hard ends (stop now).
func Serve(drain, hard context.Context, cfg *config.Config, log *slog.Logger, version string) error {
	a, err := New(drain, cfg, log, version, Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	errc := make(chan error, 1)
	go func() { errc <- a.Run(drain) }()
	select {
	case err := <-errc:
		return err
	case <-hard.Done():
		log.Warn("stopping now; calls in progress are handed back to the dialplan", "active_calls", a.esl.Active())
		// The handlers' last writes (a callback promise, the call record)
		// get a moment before the stores close under them.
		select {
		case <-errc:
		case <-time.After(2 * time.Second):
		}
		return nil
	}
}

// New builds every component and binds the listeners.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, version string, opts Options) (*App, error) {
	a := &App{cfg: cfg, log: log, version: version, clock: opts.Clock, live: newLiveCalls()}
	if a.clock == nil {
		a.clock = systemClock{}
	}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if err := a.openStores(ctx, opts); err != nil {
		return nil, err
	}
	a.hub = feed.New(a.rdb, a.pres.Prefix()+":feed", log.With("component", "feed"))
	a.metrics = metrics.New(map[string]func() float64{
		metrics.GaugeSessions:    func() float64 { return float64(a.esl.Active()) },
		metrics.GaugeFeedStreams: func() float64 { return float64(a.hub.Subscribers()) },
		metrics.GaugeFeedDropped: func() float64 { return float64(a.hub.Dropped()) },
		metrics.GaugeFSConnected: func() float64 { return boolFloat(a.fs.Connected()) },
		metrics.GaugeFSDropped:   func() float64 { return float64(a.fs.DroppedEvents()) },
	})
	if err := a.buildFlow(); err != nil {
		return nil, err
	}
	if err := a.buildWorker(); err != nil {
		return nil, err
	}
	a.events = newFSEvents(a)
	a.fs = esl.NewClient(esl.ClientOptions{
		Addr:         cfg.FreeSWITCH.EventSocket,
		Password:     cfg.FreeSWITCH.Password,
		Logger:       log.With("component", "freeswitch"),
		Handler:      a.events,
		ReconnectMax: cfg.FreeSWITCH.ReconnectMax,
	})
	srv, err := esl.NewServer(esl.ServerOptions{
		Listen:          cfg.ESL.Listen,
		Allow:           cfg.AllowPrefixes(),
		MaxSessions:     cfg.ESL.MaxSessions,
		DrainTimeout:    cfg.ESL.DrainTimeout,
		MaxCallDuration: cfg.ESL.MaxCallDuration,
		CommandTimeout:  cfg.ESL.CommandTimeout,
		CallerVars:      a.setupVars(),
		Hangup:          a.killChannel,
		Logger:          log.With("component", "esl"),
	}, a.handle)
	if err != nil {
		return nil, fmt.Errorf("esl server: %w", err)
	}
	a.esl = srv
	if a.eslLn, err = net.Listen("tcp", cfg.ESL.Listen); err != nil {
		return nil, fmt.Errorf("esl.listen %s: %w", cfg.ESL.Listen, err)
	}
	if a.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	if cfg.HTTP.Token == "" {
		log.Warn("http.token is empty: the admin API is open to anyone who can reach " + cfg.HTTP.Listen)
	}
	// Requests' contexts end when the server stops, so that agents' event
	// streams, which never end by themselves, let Shutdown finish.
	a.httpBase, a.stopHTTP = context.WithCancel(context.Background())
	a.http = &http.Server{
		Handler:           a.httpHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return a.httpBase },
	}
	ok = true
	return a, nil
}

func (a *App) openStores(ctx context.Context, opts Options) error {
	cfg := a.cfg
	wait := opts.DBWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	db, err := waitForDB(ctx, cfg, a.log, wait)
	if err != nil {
		return err
	}
	a.db = db
	if _, err := prepareDB(ctx, db, cfg, a.log); err != nil {
		return err
	}
	hasher, err := store.NewIDHasher([]byte(cfg.Security.IDHashKey))
	if err != nil {
		return err
	}
	if a.repo, err = store.NewRepo(ctx, db, hasher, store.RepoOptions{Logger: a.log.With("component", "directory")}); err != nil {
		return err
	}
	a.tasks = store.NewTasks(db, store.TasksOptions{WebhookOutbox: cfg.Callback.WebhookURL != ""})
	if a.spool, err = spool.New(a.tasks, spool.Options{Dir: cfg.Callback.SpoolDir, Logger: a.log.With("component", "spool")}); err != nil {
		return fmt.Errorf("callback.spool_dir %s: %w", cfg.Callback.SpoolDir, err)
	}
	if cfg.Callback.WebhookURL != "" {
		if a.webhook, err = webhook.New(webhook.Config{
			URL: cfg.Callback.WebhookURL, Secret: cfg.Callback.WebhookSecret,
			Now: a.clock.Now, Logger: a.log.With("component", "webhook"),
		}, store.NewOutbox(db)); err != nil {
			return fmt.Errorf("callback.webhook_url: %w", err)
		}
	}
	if a.rdb, err = presence.NewClient(presence.ClientOptions{
		Addrs: cfg.Redis.Addrs, DB: cfg.Redis.DB, Password: cfg.Redis.Password, MasterName: cfg.Redis.MasterName,
	}); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if a.pres, err = presence.New(a.rdb, presence.Options{
		Prefix:              cfg.Presence.KeyPrefix,
		RequireRegistration: cfg.Presence.RequireRegistration,
		ReserveTTL:          cfg.Routing.RingTimeout + 15*time.Second,
		MaxCallDuration:     cfg.ESL.MaxCallDuration,
		WrapUp:              cfg.Routing.WrapUp,
		MaxNoAnswer:         cfg.Routing.MaxNoAnswer,
		NoAnswerDelay:       cfg.Presence.NoAnswerDelay,
		BusyDelay:           cfg.Presence.BusyDelay,
		RejectDelay:         cfg.Presence.RejectDelay,
		ReconcileGrace:      opts.ReconcileGrace,
		Logger:              a.log.With("component", "presence"),
	}); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if err := a.pres.Load(ctx); err != nil {
		// Calls still get the callback path while Redis is away.
		a.log.Error("Redis is not reachable at start-up; agents cannot be offered calls until it is", "err", err)
	}
	return nil
}

// waitForDB retries the first connection for a while: PostgreSQL often
// starts alongside stickyacd.
func waitForDB(ctx context.Context, cfg *config.Config, log *slog.Logger, wait time.Duration) (*store.DB, error) {
	deadline := time.Now().Add(wait)
	for {
		db, err := openDB(ctx, cfg)
		if err == nil {
			return db, nil
		}
		if errors.Is(err, store.ErrNoSSLMode) || time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		log.Warn("waiting for PostgreSQL", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// ESLAddr is the outbound socket's address.
func (a *App) ESLAddr() net.Addr { return a.eslLn.Addr() }

// HTTPAddr is the admin API's address.
func (a *App) HTTPAddr() net.Addr { return a.httpLn.Addr() }

// Run serves until ctx ends, then drains the calls in progress (up to
// esl.drain_timeout) before stopping the rest. A service that fails stops
// everything.
func (a *App) Run(ctx context.Context) error {
	rest, stopRest := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRest()
	g, gctx := errgroup.WithContext(rest)
	eslCtx, stopESL := context.WithCancel(ctx)
	defer stopESL()
	context.AfterFunc(gctx, stopESL)

	a.log.Info("stickyacd serving", "version", a.version, "esl", a.ESLAddr().String(), "http", a.HTTPAddr().String(),
		"freeswitch", a.cfg.FreeSWITCH.EventSocket)
	g.Go(func() error {
		defer stopRest()
		err := a.esl.Serve(eslCtx, a.eslLn)
		if err != nil {
			return fmt.Errorf("esl server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		err := a.http.Serve(a.httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		a.stopHTTP()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.http.Shutdown(sctx); err != nil {
			// A request still going after 5 s is cut off; that is no
			// reason for a non-zero exit.
			a.log.Warn("http requests cut off at shutdown", "err", err)
			_ = a.http.Close()
		}
		return nil
	})
	run := func(name string, f func(context.Context) error) {
		g.Go(func() error {
			if err := f(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	run("freeswitch event client", a.fs.Run)
	run("reconciler", a.events.reconcileLoop)
	run("agent directory refresher", a.repo.Run)
	run("spool", a.spool.Run)
	run("callback worker", a.worker.Run)
	run("feed relay", a.hub.Run)
	if a.webhook != nil {
		run("webhook", a.webhook.Run)
	}
	err := g.Wait()
	a.log.Info("stickyacd stopped", "err", err)
	return err
}

// Close releases the stores; Run must have returned.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		if a.spool != nil {
			_ = a.spool.Close()
		}
		if a.repo != nil {
			if err := a.repo.Close(); err != nil {
				a.log.Error("closing the store", "err", err)
			}
		}
		if a.db != nil {
			_ = a.db.Close()
		}
		if a.rdb != nil {
			_ = a.rdb.Close()
		}
		for _, ln := range []net.Listener{a.eslLn, a.httpLn} {
			if ln != nil {
				_ = ln.Close()
			}
		}
	})
}

// setupVars are set on every call at session set-up, at no extra round
// trip: the ringback callers hear while agents ring (ringback before the
// call is answered, transfer_ringback after). A value with ${…} needs
// FreeSWITCH's expansion, which only the per-bridge path does.
func (a *App) setupVars() map[string]string {
	if a.ringbackPerBridge() {
		return nil
	}
	rb := a.cfg.Prompts.Ringback
	return map[string]string{"ringback": rb, "transfer_ringback": rb}
}

func (a *App) ringbackPerBridge() bool { return strings.Contains(a.cfg.Prompts.Ringback, "${") }

// killChannel hangs a call up over the event socket (used for poisoned
// sessions, whose own connection can no longer be trusted).
func (a *App) killChannel(ctx context.Context, uuid, cause string) error {
	_, err := a.fs.API(ctx, "uuid_kill "+uuid+" "+cause)
	return err
}

func (a *App) httpHandler() http.Handler {
	return httpapi.New(httpapi.Config{
		Token:     a.cfg.HTTP.Token,
		Agents:    agentsAPI{a},
		Callbacks: callbacksAPI{a},
		Calls:     callsAPI{a},
		Feed:      a.hub,
		Metrics:   a.metrics.Handler(),
		Ready: map[string]func(context.Context) error{
			"postgres": a.db.Ping,
			"redis":    func(ctx context.Context) error { return a.rdb.Ping(ctx).Err() },
		},
		Logger: a.log.With("component", "http"),
	})
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
