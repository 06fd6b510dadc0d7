package main

import (
	"bytes"
	"os"
	"testing"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	if w := progressWriter(&bytes.Buffer{}); w != nil {
		t.Errorf("a buffer got a progress bar")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if got := progressWriter(w); got != nil {
		t.Errorf("a pipe (stdout redirected) got a progress bar")
	}
}
