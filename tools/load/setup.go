package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// listsTarget is the path and query of Lists.Get with a credential.
func listsTarget(param, value string) string {
	return "/api.php?Command=Lists.Get&" + param + "=" + url.QueryEscape(value)
}

// creds are what the load sends to one example, and its answer.
type creds struct {
	apiKey, sessionID string
	body              []byte // Lists.Get's answer
}

// setupCreds logs the seeded user in, makes an API key (with the password
// proven), makes the lists, and checks that Lists.Get answers the same
// with either credential.
func setupCreds(ctx context.Context, c *child) (creds, error) {
	var cr creds
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	call := func(form url.Values) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/api.php", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		status, b, err := fetch(client, req)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || status != http.StatusOK || m["Success"] != true {
			return nil, fmt.Errorf("%s: HTTP %d %s", form.Get("Command"), status, bytes.TrimSpace(b))
		}
		return m, nil
	}
	m, err := call(url.Values{"Command": {"User.Login"}, "Username": {seededUser}, "Password": {c.password}, "DisableCaptcha": {"true"}})
	if err != nil {
		return cr, err
	}
	cr.sessionID, _ = m["SessionID"].(string)
	m, err = call(url.Values{"Command": {"User.APIKey.Create"}, "SessionID": {cr.sessionID}, "CurrentPassword": {c.password}, "Label": {"load"}})
	if err != nil {
		return cr, err
	}
	cr.apiKey, _ = m["APIKey"].(string)
	if cr.sessionID == "" || cr.apiKey == "" {
		return cr, errors.New("no SessionID or APIKey in the answers")
	}
	for _, name := range listNames() {
		if _, err := call(url.Values{"Command": {"List.Create"}, "SessionID": {cr.sessionID}, "SubscriberListName": {name}}); err != nil {
			return cr, err
		}
	}
	if cr.body, err = getLists(ctx, client, c.url+listsTarget("APIKey", cr.apiKey)); err != nil {
		return cr, err
	}
	bySession, err := getLists(ctx, client, c.url+listsTarget("SessionID", cr.sessionID))
	if err != nil {
		return cr, err
	}
	if !bytes.Equal(bySession, cr.body) {
		return cr, fmt.Errorf("Lists.Get answers %s with the APIKey and %s with the SessionID", cr.body, bySession)
	}
	return cr, nil
}

// getLists GETs Lists.Get and returns the body of a 200 with Success
// true.
func getLists(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	status, b, err := fetch(client, req)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || !bytes.Contains(b, []byte(successTrue)) {
		return nil, fmt.Errorf("Lists.Get: HTTP %d %s", status, bytes.TrimSpace(b))
	}
	return b, nil
}

// fetch sends req and returns the answer's status and body (up to
// maxBody).
func fetch(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, b, err
}
