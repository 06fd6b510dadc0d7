// Command stickyacd routes FreeSWITCH's inbound calls to the agent who knows
// the customer, and turns unanswered calls into callback tasks.
//
//	stickyacd [--config FILE] serve|migrate|import agents|customers FILE|demo|bench|version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/app"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/demo"
)

// version is set by the linker (see the Makefile).
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var configFile string
	root := &cobra.Command{
		Use:           "stickyacd",
		Short:         "Sticky call routing behind FreeSWITCH: the customer's own agent first, a callback otherwise",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&configFile, "config", "", "configuration file (YAML); every key can also be set as STICKYACD_SECTION_KEY")
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)

	load := func(need config.Need) (*config.Config, *slog.Logger, error) {
		cfg, err := config.Load(configFile, os.LookupEnv)
		if err != nil {
			return nil, nil, err
		}
		if err := cfg.Validate(need); err != nil {
			return nil, nil, err
		}
		log := app.NewLogger(cfg.Log, stderr)
		// eslgo's own chatter goes to the default logger (its listener is
		// the process's): the same level and format.
		slog.SetDefault(log)
		return cfg, log, nil
	}

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run everything: the outbound ESL server, the FreeSWITCH event client, the callback worker and the HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := load(config.Need{HashKey: true})
			if err != nil {
				return err
			}
			// SIGTERM drains: calls in progress finish, new ones go back to
			// the dialplan. SIGINT, or a second SIGTERM, stops at once.
			drain, stopDrain := context.WithCancel(context.Background())
			defer stopDrain()
			hard, stopHard := context.WithCancel(context.Background())
			defer stopHard()
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
			defer signal.Stop(sigs)
			go func() {
				for {
					select {
					case sig := <-sigs:
						if sig == syscall.SIGINT || drain.Err() != nil {
							log.Warn("stopping now", "signal", sig.String())
							stopHard()
							return
						}
						log.Info("draining: new calls go back to the dialplan, calls in progress finish", "signal", sig.String())
						stopDrain()
					case <-hard.Done():
						return
					}
				}
			}()
			return app.Serve(drain, hard, cfg, log, version)
		},
	}

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the PostgreSQL schema migrations (serve does this too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := load(config.Need{})
			if err != nil {
				return err
			}
			applied, err := app.Migrate(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(stdout, "schema is up to date")
				return nil
			}
			for _, m := range applied {
				fmt.Fprintln(stdout, "applied", m)
			}
			return nil
		},
	}

	importCmd := &cobra.Command{
		Use:   "import agents|customers FILE",
		Short: "Import agents or customers from a CSV file (idempotent; a bad row fails the whole file as FILE:LINE: reason)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 || (args[0] != "agents" && args[0] != "customers") {
				return errors.New("usage: stickyacd import agents|customers FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, log, err := load(config.Need{HashKey: true})
			if err != nil {
				return err
			}
			counts, err := app.Import(cmd.Context(), cfg, log, args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: %d inserted, %d updated, %d unchanged\n", args[1], counts.Inserted, counts.Updated, counts.Unchanged)
			return nil
		},
	}

	versionCmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(stdout, "stickyacd", version) },
	}

	root.AddCommand(serve, migrate, importCmd, versionCmd, benchCommand(&configFile, stdout, stderr), demoCommand(&configFile, stdout, stderr))
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(stderr, "stickyacd:", err)
		return 1
	}
	return 0
}

