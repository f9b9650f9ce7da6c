package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// The load generator speaks HTTP/1.1 itself, on one kept-alive connection
// per worker: it writes a request it built once, and reads the answer into
// a buffer it reuses. net/http's client would allocate a Request, a
// Response, a header map and a body reader per request, and run a
// goroutine or two per connection, on the same two cores as the servers
// it measures.

// maxBody bounds an answer's body; the load reads small JSON answers.
const maxBody = 1 << 20

// errNoLength is an answer with neither Content-Length nor chunked
// encoding, whose end only the connection's close would tell.
var errNoLength = errors.New("answer without Content-Length or chunked encoding")

// getRequest is the bytes of a GET of target (a path and query, escaped)
// for host, kept alive.
func getRequest(host, target string) []byte {
	return []byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: keyward-load\r\n\r\n")
}

// readResponse reads one HTTP/1.1 answer from br and appends its body to
// buf. It reports the status, the body (buf, grown if need be) and whether
// the connection stays open after it. It allocates only on errors.
func readResponse(br *bufio.Reader, buf []byte) (status int, body []byte, keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, buf, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, buf, false, fmt.Errorf("bad status line %q", trimCRLF(line))
	}
	keepAlive = line[7] == '1'
	status, ok := atoi3(line[9:12])
	if !ok {
		return 0, buf, false, fmt.Errorf("bad status line %q", trimCRLF(line))
	}
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, buf, false, err
		}
		line = trimCRLF(line)
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, buf, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value)) // no allocation: the conversion does not escape
			if err != nil || n < 0 {
				return status, buf, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	switch {
	case chunked:
		buf, err = readChunked(br, buf)
	case length > maxBody:
		err = fmt.Errorf("body of %d bytes, over %d", length, maxBody)
	case length >= 0:
		buf, err = readN(br, buf, length)
	default:
		err = errNoLength
	}
	if err != nil {
		return status, buf, false, err
	}
	return status, buf, keepAlive, nil
}

// readN appends n bytes from br to buf.
func readN(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = grow(buf, n)
	if _, err := io.ReadFull(br, buf[start:start+n]); err != nil {
		return buf[:start], err
	}
	return buf[:start+n], nil
}

// grow returns buf with room for n more bytes.
func grow(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf[:len(buf)+n]
	}
	b := make([]byte, len(buf)+n, 2*cap(buf)+n)
	copy(b, buf)
	return b
}

// readChunked appends a chunked body (RFC 9112 section 7.1) from br to buf,
// and reads the trailer section after it.
func readChunked(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		size, _, _ := bytes.Cut(trimCRLF(line), []byte(";")) // chunk extensions
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
		if err != nil || n < 0 {
			return buf, fmt.Errorf("bad chunk size %q", trimCRLF(line))
		}
		if n == 0 {
			break
		}
		if len(buf)+int(n) > maxBody {
			return buf, fmt.Errorf("chunked body over %d bytes", maxBody)
		}
		if buf, err = readN(br, buf, int(n)); err != nil {
			return buf, err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(trimCRLF(crlf)) != 0 {
			return buf, errors.New("chunk not followed by CRLF")
		}
	}
	for { // the trailer section, up to its blank line
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		if len(trimCRLF(line)) == 0 {
			return buf, nil
		}
	}
}

// trimCRLF drops a line's "\r\n" or "\n".
func trimCRLF(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// atoi3 reads a three-digit status code.
func atoi3(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
