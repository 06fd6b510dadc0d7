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

	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/app"
	"github.com/stickyacd/stickyacd/cmd/stickyacd/internal/config"
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
		return cfg, app.NewLogger(cfg.Log, stderr), nil
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

	root.AddCommand(serve, migrate, importCmd, versionCmd)
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(stderr, "stickyacd:", err)
		return 1
	}
	return 0
}
