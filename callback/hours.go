package callback

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// BusinessHours are when customers may be called back: the same opening
// and closing time on the days marked. Times are read in the location of
// the time given to Next.
type BusinessHours struct {
	Open, Close int // minutes after midnight, Open < Close ≤ 24h
	Days        [7]bool
}

// ErrBadHours: a business-hours or business-days setting does not parse.
var ErrBadHours = errors.New("bad business hours")

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseBusinessHours reads hours like "09:00-18:00" ("00:00-24:00" for all
// day) and days like "mon-fri", "mon-fri,sat" or "sun,tue". Ranges that
// cross midnight or the end of the week are refused.
func ParseBusinessHours(hours, days string) (BusinessHours, error) {
	var h BusinessHours
	from, to, ok := strings.Cut(strings.TrimSpace(hours), "-")
	if !ok {
		return h, fmt.Errorf("%w: hours %q: want HH:MM-HH:MM", ErrBadHours, hours)
	}
	var err error
	if h.Open, err = clockMinutes(from); err != nil {
		return h, fmt.Errorf("%w: hours %q: %v", ErrBadHours, hours, err)
	}
	if h.Close, err = clockMinutes(to); err != nil {
		return h, fmt.Errorf("%w: hours %q: %v", ErrBadHours, hours, err)
	}
	if h.Open >= h.Close {
		return h, fmt.Errorf("%w: hours %q: opening must come before closing on the same day", ErrBadHours, hours)
	}
	for part := range strings.SplitSeq(strings.ToLower(days), ",") {
		part = strings.TrimSpace(part)
		first, last, isRange := strings.Cut(part, "-")
		a, okA := weekdays[strings.TrimSpace(first)]
		b := a
		okB := true
		if isRange {
			b, okB = weekdays[strings.TrimSpace(last)]
		}
		if !okA || !okB || b < a {
			return h, fmt.Errorf("%w: days %q: want e.g. mon-fri or mon,wed,sat", ErrBadHours, days)
		}
		for d := a; d <= b; d++ {
			h.Days[d] = true
		}
	}
	return h, nil
}

// clockMinutes reads "HH:MM" (00:00 to 24:00).
func clockMinutes(s string) (int, error) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hh) != 2 || len(mm) != 2 || !digits(hh+mm) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if errH != nil || errM != nil || h < 0 || m < 0 || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Next returns the earliest time at or after t inside business hours, in
// t's location. With no day marked it returns t.
func (h BusinessHours) Next(t time.Time) time.Time {
	for d := 0; d <= 7; d++ {
		day := time.Date(t.Year(), t.Month(), t.Day()+d, 0, 0, 0, 0, t.Location())
		if !h.Days[day.Weekday()] {
			continue
		}
		open := at(day, h.Open)
		closing := at(day, h.Close)
		if t.Before(open) {
			return open
		}
		if t.Before(closing) {
			return t
		}
	}
	return t
}

// at is minutes after the midnight of day, through time.Date so a DST change
// that day moves the wall clock, not the hour.
func at(day time.Time, minutes int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), minutes/60, minutes%60, 0, 0, day.Location())
}

func (h BusinessHours) String() string {
	var days []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if h.Days[d] {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d %s", h.Open/60, h.Open%60, h.Close/60, h.Close%60, strings.Join(days, ","))
}
