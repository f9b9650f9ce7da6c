package command

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDialectsRoutes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	wmd := New(env.a, Config{Dialect: WMD})
	h, err := Dialects(env.api, wmd)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target, body string
		want               string // a piece of the answer
	}{
		{"c= is WMD's", "/api.php?c=auth&user=alice&pass=wrong", "", `"status":"notok"`},
		{"c= in a body", "/api.php", "c=auth&user=alice&pass=wrong", `"status":"notok"`},
		{"Command= is Octeth's", "/api.php?Command=No.Such", "", `"ErrorCode":404`},
		{"both: Command decides", "/api.php?Command=No.Such&c=auth", "", `"ErrorCode":404`},
		{"neither: Octeth's missing Command", "/api.php", "", `"Success":false`},
		{"a WMD command Octeth lacks", "/api.php?c=nosuch", "", `"status":"notok"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			if tc.body != "" {
				r = httptest.NewRequest("POST", tc.target, strings.NewReader(tc.body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s; want %s in it", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestDialectsRefusesMistakes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	other := newTestEnv(t, nil)
	wmd := New(env.a, Config{Dialect: WMD})
	for name, pair := range map[string][2]*API{
		"nil":                {nil, wmd},
		"swapped":            {wmd, env.api},
		"two Octeth":         {env.api, env.api},
		"two authenticators": {other.api, wmd},
	} {
		if h, err := Dialects(pair[0], pair[1]); err == nil || h != nil {
			t.Errorf("%s: %v, %v; want an error", name, h, err)
		}
	}
}
