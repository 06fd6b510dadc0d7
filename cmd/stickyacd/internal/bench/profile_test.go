package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"runtime/pprof"
	"testing"
	"time"
)

// spin burns CPU for d.
// spun keeps spin's work observable.
var spun int

func spin(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		n++
	}
	return n
}

// CPU under the side label is counted to that side, the rest to the runtime.
func TestCPUBySide(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Fatalf("start profile: %v", err)
	}
	pprof.Do(context.Background(), pprof.Labels(sideLabel, sideStickyacd), func(context.Context) { spun += spin(400 * time.Millisecond) })
	pprof.Do(context.Background(), pprof.Labels(sideLabel, sideEmulator), func(context.Context) { spun += spin(200 * time.Millisecond) })
	pprof.StopCPUProfile()
	split, err := cpuBySide(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// Percent of one core over the profile's ~600 ms; the machine may be
	// busy, so only the order is certain.
	if split[sideStickyacd] <= split[sideEmulator] || split[sideEmulator] <= 0 {
		t.Errorf("split = %v, want stickyacd > emulator > 0", split)
	}
}

func TestCPUBySideRejectsOtherData(t *testing.T) {
	t.Parallel()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte{0x0a, 0xff}) // a length running past the end
	_ = zw.Close()
	for name, data := range map[string][]byte{"not gzip": []byte("hello"), "bad protobuf": gz.Bytes()} {
		if _, err := cpuBySide(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var empty bytes.Buffer
	zw = gzip.NewWriter(&empty)
	_ = zw.Close()
	if _, err := cpuBySide(empty.Bytes()); err == nil {
		t.Error("an empty profile: no error")
	}
}

func TestProtoFields(t *testing.T) {
	t.Parallel()
	// field 1 varint 150, field 2 bytes "hi", field 3 fixed32, field 4 fixed64
	msg := []byte{0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i', 0x1d, 1, 0, 0, 0, 0x21, 2, 0, 0, 0, 0, 0, 0, 0}
	var got []uint64
	var data string
	err := protoFields(msg, func(num, wire int, v uint64, b []byte) error {
		got = append(got, uint64(num), v)
		if wire == 2 {
			data = string(b)
		}
		return nil
	})
	if err != nil || data != "hi" || len(got) != 8 || got[1] != 150 || got[5] != 1 || got[7] != 2 {
		t.Errorf("fields %v, data %q, err %v", got, data, err)
	}
	if err := protoFields([]byte{0x0b}, func(int, int, uint64, []byte) error { return nil }); !errors.Is(err, errProto) {
		t.Errorf("wire type 3: %v", err)
	}
	packed, err := int64s(nil, 2, 0, []byte{1, 0x96, 0x01})
	if err != nil || len(packed) != 2 || packed[1] != 150 {
		t.Errorf("packed = %v, %v", packed, err)
	}
}
