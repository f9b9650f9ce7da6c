// Command example is a runnable keyward server: an Octeth-style command API
// on an in-memory store, for trying keyward with curl and for reading how
// to wire it.
//
//	go run ./example                 # serves on 127.0.0.1:8080
//	go run ./example -addr :9000     # or KEYWARD_ADDR=:9000
//	go run ./example -h              # every flag and variable
//	go run ./example -genkeys        # a value for KEYWARD_KEYS
//	go run ./example -totp SECRET    # the current 2FA code of a TFASecret
//
// It seeds an administrator "admin" and a user "user@example.com", with the
// passwords in KEYWARD_ADMIN_PASSWORD and KEYWARD_USER_PASSWORD (random and
// printed once when unset), and takes a static admin API key from
// ADMIN_API_KEY when set.
//
// Routes (app.go): the Octeth command API at /api.php and /api; the WMD
// SED API on the session cookie at /api.php (requests with c=) and
// /wmd/api.php, and on a Bearer etoken at /api-sl.php and
// /wmd/api-sl.php; captcha images and sounds under /captcha/; Prometheus
// metrics at /metrics (metrics.go); a browser UI at every other path
// (ui.go). -db and -redis choose SQLite, PostgreSQL and Redis stores
// (store.go), which need KEYWARD_KEYS.
package main
