package sandbox

import (
	"errors"
	"testing"
	"time"
)

func TestNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"stickyacd_bench", true},
		{"stickyacd_bench_small", true},
		{"stickyacd_bench_t0a1b", true},
		{"public", false},
		{"stickyacd", false},
		{"Stickyacd_bench", false},
		{"stickyacd_bench-x", false},
		{"stickyacd_bench; drop schema public", false},
		{"stickyacd_bench\"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSchema("postgres://h/db?sslmode=disable", tc.name, "stickyacd_bench")
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrName) {
				t.Errorf("schema %q: %v", tc.name, err)
			}
			if err := CheckPrefix(tc.name, "stickyacd_bench"); (err == nil) != tc.ok {
				t.Errorf("prefix %q: %v", tc.name, err)
			}
		})
	}
}

func TestDSNSetsTheSearchPath(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, want string }{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "postgres://postgres@127.0.0.1:5432/test?search_path=stickyacd_demo&sslmode=disable"},
		{"postgres://u@h/db?sslmode=disable&search_path=public", "postgres://u@h/db?search_path=stickyacd_demo&sslmode=disable"},
		{"host=127.0.0.1 dbname=test sslmode=disable", "host=127.0.0.1 dbname=test sslmode=disable search_path=stickyacd_demo"},
	}
	for _, tc := range tests {
		s, err := NewSchema(tc.base, "stickyacd_demo", "stickyacd_demo")
		if err != nil {
			t.Fatal(err)
		}
		if got := s.DSN(); got != tc.want {
			t.Errorf("DSN(%s) = %s, want %s", tc.base, got, tc.want)
		}
	}
}

func TestScaled(t *testing.T) {
	t.Parallel()
	if got := Scaled(10*time.Second, 20); got != "500ms" {
		t.Errorf("Scaled(10s, 20) = %s", got)
	}
	if got := Scaled(0, 20); got != "0s" {
		t.Errorf("Scaled(0, 20) = %s", got)
	}
}