const benchHelp = `Drives emulated calls (the built-in FreeSWITCH emulator, esl/fstest) through
stickyacd with the PostgreSQL and Redis of the configuration, and reports
what issue 7 sets targets for.

Data: a generated directory of --agents agents in teams of --team-size (the
first member of each team leads it, every other member backs up the next)
and --customers customers, each with one phone and an ID number, loaded with
COPY into the PostgreSQL schema --schema (created, migrated and filled by the
bench; search_path selects it) and reused by later runs when the sizes and
the ID-hash key match. Presence lives under the Redis key prefix
--redis-prefix, reset at every run. Both names must start with
"stickyacd_bench": the bench never touches a deployment's data. Without
security.id_hash_key in the configuration a throwaway key hashes the
synthetic ID numbers.

Calls: --known of the callers are customers calling from their phone, --id-entry
call from an unknown number and key a customer's ID number, the rest key an
unknown ID number (step 021). Every caller keys 1 at the callback menu.
--busy and --no-answer of the agents' phones return busy or ring out; the
others answer after --ring-for and hang up after --talk-for. Media, ringing
and digit timeouts run --speed times faster; stickyacd's own real-time
delays (wrap-up, busy/reject/no-answer delays, hang-up grace) are divided by
--speed too. After --warmup calls, --calls calls are placed at --rate per
second (at most --concurrency at a time), then --burst-calls at --burst-rate,
then --hold calls are held bridged to measure the heap per call.

Figures (the emulator's view, so stickyacd's ESL round trips count):
  decision_ms  from FreeSWITCH receiving stickyacd's "connect" to the start of
               the first bridge, or of the step 03 promise (the digit
               collection of the business-type menu, which opens with it),
               minus time spent in play_and_get_digits and playback before it
               (the caller keying, prompts playing). It includes the session
               set-up commands, the look-ups in PostgreSQL and Redis, and the
               answer of IVR and callback calls.
  setup_ms     from the emulator dialling the outbound socket to stickyacd's
               "connect" (TCP accept, admission, eslgo's session start).
  calls_per_s  calls that reached "connect", over the time from the first dial
               to the last connect: the sustained set-up rate.
  double_bookings  an agent's phone offered two calls at once, from the
               emulator's records of every bridge.
  heap_per_call_kib  live heap after a GC with --hold calls bridged, minus
               without, per call, minus the emulator's own share (measured
               against a do-nothing application).
  cpu          process and machine CPU; in-process also split between
               stickyacd, the emulator and the Go runtime (pprof labels).

--addr HOST:PORT: the emulator dials a stickyacd started separately (serve),
so its CPU and memory are its own. That instance must use the same
configuration file plus the environment "stickyacd bench --server-env
--event-socket ADDR" prints (the schema's DSN, the key prefix, presence
without registration, the scaled delays, the ID-hash key, and
freeswitch.event_socket pointing at the emulator's inbound socket, which then
listens on --event-socket). Give --metrics http://HOST:PORT/metrics to read
its CPU, memory and goroutines. Start it after the data set exists (a first
in-process run, or any run: a load notifies running instances).`

