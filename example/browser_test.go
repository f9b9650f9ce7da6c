package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/authn"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// screenshotsDir, when set (or KEYWARD_SCREENSHOTS), is where the browser
// test writes a PNG of each step: go test ./example -run TestBrowser
// -screenshots=/tmp/shots. docs/login.png is its 01-login.png.
var screenshotsDir = flag.String("screenshots", os.Getenv("KEYWARD_SCREENSHOTS"), "folder for the browser test's screenshots (env KEYWARD_SCREENSHOTS)")

// TestBrowser walks the UI in headless Chromium as a person would: a wrong
// password, a login, a list, 2FA enrollment, a login with a code, a
// recovery code, an API key made and revoked, and a captcha after
// repeated failures. It runs when KEYWARD_TEST_BROWSER=1 (as .ci/run sets
// it), and then fails if chromium is missing.
func TestBrowser(t *testing.T) {
	if os.Getenv("KEYWARD_TEST_BROWSER") != "1" {
		t.Skip("browser test skipped: set KEYWARD_TEST_BROWSER=1 to run it in " + chromiumPath + " (apt-get install -y chromium); .ci/run does both")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("KEYWARD_TEST_BROWSER=1 but chromium is missing (apt-get install -y chromium): %v", err)
	}
	t.Parallel()
	start := time.Now()
	// The throttle's defaults, so that a captcha comes after 3 failures.
	ta := newTestAppThrottle(t, authn.ThrottleConfig{})
	srv := httptest.NewServer(ta.h)
	defer srv.Close()
	b := newBrowser(t, srv.URL, *screenshotsDir)

	// An anonymous visitor lands on the login page, told why.
	b.open("/")
	b.at("login", "/login")
	b.has("notice", "Sign in to continue.")
	// Its inputs fill the card's width, not half of it.
	for _, id := range []string{"username", "password"} {
		ratio := b.eval(`String(document.getElementById("` + id + `").getBoundingClientRect().width / document.querySelector("main form").getBoundingClientRect().width)`)
		if r, err := strconv.ParseFloat(ratio, 64); err != nil || r < 0.95 {
			t.Fatalf("the %s input is %s of the form's width; want all of it", id, ratio)
		}
	}
	b.shot("login")

	// A wrong password: the message, in the page.
	b.set("username", "user@example.com")
	b.set("password", "not-the-password")
	b.submit("submit", "login")
	b.has("error", "Invalid username or password.")
	b.shot("wrong-password")

	// The right one: the signed-in page, on the cookie (which no script
	// can read: it is HttpOnly).
	b.set("password", userPassword)
	b.submit("submit", "home")
	b.at("home", "/")
	b.has("p-username", "user@example.com")
	b.has("p-tfa", "no")
	if c := b.eval(`document.cookie`); c != "" {
		t.Fatalf("document.cookie = %q: the session cookie is readable by scripts", c)
	}
	b.shot("signed-in")

	// A list.
	b.set("list-name", "Newsletter")
	b.submit("create-list", "home")
	b.has("lists", "Newsletter")
	b.shot("list-created")

	// 2FA: read the secret from the page, compute the code at the app's
	// clock, and keep the recovery codes.
	b.open("/2fa")
	b.submit("tfa-setup", "tfa")
	if w := b.eval(`String(document.getElementById("tfa-qr").naturalWidth)`); w == "0" {
		t.Fatal("the QR code did not load")
	}
	secret := b.text("tfa-secret")
	b.shot("2fa-setup")
	b.set("tfa-code", totpCode(t, secret, ta))
	b.submit("tfa-enable", "tfa")
	codes := strings.Fields(b.eval(`Array.from(document.querySelectorAll("#recovery-codes code"), e => e.textContent).join(" ")`))
	if len(codes) != 10 {
		t.Fatalf("recovery codes %q", codes)
	}
	b.shot("recovery-codes")
	ta.clock.Advance(30 * time.Second) // a code is good once per 30 s step

	// Log out, and in again with a code.
	b.submit("logout", "login")
	b.has("notice", "You are signed out.")
	b.shot("signed-out")
	b.set("username", "user@example.com")
	b.set("password", userPassword)
	b.submit("submit", "login")
	b.has("signing-in-as", "user@example.com")
	if strings.Contains(b.eval(`document.documentElement.outerHTML`), userPassword) {
		t.Fatal("the second step carries the password in the page")
	}
	b.shot("2fa-step")
	b.set("tfa_code", totpCode(t, secret, ta))
	b.submit("submit", "home")
	b.has("p-tfa", "yes")
	b.shot("signed-in-with-2fa")
	ta.clock.Advance(30 * time.Second)

	// A recovery code signs in, and turns 2FA off.
	b.submit("logout", "login")
	b.set("username", "user@example.com")
	b.set("password", userPassword)
	b.submit("submit", "login")
	b.set("recovery_code", codes[0])
	b.submit("submit", "home")
	b.has("notice", "two-factor authentication is now off")
	b.has("tfa-status", "off")
	b.shot("recovery-code-used")

	// An API key: shown once, works, is revoked, then fails over the API.
	b.open("/keys")
	b.set("key-label", "browser test")
	b.submit("create-key", "keys")
	key := b.text("new-api-key")
	b.shot("api-key-created")
	if e := apiCall(t, srv.URL, "Command", "Lists.Get", "APIKey", key); !e.Success || !strings.Contains(string(e.fields["Lists"]), "Newsletter") {
		t.Fatalf("the new key: %+v %s", e, e.fields)
	}
	b.submitCSS("button.revoke", "keys")
	b.has("notice", "API key revoked.")
	b.shot("api-key-revoked")
	if e := apiCall(t, srv.URL, "Command", "Lists.Get", "APIKey", key); e.status != http.StatusUnauthorized || e.Success {
		t.Fatalf("the revoked key: HTTP %d %+v", e.status, e)
	}

	// Repeated failures: after 3, a captcha, whose image loads.
	b.submit("logout", "login")
	for range 4 {
		b.set("username", "user@example.com")
		b.set("password", "not-the-password")
		b.submit("submit", "login")
	}
	b.has("error", "Type the digits in the picture")
	if w := b.eval(`String(document.getElementById("captcha-image").naturalWidth)`); w != "240" {
		t.Fatalf("captcha image width %s", w)
	}
	b.shot("captcha")
	t.Logf("browser walk took %v", time.Since(start).Round(time.Millisecond))
}

