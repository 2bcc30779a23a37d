//go:build linux

package netns

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Echo is what an echo backend answers: who it is and the request it got,
// so tests can assert routing, path rewrites and header policies.
type Echo struct {
	Name     string      `json:"name"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query,omitempty"`
	Host     string      `json:"host"`
	Proto    string      `json:"proto"`
	Headers  http.Header `json:"headers"`
	Remote   string      `json:"remote"`
	Body     string      `json:"body,omitempty"`
	// Websocket is true in the echo of a websocket handshake.
	Websocket bool `json:"websocket,omitempty"`
	// SNI is the TLS server name the client sent, over TLS.
	SNI string `json:"sni,omitempty"`
}

// EchoHandler answers every request with its Echo as JSON, status 200, and
// the header X-Echo-Name: name.
func EchoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		writeEcho(w, echoOf(name, r, string(body)))
	})
}

func echoOf(name string, r *http.Request, body string) Echo {
	e := Echo{
		Name: name, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
		Proto: r.Proto, Headers: r.Header, Remote: r.RemoteAddr, Body: body,
	}
	if r.TLS != nil {
		e.SNI = r.TLS.ServerName
	}
	return e
}

func writeEcho(w http.ResponseWriter, e Echo) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo-Name", e.Name)
	_ = json.NewEncoder(w).Encode(e)
}

// ServeEcho serves EchoHandler(name) inside the namespace on addr ("" for
// the namespace's first IP and a free port) and returns its URL.
func (n *NS) ServeEcho(t testing.TB, addr, name string) string {
	t.Helper()
	return n.ServeHTTP(t, addr, EchoHandler(name))
}

// ServeHTTPSEcho serves EchoHandler(name) over TLS with cert (HTTP/1.1,
// or HTTP/2 when the client asks for h2 by ALPN) inside the namespace on
// addr ("" for the namespace's first IP and a free port), and returns its
// URL.
func (n *NS) ServeHTTPSEcho(t testing.TB, addr, name string, cert tls.Certificate) string {
	t.Helper()
	return "https://" + n.serve(t, addr, &http.Server{
		Handler:           EchoHandler(name),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	})
}

// ServeWebsocketEcho serves, inside the namespace, a backend that accepts
// websocket upgrades (RFC 6455): it first sends the Echo of the handshake
// request as a text message, then echoes every message back. Plain requests
// get the JSON echo.
func (n *NS) ServeWebsocketEcho(t testing.TB, addr, name string) string {
	t.Helper()
	return n.ServeHTTP(t, addr, WebsocketEchoHandler(name))
}

// websocketGUID is the key suffix of RFC 6455's handshake.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// WebsocketEchoHandler is the handler of ServeWebsocketEcho.
func WebsocketEchoHandler(name string) http.Handler {
	plain := EchoHandler(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !headerHas(r.Header, "Connection", "upgrade") || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			plain.ServeHTTP(w, r)
			return
		}
		key := r.Header.Get("Sec-WebSocket-Key")
		if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
			http.Error(w, "bad websocket handshake", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Echo-Name: %s\r\n\r\n", websocketAccept(key), name)
		e := echoOf(name, r, "")
		e.Websocket = true
		hello, _ := json.Marshal(e)
		if err := writeFrame(rw.Writer, opText, hello, false); err != nil {
			return
		}
		for {
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			op, payload, err := readFrame(rw.Reader)
			if err != nil {
				return
			}
			switch op {
			case opClose:
				_ = writeFrame(rw.Writer, opClose, payload, false)
				return
			case opPing:
				op = opPong
			case opPong:
				continue
			}
			if err := writeFrame(rw.Writer, op, payload, false); err != nil {
				return
			}
		}
	})
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Websocket opcodes.
const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// writeFrame writes one final frame; clients mask, servers do not.
func writeFrame(w *bufio.Writer, op byte, payload []byte, mask bool) error {
	w.WriteByte(0x80 | op)
	var maskBit byte
	if mask {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		w.WriteByte(maskBit | byte(n))
	case n <= 0xffff:
		w.WriteByte(maskBit | 126)
		binary.Write(w, binary.BigEndian, uint16(n))
	default:
		w.WriteByte(maskBit | 127)
		binary.Write(w, binary.BigEndian, uint64(n))
	}
	if mask {
		key := [4]byte{0x12, 0x34, 0x56, 0x78} // tests need no secrecy
		w.Write(key[:])
		masked := make([]byte, len(payload))
		for i, b := range payload {
			masked[i] = b ^ key[i%4]
		}
		payload = masked
	}
	w.Write(payload)
	return w.Flush()
}

