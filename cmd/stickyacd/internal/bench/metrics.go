package bench

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Prometheus metrics the bench reads from stickyacd's /metrics.
const (
	metricCPU        = "process_cpu_seconds_total"
	metricRSS        = "process_resident_memory_bytes"
	metricGoroutines = "go_goroutines"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricSessions   = "stickyacd_esl_sessions_active"
)

// remoteMetrics reads a stickyacd's /metrics.
type remoteMetrics struct {
	url    string
	client *http.Client
}

func newRemoteMetrics(url string) *remoteMetrics {
	return &remoteMetrics{url: url, client: &http.Client{Timeout: 2 * time.Second}}
}

// scrape returns the unlabelled samples of the metrics above; an
// unreachable endpoint gives none, which shows as zeros.
func (m *remoteMetrics) scrape() map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, m.url, nil)
	if err != nil {
		return out
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case metricCPU, metricRSS, metricGoroutines, metricHeapInuse, metricSessions:
			if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				out[name] = v
			}
		}
	}
	return out
}
