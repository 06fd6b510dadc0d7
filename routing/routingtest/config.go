package routingtest

import (
	"time"

	"github.com/stickyacd/stickyacd/routing"
)

// Config returns a valid routing configuration with distinct tone_stream
// prompts, usable against FreeSWITCH or its emulator: the full chain, three
// ID tries, two business types (digit 1 "loan", the default, and digit 2
// "card"), abandoned tasks and answering-agent binding switched on.
func Config() routing.Config {
	return routing.Config{
		Chain:              []routing.Step{routing.StepFirst, routing.StepBackup, routing.StepTeam, routing.StepLeader},
		RingTimeout:        15 * time.Second,
		IDTries:            3,
		AnyAgentTries:      5,
		IDTimeout:          5 * time.Second,
		IDDigitTimeout:     3 * time.Second,
		BindAnsweringAgent: true,
		BusinessTypes: []routing.BusinessType{
			{Digit: 1, Code: "loan", Name: "Loans", CallbackDue: 30 * time.Minute, Priority: 10},
			{Digit: 2, Code: "card", Name: "Credit cards", CallbackDue: time.Hour, Priority: 5},
		},
		DefaultBusinessType: "loan",
		MenuTimeout:         5 * time.Second,
		MenuTries:           3,
		HangupGrace:         10 * time.Second,
		AbandonedTasks:      true,
		Prompts: routing.Prompts{
			EnterID:         "tone_stream://%(100,0,600)",
			InvalidID:       "tone_stream://%(100,0,300)",
			CallbackPromise: "tone_stream://%(100,0,700)",
			BusinessMenu:    "tone_stream://%(100,0,800)",
			Ringback:        "tone_stream://%(2000,4000,440,480)",
			Goodbye:         "tone_stream://%(100,0,900)",
		},
		StoreTimeout: 5 * time.Second,
	}
}
