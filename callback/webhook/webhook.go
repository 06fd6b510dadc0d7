// Package webhook delivers callback notices (assignments, reminders,
// reassignments, escalations) to an HTTP endpoint, at least once.
//
// The notices wait in a durable outbox (store.Outbox, the callback_outbox
// table) written in the same statement as the task events they announce,
// so neither a crash nor an unreachable endpoint loses one. The Deliverer
// POSTs each as JSON (the callback.Notice shape) with
//
//	Content-Type: application/json
//	Idempotency-Key: <the notice's key, the same on every retry>
//	X-Stickyacd-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>
//
// and counts any 2xx answer as delivered. Anything else is retried with
// exponential backoff (MinBackoff doubling up to MaxBackoff), for as long as
// it takes; receivers deduplicate on the Idempotency-Key. Several instances
// may share one outbox: a delivery is leased while it is being sent.
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Delivery is one notice waiting to be POSTed.
type Delivery struct {
	ID       int64
	Key      string // the Idempotency-Key
	Body     []byte
	Attempts int // attempts made before this one
}

// Outbox keeps deliveries until they succeed (store.Outbox in production).
type Outbox interface {
	// Due leases up to limit deliveries due at now: no other deliverer
	// takes them before until.
	Due(ctx context.Context, now, until time.Time, limit int) ([]Delivery, error)
	// Delivered records a success.
	Delivered(ctx context.Context, id int64, at time.Time) error
	// Retry records a failure and when to try again.
	Retry(ctx context.Context, id int64, next time.Time, reason string) error
	// Prune forgets deliveries that succeeded before before.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// Config of a Deliverer. Zero fields take their defaults.
type Config struct {
	// URL receives the POSTs. Required.
	URL string
	// Secret keys the HMAC signature. Required.
	Secret string
	// Timeout bounds one POST. Default 10s.
	Timeout time.Duration
	// Poll is how often the outbox is looked at. Default 1s.
	Poll time.Duration
	// MinBackoff is the wait after a first failure; it doubles with each
	// further failure up to MaxBackoff. Defaults 1s and 1h.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Batch is how many deliveries one look at the outbox takes. Default 50.
	Batch int
	// KeepDelivered is how long delivered notices stay in the outbox (for
	// inspection) before they are pruned. Default 7 days.
	KeepDelivered time.Duration
	// Client sends the POSTs. Default a client with Timeout.
	Client *http.Client
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil: discard
}

// Defaults of Config.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultPoll          = time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Hour
	DefaultBatch         = 50
	DefaultKeepDelivered = 7 * 24 * time.Hour
)

// pruneEvery is how often Run prunes delivered notices.
const pruneEvery = time.Hour

// Deliverer POSTs the outbox's notices.
type Deliverer struct {
	cfg    Config
	outbox Outbox
	log    *slog.Logger
}

// New checks cfg and returns a Deliverer.
func New(cfg Config, outbox Outbox) (*Deliverer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: URL %q must be an http or https URL", cfg.URL)
	}
	if cfg.Secret == "" {
		return nil, errors.New("webhook: Secret is required to sign the notices")
	}
	if outbox == nil {
		return nil, errors.New("webhook: an outbox is required")
	}
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.Poll, DefaultPoll)
	setDefault(&cfg.MinBackoff, DefaultMinBackoff)
	setDefault(&cfg.MaxBackoff, DefaultMaxBackoff)
	setDefault(&cfg.KeepDelivered, DefaultKeepDelivered)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("webhook: MaxBackoff %s is below MinBackoff %s", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Deliverer{cfg: cfg, outbox: outbox, log: log}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Sign returns the X-Stickyacd-Signature value of body: "sha256=" and the
// hex HMAC-SHA256 of body under secret. Receivers compute the same over
// the raw body and compare with hmac.Equal.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Run delivers every Poll until ctx ends; outbox and endpoint failures are
// logged and retried.
func (d *Deliverer) Run(ctx context.Context) error {
	d.log.Info("webhook deliverer started", "url", d.redactedURL())
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	lastPrune := time.Time{}
	for {
		if _, err := d.Deliver(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("webhook: read the outbox", "err", err)
		}
		if now := d.cfg.Now(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if n, err := d.outbox.Prune(ctx, now.Add(-d.cfg.KeepDelivered)); err != nil && ctx.Err() == nil {
				d.log.Warn("webhook: prune delivered notices", "err", err)
			} else if n > 0 {
				d.log.Debug("webhook: pruned delivered notices", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
	}
}

// Deliver sends every delivery that is due, batch after batch, and
// returns how many succeeded. Run calls it; it is exported for tests and
// tools that drive delivery step by step.
func (d *Deliverer) Deliver(ctx context.Context) (int, error) {
	ok := 0
	for ctx.Err() == nil {
		now := d.cfg.Now()
		// The lease outlasts every POST of the batch.
		until := now.Add(d.cfg.Timeout*time.Duration(d.cfg.Batch) + d.cfg.Poll)
		batch, err := d.outbox.Due(ctx, now, until, d.cfg.Batch)
		if err != nil {
			return ok, fmt.Errorf("webhook: take due deliveries: %w", err)
		}
		slices.SortFunc(batch, func(a, b Delivery) int { return cmp.Compare(a.ID, b.ID) })
		for _, dl := range batch {
			if d.deliver(ctx, dl) {
				ok++
			}
		}
		if len(batch) < d.cfg.Batch {
			break
		}
	}
	return ok, nil
}

// deliver POSTs one delivery and records the outcome.
func (d *Deliverer) deliver(ctx context.Context, dl Delivery) bool {
	err := d.post(ctx, dl)
	// The outcome is recorded even when ctx ended during the POST.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.Timeout)
	defer cancel()
	now := d.cfg.Now()
	if err == nil {
		if rerr := d.outbox.Delivered(rctx, dl.ID, now); rerr != nil {
			// Left leased: it is sent again when the lease ends.
			d.log.Warn("webhook: record a delivery", "delivery_id", dl.ID, "err", rerr)
		}
		return true
	}
	next := now.Add(d.backoff(dl.Attempts + 1))
	d.log.Warn("webhook: delivery failed; will retry", "delivery_id", dl.ID, "attempt", dl.Attempts+1, "next", next, "err", err)
	if rerr := d.outbox.Retry(rctx, dl.ID, next, err.Error()); rerr != nil {
		d.log.Warn("webhook: record a failed delivery", "delivery_id", dl.ID, "err", rerr)
	}
	return false
}

// backoff is the wait after the n-th failure.
func (d *Deliverer) backoff(n int) time.Duration {
	b := d.cfg.MinBackoff
	for i := 1; i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.cfg.MaxBackoff)
}

func (d *Deliverer) post(ctx context.Context, dl Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(dl.Body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", dl.Key)
	req.Header.Set("X-Stickyacd-Signature", Sign(d.cfg.Secret, dl.Body))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// Keep the error free of the URL, which may carry a token.
			err = uerr.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("endpoint answered %s", resp.Status)
	}
	return nil
}

// redactedURL is the URL without credentials or query, for logs.
func (d *Deliverer) redactedURL() string {
	u, err := url.Parse(d.cfg.URL)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
