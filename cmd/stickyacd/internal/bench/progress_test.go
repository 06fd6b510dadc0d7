package bench

import (
	"strings"
	"testing"
)

func TestProgressDrawsAndEndsTheLine(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out, "calls", 10)
	p.set(3, 1)
	p.set(2, 0) // a late report never moves the bar back
	p.finish()
	got := out.String()
	if !strings.HasSuffix(got, "\n") {
		t.Fatalf("finish did not end the line: %q", got)
	}
	last := got[strings.LastIndex(got, "\r")+1:]
	if !strings.Contains(last, "3/10 calls") || !strings.Contains(last, "1 errors") {
		t.Fatalf("final bar = %q, want 3/10 calls and 1 errors", last)
	}
	if !strings.Contains(last, "[#########.....................]") {
		t.Fatalf("final bar = %q, want 9 of 30 cells filled", last)
	}
}

func TestProgressWithoutWriterDrawsNothing(t *testing.T) {
	p := newProgress(nil, "calls", 10)
	p.set(5, 0)
	p.finish()
}
