package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// headerFlags collects repeated --header K:V flags.
type headerFlags map[string]string

func (h headerFlags) String() string { return "" }
func (h headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not NAME:VALUE", v)
	}
	h[strings.TrimSpace(k)] = strings.TrimSpace(val)
	return nil
}

// probeReport is the JSON output of 'mcptray test'.
type probeReport struct {
	OK              bool                `json:"ok"`
	URL             string              `json:"url"`
	Transport       string              `json:"transport,omitempty"`
	ProtocolVersion string              `json:"protocol_version,omitempty"`
	Server          *mcp.Implementation `json:"server,omitempty"`
	ConnectMillis   int64               `json:"connect_ms,omitempty"`
	Tools           []string            `json:"tools"`
	MissingTools    []string            `json:"missing_tools,omitempty"`
	Call            *probeCall          `json:"call,omitempty"`
	Error           string              `json:"error,omitempty"`
}

type probeCall struct {
	Tool   string              `json:"tool"`
	Millis int64               `json:"ms"`
	Result *mcp.CallToolResult `json:"result,omitempty"`
	Error  string              `json:"error,omitempty"`
}

func runTest(env *cliEnv, args []string) int {
	fs := env.newFlags("test")
	headers := headerFlags{}
	fs.Var(headers, "header", "add an HTTP header `NAME:VALUE` (repeatable)")
	tool := fs.String("tool", "", "call the tool `NAME`")
	toolArgs := fs.String("args", "{}", "tool arguments as a JSON object")
	expect := fs.String("expect-tools", "", "comma-separated tool `names` that must be offered")
	output := fs.String("o", "text", "output: text or json")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for connecting and for the call")
	protocol := fs.String("protocol", "", "offer this protocol `version` (default: the newest, falling back as the spec says)")
	sse := fs.Bool("sse", false, "use the legacy HTTP+SSE transport only")
	pos, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.stderr, "mcptray test: give one URL, for example: mcptray test https://example.com/mcp")
		return exitUsage
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(env.stderr, "mcptray test: -o must be text or json, not %q\n", *output)
		return exitUsage
	}
	var argsJSON json.RawMessage
	if *tool != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(*toolArgs), &obj); err != nil {
			fmt.Fprintf(env.stderr, "mcptray test: --args must be a JSON object: %v\n", err)
			return exitUsage
		}
		argsJSON = json.RawMessage(*toolArgs)
	} else if flagGiven(fs, "args") {
		fmt.Fprintln(env.stderr, "mcptray test: --args needs --tool")
		return exitUsage
	}
	if *protocol != "" && !slices.Contains(mcp.SupportedProtocolVersions(), *protocol) {
		fmt.Fprintf(env.stderr, "mcptray test: unknown protocol version %q (known: %s)\n", *protocol, strings.Join(mcp.SupportedProtocolVersions(), ", "))
		return exitUsage
	}
	raw := pos[0]
	u, err := url.Parse(raw)
	if err != nil {
		// Not echoed: it may hold a password, which Redacted cannot find here.
		fmt.Fprintf(env.stderr, "mcptray test: the URL does not parse: %v\n", errors.Unwrap(err))
		return exitUsage
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(env.stderr, "mcptray test: %q is not an http or https URL\n", u.Redacted())
		return exitUsage
	}
	srv := config.Server{ID: "test", Name: "test", Transport: config.TransportHTTP, URL: raw,
		Headers: headers, Timeout: *timeout, ProtocolVersion: *protocol}
	if *sse {
		srv.Transport = config.TransportSSE
	}

	// The URL as shown: a password in it stays out of logs and CI output.
	rep := &probeReport{URL: u.Redacted(), Tools: []string{}}
	code := probe(rep, srv, *tool, argsJSON, splitList(*expect), *timeout)
	if *output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printProbe(env, rep)
	}
	return code
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// probe connects, lists, checks and calls, filling rep; it returns the
// exit code.
func probe(rep *probeReport, srv config.Server, tool string, args json.RawMessage, expect []string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tooSlow := fmt.Sprintf("no answer within %s", timeout)
	start := time.Now()
	ver, _, _ := Version()
	sess, err := upstream.Dial(ctx, srv, upstream.Options{
		Logger:     discardLogger(),
		ClientInfo: &mcp.Implementation{Name: "mcptray-test", Version: ver},
	})
	if err != nil {
		var na *upstream.NeedsAuthError
		var rejected *upstream.CredentialsRejectedError
		switch {
		case errors.As(err, &rejected):
			// Here the headers came from --header, not the configuration.
			rep.Error = "the server rejected the credentials given (" + rejected.Answer() + "); check the --header values"
		case errors.As(err, &na):
			rep.Error = fmt.Sprintf("%s (HTTP %d); pass a token with --header 'Authorization: Bearer ...', or add the server to MCP Tray and sign in", na.Error(), na.Challenge.Status)
		case ctx.Err() != nil:
			rep.Error = tooSlow
		default:
			rep.Error = upstream.Describe(err, srv)
		}
		return exitFail
	}
	defer sess.Close()
	rep.ConnectMillis = time.Since(start).Milliseconds()
	rep.Transport = sess.Transport
	rep.ProtocolVersion = sess.Catalog.ProtocolVersion
	rep.Server = sess.Catalog.ServerInfo
	for _, t := range sess.Catalog.Tools {
		rep.Tools = append(rep.Tools, t.Key)
	}
	for _, name := range expect {
		if !slices.Contains(rep.Tools, name) {
			rep.MissingTools = append(rep.MissingTools, name)
		}
	}
	code := exitOK
	if len(rep.MissingTools) > 0 {
		rep.Error = "expected tools are missing: " + strings.Join(rep.MissingTools, ", ")
		code = exitBroken
	}
	if tool != "" {
		call := &probeCall{Tool: tool}
		rep.Call = call
		if !slices.Contains(rep.Tools, tool) {
			call.Error = fmt.Sprintf("the server does not offer a tool named %q", tool)
			rep.Error = call.Error
			return exitBroken
		}
		start := time.Now()
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		call.Millis = time.Since(start).Milliseconds()
		switch {
		case err != nil && ctx.Err() != nil:
			call.Error = tooSlow
			rep.Error = call.Error
			return exitFail
		case err != nil:
			call.Error = upstream.Redact(err, srv)
			rep.Error = "the call failed: " + call.Error
			return exitBroken
		case res.IsError:
			call.Result = res
			rep.Error = "the tool reported an error"
			return exitBroken
		}
		call.Result = res
	}
	rep.OK = code == exitOK
	return code
}

