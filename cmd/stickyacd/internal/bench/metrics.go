package bench

import (
	"bufio"
	"context"
	"io"
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
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, m.url, nil)
	if err != nil {
		return map[string]float64{}
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return map[string]float64{}
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

// parseMetrics reads the unlabelled samples of the metrics above from
// Prometheus's text format.
func parseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
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
