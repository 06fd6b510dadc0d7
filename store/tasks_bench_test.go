package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stickyacd/stickyacd/store"
)

// BenchmarkTasksClaimAssign measures step 05 on the real PostgreSQL: one
// worker claiming, deciding and applying batches of new tasks (issue 7's
// target: at least 2 000 tasks/s). Each iteration assigns 2 000 new tasks;
// the tasks/s metric is the figure to read. "steady": agents work their
// tasks off between rounds, so open-task counts stay realistic; "growing":
// every task stays open, so each batch counts an ever larger backlog.
func BenchmarkTasksClaimAssign(b *testing.B) {
	for _, batch := range []int{200, 500} {
		for _, backlog := range []string{"steady", "growing"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, backlog), func(b *testing.B) {
				const perRound = 2000
				db := taskDB(b)
				s := store.NewTasks(db, store.TasksOptions{})
				w := newTaskWorker(b, s, "bench", batch)
				ctx := context.Background()
				var busy time.Duration
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					if backlog == "steady" {
						if _, err := db.SQL().ExecContext(ctx, `UPDATE callback_tasks SET status = 'completed', completed_at = now() WHERE status = 'assigned'`); err != nil {
							b.Fatal(err)
						}
					}
					insertTasks(b, db, perRound, fmt.Sprint("r", i))
					b.StartTimer()
					start := time.Now()
					if n := w.Pass(ctx, false); n != perRound {
						b.Fatalf("pass assigned %d tasks, want %d", n, perRound)
					}
					busy += time.Since(start)
				}
				b.ReportMetric(float64(perRound*b.N)/busy.Seconds(), "tasks/s")
			})
		}
	}
}
