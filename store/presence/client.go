package presence

import (
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClientOptions say how to reach Redis. One address: a single server;
// MasterName: Sentinel, with Addrs the sentinels; several addresses:
// Cluster. Zero values take the defaults given.
type ClientOptions struct {
	Addrs      []string // required, e.g. ["127.0.0.1:6379"]
	DB         int      // single server and Sentinel only; Cluster has DB 0
	Username   string
	Password   string
	MasterName string // Sentinel master name
	// PoolSize is the connections per node. Default 10 per CPU (go-redis).
	PoolSize int
	// DialTimeout for new connections. Default 2s.
	DialTimeout time.Duration
	// CommandTimeout bounds each read and write when the context has no
	// earlier deadline. Default 1s: presence answers in well under a
	// millisecond, and a call waiting on a stuck Redis must fall through
	// to the callback path quickly.
	CommandTimeout time.Duration
}

// NewClient returns a go-redis UniversalClient for o. Contexts' deadlines
// are honoured (ContextTimeoutEnabled). It does not connect until used.
func NewClient(o ClientOptions) (redis.UniversalClient, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("redis client: no address")
	}
	if o.MasterName == "" && len(o.Addrs) > 1 && o.DB != 0 {
		return nil, fmt.Errorf("redis client: db %d: Redis Cluster has only db 0", o.DB)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = time.Second
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 o.Addrs,
		DB:                    o.DB,
		Username:              o.Username,
		Password:              o.Password,
		MasterName:            o.MasterName,
		ContextTimeoutEnabled: true,
		// RESP2: presence uses no push notifications, and under RESP3
		// go-redis polls for them around every command.
		Protocol:     2,
		PoolSize:     o.PoolSize,
		PoolTimeout:  o.CommandTimeout + time.Second,
		MinIdleConns: 2,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.CommandTimeout,
		WriteTimeout: o.CommandTimeout,
		ClientName:   "stickyacd",
	}), nil
}
