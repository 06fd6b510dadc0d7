package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stickyacd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(Need{}); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if got := cfg.ESL.Listen; got != "127.0.0.1:8084" {
		t.Errorf("esl.listen = %q", got)
	}
	if got := cfg.Routing.RingTimeout; got != 15*time.Second {
		t.Errorf("routing.ring_timeout = %v", got)
	}
	if len(cfg.BusinessTypes) != 2 || cfg.BusinessTypes[1].Code != "card" || cfg.BusinessTypes[1].CallbackDue != 30*time.Minute {
		t.Errorf("business_types = %+v", cfg.BusinessTypes)
	}
	if err := cfg.Validate(Need{HashKey: true}); err == nil || !strings.Contains(err.Error(), "security.id_hash_key") {
		t.Errorf("empty hash key accepted: %v", err)
	}
}

// The example file documents every key with its default: loading it must
// give exactly the defaults, and every key must appear in it.
func TestExampleFileMatchesDefaults(t *testing.T) {
	t.Parallel()
	const example = "../../../../stickyacd.example.yaml"
	body, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := Load(example, noEnv)
	if err != nil {
		t.Fatalf("example file: %v", err)
	}
	defaults, err := Load("", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile, defaults) {
		t.Errorf("example file differs from defaults:\nfile:     %+v\ndefaults: %+v", *fromFile, *defaults)
	}
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(body), leaf) {
			t.Errorf("key %s is not documented in the example file", k)
		}
	}
}

