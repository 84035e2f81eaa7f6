package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of the JSON API, written by hand
// (openapi.json); TestOpenAPIMatchesRoutes fails when it and apiTable disagree, and
// TestOpenAPIStatuses when an operation's responses and apiStatuses do.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIServers is the servers entry of openapi.json: the API's base, relative to the
// node's root. The served document puts the node's mount prefix (Config.BasePath) before it.
var openAPIServers = []byte(`"servers": [{"url": "/api/v1",`)

// openAPIDoc serves the OpenAPI document; it needs no sign-in. Its server URL is the API's
// address on this node (e.g. /44/api/v1 under the demo), so that a client resolving the
// paths against the document reaches the operations.
func (a *App) openAPIDoc(w http.ResponseWriter, r *http.Request) {
	base, _ := json.Marshal(a.url("/api/v1"))
	doc := bytes.Replace(openAPIDocument, openAPIServers, []byte(`"servers": [{"url": `+string(base)+`,`), 1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}
