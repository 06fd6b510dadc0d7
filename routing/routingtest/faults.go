package routingtest

import "sync"

// faults holds the errors injected per method name.
type faults struct {
	mu  sync.Mutex
	err map[string]error
}

// Fail makes method return err from now on; a nil err heals it.
func (f *faults) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = map[string]error{}
	}
	f.err[method] = err
}

func (f *faults) failure(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err[method]
}
