package authn

import (
	"encoding/json"
	"errors"
	"net/http"
)

// WriteJSONError is the default [Config].ErrorWriter. It answers with the
// status of [PublicError] and a small JSON body carrying that status and
// its text, never the error's own message, which may name internals:
//
//	{"status":401,"error":"Authentication failure or session expired"}
func WriteJSONError(w http.ResponseWriter, _ *http.Request, err error) {
	status, text := PublicError(err)
	setRetryAfter(w, err)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Status int    `json:"status"`
		Error  string `json:"error"`
	}{status, text})
}

// setRetryAfter tells a throttled client when to come back.
func setRetryAfter(w http.ResponseWriter, err error) {
	var te *ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", retryAfterSeconds(te.RetryAfter))
	}
}
