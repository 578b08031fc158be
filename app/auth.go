package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

// runAuth is 'mcptray auth NAME': the running hub signs in (opening the
// browser on its machine, or, with --no-browser or where none opens,
// printing the URL and accepting the pasted redirect).
func runAuth(env *cliEnv, args []string) int {
	fs := env.newFlags("auth")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in URL instead of opening a browser, and read the redirect URL pasted back")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, "mcptray auth: give one server name")
		return exitUsage
	}
	id, ok := env.serverID("auth", pos[0])
	if !ok {
		return exitUsage
	}
	client, paths, code := env.dialHub("auth")
	if client == nil {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	interactive := term.IsTerminal(int(os.Stdin.Fd()))
	pasting := false
	err := client.Authenticate(ctx, id, control.AuthRequest{NoBrowser: *noBrowser}, func(e control.AuthEvent) {
		if e.Event != "url" {
			return
		}
		if e.Opened {
			fmt.Fprintf(env.stderr, "Opened the sign-in page for %s in your browser. If it did not appear, open:\n\n  %s\n\n", id, e.URL)
		} else {
			if e.OpenError != "" {
				fmt.Fprintf(env.stderr, "No browser could be opened (%s).\n", e.OpenError)
			}
			fmt.Fprintf(env.stderr, "Open this URL in a browser to sign in to %s:\n\n  %s\n\n", id, e.URL)
		}
		if (interactive || *noBrowser) && !pasting {
			pasting = true
			fmt.Fprintln(env.stderr, "If the browser runs on another machine, paste the address it ends on (http://127.0.0.1:.../callback?...) here and press Enter.")
			go pasteRedirect(ctx, env, client, id)
		}
	})
	if err != nil {
		return env.hubError("auth", paths, err)
	}
	st, _ := client.Status(context.Background())
	tools := 0
	if st != nil {
		for _, s := range st.Servers {
			if s.ID == id && s.Status.State == status.Connected {
				tools = s.Status.Counts.Tools
			}
		}
	}
	fmt.Fprintf(env.stdout, "Signed in to %s: connected, %d tools.\n", id, tools)
	return exitOK
}

// pasteRedirect reads a pasted redirect URL and hands it to the hub.
func pasteRedirect(ctx context.Context, env *cliEnv, client *control.Client, id string) {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case line := <-lines:
			if strings.TrimSpace(line) == "" {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := client.CompleteSignIn(cctx, id, line)
			cancel()
			if err != nil {
				fmt.Fprintf(env.stderr, "That did not complete the sign-in: %v\nPaste the whole address again, or press Ctrl-C.\n", err)
				continue
			}
			return
		}
	}
}

func runLogout(env *cliEnv, args []string) int {
	fs := env.newFlags("logout")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, "mcptray logout: give one server name")
		return exitUsage
	}
	id, ok := env.serverID("logout", pos[0])
	if !ok {
		return exitUsage
	}
	client, paths, code := env.dialHub("logout")
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.SignOut(ctx, id); err != nil {
		return env.hubError("logout", paths, err)
	}
	fmt.Fprintf(env.stdout, "Signed out of %s; its tokens are revoked and deleted.\n", id)
	return exitOK
}
