package config

import (
	"errors"
	"strings"
)

// KeyringDown marks a LookupSecret error that is the whole keyring's, not
// one entry's (it did not answer: locked): it is not asked again while the
// file is read, as each question could wait seconds.
func KeyringDown(err error) error { return keyringError{err, false} }

// NoKeyring marks a LookupSecret error that asking again cannot clear: the
// process has no keyring (none was found, or its password was wrong). The
// servers needing a value wait without retries; restarting MCP Tray with a
// keyring is the remedy.
func NoKeyring(err error) error { return keyringError{err, true} }

type keyringError struct {
	error
	lasting bool
}

func (e keyringError) Unwrap() error { return e.error }

// expand resolves the ${...} references in a string value:
//
//	${env:NAME}      an environment variable of the hub's process
//	${keyring:NAME}  a secret stored with 'mcptray secret set NAME'
//	                 (only in headers and env, where secrets belong)
//	${userHome}      the user's home folder
//
// Problems are reported at the value's position; the return value is then
// meaningless but harmless.
func (b *builder) expand(n *node, field string, secretsAllowed bool) string {
	s := n.str
	if !strings.Contains(s, "${") {
		return s
	}
	var out strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.issue(n.off, "%s: %q has \"${\" without a closing \"}\"", field, n.str)
			return out.String()
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		kind, name, _ := strings.Cut(ref, ":")
		switch {
		case kind == "env" && name != "":
			v, ok := b.opts.LookupEnv(name)
			if !ok {
				b.issue(n.off, "%s: environment variable %s (from ${env:%s}) is not set", field, name, name)
			}
			out.WriteString(v)
		case kind == "keyring" && name != "":
			if !secretsAllowed {
				b.issue(n.off, "%s: ${keyring:%s} is only allowed in \"headers\" and \"env\" values, where it cannot leak into logs or process lists", field, name)
				continue
			}
			out.WriteString(b.lookupSecret(n.off, field, name))
		case ref == "userHome":
			out.WriteString(b.opts.HomeDir)
		case kind == "input":
			b.issue(n.off, "%s: ${input:%s} is a VS Code prompt, which MCP Tray cannot show; store the value with 'mcptray secret set %s' and write ${keyring:%s}", field, name, name, name)
		default:
			b.issue(n.off, "%s: unknown reference ${%s} (use ${env:NAME}, ${keyring:NAME} or ${userHome})", field, ref)
		}
	}
}

// lookupSecret resolves a keyring reference, reporting a missing entry or
// no keyring at off. A keyring that cannot be read now (locked) is noted
// for the server instead: it waits, the rest of the file does not.
func (b *builder) lookupSecret(off int, field, name string) string {
	if b.opts.LookupSecret == nil {
		b.issue(off, "%s: ${keyring:%s} cannot be resolved: no keyring is available", field, name)
		return ""
	}
	var v string
	found, err := false, b.keyringDown
	if err == nil {
		v, found, err = b.opts.LookupSecret(name)
		if errors.As(err, new(keyringError)) {
			b.keyringDown = err
		}
	}
	switch {
	case err != nil:
		if b.unreadable == nil {
			is := b.at(off, "%s: reading ${keyring:%s} from the keyring failed: %v", field, name, err)
			b.unreadable = &is
		}
	case !found:
		b.issue(off, "%s: ${keyring:%s} does not exist in the keyring (add it with 'mcptray secret set %s')", field, name, name)
	}
	return v
}
