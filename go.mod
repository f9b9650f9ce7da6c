module github.com/keyward/keyward

go 1.26.0

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/gorilla/sessions v1.4.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