func printProbe(env *cliEnv, rep *probeReport) {
	w := env.stdout
	if rep.Transport != "" {
		server := ""
		if rep.Server != nil {
			server = fmt.Sprintf(", server %q %s", rep.Server.Name, rep.Server.Version)
		}
		fmt.Fprintf(w, "Connected to %s in %d ms (%s, protocol %s%s)\n", rep.URL, rep.ConnectMillis, rep.Transport, rep.ProtocolVersion, server)
		fmt.Fprintf(w, "%d tools: %s\n", len(rep.Tools), strings.Join(rep.Tools, ", "))
	}
	if c := rep.Call; c != nil && c.Result != nil {
		fmt.Fprintf(w, "Called %s in %d ms", c.Tool, c.Millis)
		if c.Result.IsError {
			fmt.Fprint(w, " (the tool reported an error)")
		}
		fmt.Fprintln(w, ":")
		for _, item := range c.Result.Content {
			fmt.Fprintf(w, "  %s\n", describeContent(item))
		}
		if c.Result.StructuredContent != nil {
			data, _ := json.Marshal(c.Result.StructuredContent)
			fmt.Fprintf(w, "  structured: %s\n", data)
		}
	}
	if rep.Error != "" {
		fmt.Fprintf(env.stderr, "mcptray test: %s\n", rep.Error)
	} else {
		fmt.Fprintln(w, "OK")
	}
}

func describeContent(c mcp.Content) string {
	switch v := c.(type) {
	case *mcp.TextContent:
		return v.Text
	case *mcp.ImageContent:
		return fmt.Sprintf("[image %s, %d bytes]", v.MIMEType, len(v.Data))
	case *mcp.AudioContent:
		return fmt.Sprintf("[audio %s, %d bytes]", v.MIMEType, len(v.Data))
	case *mcp.ResourceLink:
		return fmt.Sprintf("[resource link %s]", v.URI)
	case *mcp.EmbeddedResource:
		if v.Resource != nil {
			return fmt.Sprintf("[resource %s]", v.Resource.URI)
		}
	}
	data, _ := json.Marshal(c)
	return string(data)
}