// totpCode is the code of secret at the test app's clock.
func totpCode(t *testing.T, secret string, ta *testApp) string {
	t.Helper()
	code, err := pqtotp.GenerateCode(secret, ta.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// apiCall posts a command to the server's /api.php, as a script would.
func apiCall(t *testing.T, base string, kv ...string) envelope {
	t.Helper()
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	resp, err := http.PostForm(base+"/api.php", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return decode(t, resp.StatusCode, resp.Header, body)
}

// browser is one headless Chromium tab on the test server.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
}

// stepTimeout bounds each browser step.
const stepTimeout = 20 * time.Second

// newBrowser starts chromium with a fresh profile, quiet, and unable to
// reach anything but loopback.
func newBrowser(t *testing.T, base, shots string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(960, 720),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// Nothing but loopback: every name but 127.0.0.1 resolves to
		// nothing, and what is not loopback goes to a proxy that is not
		// there (Chromium never proxies loopback).
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser; it must not carry a timeout, which
	// would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &browser{t: t, ctx: ctx, base: base, shots: shots}
}

// step runs an action with the step timeout.
func step[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open navigates to path on the server.
func (b *browser) open(path string) {
	b.t.Helper()
	step(b, "open "+path, chromedp.Navigate(b.base+path))
}

// set types value into the input with the id.
func (b *browser) set(id, value string) {
	b.t.Helper()
	step(b, "set "+id, chromedp.SetValue(chromedp.ID(id), value))
}

// submit clicks the button with the id, waits for the page it leads to,
// and checks that it is the page named (its <body data-page>) with a
// status of 200 and a URL without secrets.
func (b *browser) submit(id, page string) {
	b.t.Helper()
	b.submitCSS("#"+id, page)
}

// submitCSS is submit for the first element that the CSS selector finds.
func (b *browser) submitCSS(sel, page string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("submit %s: %v", sel, err)
	}
	if resp.Status != http.StatusOK {
		b.t.Fatalf("submit %s: HTTP %d", sel, resp.Status)
	}
	b.at(page, "")
}

// at checks the page's name and, if path is set, its path; and that the
// URL carries nothing but a fixed path and a known notice.
func (b *browser) at(page, path string) {
	b.t.Helper()
	if got := b.eval(`document.body.dataset.page`); got != page {
		b.t.Fatalf("on page %q, want %q: %s", got, page, b.eval(`document.body.innerText`))
	}
	loc, err := url.Parse(step(b, "location", chromedp.Location()))
	if err != nil {
		b.t.Fatal(err)
	}
	if path != "" && loc.Path != path {
		b.t.Fatalf("at %s, want %s", loc.Path, path)
	}
	for k, vs := range loc.Query() {
		if k != "notice" || noticeText(vs[0]) == "" {
			b.t.Fatalf("URL %s carries %s", loc, k)
		}
	}
}

// has checks that the element with the id contains text.
func (b *browser) has(id, text string) {
	b.t.Helper()
	if got := b.text(id); !strings.Contains(got, text) {
		b.t.Fatalf("#%s says %q, want %q", id, got, text)
	}
}

// text returns the visible text of the element with the id.
func (b *browser) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(step(b, "text of "+id, chromedp.Text(chromedp.ID(id), chromedp.NodeVisible)))
}

// eval evaluates a JavaScript expression to a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	return step(b, "eval "+expr, chromedp.Evaluate[string](expr))
}

// shot writes a screenshot of the page, numbered in order, when a folder
// is set.
func (b *browser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	b.n++
	png := step(b, "screenshot", chromedp.FullScreenshot(100))
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
