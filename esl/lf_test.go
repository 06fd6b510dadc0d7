package esl

import (
	"bytes"
	"testing"
)

func TestLFWriter(t *testing.T) {
	cases := []struct {
		name   string
		chunks []string
		want   string
	}{
		{"connect", []string{"connect\r\n\r\n"}, "connect\n\n"},
		{"two commands", []string{"myevents plain\r\n\r\n", "linger\r\n\r\n"}, "myevents plain\n\nlinger\n\n"},
		{"sendmsg", []string{"sendmsg\ncall-command: execute\nexecute-app-name: answer\r\n\r\n"}, "sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n"},
		{"body passes through", []string{"sendmsg\ncontent-length: 6\n\na\r\nb\r\n\r\n\r\n", "exit\r\n\r\n"}, "sendmsg\ncontent-length: 6\n\na\r\nb\r\nexit\n\n"},
		{"split anywhere", []string{"conn", "ect\r", "\n", "\r\n"}, "connect\n\n"},
		{"split body", []string{"sendmsg\nContent-Length: 4\n\nab", "cd\r\n\r\napi status\r\n\r\n"}, "sendmsg\nContent-Length: 4\n\nabcdapi status\n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			w := &lfWriter{w: &got}
			for _, c := range tc.chunks {
				if n, err := w.Write([]byte(c)); err != nil || n != len(c) {
					t.Fatalf("write %q: %d %v", c, n, err)
				}
			}
			if got.String() != tc.want {
				t.Fatalf("got %q, want %q", got.String(), tc.want)
			}
		})
	}
}

func FuzzLFWriter(f *testing.F) {
	f.Add([]byte("connect\r\n\r\nsendmsg\ncontent-length: 3\n\nx\ny\r\n\r\n"), 5)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		var whole, split bytes.Buffer
		(&lfWriter{w: &whole}).Write(in)
		w := &lfWriter{w: &split}
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		w.Write(in[:cut])
		w.Write(in[cut:])
		if !bytes.Equal(whole.Bytes(), split.Bytes()) {
			t.Fatalf("split at %d changed the output: %q vs %q", cut, whole.Bytes(), split.Bytes())
		}
	})
}
