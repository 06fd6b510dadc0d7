// Package config loads stickyacd's configuration: defaults for every key, a
// YAML file, then the environment (STICKYACD_SECTION_KEY), validated so a bad
// value stops start-up with one line naming its key.
package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/stickyacd/stickyacd/callback"
)

// EnvPrefix is prepended to every environment key: esl.listen → STICKYACD_ESL_LISTEN.
const EnvPrefix = "STICKYACD"

// Config is the whole configuration. Every field has a default (see Defaults);
// stickyacd.example.yaml documents each one.
type Config struct {
	ESL           ESL            `mapstructure:"esl"`
	FreeSWITCH    FreeSWITCH     `mapstructure:"freeswitch"`
	Agents        Agents         `mapstructure:"agents"`
	Presence      Presence       `mapstructure:"presence"`
	Routing       Routing        `mapstructure:"routing"`
	BusinessTypes []BusinessType `mapstructure:"business_types"`
	Prompts       Prompts        `mapstructure:"prompts"`
	CallerID      CallerID       `mapstructure:"callerid"`
	Callback      Callback       `mapstructure:"callback"`
	Redis         Redis          `mapstructure:"redis"`
	Postgres      Postgres       `mapstructure:"postgres"`
	HTTP          HTTP           `mapstructure:"http"`
	Security      Security       `mapstructure:"security"`
	Log           Log            `mapstructure:"log"`
}

// ESL is the outbound socket FreeSWITCH's `socket` application dials.
type ESL struct {
	Listen          string        `mapstructure:"listen"`
	Allow           []string      `mapstructure:"allow"`
	MaxSessions     int           `mapstructure:"max_sessions"`
	DrainTimeout    time.Duration `mapstructure:"drain_timeout"`
	MaxCallDuration time.Duration `mapstructure:"max_call_duration"`
	CommandTimeout  time.Duration `mapstructure:"command_timeout"`
}

// FreeSWITCH is the inbound event socket used for registrations, agent
// channel states, api commands and chat.
type FreeSWITCH struct {
	EventSocket       string        `mapstructure:"event_socket"`
	Password          string        `mapstructure:"password"`
	Domain            string        `mapstructure:"domain"`
	ReconcileInterval time.Duration `mapstructure:"reconcile_interval"`
	ReconnectMax      time.Duration `mapstructure:"reconnect_max"`
}

// Agents says how agents' phones are reached.
type Agents struct {
	DialString string `mapstructure:"dial_string"`
	ChatTo     string `mapstructure:"chat_to"`
	ChatFrom   string `mapstructure:"chat_from"`
}

// Presence tunes availability rules.
type Presence struct {
	RequireRegistration bool          `mapstructure:"require_registration"`
	BusyDelay           time.Duration `mapstructure:"busy_delay"`
	RejectDelay         time.Duration `mapstructure:"reject_delay"`
	NoAnswerDelay       time.Duration `mapstructure:"no_answer_delay"`
	KeyPrefix           string        `mapstructure:"key_prefix"`
}

// Routing is the inbound call policy.
type Routing struct {
	RingTimeout         time.Duration `mapstructure:"ring_timeout"`
	MaxNoAnswer         int           `mapstructure:"max_no_answer"`
	WrapUp              time.Duration `mapstructure:"wrap_up"`
	Chain               []string      `mapstructure:"chain"`
	IDTries             int           `mapstructure:"id_tries"`
	IDTimeout           time.Duration `mapstructure:"id_timeout"`
	IDDigitTimeout      time.Duration `mapstructure:"id_digit_timeout"`
	BindAnsweringAgent  bool          `mapstructure:"bind_answering_agent"`
	AnyAgentTries       int           `mapstructure:"any_agent_tries"`
	DefaultBusinessType string        `mapstructure:"default_business_type"`
	MenuTimeout         time.Duration `mapstructure:"menu_timeout"`
	MenuTries           int           `mapstructure:"menu_tries"`
	HangupGrace         time.Duration `mapstructure:"hangup_grace"`
	AbandonedTasks      bool          `mapstructure:"abandoned_tasks"`
}

// BusinessType is one entry of the step 03 menu.
type BusinessType struct {
	Digit       int           `mapstructure:"digit" json:"digit"`
	Code        string        `mapstructure:"code" json:"code"`
	Name        string        `mapstructure:"name" json:"name"`
	CallbackDue time.Duration `mapstructure:"callback_due" json:"callback_due"`
	Priority    int           `mapstructure:"priority" json:"priority"`
}

