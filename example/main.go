// Command example is a runnable keyward server: an Octeth-style command API
// on an in-memory store, for trying keyward with curl and for reading how
// to wire it.
//
//	go run ./example                 # serves on 127.0.0.1:8080
//	go run ./example -addr :9000     # or KEYWARD_ADDR=:9000
//
// It seeds an administrator "admin" and a user "user@example.com", with the
// passwords in KEYWARD_ADMIN_PASSWORD and KEYWARD_USER_PASSWORD (random and
// printed once when unset), and takes a static admin API key from
// ADMIN_API_KEY when set. The command handler answers at /api.php and /api.
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
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keyward/keyward/authn"
)

func main() {
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
	if err := fs.Parse(args); err != nil {
		return err
	}

	var api authn.APIConfig
	switch *profile {
	case "seeds":
	case "octeth5":
		api.Profile = authn.OctethV5
	default:
		return fmt.Errorf("-profile %q: want seeds or octeth5", *profile)
	}
	opts := options{
		API:           api,
		AdminPassword: getenv("KEYWARD_ADMIN_PASSWORD"),
		UserPassword:  getenv("KEYWARD_USER_PASSWORD"),
		AdminAPIKey:   getenv("ADMIN_API_KEY"),
		Logger:        slog.New(slog.NewTextHandler(stderr, nil)),
	}
	var printed []string
	for _, pw := range []struct {
		who string
		p   *string
	}{{"admin", &opts.AdminPassword}, {"user@example.com", &opts.UserPassword}} {
		if *pw.p == "" {
			*pw.p = rand.Text()
			printed = append(printed, fmt.Sprintf("  password of %-17s %s  (set it with %s)", pw.who+":", *pw.p, envName(pw.who)))
		}
	}

	app, err := newApp(ctx, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "keyward example serving %s/api.php and %s/api (in-memory store; plain http for local use only)\n", url, url)
	fmt.Fprintf(stdout, "  WMD SED API: %s/wmd/api.php (cookie) and %s/wmd/api-sl.php (Bearer etoken); captchas under %s/captcha/\n", url, url, url)
	for _, line := range printed {
		fmt.Fprintln(stdout, line)
	}
	if opts.AdminAPIKey != "" {
		fmt.Fprintln(stdout, "  static admin API key: from ADMIN_API_KEY")
	}
	fmt.Fprintf(stdout, "Log in:\n  curl %s/api.php -F Command=User.Login -F Username=user@example.com -F 'Password=...' -F DisableCaptcha=true\n", url)

	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envName(who string) string {
	if who == "admin" {
		return "KEYWARD_ADMIN_PASSWORD"
	}
	return "KEYWARD_USER_PASSWORD"
}
