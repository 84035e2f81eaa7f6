package web

import (
	"net/http"
	"time"
)

// ServerTimeouts bound how long an HTTP server of the binary waits on a client, so that a
// slow or stalled client cannot hold a connection (and a request's goroutine and database
// work) for long: the request headers, the whole request with its body, the response, and an
// idle keep-alive connection. No route of the web application or the API takes an upload
// larger than MaxFormBytes or streams its answer, so one set fits every route.
type ServerTimeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included, from the connection's first byte
	Write      time.Duration // from the end of the request's headers to the end of the response
	Idle       time.Duration // a keep-alive connection between requests
}

// DefaultServerTimeouts are the timeouts of yipanqi serve and yipanqi demo. Write is longer
// than Read, since it runs from the end of the headers: a body read up to Read, then the
// handler's work.
var DefaultServerTimeouts = ServerTimeouts{
	ReadHeader: 10 * time.Second,
	Read:       60 * time.Second,
	Write:      120 * time.Second,
	Idle:       120 * time.Second,
}

// NewServer returns the http.Server every command of the binary serves h with, its timeouts
// set from t (docs/serve.md). A body that does not arrive within t.Read makes the API answer
// 408 and the pages 400, and the connection is closed.
func NewServer(h http.Handler, t ServerTimeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle}
}
