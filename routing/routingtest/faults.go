package routingtest

import "sync"

// faults holds the errors injected per method name.
type faults struct {
	mu   sync.Mutex
	err  map[string]error
	once map[string]error
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

// FailOnce makes the next call of method return err, and only that one.
func (f *faults) FailOnce(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.once == nil {
		f.once = map[string]error{}
	}
	f.once[method] = err
}

func (f *faults) failure(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.once[method]; ok {
		delete(f.once, method)
		return err
	}
	return f.err[method]
}
