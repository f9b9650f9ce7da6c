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
