package command

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/form"
)

func TestValidXMLName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"UserInfo": true, "_x": true, "a-b.c": true, "Ünïcode": true,
		"": false, "2FA_Enabled": false, "xmlns": false, "XMLThing": false, "a b": false, "a<b": false, "-a": false,
	} {
		if got := validXMLName(name); got != want {
			t.Errorf("validXMLName(%q) = %v", name, got)
		}
	}
}

func TestEncodeXML(t *testing.T) {
	t.Parallel()
	body, err := encodeXML([]field{
		{"Success", true},
		{"ErrorCode", []int{0}},
		{"Text", `<script>&"`},
		{"Info", map[string]any{"2FA_Enabled": "No", "ID": 7, "Nested": map[string]any{"A": nil}}},
		{"Lists", []struct{ ListID int }{{1}, {2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := xml.Header + `<response><Success>true</Success><ErrorCode><item>0</item></ErrorCode><Text>&lt;script&gt;&amp;&#34;</Text>` +
		`<Info><field name="2FA_Enabled">No</field><ID>7</ID><Nested><A></A></Nested></Info>` +
		`<Lists><item><ListID>1</ListID></item><item><ListID>2</ListID></item></Lists></response>` + "\n"
	if string(body) != want {
		t.Fatalf("got  %s\nwant %s", body, want)
	}
	// Well formed, whatever the input.
	var v any
	if err := xml.NewDecoder(strings.NewReader(string(body))).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := encodeXML([]field{{"F", func() {}}}); err == nil {
		t.Fatal("an unencodable value encoded")
	}
}

func TestProfileTables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile      Profile
		err          error
		status, code int
		hard         bool
	}{
		{Seeds, authn.ErrInvalidCredential, 401, 401, false},
		{Seeds, ErrUnknownCommand, 404, 404, false},
		{Seeds, authn.ErrThrottled, 429, 429, false},
		{Seeds, errDown, 503, 503, false},
		{OctethV5, authn.ErrInvalidCredential, 200, 99998, false},
		{OctethV5, authn.ErrUnauthenticated, 200, 99998, false},
		{OctethV5, authn.ErrForbidden, 200, 99999, false},
		{OctethV5, ErrUnknownCommand, 400, 100003, true},
		{OctethV5, form.ErrBodyTooLarge, 400, 100000, true},
		{OctethV5, ErrInternal, 500, 100005, true},
		{OctethV5, errDown, 500, 100005, true}, // anything unexpected
		{OctethV5, authn.ErrThrottled, 429, 429, false},
	}
	for _, tc := range tests {
		a := tc.profile.table().generalAnswer(tc.err)
		if a.status != tc.status || a.code != tc.code || a.hard != tc.hard {
			t.Errorf("profile %d, %v: %d/%d hard %v; want %d/%d hard %v", tc.profile, tc.err, a.status, a.code, a.hard, tc.status, tc.code, tc.hard)
		}
	}
}
