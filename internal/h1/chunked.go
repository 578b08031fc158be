package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/textproto"

	"github.com/mcptray/mcptray/internal/rawio"
)

// chunkedBody is a chunked body, read by net/http's rules (its
// chunkedReader and the trailer its body reads after it), one step at a
// time: a size line, data, the CRLF after the data, the trailer. Each step
// takes its bytes from br only once all of them are there, so a read that
// could not go on without waiting (rawio.ErrNotReady, while the transport
// reads a finished answer's end without waiting: see Transport.settle)
// leaves the body where it was, to be read on later. net/http's reader
// keeps any error for good.
type chunkedBody struct {
	br       *bufio.Reader
	n        uint64 // data left in the chunk
	checkEnd bool   // the CRLF after a chunk's data is next
	last     bool   // the last chunk came: the trailer is next
	excess   int64  // framing beyond what net/http allows for the data
	end      error  // io.EOF after the trailer, or what ended the body
}

// maxChunkLine bounds a size line, as net/http does (its maxLineLength).
const maxChunkLine = 4096

var (
	errMalformedChunk = errors.New("malformed chunked encoding")
	errChunkLine      = errors.New("a chunk's size line is too long or malformed")
	errChunkOverhead  = errors.New("chunked encoding contains too much non-data")
	errTrailerTooLong = errors.New("the chunked body's trailer section is too long or does not end")
)

func (b *chunkedBody) Read(p []byte) (n int, err error) {
	for b.end == nil {
		switch {
		case b.checkEnd:
			if n > 0 && b.br.Buffered() < 2 {
				return n, nil // data in hand: not waiting for its CRLF
			}
			crlf, err := b.br.Peek(2)
			if err != nil {
				return n, b.stop(err)
			}
			if string(crlf) != "\r\n" {
				b.end = errMalformedChunk
				break
			}
			_, _ = b.br.Discard(2)
			b.checkEnd = false
		case b.last:
			if err := b.trailer(); err != nil {
				return n, b.stop(err)
			}
			b.end = io.EOF
		case b.n == 0:
			if n > 0 && bytes.IndexByte(buffered(b.br), '\n') < 0 {
				return n, nil // data in hand: not waiting for the next chunk
			}
			if err := b.sizeLine(); err != nil {
				return n, b.stop(err)
			}
		default:
			if len(p) == 0 {
				return n, nil
			}
			if b.br.Buffered() == 0 {
				if n > 0 {
					return n, nil
				}
				if _, err := b.br.Peek(1); err != nil {
					return n, b.stop(err)
				}
			}
			// From br's buffer only: a read of it never waits.
			m, _ := b.br.Read(p[:min(uint64(len(p)), b.n, uint64(b.br.Buffered()))])
			n += m
			p = p[m:]
			b.n -= uint64(m)
			b.checkEnd = b.n == 0
		}
	}
	return n, b.end
}

func (b *chunkedBody) Close() error { return nil }

// stop ends the body with err (the stream's end in the middle of the body
// being io.ErrUnexpectedEOF), unless err is only that what comes next has
// not arrived: then the body can be read on.
func (b *chunkedBody) stop(err error) error {
	if errors.Is(err, rawio.ErrNotReady) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	b.end = err
	return err
}

// buffered is what br holds, unread.
func buffered(br *bufio.Reader) []byte {
	buf, _ := br.Peek(br.Buffered())
	return buf
}

// sizeLine reads a chunk's size line: hex digits, maybe an extension
// (ignored), CRLF, with net/http's bound on the framing per byte of data.
func (b *chunkedBody) sizeLine() error {
	var line []byte
	for {
		buf := buffered(b.br)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line = buf[:i+1]
			break
		}
		if len(buf) > maxChunkLine+1 {
			return errChunkLine // net/http: a line of maxChunkLine or more is too long
		}
		if _, err := b.br.Peek(len(buf) + 1); err != nil {
			if err == bufio.ErrBufferFull {
				err = errChunkLine
			}
			return err
		}
	}
	if cr := bytes.IndexByte(line, '\r'); cr < 0 || cr != len(line)-2 {
		return errChunkLine // a bare LF, or a CR before the end
	}
	size := line[:len(line)-2]
	if len(size) >= maxChunkLine {
		return errChunkLine
	}
	b.excess += int64(len(size)) + 2
	size = bytes.TrimRight(size, " \t")
	size, _, _ = bytes.Cut(size, []byte(";"))
	n, ok := parseChunkSize(size)
	if !ok {
		return errChunkLine
	}
	_, _ = b.br.Discard(len(line))
	b.excess = max(b.excess-16-2*int64(n), 0)
	if b.excess > 16<<10 && n != 0 { // net/http lets the last chunk pass
		return errChunkOverhead
	}
	b.n, b.last = n, n == 0
	return nil
}

// parseChunkSize reads 1 to 16 hex digits.
func parseChunkSize(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// trailer reads the trailer section (fields after the last chunk, which
// nothing here uses) by net/http's rules: a CRLF at once (the usual
// case), else fields up to a blank line that must be in sight within the
// reader's buffer.
func (b *chunkedBody) trailer() error {
	end, err := b.br.Peek(2)
	if string(end) == "\r\n" {
		_, _ = b.br.Discard(2)
		return nil
	}
	if len(end) < 2 {
		return err
	}
	for n := 4; ; n++ {
		upcoming, err := b.br.Peek(n)
		if bytes.HasSuffix(upcoming, []byte("\r\n\r\n")) {
			break
		}
		if errors.Is(err, rawio.ErrNotReady) {
			return err
		}
		if err != nil {
			return errTrailerTooLong
		}
	}
	_, err = textproto.NewReader(b.br).ReadMIMEHeader()
	return err
}
