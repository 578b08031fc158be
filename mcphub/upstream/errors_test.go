package upstream

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mcptray/mcptray/mcphub/config"
)

// An error our own transport returned (the OAuth client's) is shown
// without go-sdk's wrapping; go-sdk's words about which request failed
// stay for everything else.
func TestDescribeDropsTheSDKWrappingOfOurErrors(t *testing.T) {
	srv := config.Server{ID: "s", URL: "https://mcp.example/mcp"}
	ours := errors.New("the token endpoint auth.example timed out (no answer in time)")
	for err, want := range map[error]string{
		fmt.Errorf(`calling "initialize": sending "initialize": rejected by transport: %w`, ours): ours.Error(),
		fmt.Errorf(`rejected by transport: %w`, ours):                                             ours.Error(),
		fmt.Errorf(`calling "tools/list": %w`, errors.New("the server is busy")):                  `calling "tools/list": the server is busy`,
	} {
		if got := Describe(err, srv); got != want {
			t.Errorf("Describe(%q) = %q, want %q", err, got, want)
		}
	}
}
