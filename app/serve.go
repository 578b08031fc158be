package app

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcptray/mcptray/mcphub/control"
)

func runServe(env *cliEnv, args []string) int {
	fs := env.newFlags("serve")
	if _, ok := env.parse(fs, args); !ok {
		return exitUsage
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
		return exitFail
	}
	r, err := startHub(env, paths, "serve")
	if err != nil {
		var held *control.HeldError
		if errors.As(err, &held) {
			fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
		return exitFail
	}
	info := r.info()
	fmt.Fprintf(env.stderr, "MCP Tray hub %s serving %s\n  bridge:         %s\n  control socket: %s\n  log file:       %s\n  keyring:        %s\n",
		info.Version, paths.Config, orUnknown(info.Bridge), info.Socket, orUnknown(info.LogFile), orUnknown(info.Keyring))

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	for sig := range signals {
		if sig == syscall.SIGHUP {
			r.log.Info("SIGHUP: reloading the configuration")
			_ = r.hub.Reload()
			continue
		}
		r.log.Info("shutting down", "signal", sig.String())
		break
	}
	signal.Stop(signals)
	r.Close()
	return exitOK
}
