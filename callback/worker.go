package callback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
)

// Deps are the worker's collaborators.
type Deps struct {
	Store        Store
	Directory    Directory
	Availability Availability
	Notifier     Notifier     // nil: no push notifications
	Clock        Clock        // nil: the system clock
	Logger       *slog.Logger // nil: discard
}

// Worker runs steps 05 and 06 and the operations on single tasks
// (Complete, Reassign, NextCallback). Several workers, in one process or
// in several, may share a store: each task is worked by the one holding its
// lease.
type Worker struct {
	cfg      Config
	store    Store
	dir      Directory
	avail    Availability
	notifier Notifier
	clock    Clock
	log      *slog.Logger
	kick     chan struct{}
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// NewWorker checks cfg (zero fields take their defaults) and returns a
// worker.
func NewWorker(cfg Config, d Deps) (*Worker, error) {
	cfg = cfg.withDefaults()
	if cfg.Owner == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "stickyacd"
		}
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if d.Store == nil || d.Directory == nil || d.Availability == nil {
		return nil, errors.New("callback: Store, Directory and Availability are required")
	}
	w := &Worker{
		cfg: cfg, store: d.Store, dir: d.Directory, avail: d.Availability,
		notifier: d.Notifier, clock: d.Clock, log: d.Logger,
		kick: make(chan struct{}, 1),
	}
	if w.clock == nil {
		w.clock = systemClock{}
	}
	if w.log == nil {
		w.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return w, nil
}

// Run assigns and chases tasks every Interval, and at once after Kick, and
// returns expired leases every RescueEvery, until ctx ends. Store failures
// are logged and retried at the next tick; Run only returns when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("callback worker started", "owner", w.cfg.Owner, "interval", w.cfg.Interval,
		"batch_size", w.cfg.BatchSize, "business_hours", w.cfg.BusinessHours.String(), "location", w.cfg.Location.String())
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	rescue := time.NewTicker(w.cfg.RescueEvery)
	defer rescue.Stop()
	w.rescue(ctx)
	w.Pass(ctx, false)
	for {
		select {
		case <-ctx.Done():
			w.log.Info("callback worker stopped", "owner", w.cfg.Owner)
			return nil
		case <-tick.C:
			w.Pass(ctx, false)
		case <-w.kick:
			w.Pass(ctx, true)
		case <-rescue.C:
			w.rescue(ctx)
		}
	}
}

// Kick asks Run for a pass now that also retries every pending task, e.g.
// because an agent just became available. It never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Pass claims and works due tasks, batch after batch, until none is due,
// and returns how many it worked. wake makes every pending task due first.
// Run calls it; it is exported for tests and tools that drive the worker
// step by step.
func (w *Worker) Pass(ctx context.Context, wake bool) int {
	if wake {
		if _, err := w.store.WakePending(ctx, w.clock.Now()); err != nil {
			w.log.Warn("callback: wake pending tasks", "err", err)
		}
	}
	total := 0
	for ctx.Err() == nil {
		n, err := w.batch(ctx)
		total += n
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("callback: batch failed; its tasks return when their lease ends", "err", err)
			}
			return total
		}
		if n < w.cfg.BatchSize {
			return total
		}
	}
	return total
}

// batch claims, decides and applies one batch in three round trips plus
// the agent look-ups.
func (w *Worker) batch(ctx context.Context) (int, error) {
	now := w.clock.Now()
	tasks, err := w.store.Claim(ctx, Claim{Owner: w.cfg.Owner, Now: now, Until: now.Add(w.cfg.Lease), Limit: w.cfg.BatchSize})
	if err != nil {
		return 0, fmt.Errorf("claim tasks: %w", err)
	}
	if len(tasks) == 0 {
		return 0, nil
	}
	p := w.newPlan(ctx, now, tasks)
	changes := make([]Change, len(tasks))
	for i, t := range tasks {
		changes[i] = p.decide(ctx, t)
	}
	applied, err := w.store.Apply(ctx, w.cfg.Owner, changes)
	w.notify(changes, applied)
	if errors.Is(err, ErrLeaseLost) {
		// Another worker or an operator has those tasks now; theirs is the
		// decision that counts.
		w.log.Warn("callback: some leases were lost before the batch was applied", "claimed", len(tasks), "applied", len(applied))
		err = nil
	}
	if err != nil {
		return len(tasks), fmt.Errorf("apply %d task changes: %w", len(changes), err)
	}
	return len(tasks), nil
}

// notify pushes the notices of the changes that were applied.
func (w *Worker) notify(changes []Change, applied []int64) {
	if w.notifier == nil || len(applied) == 0 {
		return
	}
	ok := make(map[int64]bool, len(applied))
	for _, id := range applied {
		ok[id] = true
	}
	for _, c := range changes {
		if !ok[c.Task.ID] {
			continue
		}
		for _, n := range c.Notices {
			w.notifier.Notify(n)
		}
	}
}

func (w *Worker) rescue(ctx context.Context) {
	n, err := w.store.Rescue(ctx, w.clock.Now())
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Warn("callback: rescue expired leases", "err", err)
	case n > 0:
		w.log.Warn("callback: returned expired leases", "tasks", n)
	}
}

// leaseOwner names the lease of one operation on one task, distinct from
// the batch leases and from every other operation.
func (w *Worker) leaseOwner() string {
	return w.cfg.Owner + "/" + uuid.NewString()
}
