package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/oauth/secretstore"
)

func runSecret(env *cliEnv, args []string) int {
	fs := env.newFlags("secret")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) == 0 {
		fmt.Fprintln(env.stderr, "mcptray secret: say set NAME, delete NAME or list")
		return exitUsage
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray secret: %v\n", err)
		return exitFail
	}
	secrets, err := openSecrets(paths, term.IsTerminal(int(os.Stdin.Fd())))
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray secret: %v\n", err)
		return exitFail
	}
	op, rest := pos[0], pos[1:]
	switch {
	case op == "list" && len(rest) == 0:
		names, err := secrets.List("secret/")
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray secret: %v\n", err)
			return exitFail
		}
		if len(names) == 0 {
			fmt.Fprintln(env.stdout, "No secrets yet; store one with 'mcptray secret set NAME'.")
			return exitOK
		}
		for _, n := range names {
			fmt.Fprintln(env.stdout, strings.TrimPrefix(n, "secret/"))
		}
		return exitOK
	case op == "set" && len(rest) > 1:
		fmt.Fprintln(env.stderr, "mcptray secret set: give only the NAME; the value is read from stdin or a prompt, never from the command line (where the shell history keeps it)")
		return exitUsage
	case (op == "set" || op == "delete") && len(rest) == 1:
		name := rest[0]
		if name == "" || strings.ContainsAny(name, "${}: \t") {
			fmt.Fprintf(env.stderr, "mcptray secret: %q is not a usable name (no spaces, $, {, } or :)\n", name)
			return exitUsage
		}
		if op == "delete" {
			err = deleteSecret(secrets, name)
		} else {
			var value string
			value, err = readSecretValue(env, name)
			if err == nil {
				err = secrets.Set(secretName(name), []byte(value))
			}
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray secret %s: %v\n", op, err)
			return exitFail
		}
		fmt.Fprintf(env.stdout, "%s ${keyring:%s} in %s.\n", map[string]string{"set": "Stored", "delete": "Deleted"}[op], name, secrets.Backend())
		reloadIfRunning(env, paths)
		return exitOK
	}
	fmt.Fprintln(env.stderr, "mcptray secret: say set NAME, delete NAME or list")
	return exitUsage
}

// deleteSecret deletes the secret name, which must exist: the store
// deletes a missing one quietly, and a typo must not look like success.
func deleteSecret(secrets *secretstore.Store, name string) error {
	names, err := secrets.List(secretName(name))
	if err != nil {
		return err
	}
	if !slices.Contains(names, secretName(name)) {
		return fmt.Errorf("no secret is named %s ('mcptray secret list' shows them)", name)
	}
	return secrets.Delete(secretName(name))
}

// maxSecretSize bounds a value read from a pipe.
const maxSecretSize = 1 << 20

// readSecretValue reads the value from the terminal without echo, or from
// stdin when it is a pipe (never from the command line, where it would land
// in the shell history and the process list).
func readSecretValue(env *cliEnv, name string) (string, error) {
	if term.IsTerminal(int(os.Stdin.Fd())) {
		fmt.Fprintf(env.stderr, "Value for ${keyring:%s}: ", name)
		v, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		if len(v) == 0 {
			return "", errors.New("the value is empty")
		}
		return string(v), nil
	}
	// A pipe carries the whole value, which may span lines (a PEM key);
	// only the newline that ends the last line is not part of it.
	data, err := io.ReadAll(io.LimitReader(os.Stdin, maxSecretSize+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxSecretSize {
		return "", fmt.Errorf("the value is larger than %d bytes", maxSecretSize)
	}
	v := string(data)
	if s, ok := strings.CutSuffix(v, "\n"); ok {
		v = strings.TrimSuffix(s, "\r")
	}
	if v == "" {
		return "", errors.New("the value is empty (pipe it on stdin, or run in a terminal)")
	}
	return v, nil
}

// reloadIfRunning tells a running hub to reread the configuration, so a new
// secret takes effect at once.
func reloadIfRunning(env *cliEnv, paths Paths) {
	client, err := control.Dial(paths.Control())
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := client.Reload(ctx); err == nil && !res.Applied {
		fmt.Fprintf(env.stderr, "The running hub reloaded, but the configuration still has errors:\n%s\n", res.Error)
	}
}

// keyringLookup resolves ${keyring:NAME} for config.Load from secrets,
// which is nil when the keyring could not be opened (keyErr says why).
func keyringLookup(secrets *secretstore.Store, keyErr error) func(name string) (string, bool, error) {
	return func(name string) (string, bool, error) {
		if secrets == nil {
			return "", false, config.NoKeyring(keyErr) // it stays so: the servers wait without retries
		}
		v, err := secrets.Get(secretName(name))
		switch {
		case errors.Is(err, secretstore.ErrNotFound):
			return "", false, nil
		case errors.Is(err, secretstore.ErrTimeout):
			err = config.KeyringDown(err) // locked: each question would wait as long
		}
		return string(v), err == nil, err
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
