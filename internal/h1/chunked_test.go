package h1

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mcptray/mcptray/internal/rawio"
)

// chunkedBodies are chunked bodies (what follows the head), well-formed
// and not; FuzzReadResponse holds the reading of whole ones to net/http's.
var chunkedBodies = []string{
	"e\r\ndata: answer\n\n\r\n0\r\n\r\n",
	"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n",
	"3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
	"A \t\r\n0123456789\r\n0\r\n\r\n",
	"3\r\nabcX\r\n0\r\n\r\n",
	"3\nabc\r\n0\r\n\r\n",
	"3\r\nab",
	"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n",
	"g\r\nabc\r\n0\r\n\r\n",
	"\r\n",
	"11111111111111111\r\n",
	"3\r\nabc\r\n0\r\n",
	// net/http's bound on framing per byte of data, which the last chunk
	// may cross, and one before it may not
	strings.Repeat("1;"+strings.Repeat("x", 4000)+"\r\nA\r\n", 4) + "0;" + strings.Repeat("y", 600) + "\r\n\r\n",
	strings.Repeat("1;"+strings.Repeat("x", 4000)+"\r\nA\r\n", 5) + "0\r\n\r\n",
}

// trickle gives its bytes one at a time with rawio.ErrNotReady between
// them: every place where a transport reading without waiting (settle) can
// find an answer's end cut off.
type trickle struct {
	s    string
	wait bool
}

func (r *trickle) Read(p []byte) (int, error) {
	switch {
	case r.wait:
		r.wait = false
		return 0, rawio.ErrNotReady
	case r.s == "":
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	p[0], r.s, r.wait = r.s[0], r.s[1:], true
	return 1, nil
}

// readOn reads r to its end or an error other than rawio.ErrNotReady,
// trying again after each of those.
func readOn(r io.Reader) (string, error) {
	var got strings.Builder
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil && !errors.Is(err, rawio.ErrNotReady) {
			if err == io.EOF {
				err = nil
			}
			return got.String(), err
		}
	}
}

// chunkedAnswer is what reading a chunked body gave: the body, whether it
// failed, and what followed it.
func chunkedAnswer(src io.Reader) bodyAnswer {
	br := bufio.NewReader(src)
	data, err := readOn(&chunkedBody{br: br})
	if err != nil {
		return bodyAnswer{Body: data, BodyErr: "error"}
	}
	rest, _ := readOn(br)
	return bodyAnswer{Body: data, Rest: rest}
}

// A chunked body that arrives a byte at a time, with nothing to read
// between the bytes, reads as the same body arriving whole: a read that
// cannot go on leaves the body where it was.
func TestChunkedBodyReadsOnWhereItStopped(t *testing.T) {
	for _, raw := range chunkedBodies {
		checkReadsOn(t, raw)
	}
}

func FuzzChunkedBodyReadsOnWhereItStopped(f *testing.F) {
	for _, raw := range chunkedBodies {
		f.Add(raw)
	}
	f.Fuzz(checkReadsOn)
}

func checkReadsOn(t *testing.T, raw string) {
	whole := chunkedAnswer(strings.NewReader(raw + "NEXT"))
	if got := chunkedAnswer(&trickle{s: raw + "NEXT"}); got != whole {
		t.Errorf("%q a byte at a time: %+v; whole: %+v", raw, got, whole)
	}
}