// benchCommand is `stickyacd bench`.
func benchCommand(configFile *string, stdout, stderr io.Writer) *cobra.Command {
	o := bench.Defaults()
	var asJSON, serverEnv bool
	var logFile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load stickyacd with emulated calls and measure decision time, set-up rate and memory (see --help)",
		Long:  benchHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ConfigFile, o.LookupEnv = *configFile, os.LookupEnv
			if serverEnv {
				return bench.WriteServerEnv(stdout, o)
			}
			cfg, err := config.Load(*configFile, os.LookupEnv)
			if err != nil {
				return err
			}
			o.Logger = app.NewLogger(cfg.Log, stderr)
			o.Progress = progressWriter(stdout)
			if logFile != "" {
				f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
				if err != nil {
					return fmt.Errorf("--log-file: %w", err)
				}
				defer f.Close()
				o.ServerLog = f
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			res, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if asJSON {
				return res.WriteJSON(stdout)
			}
			return res.WriteTable(stdout)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Agents, "agents", o.Agents, "agents in the generated directory")
	f.IntVar(&o.TeamSize, "team-size", o.TeamSize, "agents per team, leader included")
	f.IntVar(&o.Customers, "customers", o.Customers, "customers in the generated directory")
	f.Float64Var(&o.Known, "known", o.Known, "share of callers recognised by caller ID")
	f.Float64Var(&o.IDEntry, "id-entry", o.IDEntry, "share of callers keying a customer's ID number (the rest key an unknown one)")
	f.Float64Var(&o.Busy, "busy", o.Busy, "share of agents' phones returning busy")
	f.Float64Var(&o.NoAnswer, "no-answer", o.NoAnswer, "share of agents' phones ringing out")
	f.DurationVar(&o.RingFor, "ring-for", o.RingFor, "how long other phones ring before answering (emulated time)")
	f.DurationVar(&o.TalkFor, "talk-for", o.TalkFor, "how long answered calls last before the agent hangs up (emulated time)")
	f.StringVar(&o.Schema, "schema", o.Schema, "PostgreSQL schema of the bench data set (must start with stickyacd_bench)")
	f.StringVar(&o.RedisPrefix, "redis-prefix", o.RedisPrefix, "Redis key prefix of the bench's presence (must start with stickyacd_bench)")
	f.IntVar(&o.Calls, "calls", o.Calls, "measured calls")
	f.Float64Var(&o.Rate, "rate", o.Rate, "calls placed per second")
	f.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "most calls in progress at once")
	f.IntVar(&o.BurstCalls, "burst-calls", o.BurstCalls, "calls of a burst after the measured calls (0: none)")
	f.Float64Var(&o.BurstRate, "burst-rate", o.BurstRate, "calls per second of the burst")
	f.IntVar(&o.Warmup, "warmup", o.Warmup, "calls before the measured ones, not counted")
	f.IntVar(&o.Hold, "hold", o.Hold, "calls held bridged to measure heap per call (0: skip)")
	f.Float64Var(&o.Speed, "speed", o.Speed, "emulated time runs this many times faster")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the callers' choices")
	f.StringVar(&o.Addr, "addr", "", "outbound socket of a stickyacd started separately (HOST:PORT); default: run it in-process")
	f.StringVar(&o.EventSocket, "event-socket", o.EventSocket, "address of the emulator's inbound event socket (fixed with --addr)")
	f.StringVar(&o.Metrics, "metrics", "", "with --addr: that instance's /metrics URL")
	f.StringVar(&o.LogLevel, "log-level", o.LogLevel, "in-process stickyacd's log level")
	f.StringVar(&logFile, "log-file", "", "append in-process stickyacd's log to this file (default: stderr)")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write the measured calls' CPU profile here (the burst's to FILE.burst)")
	f.StringVar(&o.MemProfile, "memprofile", "", "write an allocation profile here at the end")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	f.BoolVar(&serverEnv, "server-env", false, "print the environment a stickyacd for --addr needs, and exit")
	return cmd
}

// progressWriter is where the bench draws its progress bar: stdout when it
// is a terminal (someone is watching), nowhere when it is piped or saved, so
// --json output and saved tables stay clean.
func progressWriter(stdout io.Writer) io.Writer {
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return stdout
	}
	return nil
}

// demoCommand is `stickyacd demo`.
func demoCommand(configFile *string, stdout, stderr io.Writer) *cobra.Command {
	o := demo.Defaults()
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play the whole call flow against the built-in FreeSWITCH emulator and print each call's decision trace",
		Long: `Loads a small directory (two teams, three customers) into the PostgreSQL schema
--schema and the Redis key prefix --redis-prefix of the configuration's
servers (both reset on each run; names must start with "stickyacd_demo"),
runs serve in-process with the built-in FreeSWITCH emulator, and places
scripted calls through every branch of the flow: own agent (011), backup
(012), team (013), leader (014), ID entry with binding (02), unknown caller to
anyone (021), callback promise and task (03, 04), assignment (05), reminder
and reassignment (06, by moving the callback worker's clock), and an agent's
next_callback. Each call's decision trace is printed step by step, with every
candidate agent and why they were passed over, then the callback tasks'
histories. Without security.id_hash_key a throwaway key is used (the data are
made up).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ConfigFile, o.LookupEnv, o.Log = *configFile, os.LookupEnv, stderr
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return demo.Run(ctx, o, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Schema, "schema", o.Schema, "PostgreSQL schema of the demo (reset; must start with stickyacd_demo)")
	f.StringVar(&o.RedisPrefix, "redis-prefix", o.RedisPrefix, "Redis key prefix of the demo (reset; must start with stickyacd_demo)")
	f.Float64Var(&o.Speed, "speed", o.Speed, "emulated time runs this many times faster")
	f.StringVar(&o.LogLevel, "log-level", o.LogLevel, "stickyacd's log level (logs go to stderr)")
	return cmd
}
