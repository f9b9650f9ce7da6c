package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/internal/serve"
	"github.com/keyward/keyward/store"
)

// defaultMemoryLimit is the example's soft memory limit when GOMEMLIMIT
// is not set. Each password hash (argon2id) allocates its 19 MiB of
// memory anew, and x/crypto offers no way to reuse it (golang/go#36634):
// under a burst of logins that garbage piles up to twice the live heap
// before each collection, over 180 MiB of RSS at 1,000 logins at once. A
// soft limit makes the collector run sooner (123 MiB measured; see
// `go run ./tools/load logins`). It is the program's choice, not the
// library's: package authn sets nothing process-wide.
const defaultMemoryLimit = 100 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run parses the flags, builds the app and serves until ctx ends (SIGINT or
// SIGTERM, from main).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultAddr := getenv("KEYWARD_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:8080"
	}
	addr := fs.String("addr", defaultAddr, "address to listen on (env KEYWARD_ADDR)")
	profile := fs.String("profile", "seeds", "error codes for Octeth clients: seeds (the documents' codes) or octeth5 (Octeth 5.9's)")
	db := fs.String("db", getenv("KEYWARD_DB"), "store: empty for memory, sqlite:path/to/file.db, or postgres://... (env KEYWARD_DB)")
	rds := fs.String("redis", getenv("KEYWARD_REDIS"), "Redis for sessions, claims and counters: redis://host:6379/0, or a Redis Cluster as redis+cluster://host1:7001,host2:7002/ (env KEYWARD_REDIS)")
	defaultPrefix := getenv("KEYWARD_PREFIX")
	if defaultPrefix == "" {
		defaultPrefix = "keyward_"
	}
	prefix := fs.String("prefix", defaultPrefix, "table and key prefix, so deployments can share a database (env KEYWARD_PREFIX)")
	storeTimeout := fs.Duration("store-timeout", 0, "deadline of each store call; a store that does not answer in time gets the request a 503 (env KEYWARD_STORE_TIMEOUT, a Go duration; default 2s)")
	if v := getenv("KEYWARD_STORE_TIMEOUT"); v != "" {
		if err := fs.Set("store-timeout", v); err != nil {
			return fmt.Errorf("KEYWARD_STORE_TIMEOUT: %w", err)
		}
	}
	throttleLimit := fs.Int("throttle-limit", 0, "for load tests only: allow this many login attempts per address, per account, and per account from one address, and this many failures before a captcha (env KEYWARD_THROTTLE_LIMIT; 0 keeps keyward's defaults, 100, 100, 6 and 3). It weakens brute-force protection: never in production")
	if v := getenv("KEYWARD_THROTTLE_LIMIT"); v != "" {
		if err := fs.Set("throttle-limit", v); err != nil {
			return fmt.Errorf("KEYWARD_THROTTLE_LIMIT: %w", err)
		}
	}
	reauthWindow := fs.Duration("reauth-window", 0, "how long after a password login a session may set up 2FA, make API keys or change credentials without the password again (env KEYWARD_REAUTH_WINDOW, a Go duration; default 10m)")
	if v := getenv("KEYWARD_REAUTH_WINDOW"); v != "" {
		if err := fs.Set("reauth-window", v); err != nil {
			return fmt.Errorf("KEYWARD_REAUTH_WINDOW: %w", err)
		}
	}
	etokenValidity := fs.Duration("etoken-validity", 0, "how long an etoken may be redeemed, once (WMD's $api_sl_token_expiry; env KEYWARD_ETOKEN_VALIDITY, a Go duration; default 2s)")
	if v := getenv("KEYWARD_ETOKEN_VALIDITY"); v != "" {
		if err := fs.Set("etoken-validity", v); err != nil {
			return fmt.Errorf("KEYWARD_ETOKEN_VALIDITY: %w", err)
		}
	}
	genKeys := fs.Bool("genkeys", false, "print a fresh value for KEYWARD_KEYS and exit")
	totpSecret := fs.String("totp", "", "print the current 2FA code of a TOTP secret (the TFASecret of User.TFA.Setup, base32) and exit: an authenticator app, for trying 2FA by hand")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of example:\n")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), keysHelp)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil // the usage is printed
	} else if err != nil {
		return err
	}
	if *genKeys {
		v, err := newKeysValue()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, v)
		return nil
	}
	if *totpSecret != "" {
		code, err := pqtotp.GenerateCode(*totpSecret, time.Now())
		if err != nil {
			return fmt.Errorf("-totp: %w", err)
		}
		fmt.Fprintln(stdout, code)
		return nil
	}
	if *throttleLimit < 0 {
		return fmt.Errorf("-throttle-limit %d: want 0 or more", *throttleLimit)
	}
	keys, err := parseKeys(getenv("KEYWARD_KEYS"))
	if err != nil {
		return err
	}
	if len(keys) == 0 && (*db != "" || *rds != "") {
		return errors.New("-db and -redis keep sessions and second factors beyond this process, so they need keys that do too: " +
			"set KEYWARD_KEYS (make a value with: go run ./example -genkeys). Instances that share a store must share it, " +
			"or they refuse each other's cookies and etokens")
	}

	var api command.Config
	switch *profile {
	case "seeds":
	case "octeth5":
		api.Profile = command.OctethV5
	default:
		return fmt.Errorf("-profile %q: want seeds or octeth5", *profile)
	}
	opts := options{
		API:            api,
		AdminPassword:  getenv("KEYWARD_ADMIN_PASSWORD"),
		UserPassword:   getenv("KEYWARD_USER_PASSWORD"),
		AdminAPIKey:    getenv("ADMIN_API_KEY"),
		Logger:         slog.New(slog.NewTextHandler(stderr, nil)),
		Mailer:         printMailer{out: stdout},
		DB:             *db,
		Redis:          *rds,
		Prefix:         *prefix,
		Keys:           keys,
		StoreTimeout:   *storeTimeout,
		ReauthWindow:   *reauthWindow,
		ETokenValidity: *etokenValidity,
		Throttle: authn.ThrottleConfig{PerIP: *throttleLimit, PerAccount: *throttleLimit,
			PerUserIP: *throttleLimit, CaptchaAfter: *throttleLimit},
	}
	random := map[string]bool{}
	for _, pw := range []struct {
		who string
		p   *string
	}{{"admin", &opts.AdminPassword}, {"user@example.com", &opts.UserPassword}} {
		if *pw.p == "" {
			*pw.p = rand.Text()
			random[pw.who] = true
		}
	}

	app, err := newApp(ctx, opts)
	if err != nil {
		return err
	}
	defer app.Close()
	// Passwords are printed only for accounts this instance created with a
	// random one; accounts already in the store keep theirs.
	var printed []string
	for _, who := range []string{"admin", "user@example.com"} {
		switch {
		case !slices.Contains(app.created, who):
			printed = append(printed, fmt.Sprintf("  %s: already in the store; its password is unchanged", who))
		case random[who]:
			pw := opts.AdminPassword
			if who != "admin" {
				pw = opts.UserPassword
			}
			printed = append(printed, fmt.Sprintf("  password of %-17s %s  (set it with %s)", who+":", pw, envName(who)))
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	where := "in-memory store"
	if opts.DB != "" || opts.Redis != "" {
		where = "store: " + storeName(opts)
	}
	fmt.Fprintf(stdout, "keyward example serving %s/api.php and %s/api (%s; plain http for local use only)\n", url, url, where)
	fmt.Fprintf(stdout, "  WMD SED API: %s/wmd/api.php (cookie) and %s/wmd/api-sl.php (Bearer etoken); captchas under %s/captcha/\n", url, url, url)
	fmt.Fprintf(stdout, "  browser login: %s/login (administrators: %s/admin)\n", url, url)
	for _, line := range printed {
		fmt.Fprintln(stdout, line)
	}
	if opts.AdminAPIKey != "" {
		fmt.Fprintln(stdout, "  static admin API key: from ADMIN_API_KEY")
	}
	fmt.Fprintf(stdout, "Log in:\n  curl %s/api.php -F Command=User.Login -F Username=user@example.com -F 'Password=...' -F DisableCaptcha=true\n", url)

	return serve.Run(ctx, ln, app.Handler(), func() { fmt.Fprintln(stdout, "shutting down") })
}

// storeName describes the store for the banner, without credentials.
func storeName(o options) string {
	var parts []string
	if o.DB != "" {
		kind, _, _ := strings.Cut(o.DB, ":")
		parts = append(parts, kind)
	}
	if o.Redis != "" {
		parts = append(parts, "redis")
	}
	return strings.Join(parts, " + ") + ", prefix " + o.Prefix
}

func envName(who string) string {
	if who == "admin" {
		return "KEYWARD_ADMIN_PASSWORD"
	}
	return "KEYWARD_USER_PASSWORD"
}

// printMailer is the example's Mailer: it prints the message instead of
// sending it, for trying password recovery on a laptop. (The token is a
// secret: a real Mailer sends it to the address and nowhere else.)
type printMailer struct{ out io.Writer }

// SendPasswordReset prints the reset message.
func (m printMailer) SendPasswordReset(_ context.Context, acct store.Account, token authn.Secret) error {
	_, err := fmt.Fprintf(m.out, "mail to %s: reset your password with Command=User.PasswordReset&Token=%s&NewPassword=...\n", acct.Email, token.Reveal())
	return err
}
