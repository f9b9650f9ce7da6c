package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// captchaView is a challenge on the login page.
type captchaView struct {
	ID       string
	ImageURL string
	AudioURL string
}

// errNoCaptcha is a challenge that could not be made: Captcha.New refused
// (too many from this address) or the store failed.
var errNoCaptcha = errors.New("example: no captcha challenge")

// newCaptcha makes a captcha challenge for the login page.
//
// authn has no exported call that makes a challenge: the configured
// checker is unexported, and Captcha.New is a command of the API. So the
// page asks the example's own API, in-process, as a client would, with
// the visitor's address (so that Captcha.New's per-address limit counts
// the visitor, not the server). The images and sounds are then served by
// [authn.Authenticator.CaptchaHandler] at the URLs the command answers.
func (u *ui) newCaptcha(r *http.Request) (*captchaView, error) {
	// A context with the visitor's cancellation but none of its values:
	// the middleware keeps the request's parameters and principal in its
	// context, and the API would take the login form's parameters (and a
	// signed-in visitor's principal) in place of this request's.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(r.Context(), cancel)()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/api.php", strings.NewReader("Command=Captcha.New"))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = r.RemoteAddr
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		req.Header["X-Forwarded-For"] = xff // believed only from a trusted proxy
	}
	var rec bufferedResponse
	u.app.api.ServeHTTP(&rec, req)
	var ans struct {
		Success   bool
		CaptchaID string
		ImageURL  string
		AudioURL  string
	}
	if err := json.Unmarshal(rec.body.Bytes(), &ans); err != nil || !ans.Success || ans.CaptchaID == "" {
		return nil, errNoCaptcha
	}
	return &captchaView{ID: ans.CaptchaID, ImageURL: ans.ImageURL, AudioURL: ans.AudioURL}, nil
}

// bufferedResponse is an http.ResponseWriter that keeps what is written,
// for calling a handler in-process.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header returns the response's header map.
func (b *bufferedResponse) Header() http.Header {
	if b.header == nil {
		b.header = make(http.Header)
	}
	return b.header
}

// WriteHeader records the status.
func (b *bufferedResponse) WriteHeader(status int) { b.status = status }

// Write appends to the body.
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
