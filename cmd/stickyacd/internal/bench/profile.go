package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// CPU goes to one of three sides: goroutines started under the bench's
// pprof labels (stickyacd's, and the emulator's with the load generator's)
// and everything unlabelled, which is the Go runtime's own work (garbage
// collection, the scheduler) and callbacks of timers.
const (
	sideLabel     = "side"
	sideStickyacd = "stickyacd"
	sideEmulator  = "emulator"
	sideRuntime   = "runtime"
)

// profiler records one CPU profile per measured phase.
type profiler struct {
	file string // where to write the profiles too; "" keeps them in memory
	buf  bytes.Buffer
	on   bool
}

func (p *profiler) start() error {
	p.buf.Reset()
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	p.on = true
	return nil
}

// stop ends the profile, writes it to file+suffix when a file was asked
// for, and returns the share of the process's CPU each side used, in
// percent of one core over the profile's duration.
func (p *profiler) stop(suffix string) (map[string]float64, error) {
	if !p.on {
		return nil, nil
	}
	pprof.StopCPUProfile()
	p.on = false
	if p.file != "" {
		if err := os.WriteFile(p.file+suffix, p.buf.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
	}
	split, err := cpuBySide(p.buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("read cpu profile: %w", err)
	}
	return split, nil
}

// cpuBySide sums a CPU profile's samples by the side label, in percent of
// one core over the profile's duration.
func cpuBySide(gz []byte) (map[string]float64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	p, err := parseProfile(raw)
	if err != nil {
		return nil, err
	}
	cpu := -1
	for i, t := range p.sampleTypes {
		if p.str(t) == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 || p.durationNanos <= 0 {
		return nil, errors.New("not a CPU profile")
	}
	sums := map[string]int64{sideStickyacd: 0, sideEmulator: 0, sideRuntime: 0}
	for _, s := range p.samples {
		if cpu >= len(s.values) {
			continue
		}
		side := sideRuntime
		for _, l := range s.labels {
			if p.str(l[0]) == sideLabel {
				side = p.str(l[1])
			}
		}
		sums[side] += s.values[cpu]
	}
	out := make(map[string]float64, len(sums))
	for side, ns := range sums {
		out[side] = round(100*float64(ns)/float64(p.durationNanos), 1)
	}
	return out, nil
}

// The few fields of profile.proto (github.com/google/pprof) the split
// needs, decoded by hand to avoid a dependency for a dozen lines.
type profileData struct {
	sampleTypes   []int64 // string index of each value's type
	samples       []profileSample
	strings       []string
	durationNanos int64
}

type profileSample struct {
	values []int64
	labels [][2]int64 // key, str: string indexes
}

func (p *profileData) str(i int64) string {
	if i < 0 || int(i) >= len(p.strings) {
		return ""
	}
	return p.strings[i]
}

// Field numbers of profile.proto.
const (
	fieldProfileSampleType = 1
	fieldProfileSample     = 2
	fieldProfileStrings    = 6
	fieldProfileDuration   = 10
	fieldValueTypeType     = 1
	fieldSampleValue       = 2
	fieldSampleLabel       = 3
	fieldLabelKey          = 1
	fieldLabelStr          = 2
)

var errProto = errors.New("malformed protobuf")

// protoFields calls f for each field of a message: its number, wire type,
// varint value (wire types 0, 1, 5) or bytes (wire type 2).
func protoFields(b []byte, f func(num int, wire int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errProto
		}
		b = b[n:]
		num, wire := int(key>>3), int(key&7)
		var v uint64
		var data []byte
		switch wire {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return errProto
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errProto
			}
			v, b = binary.LittleEndian.Uint64(b), b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errProto
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errProto
			}
			v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		default:
			return errProto
		}
		if err := f(num, wire, v, data); err != nil {
			return err
		}
	}
	return nil
}

// int64s reads a repeated int64 field, packed (wire type 2) or not.
func int64s(dst []int64, wire int, v uint64, data []byte) ([]int64, error) {
	if wire == 0 {
		return append(dst, int64(v)), nil
	}
	for len(data) > 0 {
		x, n := binary.Uvarint(data)
		if n <= 0 {
			return dst, errProto
		}
		dst, data = append(dst, int64(x)), data[n:]
	}
	return dst, nil
}

func parseProfile(b []byte) (*profileData, error) {
	p := &profileData{}
	err := protoFields(b, func(num, wire int, v uint64, data []byte) error {
		switch num {
		case fieldProfileSampleType:
			return protoFields(data, func(num, _ int, v uint64, _ []byte) error {
				if num == fieldValueTypeType {
					p.sampleTypes = append(p.sampleTypes, int64(v))
				}
				return nil
			})
		case fieldProfileSample:
			var s profileSample
			err := protoFields(data, func(num, wire int, v uint64, data []byte) error {
				var err error
				switch num {
				case fieldSampleValue:
					s.values, err = int64s(s.values, wire, v, data)
				case fieldSampleLabel:
					var l [2]int64
					err = protoFields(data, func(num, _ int, v uint64, _ []byte) error {
						switch num {
						case fieldLabelKey:
							l[0] = int64(v)
						case fieldLabelStr:
							l[1] = int64(v)
						}
						return nil
					})
					s.labels = append(s.labels, l)
				}
				return err
			})
			p.samples = append(p.samples, s)
			return err
		case fieldProfileStrings:
			p.strings = append(p.strings, string(data))
		case fieldProfileDuration:
			p.durationNanos = int64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
