package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn/command"
)

// FuzzAPI sends arbitrary queries, content types and bodies to the whole
// command handler, with real credentials in the corpus so that the fuzzer
// reaches the commands: it must never answer 5xx or panic, and every
// answer must be an envelope.
func FuzzAPI(f *testing.F) {
	ta := newTestApp(f, command.Config{})
	sid := ta.userSession()
	form := "application/x-www-form-urlencoded"
	f.Add("", form, "Command=User.Login&Username=user@example.com&Password="+userPassword)
	f.Add("", form, "Command=Admin.Login&adminapikey="+staticKey)
	f.Add("", form, "Command=List.Create&SubscriberListName=x&SessionID="+sid)
	f.Add("Command=Lists.Get&SessionID="+sid, "", "")
	f.Add("", form, "Command=User.APIKey.Create&Label=l&ExpiresAt=2030-01-01T00:00:00Z&SessionID="+sid)
	f.Add("", form, "Command=User.APIKey.Delete&APIKeyID=-1&SessionID="+sid)
	f.Add("", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"Command\"\r\n\r\nUsers.Get\r\n--XX--\r\n")
	f.Add("Command=User.Logout", form, "SessionID="+ta.userSession()) // not the session the rest use
	f.Add("a=%zz", "text/plain", "\xff")
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		ta.h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %q %q %q: %s", rec.Code, query, contentType, body, rec.Body)
		}
		decode(t, rec.Code, rec.Header(), rec.Body.Bytes())
	})
}

// FuzzWMD does the same for the WMD dialect's endpoints.
func FuzzWMD(f *testing.F) {
	ta := newTestApp(f, command.Config{})
	f.Add("/wmd/api.php", "c=auth&user=admin&pass=x", "")
	f.Add("/wmd/api.php", "c=auth&user=user@example.com&pass="+userPassword, "")
	f.Add("/wmd/api-sl.php", "c=whoami", "Bearer kwe_AAAA")
	f.Add("/wmd/api.php", "c=auth&logout=1", "")
	f.Add("/wmd/api-sl.php", "c=whoami&c=auth", "Basic x")
	f.Fuzz(func(t *testing.T, path, query, auth string) {
		if path != "/wmd/api-sl.php" {
			path = "/wmd/api.php"
		}
		r := httptest.NewRequest("GET", path, nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		ta.h.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %q %q: %s", rec.Code, query, auth, rec.Body)
		}
		decodeWMD(t, rec.Code, rec.Header(), rec.Body.Bytes())
	})
}
