package callback

import (
	"errors"
	"testing"
	"time"
)

func TestParseBusinessHours(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hours, days string
		want        string // String() of the result; "" = error
	}{
		{"09:00-18:00", "mon-fri", "09:00-18:00 mon,tue,wed,thu,fri"},
		{" 08:30 - 12:00 ", "Mon-Fri, sat", "08:30-12:00 mon,tue,wed,thu,fri,sat"},
		{"00:00-24:00", "sun,tue", "00:00-24:00 sun,tue"},
		{"18:00-09:00", "mon-fri", ""},
		{"09:00-09:00", "mon", ""},
		{"9:00-18:00", "mon", ""},
		{"09:00-24:01", "mon", ""},
		{"09:60-18:00", "mon", ""},
		{"09:00", "mon", ""},
		{"09:00-18:00", "fri-mon", ""},
		{"09:00-18:00", "", ""},
		{"09:00-18:00", "monday", ""},
		{"+9:00-18:00", "mon", ""},
	}
	for _, tt := range tests {
		t.Run(tt.hours+" "+tt.days, func(t *testing.T) {
			t.Parallel()
			h, err := ParseBusinessHours(tt.hours, tt.days)
			if tt.want == "" {
				if !errors.Is(err, ErrBadHours) {
					t.Errorf("got %s, %v; want ErrBadHours", h, err)
				}
				return
			}
			if err != nil || h.String() != tt.want {
				t.Errorf("got %s, %v; want %s", h, err, tt.want)
			}
		})
	}
}

func TestBusinessHoursNext(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	h := DefaultBusinessHours
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 12, day, hour, minute, 0, 0, shanghai) }
	tests := []struct {
		name   string
		in     time.Time
		want   time.Time
		custom *BusinessHours
	}{
		{name: "inside", in: at(1, 10, 30), want: at(1, 10, 30)},
		{name: "at opening", in: at(1, 9, 0), want: at(1, 9, 0)},
		{name: "before opening", in: at(1, 7, 15), want: at(1, 9, 0)},
		{name: "at closing", in: at(1, 18, 0), want: at(2, 9, 0)},
		{name: "evening", in: at(1, 22, 0), want: at(2, 9, 0)},
		{name: "friday evening", in: at(4, 18, 30), want: at(7, 9, 0)},
		{name: "saturday", in: at(5, 11, 0), want: at(7, 9, 0)},
		{name: "all week all day", in: at(5, 3, 0), want: at(5, 3, 0), custom: &BusinessHours{Open: 0, Close: 24 * 60, Days: [7]bool{true, true, true, true, true, true, true}}},
		{name: "no day marked", in: at(5, 3, 0), want: at(5, 3, 0), custom: &BusinessHours{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hh := h
			if tt.custom != nil {
				hh = *tt.custom
			}
			if got := hh.Next(tt.in); !got.Equal(tt.want) {
				t.Errorf("Next(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestBusinessHoursNextAcrossDST(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	h := BusinessHours{Open: 9 * 60, Close: 18 * 60, Days: [7]bool{true, true, true, true, true, true, true}}
	// Clocks go forward on Sunday 2026-03-29: 09:00 is still 09:00 on the wall.
	got := h.Next(time.Date(2026, 3, 28, 20, 0, 0, 0, paris))
	if want := time.Date(2026, 3, 29, 9, 0, 0, 0, paris); !got.Equal(want) || got.Hour() != 9 {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzParseBusinessHours: whatever parses gives a Next that is never
// earlier than its input and lands inside the hours on a marked day.
func FuzzParseBusinessHours(f *testing.F) {
	for _, s := range [][2]string{
		{"09:00-18:00", "mon-fri"}, {"00:00-24:00", "sun,sat"}, {"08:30-12:00", "mon-fri,sat"},
		{"18:00-09:00", "mon"}, {"", ""}, {"24:00-24:00", "sun-sat"}, {"09:00-18:00", "fri-mon"},
	} {
		f.Add(s[0], s[1], int64(1796000000))
	}
	f.Fuzz(func(t *testing.T, hours, days string, unix int64) {
		h, err := ParseBusinessHours(hours, days)
		if err != nil {
			if !errors.Is(err, ErrBadHours) {
				t.Fatalf("error %v does not wrap ErrBadHours", err)
			}
			return
		}
		if h.Open < 0 || h.Open >= h.Close || h.Close > 24*60 || h.Days == [7]bool{} {
			t.Fatalf("accepted %q %q as %+v", hours, days, h)
		}
		in := time.Unix(unix%(1<<40), 0).UTC()
		got := h.Next(in)
		if got.Before(in) {
			t.Fatalf("Next(%s) = %s, earlier", in, got)
		}
		minute := got.Hour()*60 + got.Minute()
		if !h.Days[got.Weekday()] || minute < h.Open || minute >= h.Close {
			t.Fatalf("Next(%s) = %s, outside %s", in, got, h)
		}
	})
}
