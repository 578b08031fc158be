package app

import (
	"errors"
	"fmt"

	"github.com/mcptray/mcptray/mcphub/config"
)

func runValidate(env *cliEnv, args []string) int {
	fs := env.newFlags("validate")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) > 1 {
		fmt.Fprintln(env.stderr, "mcptray validate: give at most one file")
		return exitUsage
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray validate: %v\n", err)
		return exitFail
	}
	file := paths.Config
	if len(pos) == 1 {
		file = pos[0]
	}
	secrets, keyErr := openSecrets(paths, false)
	cfg, err := config.Load(file, config.Options{LookupSecret: keyringLookup(secrets, keyErr)})
	if err != nil {
		var cerr *config.Error
		if errors.As(err, &cerr) {
			for _, is := range cerr.Issues {
				fmt.Fprintln(env.stderr, is)
			}
			printWarnings(env, cerr.Warnings) // fixed in the same edit
		} else {
			fmt.Fprintln(env.stderr, err)
		}
		return exitFail
	}
	printWarnings(env, cfg.Warnings)
	unchecked, noKeyring := 0, false
	for _, s := range cfg.Servers {
		if s.SecretUnreadable != nil {
			fmt.Fprintln(env.stderr, s.SecretUnreadable)
			unchecked++
			noKeyring = noKeyring || s.NoKeyring
		}
	}
	if unchecked > 0 {
		// Whether those entries exist cannot be known: not "valid".
		then := "the hub would start them once it can read it"
		if noKeyring {
			then = "the hub would hold them back until it is started with a keyring"
		}
		fmt.Fprintf(env.stderr, "%s could not be checked fully: the keyring could not be read for %d server(s); %s.\n", file, unchecked, then)
		return exitFail
	}
	fmt.Fprintf(env.stdout, "%s is valid: %d server(s).\n", file, len(cfg.Servers))
	return exitOK
}

func printWarnings(env *cliEnv, ws []config.Issue) {
	for _, w := range ws {
		fmt.Fprintf(env.stderr, "%s (warning)\n", w)
	}
}
