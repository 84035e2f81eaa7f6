package web

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of the JSON API, written by hand
// (openapi.json); TestOpenAPIMatchesRoutes fails when it and apiTable disagree.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPIDoc serves the OpenAPI document; it needs no sign-in.
func (a *App) openAPIDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDocument)
}
