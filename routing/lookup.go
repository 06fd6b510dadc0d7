package routing

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stickyacd/stickyacd/routing/idnumber"
)

// lookup is step 01: who is calling?
func (k *call) lookup(ctx context.Context, c Call) end {
	k.open(StepLookup)
	phone, err := k.r.d.Numbers.Normalize(c.CallerNumber)
	if err != nil {
		k.result(StepLookup, "anonymous")
		k.log.Info("caller number unusable", "step", StepLookup, "result", "anonymous")
		return k.askID(ctx)
	}
	k.phone = phone
	k.trace.Caller = phone
	cust, err := k.r.d.Directory.CustomerByPhone(ctx, phone)
	switch {
	case errors.Is(err, ErrNotFound):
		k.result(StepLookup, "unknown")
		k.log.Info("caller not a customer", "step", StepLookup, "result", "unknown", "caller", phone)
		return k.askID(ctx)
	case err != nil:
		k.result(StepLookup, "error")
		return k.storeFailed(StepLookup, "look up caller", err)
	}
	k.known(cust, EntryKnown)
	k.result(StepLookup, "known")
	k.log.Info("caller recognised", "step", StepLookup, "result", "known", "caller", phone, "customer_id", cust.ID)
	return k.routeKnown(ctx)
}

func (k *call) known(c Customer, e Entry) {
	k.customer = &c
	k.trace.CustomerID = c.ID
	k.trace.Entry = e
}

// askID is step 02: the caller keys in their ID-card number.
func (k *call) askID(ctx context.Context) end {
	k.open(StepIDEntry)
	if err := k.answer(ctx); err != nil {
		return k.legEnd(err)
	}
	tries := make([]string, 0, k.r.cfg.IDTries)
	preamble := ""
	for try := 1; try <= k.r.cfg.IDTries; try++ {
		digits, err := k.collect(ctx, Collect{
			Preamble:     preamble,
			Prompt:       k.r.cfg.Prompts.EnterID,
			Min:          1,
			Max:          18,
			Timeout:      k.r.cfg.IDTimeout,
			DigitTimeout: k.r.cfg.IDDigitTimeout,
			Terminators:  "#",
			Pattern:      idPattern,
			Sensitive:    true,
		})
		var num idnumber.Number
		var why string
		switch {
		case errors.Is(err, ErrNoInput):
			why = "no_input"
		case errors.Is(err, ErrInvalidInput):
			why = "malformed"
		case err != nil:
			k.note(StepIDEntry, "tries: "+strings.Join(tries, ","))
			return k.legEnd(fmt.Errorf("collect id number: %w", err))
		default:
			num, err = parseIDInput(digits)
			switch {
			case errors.Is(err, idnumber.ErrChecksum):
				why = "checksum"
			case err != nil:
				why = "malformed"
			}
		}
		if why != "" {
			tries = append(tries, why)
			k.log.Info("id number rejected", "step", StepIDEntry, "try", try, "result", why)
			// "Invalid, please re-enter" opens the next try rather than
			// being played on its own, which would swallow early keys.
			preamble = ""
			if why != "no_input" {
				preamble = k.r.cfg.Prompts.InvalidID
			}
			continue
		}
		tries = append(tries, "valid")
		k.note(StepIDEntry, "tries: "+strings.Join(tries, ","))
		return k.matchID(ctx, num)
	}
	k.note(StepIDEntry, "tries: "+strings.Join(tries, ","))
	k.result(StepIDEntry, "bad_input")
	k.log.Info("no valid id number", "step", StepIDEntry, "result", "bad_input", "tries", k.r.cfg.IDTries)
	return k.anyAgent(ctx)
}

// matchID looks a valid ID number up, binds this number on a match and
// routes on.
func (k *call) matchID(ctx context.Context, num idnumber.Number) end {
	k.idNumber = num
	cust, err := k.r.d.Directory.CustomerByIDNumber(ctx, num)
	switch {
	case errors.Is(err, ErrNotFound):
		k.result(StepIDEntry, "no_match")
		k.log.Info("id number matches no customer", "step", StepIDEntry, "result", "no_match", "id_number", num)
		return k.anyAgent(ctx)
	case err != nil:
		k.result(StepIDEntry, "error")
		return k.storeFailed(StepIDEntry, "look up id number", err)
	}
	k.known(cust, EntryID)
	k.result(StepIDEntry, "match")
	k.log.Info("id number matches customer", "step", StepIDEntry, "result", "match",
		"id_number", num, "customer_id", cust.ID)
	if k.phone == "" {
		k.note(StepIDEntry, "caller number unusable: not bound")
		return k.routeKnown(ctx)
	}
	err = k.r.d.Directory.BindPhone(ctx, Binding{CallUUID: k.trace.UUID, CustomerID: cust.ID, Phone: k.phone})
	if err != nil {
		// The customer is identified; routing them to their agent matters
		// more than remembering the number for next time.
		k.log.Error("bind caller number", "step", StepIDEntry, "customer_id", cust.ID, "err", err)
		k.note(StepIDEntry, "binding failed")
		k.fallback(fmt.Sprintf("bind phone: %v", err))
		return k.routeKnown(ctx)
	}
	k.note(StepIDEntry, "caller number bound")
	k.log.Info("caller number bound", "step", StepIDEntry, "customer_id", cust.ID, "caller", k.phone)
	return k.routeKnown(ctx)
}
