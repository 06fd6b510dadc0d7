package fstest

import (
	"net"
	"sync"
)

// outQueue is the write side of one event-socket connection. Producers
// (the connection's reader answering commands, channel threads firing
// events) never block: they append frames and a single writer goroutine
// drains them in order, which also keeps a command's reply ahead of the
// events the command causes.
type outQueue struct {
	mu      sync.Mutex
	bufs    [][]byte
	closing bool // close the connection once everything queued is written
	dead    bool // the connection is closed; frames are dropped
	wake    chan struct{}
}

func newOutQueue() *outQueue {
	return &outQueue{wake: make(chan struct{}, 1)}
}

func (q *outQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// push queues a frame; false when the connection is closing or gone.
func (q *outQueue) push(b []byte) bool {
	q.mu.Lock()
	if q.dead || q.closing {
		q.mu.Unlock()
		return false
	}
	q.bufs = append(q.bufs, b)
	q.mu.Unlock()
	q.signal()
	return true
}

// pushAndClose queues a last frame (nil for none) and closes the connection
// after it is written.
func (q *outQueue) pushAndClose(b []byte) {
	q.mu.Lock()
	if !q.dead && !q.closing && b != nil {
		q.bufs = append(q.bufs, b)
	}
	q.closing = true
	q.mu.Unlock()
	q.signal()
}

// kill drops whatever is queued and closes the connection now.
func (q *outQueue) kill() {
	q.mu.Lock()
	q.dead = true
	q.bufs = nil
	q.mu.Unlock()
	q.signal()
}

// run writes queued frames to conn until the queue is closed, then closes
// conn. written is called with the byte count of every successful write.
func (q *outQueue) run(conn net.Conn, written func(int64)) {
	defer conn.Close()
	for range q.wake {
		q.mu.Lock()
		bufs := q.bufs
		q.bufs = nil
		dead, closing := q.dead, q.closing
		q.mu.Unlock()
		if dead {
			return
		}
		if len(bufs) > 0 {
			nb := net.Buffers(bufs)
			n, err := nb.WriteTo(conn)
			written(n)
			if err != nil {
				q.mu.Lock()
				q.dead = true
				q.bufs = nil
				q.mu.Unlock()
				return
			}
		}
		if closing {
			q.mu.Lock()
			empty := len(q.bufs) == 0
			q.mu.Unlock()
			if empty {
				q.mu.Lock()
				q.dead = true
				q.mu.Unlock()
				return
			}
			q.signal()
		}
	}
}
