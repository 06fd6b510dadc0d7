package routing_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stickyacd/stickyacd/routing"
	rt "github.com/stickyacd/stickyacd/routing/routingtest"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tweak   func(*routing.Config)
		wantKey string
	}{
		{"empty chain", func(c *routing.Config) { c.Chain = nil }, "routing.chain"},
		{"unknown step", func(c *routing.Config) { c.Chain = []routing.Step{routing.StepFirst, routing.StepAnyAgent} }, "routing.chain[1]"},
		{"duplicate step", func(c *routing.Config) { c.Chain = []routing.Step{routing.StepFirst, routing.StepFirst} }, "routing.chain[1]"},
		{"no ring timeout", func(c *routing.Config) { c.RingTimeout = 0 }, "routing.ring_timeout"},
		{"no ID tries", func(c *routing.Config) { c.IDTries = 0 }, "routing.id_tries"},
		{"no ID timeout", func(c *routing.Config) { c.IDTimeout = 0 }, "routing.id_timeout"},
		{"no ID digit timeout", func(c *routing.Config) { c.IDDigitTimeout = 0 }, "routing.id_digit_timeout"},
		{"no menu timeout", func(c *routing.Config) { c.MenuTimeout = 0 }, "routing.menu_timeout"},
		{"no menu tries", func(c *routing.Config) { c.MenuTries = 0 }, "routing.menu_tries"},
		{"negative grace", func(c *routing.Config) { c.HangupGrace = -1 }, "routing.hangup_grace"},
		{"negative store timeout", func(c *routing.Config) { c.StoreTimeout = -1 }, "routing.store_timeout"},
		{"no business types", func(c *routing.Config) { c.BusinessTypes = nil }, "business_types"},
		{"digit 0", func(c *routing.Config) { c.BusinessTypes[0].Digit = 0 }, "business_types[0].digit"},
		{"digit 10", func(c *routing.Config) { c.BusinessTypes[1].Digit = 10 }, "business_types[1].digit"},
		{"duplicate digit", func(c *routing.Config) { c.BusinessTypes[1].Digit = 1 }, "business_types[1].digit"},
		{"empty code", func(c *routing.Config) { c.BusinessTypes[0].Code = " " }, "business_types[0].code"},
		{"duplicate code", func(c *routing.Config) { c.BusinessTypes[1].Code = "loan" }, "business_types[1].code"},
		{"no callback due", func(c *routing.Config) { c.BusinessTypes[1].CallbackDue = 0 }, "business_types[1].callback_due"},
		{"unknown default type", func(c *routing.Config) { c.DefaultBusinessType = "mortgage" }, "routing.default_business_type"},
		{"no enter-ID prompt", func(c *routing.Config) { c.Prompts.EnterID = "" }, "prompts.enter_id"},
		{"no invalid-ID prompt", func(c *routing.Config) { c.Prompts.InvalidID = "" }, "prompts.invalid_id"},
		{"no promise prompt", func(c *routing.Config) { c.Prompts.CallbackPromise = "" }, "prompts.callback_promise"},
		{"no menu prompt", func(c *routing.Config) { c.Prompts.BusinessMenu = "" }, "prompts.business_menu"},
		{"no goodbye prompt", func(c *routing.Config) { c.Prompts.Goodbye = "" }, "prompts.goodbye"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := rt.Config()
			tc.tweak(&cfg)
			_, err := routing.New(cfg, rt.NewEnv().Deps())
			var ce *routing.ConfigError
			if !errors.As(err, &ce) || ce.Key != tc.wantKey {
				t.Fatalf("New: %v, want a ConfigError for %s", err, tc.wantKey)
			}
			if !strings.HasPrefix(ce.Error(), tc.wantKey+": ") {
				t.Errorf("error %q does not start with the key", ce.Error())
			}
		})
	}
}

func TestNewRejectsMissingDeps(t *testing.T) {
	t.Parallel()
	d := rt.NewEnv().Deps()
	d.Presence = nil
	if _, err := routing.New(rt.Config(), d); err == nil || !strings.Contains(err.Error(), "Presence") {
		t.Errorf("New without Presence: %v", err)
	}
}

func TestParseChain(t *testing.T) {
	t.Parallel()
	got, err := routing.ParseChain([]string{"first", "Backup", " team ", "leader"})
	want := []routing.Step{routing.StepFirst, routing.StepBackup, routing.StepTeam, routing.StepLeader}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseChain = %v, %v; want %v", got, err, want)
	}
	_, err = routing.ParseChain([]string{"first", "boss"})
	var ce *routing.ConfigError
	if !errors.As(err, &ce) || ce.Key != "routing.chain[1]" {
		t.Errorf("ParseChain with an unknown name: %v", err)
	}
}