// Prompts are sound paths; tone_stream:// and silence_stream:// are valid.
type Prompts struct {
	EnterID          string `mapstructure:"enter_id"`
	InvalidID        string `mapstructure:"invalid_id"`
	CallbackPromise  string `mapstructure:"callback_promise"`
	BusinessMenu     string `mapstructure:"business_menu"`
	Ringback         string `mapstructure:"ringback"`
	FeatureOK        string `mapstructure:"feature_ok"`
	FeatureError     string `mapstructure:"feature_error"`
	Goodbye          string `mapstructure:"goodbye"`
	CallbackAnnounce string `mapstructure:"callback_announce"`
	CallbackNone     string `mapstructure:"callback_none"`
}

// CallerID says how caller numbers are normalised.
type CallerID struct {
	CountryCode         string `mapstructure:"country_code"`
	InternationalPrefix string `mapstructure:"international_prefix"`
	TrunkPrefix         string `mapstructure:"trunk_prefix"`
}

// Callback tunes steps 05–06 and the agent's next_callback feature code.
type Callback struct {
	Interval      time.Duration `mapstructure:"interval"`
	Lease         time.Duration `mapstructure:"lease"`
	BatchSize     int           `mapstructure:"batch_size"`
	RemindEvery   time.Duration `mapstructure:"remind_every"`
	MaxReminders  int           `mapstructure:"max_reminders"`
	PriorityStep  int           `mapstructure:"priority_step"`
	DialString    string        `mapstructure:"dial_string"`
	CallerID      string        `mapstructure:"caller_id"`
	RingTimeout   time.Duration `mapstructure:"ring_timeout"`
	CompleteAfter time.Duration `mapstructure:"complete_after"`
	MaxAttempts   int           `mapstructure:"max_attempts"`
	RetryBackoff  time.Duration `mapstructure:"retry_backoff"`
	BusinessHours string        `mapstructure:"business_hours"`
	BusinessDays  string        `mapstructure:"business_days"`
	Timezone      string        `mapstructure:"timezone"`
	WebhookURL    string        `mapstructure:"webhook_url"`
	WebhookSecret string        `mapstructure:"webhook_secret"`
	SpoolDir      string        `mapstructure:"spool_dir"`
}

// Redis holds presence. Several addrs select Cluster, master_name Sentinel.
type Redis struct {
	Addrs      []string `mapstructure:"addrs"`
	DB         int      `mapstructure:"db"`
	Password   string   `mapstructure:"password"`
	MasterName string   `mapstructure:"master_name"`
}

// Postgres holds customers, agents, tasks and call records.
type Postgres struct {
	DSN             string        `mapstructure:"dsn"`
	MaxOpenConns    int           `mapstructure:"max_open_conns"`
	MaxIdleConns    int           `mapstructure:"max_idle_conns"`
	ConnMaxLifetime time.Duration `mapstructure:"conn_max_lifetime"`
}

// HTTP is the admin API, metrics and wallboard.
type HTTP struct {
	Listen string `mapstructure:"listen"`
	Token  string `mapstructure:"token"`
}

// Security holds the key for ID-number hashes.
type Security struct {
	IDHashKey string `mapstructure:"id_hash_key"`
}

