package scopes_test

import (
	"fmt"

	"github.com/keyward/keyward/scopes"
)

func ExampleParse() {
	s, err := scopes.Parse("Admin")
	fmt.Println(s, err, s == scopes.Admin)
	_, err = scopes.Parse("root")
	fmt.Println(err)
	// Output:
	// admin <nil> true
	// scopes: unknown scope
}
