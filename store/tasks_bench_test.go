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
// target: at least 2 000 tasks/s). Each iteration assigns 2 000 tasks;
// the tasks/s metric is the figure to read.
func BenchmarkTasksClaimAssign(b *testing.B) {
	for _, batch := range []int{200, 500} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			const perRound = 2000
			db := taskDB(b)
			s := store.NewTasks(db, store.TasksOptions{})
			w := newTaskWorker(b, s, "bench", batch)
			ctx := context.Background()
			var busy time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
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