// readFrame reads one frame (fragmented messages are not supported).
func readFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	if hdr[0]&0x80 == 0 {
		return 0, nil, errors.New("websocket: fragmented frames not supported")
	}
	op = hdr[0] & 0x0f
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var l uint16
		if err := binary.Read(r, binary.BigEndian, &l); err != nil {
			return 0, nil, err
		}
		n = uint64(l)
	case 127:
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return 0, nil, err
		}
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("websocket: frame of %d bytes", n)
	}
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, nil
}

// Websocket is the client end of a websocket connection, for tests.
type Websocket struct {
	conn net.Conn
	rw   *bufio.ReadWriter
	// Response is the handshake's response.
	Response *http.Response
}

// DialWebsocket connects from the host to addr, an IP:port on loopback or in
// the namespace's /24 (anything else is refused), and performs the websocket
// handshake for path with the given Host header.
func (n *NS) DialWebsocket(addr, host, path string, header http.Header) (*Websocket, error) {
	if err := n.checkAddr(addr); err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	req.Host = host
	for k, vs := range header {
		req.Header[k] = vs
	}
	key := base64.StdEncoding.EncodeToString([]byte("proxyctl-ws-key!")) // 16 bytes
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	rw := bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
	if err := req.Write(rw); err != nil {
		conn.Close()
		return nil, err
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(rw.Reader, req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s: %s", resp.Status, body)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != websocketAccept(key) {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: Sec-WebSocket-Accept %q is wrong", got)
	}
	_ = conn.SetDeadline(time.Time{})
	return &Websocket{conn: conn, rw: rw, Response: resp}, nil
}

// Send sends a text message.
func (ws *Websocket) Send(msg string) error {
	_ = ws.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return writeFrame(ws.rw.Writer, opText, []byte(msg), true)
}

// Receive reads the next text or binary message.
func (ws *Websocket) Receive() (string, error) {
	_ = ws.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		op, payload, err := readFrame(ws.rw.Reader)
		if err != nil {
			return "", err
		}
		switch op {
		case opText, opBinary:
			return string(payload), nil
		case opClose:
			return "", io.EOF
		}
	}
}

// Close sends a close frame and closes the connection.
func (ws *Websocket) Close() error {
	_ = writeFrame(ws.rw.Writer, opClose, nil, true)
	return ws.conn.Close()
}

// ServeTLSEcho serves raw TLS inside the namespace on addr ("" for the
// namespace's first IP and a free port) with cert, and returns host:port.
// Per connection it first sends "<name> <SNI>\n", then echoes every byte
// back: enough to check TLS passthrough reaches the right backend with the
// client's SNI.
func (n *NS) ServeTLSEcho(t testing.TB, addr, name string, cert tls.Certificate) string {
	t.Helper()
	l, err := n.Listen("tcp", n.hostPort(addr))
	if err != nil {
		t.Fatalf("netns: listen on %s: %v", addr, err)
	}
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				_ = tc.SetDeadline(time.Now().Add(time.Minute))
				if err := tc.Handshake(); err != nil {
					return
				}
				fmt.Fprintf(tc, "%s %s\n", name, tc.ConnectionState().ServerName)
				_, _ = io.Copy(tc, tc)
			}()
		}
	}()
	t.Cleanup(func() {
		tl.Close()
		<-done
	})
	return l.Addr().String()
}