// Log says how stickyacd logs.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// Defaults returns every key with its default value, keyed as in the file.
func Defaults() map[string]any {
	return map[string]any{
		"esl.listen":            "127.0.0.1:8084",
		"esl.allow":             []string{"127.0.0.1/32"},
		"esl.max_sessions":      2000,
		"esl.drain_timeout":     "30s",
		"esl.max_call_duration": "4h",
		"esl.command_timeout":   "5s",

		"freeswitch.event_socket":       "127.0.0.1:8021",
		"freeswitch.password":           "ClueCon",
		"freeswitch.domain":             "",
		"freeswitch.reconcile_interval": "30s",
		"freeswitch.reconnect_max":      "30s",

		"agents.dial_string": "user/{extension}",
		"agents.chat_to":     "{extension}@{domain}",
		"agents.chat_from":   "stickyacd@{domain}",

		"presence.require_registration": true,
		"presence.busy_delay":           "5s",
		"presence.reject_delay":         "5s",
		"presence.no_answer_delay":      "0s",
		"presence.key_prefix":           "stickyacd",

		"routing.ring_timeout":          "15s",
		"routing.max_no_answer":         3,
		"routing.wrap_up":               "10s",
		"routing.chain":                 []string{"first", "backup", "team", "leader"},
		"routing.id_tries":              3,
		"routing.id_timeout":            "10s",
		"routing.id_digit_timeout":      "5s",
		"routing.bind_answering_agent":  true,
		"routing.any_agent_tries":       5,
		"routing.default_business_type": "",
		"routing.menu_timeout":          "5s",
		"routing.menu_tries":            3,
		"routing.hangup_grace":          "10s",
		"routing.abandoned_tasks":       true,

		"business_types": []map[string]any{
			{"digit": 1, "code": "loan", "name": "Loans", "callback_due": "30m"},
			{"digit": 2, "code": "card", "name": "Credit cards", "callback_due": "30m"},
		},

		"prompts.enter_id":          "ivr/ivr-please_enter_pin_followed_by_pound.wav",
		"prompts.invalid_id":        "ivr/ivr-that_was_an_invalid_entry.wav",
		"prompts.callback_promise":  "ivr/ivr-we_will_return_your_call_at_this_number.wav",
		"prompts.business_menu":     "ivr/ivr-please_choose_from_the_following.wav",
		"prompts.ringback":          "tone_stream://%(2000,4000,440,480);loops=-1",
		"prompts.feature_ok":        "tone_stream://%(200,50,880);loops=2",
		"prompts.feature_error":     "tone_stream://%(500,100,300);loops=2",
		"prompts.goodbye":           "voicemail/vm-goodbye.wav",
		"prompts.callback_announce": "ivr/ivr-hold_connect_call.wav",
		"prompts.callback_none":     "voicemail/vm-no_more_messages.wav",

		"callerid.country_code":         "86",
		"callerid.international_prefix": "00",
		"callerid.trunk_prefix":         "0",

		"callback.interval":       "5s",
		"callback.lease":          "30s",
		"callback.batch_size":     200,
		"callback.remind_every":   "10m",
		"callback.max_reminders":  3,
		"callback.priority_step":  1,
		"callback.dial_string":    "sofia/gateway/outbound/{number}",
		"callback.caller_id":      "",
		"callback.ring_timeout":   "30s",
		"callback.complete_after": "20s",
		"callback.max_attempts":   5,
		"callback.retry_backoff":  "15m",
		"callback.business_hours": "09:00-18:00",
		"callback.business_days":  "mon-fri",
		"callback.timezone":       "Local",
		"callback.webhook_url":    "",
		"callback.webhook_secret": "",
		"callback.spool_dir":      "/var/lib/stickyacd/spool",

		"redis.addrs":       []string{"127.0.0.1:6379"},
		"redis.db":          0,
		"redis.password":    "",
		"redis.master_name": "",

		"postgres.dsn":               "postgres://postgres@127.0.0.1:5432/stickyacd?sslmode=disable",
		"postgres.max_open_conns":    20,
		"postgres.max_idle_conns":    20,
		"postgres.conn_max_lifetime": "30m",

		"http.listen": "127.0.0.1:8080",
		"http.token":  "",

		"security.id_hash_key": "",

		"log.level":  "info",
		"log.format": "json",
	}
}

// Load reads the defaults, then file (if not empty), then the environment
// (lookupEnv, usually os.LookupEnv). Unknown keys and undecodable values are
// errors naming the key.
func Load(file string, lookupEnv func(string) (string, bool)) (*Config, error) {
	v := viper.New()
	defaults := Defaults()
	for k, val := range defaults {
		v.SetDefault(k, val)
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("config: read %s: %w", file, err)
		}
		if err := checkKnownKeys(v, defaults, file); err != nil {
			return nil, err
		}
	}
	// viper's AutomaticEnv reads os.Getenv; an explicit pass keeps tests
	// hermetic and lets us parse list and JSON forms ourselves.
	for k := range defaults {
		name := EnvName(k)
		if val, ok := lookupEnv(name); ok {
			v.Set(k, envValue(k, val, defaults[k]))
		}
	}
	var cfg Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:      &cfg,
		ErrorUnused: true,
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
		WeaklyTypedInput: true,
	})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := dec.Decode(v.AllSettings()); err != nil {
		return nil, decodeError(err, v)
	}
	return &cfg, nil
}