func TestFileAndEnvOverride(t *testing.T) {
	t.Parallel()
	file := writeFile(t, `
esl:
  listen: "127.0.0.1:9084"
  allow: ["127.0.0.1/32", "10.0.0.0/8"]
http:
  token: "from-file"
routing:
  chain: [first, leader]
business_types:
  - {digit: 3, code: ins, name: "Insurance", callback_due: 1h, priority: 2}
security:
  id_hash_key: k
`)
	cfg, err := Load(file, envOf(map[string]string{
		"STICKYACD_HTTP_TOKEN":                    "from-env",
		"STICKYACD_REDIS_ADDRS":                   "10.0.0.1:6379, 10.0.0.2:6379",
		"STICKYACD_PRESENCE_REQUIRE_REGISTRATION": "false",
		"STICKYACD_ROUTING_RING_TIMEOUT":          "20s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(Need{HashKey: true}); err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.ESL.Listen != "127.0.0.1:9084":
		t.Errorf("esl.listen = %q", cfg.ESL.Listen)
	case len(cfg.AllowPrefixes()) != 2:
		t.Errorf("esl.allow = %v", cfg.ESL.Allow)
	case cfg.HTTP.Token != "from-env":
		t.Errorf("env did not override the file: http.token = %q", cfg.HTTP.Token)
	case len(cfg.Redis.Addrs) != 2 || cfg.Redis.Addrs[1] != "10.0.0.2:6379":
		t.Errorf("redis.addrs = %q", cfg.Redis.Addrs)
	case cfg.Presence.RequireRegistration:
		t.Errorf("presence.require_registration from env ignored")
	case cfg.Routing.RingTimeout != 20*time.Second:
		t.Errorf("routing.ring_timeout = %v", cfg.Routing.RingTimeout)
	case len(cfg.Routing.Chain) != 2 || cfg.Routing.Chain[1] != "leader":
		t.Errorf("routing.chain = %v", cfg.Routing.Chain)
	case len(cfg.BusinessTypes) != 1 || cfg.BusinessTypes[0].Priority != 2 || cfg.BusinessTypes[0].CallbackDue != time.Hour:
		t.Errorf("business_types = %+v", cfg.BusinessTypes)
	case cfg.DefaultBusinessType() != "ins":
		t.Errorf("default business type = %q", cfg.DefaultBusinessType())
	}
}

func TestBusinessTypesFromEnvJSON(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", envOf(map[string]string{
		"STICKYACD_BUSINESS_TYPES": `[{"digit":1,"code":"loan","name":"Loans","callback_due":"15m"}]`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.BusinessTypes) != 1 || cfg.BusinessTypes[0].CallbackDue != 15*time.Minute {
		t.Fatalf("business_types = %+v", cfg.BusinessTypes)
	}
}

// Every bad value stops start-up with one line naming its key.
func TestBadValuesNameTheirKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		env        map[string]string
		key        string
	}{
		{"unknown key", "esl:\n  listne: x\n", nil, "esl.listne"},
		{"unknown section", "routng:\n  ring_timeout: 5s\n", nil, "routng.ring_timeout"},
		{"bad duration", "routing:\n  ring_timeout: soon\n", nil, "routing.ring_timeout"},
		{"bad duration from env", "", map[string]string{"STICKYACD_ESL_DRAIN_TIMEOUT": "forever"}, "esl.drain_timeout"},
		{"bad int", "esl:\n  max_sessions: many\n", nil, "esl.max_sessions"},
		{"zero sessions", "esl:\n  max_sessions: 0\n", nil, "esl.max_sessions"},
		{"bad cidr", "esl:\n  allow: [\"300.1.1.1/8\"]\n", nil, "esl.allow"},
		{"bad listen", "esl:\n  listen: nowhere\n", nil, "esl.listen"},
		{"bad chain step", "routing:\n  chain: [first, boss]\n", nil, "routing.chain"},
		{"chain twice", "routing:\n  chain: [first, first]\n", nil, "routing.chain"},
		{"dial string without extension", "agents:\n  dial_string: user/1000\n", nil, "agents.dial_string"},
		{"business digit", "business_types:\n  - {digit: 0, code: a, name: A, callback_due: 1m}\n", nil, "business_types[0].digit"},
		{"business digit twice", "business_types:\n  - {digit: 1, code: a, name: A, callback_due: 1m}\n  - {digit: 1, code: b, name: B, callback_due: 1m}\n", nil, "business_types[1].digit"},
		{"business code", "business_types:\n  - {digit: 1, code: \"Bad Code\", name: A, callback_due: 1m}\n", nil, "business_types[0].code"},
		{"business unknown field", "business_types:\n  - {digit: 1, code: a, name: A, callback_due: 1m, colour: red}\n", nil, "business_types[0]"},
		{"default type unknown", "routing:\n  default_business_type: travel\n", nil, "routing.default_business_type"},
		{"dsn without sslmode", "postgres:\n  dsn: postgres://postgres@127.0.0.1/x\n", nil, "postgres.dsn"},
		{"redis db", "redis:\n  db: 99\n", nil, "redis.db"},
		{"webhook without secret", "callback:\n  webhook_url: https://example.com/hook\n", nil, "callback.webhook_secret"},
		{"business hours", "callback:\n  business_hours: 9-5\n", nil, "callback.business_hours"},
		{"closing past midnight", "callback:\n  business_hours: 09:00-24:30\n", nil, "callback.business_hours"},
		{"days across the week's end", "callback:\n  business_days: fri-mon\n", nil, "callback.business_days"},
		{"timezone", "callback:\n  timezone: Mars/Olympus\n", nil, "callback.timezone"},
		{"log level", "log:\n  level: loud\n", nil, "log.level"},
		// 0 cannot mean what it says for these; it must not quietly become
		// a default either.
		{"zero drain", "esl:\n  drain_timeout: 0s\n", nil, "esl.drain_timeout"},
		{"zero reminders", "callback:\n  max_reminders: 0\n", nil, "callback.max_reminders"},
		{"zero priority step", "callback:\n  priority_step: 0\n", nil, "callback.priority_step"},
		{"zero complete after", "callback:\n  complete_after: 0s\n", nil, "callback.complete_after"},
		{"zero idle connections", "postgres:\n  max_idle_conns: 0\n", nil, "postgres.max_idle_conns"},
		{"empty hash key", "", nil, "security.id_hash_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := ""
			if tc.file != "" {
				file = writeFile(t, tc.file)
			}
			env := map[string]string{}
			if tc.key != "security.id_hash_key" {
				env["STICKYACD_SECURITY_ID_HASH_KEY"] = "k"
			}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := Load(file, envOf(env))
			if err == nil {
				err = cfg.Validate(Need{HashKey: true})
			}
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, tc.key) {
				t.Errorf("error %q does not name %s", msg, tc.key)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	t.Parallel()
	if got := EnvName("security.id_hash_key"); got != "STICKYACD_SECURITY_ID_HASH_KEY" {
		t.Fatal(got)
	}
}
