package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/esl/fstest"
	"github.com/stickyacd/stickyacd/routing"
)

// 200 concurrent calls against 20 agents: no agent is ever rung or bridged
// for two calls at once, and every call ends either bridged or with exactly
// one callback task.
func TestLoad200CallsOn20Agents(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	var agents, customers strings.Builder
	agents.WriteString("agent_id,name,extension,team,role,backup_agent_id,skills\n")
	customers.WriteString("customer_id,name,id_number,phones,first_agent_id\n")
	var ids []string
	for team := 0; team < 4; team++ {
		for i := 0; i < 5; i++ {
			n := team*5 + i
			role, backup := "agent", fmt.Sprintf("G%02d", team*5+(i+1)%4)
			if i == 4 {
				role, backup = "leader", ""
			}
			fmt.Fprintf(&agents, "G%02d,Agent %d,4%03d,t%d,%s,%s,loan|card\n", n, n, n, team, role, backup)
			ids = append(ids, fmt.Sprintf("G%02d", n))
		}
	}
	for c := 0; c < 100; c++ {
		fmt.Fprintf(&customers, "C%03d,Cust %d,,1380000%04d,G%02d\n", c, c, c, (c%4)*5+c%4)
	}
	e.importCSV("agents", agents.String())
	e.importCSV("customers", customers.String())
	if err := e.app.repo.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.available(ids...)
	for i := range ids {
		ep := fstest.Endpoint{Answer: true, RingFor: time.Duration(200+37*i) * time.Millisecond, TalkFor: time.Duration(1000+211*i) * time.Millisecond}
		switch i {
		case 3:
			ep = fstest.NoAnswer()
		case 7:
			ep = fstest.Busy()
		case 12:
			ep = fstest.Rejects()
		}
		e.fs.SetEndpoint(fmt.Sprintf("user/4%03d", i), ep)
	}

	const calls = 200
	results := make([]*fstest.CallResult, calls)
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := fstest.CallSpec{Caller: fmt.Sprintf("1380000%04d", i%100)}
			if i%2 == 1 {
				spec = fstest.CallSpec{Caller: fmt.Sprintf("1590000%04d", i), Input: []string{"", "", "", "1"}}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := e.fs.Call(ctx, spec)
			if err != nil {
				errs <- err
				return
			}
			res, err := c.Wait(ctx)
			if err != nil {
				errs <- err
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// No agent rung or bridged for two calls at once.
	type span struct {
		from, to time.Time
		call     string
	}
	byTarget := map[string][]span{}
	for _, res := range results {
		for _, b := range res.Bridges {
			byTarget[b.Target] = append(byTarget[b.Target], span{b.Start, b.End, res.UUID})
		}
	}
	for target, spans := range byTarget {
		sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
		for i := 1; i < len(spans); i++ {
			if spans[i].from.Before(spans[i-1].to) {
				t.Errorf("%s offered to calls %s and %s at once", target, spans[i-1].call, spans[i].call)
			}
		}
	}

	// Every call bridged, or exactly one task.
	tasksByCall := map[string]int{}
	for _, task := range e.tasks("?limit=1000") {
		tasksByCall[task.CallUUID]++
	}
	outcomes := map[routing.Outcome]int{}
	for _, res := range results {
		tr := e.trace(res.UUID)
		outcomes[tr.Outcome]++
		switch tr.Outcome {
		case routing.OutcomeBridged:
			if tasksByCall[res.UUID] != 0 {
				t.Errorf("bridged call %s has a task", res.UUID)
			}
		case routing.OutcomeCallback:
			if tasksByCall[res.UUID] != 1 {
				t.Errorf("call %s ended at 03 with %d tasks", res.UUID, tasksByCall[res.UUID])
			}
		default:
			t.Errorf("call %s ended %s (%s; %s)", res.UUID, tr.Outcome, steps(tr), tr.Error)
		}
	}
	if outcomes[routing.OutcomeBridged] == 0 || outcomes[routing.OutcomeCallback] == 0 {
		t.Errorf("outcomes %v: the load should both bridge and overflow", outcomes)
	}
	t.Logf("outcomes %v, %d agents used", outcomes, len(byTarget))
	for _, id := range ids {
		if a := e.agent(id); a.State == "reserved" || a.State == "ringing" {
			t.Errorf("%s left %s", id, a.State)
		}
	}
}