// EnvName is the environment variable for a key: routing.ring_timeout →
// STICKYACD_ROUTING_RING_TIMEOUT.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envValue turns an environment string into the shape of the key's default:
// comma-separated lists, and JSON for business_types.
func envValue(key, val string, def any) any {
	switch def.(type) {
	case []string:
		parts := strings.Split(val, ",")
		out := parts[:0]
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	case []map[string]any:
		var list []map[string]any
		if err := json.Unmarshal([]byte(val), &list); err != nil {
			// Left as a string, decoding reports it against the key.
			return val
		}
		return list
	}
	return val
}

func checkKnownKeys(v *viper.Viper, defaults map[string]any, file string) error {
	var unknown []string
	for _, k := range v.AllKeys() {
		if _, ok := defaults[k]; ok {
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("config: unknown key %q in %s", unknown[0], file)
}

var mapstructureKey = regexp.MustCompile(`'([a-z0-9_.\[\]]+)'`)

// decodeError reduces mapstructure's multi-line report to one line that
// starts with the offending key and shows the value it was given.
func decodeError(err error, v *viper.Viper) error {
	msg := err.Error()
	lines := strings.Split(msg, "\n")
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "*"))
		if l == "" || strings.HasPrefix(l, "decoding failed") {
			continue
		}
		if m := mapstructureKey.FindStringSubmatch(l); m != nil {
			rest := strings.TrimSpace(strings.Replace(l, m[0], "", 1))
			if got := v.Get(m[1]); got != nil && !strings.Contains(rest, fmt.Sprint(got)) {
				rest += fmt.Sprintf(" (got %q)", fmt.Sprint(got))
			}
			return fmt.Errorf("config: %s: %s", m[1], rest)
		}
		return fmt.Errorf("config: %s", l)
	}
	return fmt.Errorf("config: %s", strings.Join(strings.Fields(msg), " "))
}

// Need says which optional requirements a command has.
type Need struct {
	HashKey bool // the command hashes ID numbers
}

