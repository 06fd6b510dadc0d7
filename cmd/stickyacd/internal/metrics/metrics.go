// Package metrics defines stickyacd's Prometheus metrics. Per-call figures are
// derived from the decision trace once the call is over, so the flow itself
// carries no metrics code.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stickyacd/stickyacd/routing"
)

// Metrics holds every collector, registered on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	calls           *prometheus.CounterVec
	bridged         *prometheus.CounterVec
	decision        prometheus.Histogram
	bridgeAttempts  *prometheus.CounterVec
	reservations    *prometheus.CounterVec
	noAnswers       prometheus.Counter
	tasksCreated    *prometheus.CounterVec
	degraded        prometheus.Counter
	FeatureCodes    *prometheus.CounterVec
	CallbackActions *prometheus.CounterVec
	Reminders       *prometheus.CounterVec
	EventClient     *prometheus.CounterVec
}

// New registers the collectors. gauges are sampled at scrape time.
func New(gauges map[string]func() float64) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_calls_total",
			Help: "Inbound calls handled, by how the caller was recognised and how the call ended.",
		}, []string{"entry", "outcome"}),
		bridged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_calls_bridged_total",
			Help: "Calls put through to an agent, by the step that found the agent (011, 012, 013, 014, 021).",
		}, []string{"step"}),
		decision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stickyacd_decision_seconds",
			Help:    "Time from the start of a call to the first bridge or the callback prompt, prompts excluded.",
			Buckets: []float64{.0001, .0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		bridgeAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_bridge_attempts_total",
			Help: "Attempts to ring an agent, by step and result (answered, no_answer, busy, rejected, unreachable).",
		}, []string{"step", "result"}),
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_candidates_total",
			Help: "Agents considered by the routing steps, by why they were chosen or passed over.",
		}, []string{"step", "result"}),
		noAnswers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stickyacd_no_answers_total",
			Help: "Offers an agent did not answer in time.",
		}),
		tasksCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_tasks_created_total",
			Help: "Callback tasks created at step 04 (abandoned: the caller hung up before step 03).",
		}, []string{"abandoned"}),
		degraded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stickyacd_calls_degraded_total",
			Help: "Calls whose trace records an error: a store failing mid-call (the caller then gets the callback path), a presence update lost, no number to call back, an internal error.",
		}),
		FeatureCodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_feature_codes_total",
			Help: "Agent feature codes (login, logout, break, next_callback), by result.",
		}, []string{"action", "result"}),
		CallbackActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_callback_notices_total",
			Help: "Callback task notices to agents, by kind (assigned, reminded, reassigned, escalated).",
		}, []string{"kind"}),
		Reminders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_notices_sent_total",
			Help: "Callback notices pushed to agents, by channel (sse: the agent's event stream, relayed to every instance; chat: a SIP MESSAGE) and result.",
		}, []string{"channel", "result"}),
		EventClient: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stickyacd_freeswitch_events_total",
			Help: "Events received on the FreeSWITCH event socket, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.bridged, m.decision, m.bridgeAttempts, m.reservations, m.noAnswers,
		m.tasksCreated, m.degraded, m.FeatureCodes, m.CallbackActions, m.Reminders, m.EventClient,
	)
	for name, f := range gauges {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: gaugeHelp[name]}, f))
	}
	return m
}

// Gauge names the wiring samples.
const (
	GaugeSessions    = "stickyacd_esl_sessions_active"
	GaugeFeedStreams = "stickyacd_feed_streams"
	GaugeFeedDropped = "stickyacd_feed_events_dropped"
	GaugeFSConnected = "stickyacd_freeswitch_connected"
	GaugeFSDropped   = "stickyacd_freeswitch_events_dropped"
)

var gaugeHelp = map[string]string{
	GaugeSessions:    "Calls currently connected to the outbound socket.",
	GaugeFeedStreams: "Open agent event streams (Server-Sent Events).",
	GaugeFeedDropped: "Agent feed events dropped because a stream lagged.",
	GaugeFSConnected: "1 when the FreeSWITCH event socket is connected.",
	GaugeFSDropped:   "FreeSWITCH events dropped because their handling fell behind (presence is then reconciled).",
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveCall records one finished call from its trace.
func (m *Metrics) ObserveCall(t *routing.Trace) {
	m.calls.WithLabelValues(string(t.Entry), string(t.Outcome)).Inc()
	if t.DecisionMS > 0 {
		m.decision.Observe(t.DecisionMS / 1000)
	}
	if t.Error != "" {
		m.degraded.Inc()
	}
	for _, s := range t.Steps {
		for _, c := range s.Candidates {
			m.reservations.WithLabelValues(string(s.Step), string(c.Result)).Inc()
			switch c.Result {
			case routing.ResultAnswered, routing.ResultNoAnswer, routing.ResultRejected, routing.ResultUnreachable:
				m.bridgeAttempts.WithLabelValues(string(s.Step), string(c.Result)).Inc()
			case routing.ResultBusy:
				// "busy" is both a skip reason and a bridge outcome; a bridge
				// outcome carries FreeSWITCH's cause.
				if c.Cause != "" {
					m.bridgeAttempts.WithLabelValues(string(s.Step), string(c.Result)).Inc()
				}
			}
			if c.Result == routing.ResultNoAnswer {
				m.noAnswers.Inc()
			}
			if c.Result == routing.ResultAnswered {
				m.bridged.WithLabelValues(string(s.Step)).Inc()
			}
		}
	}
	for _, st := range t.Steps {
		// Step 04 says whether the promise was written (or spooled).
		if st.Step == routing.StepTask && (st.Result == "created" || st.Result == "spooled") {
			abandoned := "false"
			if t.Outcome == routing.OutcomeAbandoned {
				abandoned = "true"
			}
			m.tasksCreated.WithLabelValues(abandoned).Inc()
		}
	}
}
