package form_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/keyward/keyward/authn/form"
)

// Read a request's parameters: the query string, then the form body, with
// names matched ignoring ASCII case. A name given twice is refused, not
// guessed at; so is a body over the limit.
func ExampleRead() {
	r := httptest.NewRequest("POST", "/api.php?Command=List.Create", strings.NewReader("apikey=kw_x&ListName=News+letter&Tag=a&Tag=b"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	params, body, err := form.Read(r, nil, form.Limits{})
	if err != nil {
		panic(err)
	}
	command, _ := params.Get("Command")
	key, _ := params.Get("APIKey") // sent as apikey
	name, _ := params.Get("listname")
	fmt.Println(params.Len(), command, key, name, params.Has("Missing"))
	fmt.Println(params.Values("Tag"))
	if _, err := params.Get("Tag"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(body), "bytes of body, for the next handler")

	big := httptest.NewRequest("POST", "/", strings.NewReader("a="+strings.Repeat("x", 100)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, _, err = form.Read(big, nil, form.Limits{MaxBody: 64})
	fmt.Println(errors.Is(err, form.ErrBodyTooLarge), err)
	// Output:
	// 5 List.Create kw_x News letter false
	// [a b]
	// form: parameter Tag given more than once
	// 44 bytes of body, for the next handler
	// true form: body too large
}