// Validate checks every value; the error names the first bad key and why.
func (c *Config) Validate(need Need) error {
	check := func(ok bool, key, why string) error {
		if ok {
			return nil
		}
		return &KeyError{Key: key, Why: why}
	}
	errs := []error{
		check(validHostPort(c.ESL.Listen), "esl.listen", "must be host:port"),
		validPrefixes(c.ESL.Allow, "esl.allow"),
		check(c.ESL.MaxSessions > 0, "esl.max_sessions", "must be positive"),
		check(c.ESL.DrainTimeout > 0, "esl.drain_timeout", "must be positive"),
		check(c.ESL.MaxCallDuration > 0, "esl.max_call_duration", "must be positive"),
		check(c.ESL.CommandTimeout > 0, "esl.command_timeout", "must be positive"),
		check(validHostPort(c.FreeSWITCH.EventSocket), "freeswitch.event_socket", "must be host:port"),
		check(c.FreeSWITCH.ReconcileInterval > 0, "freeswitch.reconcile_interval", "must be positive"),
		check(c.FreeSWITCH.ReconnectMax > 0, "freeswitch.reconnect_max", "must be positive"),
		check(strings.Contains(c.Agents.DialString, "{extension}"), "agents.dial_string", "must contain {extension}"),
		check(c.Presence.BusyDelay >= 0, "presence.busy_delay", "must not be negative"),
		check(c.Presence.RejectDelay >= 0, "presence.reject_delay", "must not be negative"),
		check(c.Presence.NoAnswerDelay >= 0, "presence.no_answer_delay", "must not be negative"),
		check(c.Presence.KeyPrefix != "" && !strings.ContainsAny(c.Presence.KeyPrefix, "{} "), "presence.key_prefix", "must be non-empty, without braces or spaces"),
		check(c.Routing.RingTimeout >= time.Second, "routing.ring_timeout", "must be at least 1s"),
		check(c.Routing.MaxNoAnswer >= 0, "routing.max_no_answer", "must not be negative (0 disables)"),
		check(c.Routing.WrapUp >= 0, "routing.wrap_up", "must not be negative"),
		validChain(c.Routing.Chain),
		check(c.Routing.IDTries >= 1, "routing.id_tries", "must be at least 1"),
		check(c.Routing.AnyAgentTries >= 1, "routing.any_agent_tries", "must be at least 1"),
		check(c.Routing.IDTimeout > 0, "routing.id_timeout", "must be positive"),
		check(c.Routing.IDDigitTimeout > 0, "routing.id_digit_timeout", "must be positive"),
		check(c.Routing.MenuTimeout > 0, "routing.menu_timeout", "must be positive"),
		check(c.Routing.MenuTries >= 1, "routing.menu_tries", "must be at least 1"),
		check(c.Routing.HangupGrace >= 0, "routing.hangup_grace", "must not be negative"),
		c.validBusinessTypes(),
		check(c.CallerID.CountryCode == "" || allDigits(c.CallerID.CountryCode), "callerid.country_code", "must be digits"),
		check(c.CallerID.InternationalPrefix == "" || allDigits(c.CallerID.InternationalPrefix), "callerid.international_prefix", "must be digits"),
		check(c.CallerID.TrunkPrefix == "" || allDigits(c.CallerID.TrunkPrefix), "callerid.trunk_prefix", "must be digits"),
		check(c.Callback.Interval > 0, "callback.interval", "must be positive"),
		check(c.Callback.Lease > c.Callback.Interval, "callback.lease", "must be longer than callback.interval"),
		check(c.Callback.BatchSize > 0, "callback.batch_size", "must be positive"),
		check(c.Callback.RemindEvery > 0, "callback.remind_every", "must be positive"),
		check(c.Callback.MaxReminders >= 1, "callback.max_reminders", "must be at least 1"),
		check(c.Callback.PriorityStep >= 1, "callback.priority_step", "must be at least 1"),
		check(strings.Contains(c.Callback.DialString, "{number}"), "callback.dial_string", "must contain {number}"),
		check(c.Callback.RingTimeout >= time.Second, "callback.ring_timeout", "must be at least 1s"),
		check(c.Callback.CompleteAfter > 0, "callback.complete_after", "must be positive"),
		check(c.Callback.MaxAttempts >= 1, "callback.max_attempts", "must be at least 1"),
		check(c.Callback.RetryBackoff > 0, "callback.retry_backoff", "must be positive"),
		validBusinessHours(c.Callback.BusinessHours, c.Callback.BusinessDays),
		check(validTimezone(c.Callback.Timezone), "callback.timezone", "must be an IANA time zone such as Asia/Shanghai, or Local"),
		check(c.Callback.WebhookURL == "" || validURL(c.Callback.WebhookURL), "callback.webhook_url", "must be an http(s) URL"),
		check(c.Callback.WebhookURL == "" || c.Callback.WebhookSecret != "", "callback.webhook_secret", "must be set when callback.webhook_url is"),
		check(c.Callback.SpoolDir != "", "callback.spool_dir", "must not be empty"),
		check(len(c.Redis.Addrs) > 0 && allHostPort(c.Redis.Addrs), "redis.addrs", "must list host:port addresses"),
		check(c.Redis.DB >= 0 && c.Redis.DB <= 15, "redis.db", "must be 0–15"),
		check(c.Redis.MasterName == "" || len(c.Redis.Addrs) > 0, "redis.master_name", "needs redis.addrs of the sentinels"),
		validDSN(c.Postgres.DSN),
		check(c.Postgres.MaxOpenConns > 0, "postgres.max_open_conns", "must be positive"),
		check(c.Postgres.MaxIdleConns >= 1 && c.Postgres.MaxIdleConns <= c.Postgres.MaxOpenConns, "postgres.max_idle_conns", "must be between 1 and postgres.max_open_conns"),
		check(c.Postgres.ConnMaxLifetime >= 0, "postgres.conn_max_lifetime", "must not be negative"),
		check(validHostPort(c.HTTP.Listen), "http.listen", "must be host:port"),
		check(!need.HashKey || c.Security.IDHashKey != "", "security.id_hash_key", "must not be empty: ID numbers are stored only as a keyed hash (set it in the file or "+EnvName("security.id_hash_key")+")"),
		check(slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level), "log.level", "must be debug, info, warn or error"),
		check(c.Log.Format == "json" || c.Log.Format == "text", "log.format", "must be json or text"),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// KeyError is a bad configuration value.
type KeyError struct {
	Key string
	Why string
}

func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Why }

// AllowPrefixes parses esl.allow (validated already).
func (c *Config) AllowPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(c.ESL.Allow))
	for _, s := range c.ESL.Allow {
		p, err := parsePrefix(s)
		if err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	return p.Masked(), err
}

func validPrefixes(list []string, key string) error {
	if len(list) == 0 {
		return &KeyError{Key: key, Why: "must list at least one CIDR (FreeSWITCH's address)"}
	}
	for _, s := range list {
		if _, err := parsePrefix(s); err != nil {
			return &KeyError{Key: key, Why: fmt.Sprintf("%q is not a CIDR or IP address", s)}
		}
	}
	return nil
}

