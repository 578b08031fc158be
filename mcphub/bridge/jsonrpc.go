package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/mcptray/mcptray/internal/jsonobj"
)

// message is one JSON-RPC 2.0 message as it arrived. IDs and params stay
// raw: an ID is echoed byte for byte, and params are decoded only by the
// method that needs them.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`

	hasMethod bool // "method" was there, if empty: a request, not a response
}

func (m *message) hasID() bool { return len(m.ID) > 0 && string(m.ID) != "null" }

// A message parseMessage accepted is a request, a notification or a
// response.
func (m *message) isNotify() bool   { return m.Method != "" && !m.hasID() }
func (m *message) isResponse() bool { return m.Method == "" && m.hasID() }

// JSON-RPC and MCP error codes.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeInternal       = -32603
	// 2026-07-28 (TS-16).
	codeHeaderMismatch      = -32020
	codeMissingCapability   = -32021
	codeUnsupportedProtocol = -32022
)

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

func errorf(code int, format string, args ...any) *rpcError {
	return &rpcError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// parseMessage decodes one message and checks its shape. With an error,
// the message (if any) carries an id only if the error may be answered
// under it: a request's, never a response's, nor an invalid one.
func parseMessage(data []byte) (*message, *rpcError) {
	m := &message{}
	if err := jsonobj.Decode(data, m, (*message).member); err != nil {
		if json.Valid(data) { // JSON, but not a message's shape (a number, "method": 5)
			return nil, errorf(codeInvalidRequest, "the message is not a JSON-RPC object: %v", err)
		}
		return nil, errorf(codeParseError, "the message is not valid JSON: %v", err)
	}
	if len(m.ID) > 0 && !validID(m.ID) {
		m.ID = nil
		return m, errorf(codeInvalidRequest, "an id must be a string or an integer")
	}
	switch {
	case m.JSONRPC != "2.0":
		return m, errorf(codeInvalidRequest, `"jsonrpc" must be "2.0"`)
	case m.hasMethod && m.Method == "":
		return m, errorf(codeInvalidRequest, "the method is empty")
	case m.hasMethod:
		return m, nil
	case !m.hasID():
		return m, errorf(codeInvalidRequest, "the message is neither a request, a notification nor a response")
	case (m.Result == nil) == (m.Error == nil):
		m.ID = nil // the id is ours: answering under it would answer one of the client's requests
		return m, errorf(codeInvalidRequest, "a response has either a result or an error")
	}
	return m, nil
}

var messageFields = []string{"jsonrpc", "id", "method", "params", "result", "error"}

// member reads one member of a message in one pass (jsonobj.Decode), as
// encoding/json would; the raw members are slices of the message.
func (m *message) member(k, v []byte) bool {
	switch jsonobj.Field(k, messageFields) {
	case "jsonrpc":
		return jsonobj.String(&m.JSONRPC, v)
	case "id":
		m.ID = v
	case "method":
		m.hasMethod = true
		return jsonobj.String(&m.Method, v)
	case "params":
		m.Params = v
	case "result":
		m.Result = v
	case "error":
		return jsonobj.Pointer(&m.Error, v)
	}
	return true
}

// validID: a string or an integer (LC-04). A null id is not allowed: a
// request with one is no notification (JSON-RPC), and is refused.
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return true // absent: a notification
	}
	if id[0] == '"' {
		var s string
		return json.Unmarshal(id, &s) == nil
	}
	_, err := strconv.ParseInt(string(id), 10, 64)
	return err == nil
}

// encodeResponse builds a response frame without re-encoding the result,
// unless it spans lines: an upstream's answer passed on as sent may be
// pretty-printed, and a frame is one line of stdio (TS-22) or one SSE
// data field.
func encodeResponse(id json.RawMessage, result json.RawMessage) []byte {
	result = compact(result)
	var b bytes.Buffer
	b.Grow(len(result) + len(id) + 40)
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"result":`)
	b.Write(result)
	b.WriteByte('}')
	return b.Bytes()
}

func encodeError(id json.RawMessage, e *rpcError) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	data, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   *rpcError       `json:"error"`
	}{"2.0", id, e})
	return data
}

// encodeNotify builds a notification frame.
func encodeNotify(method string, params any) []byte {
	data, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", method, params})
	return data
}

// encodeRequest builds a request frame the bridge sends to a client.
func encodeRequest(id string, method string, params any) []byte {
	data, _ := json.Marshal(struct {
		JSONRPC string `json:"jsonrpc"`
		ID      string `json:"id"`
		Method  string `json:"method"`
		Params  any    `json:"params,omitempty"`
	}{"2.0", id, method, params})
	return data
}
