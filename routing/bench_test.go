package routing_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

// BenchmarkHandleFirstAgentAnswers is one chain decision with fakes: a
// known caller, their first agent answers. It measures the router's own
// cost (the stores' round trips are benchmarked in store).
func BenchmarkHandleFirstAgentAnswers(b *testing.B) {
	h := newHarness(b, nil)
	d := h.env.Deps() // without the harness's JSON logger
	r, err := routing.New(h.cfg, d)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		tr := r.Handle(ctx, routing.Call{UUID: fmt.Sprintf("call-%d", i), CallerNumber: phoneK1}, rt.NewCall(rt.Script{}))
		if tr.AgentID != "A1" {
			b.Fatalf("call %d went to %q (%s)", i, tr.AgentID, tr.Error)
		}
	}
}