// ChainSteps are the names allowed in routing.chain.
var ChainSteps = []string{"first", "backup", "team", "leader"}

func validChain(chain []string) error {
	if len(chain) == 0 {
		return &KeyError{Key: "routing.chain", Why: "must list at least one of first, backup, team, leader"}
	}
	seen := map[string]bool{}
	for _, s := range chain {
		if !slices.Contains(ChainSteps, s) {
			return &KeyError{Key: "routing.chain", Why: fmt.Sprintf("unknown step %q (use first, backup, team, leader)", s)}
		}
		if seen[s] {
			return &KeyError{Key: "routing.chain", Why: fmt.Sprintf("step %q listed twice", s)}
		}
		seen[s] = true
	}
	return nil
}

var codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func (c *Config) validBusinessTypes() error {
	if len(c.BusinessTypes) == 0 {
		return &KeyError{Key: "business_types", Why: "must list at least one business type"}
	}
	digits := map[int]bool{}
	codes := map[string]bool{}
	for i, bt := range c.BusinessTypes {
		key := fmt.Sprintf("business_types[%d]", i)
		switch {
		case bt.Digit < 1 || bt.Digit > 9:
			return &KeyError{Key: key + ".digit", Why: "must be 1–9"}
		case digits[bt.Digit]:
			return &KeyError{Key: key + ".digit", Why: fmt.Sprintf("digit %d used twice", bt.Digit)}
		case !codePattern.MatchString(bt.Code):
			return &KeyError{Key: key + ".code", Why: "must be lower-case letters, digits or _ (at most 32), starting with a letter"}
		case codes[bt.Code]:
			return &KeyError{Key: key + ".code", Why: fmt.Sprintf("code %q used twice", bt.Code)}
		case strings.TrimSpace(bt.Name) == "":
			return &KeyError{Key: key + ".name", Why: "must not be empty"}
		case bt.CallbackDue <= 0:
			return &KeyError{Key: key + ".callback_due", Why: "must be positive"}
		}
		digits[bt.Digit] = true
		codes[bt.Code] = true
	}
	if d := c.Routing.DefaultBusinessType; d != "" && !codes[d] {
		return &KeyError{Key: "routing.default_business_type", Why: fmt.Sprintf("%q is not a business_types code", d)}
	}
	return nil
}

// DefaultBusinessType is routing.default_business_type, or the first type.
func (c *Config) DefaultBusinessType() string {
	if c.Routing.DefaultBusinessType != "" {
		return c.Routing.DefaultBusinessType
	}
	return c.BusinessTypes[0].Code
}

func validDSN(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return &KeyError{Key: "postgres.dsn", Why: "must be a postgres:// URL"}
	}
	if u.Query().Get("sslmode") == "" {
		return &KeyError{Key: "postgres.dsn", Why: "must state sslmode (e.g. ?sslmode=disable on loopback, require elsewhere); lib/pq would silently default to require"}
	}
	return nil
}

func validHostPort(s string) bool {
	_, err := netip.ParseAddrPort(s)
	if err == nil {
		return true
	}
	host, port, ok := strings.Cut(s, ":")
	if !ok || host == "" || port == "" || strings.Contains(port, ":") {
		return false
	}
	return allDigits(port)
}

func allHostPort(list []string) bool {
	for _, s := range list {
		if !validHostPort(s) {
			return false
		}
	}
	return true
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validBusinessHours checks the hours and days with the parser the callback
// worker uses, so what passes here also starts.
func validBusinessHours(hours, days string) error {
	if _, err := callback.ParseBusinessHours(hours, "mon"); err != nil {
		return &KeyError{Key: "callback.business_hours", Why: `must look like "09:00-18:00" ("00:00-24:00" for all day)`}
	}
	if _, err := callback.ParseBusinessHours("00:00-24:00", days); err != nil {
		return &KeyError{Key: "callback.business_days", Why: `must look like "mon-fri", "mon-fri,sat" or "sun,tue" (no range across the week's end)`}
	}
	return nil
}

func validTimezone(s string) bool {
	_, err := time.LoadLocation(s)
	return err == nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Keys lists every configuration key, sorted, for documentation and tests.
func Keys() []string {
	out := make([]string, 0, len(Defaults()))
	for k := range Defaults() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
