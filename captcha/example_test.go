package captcha_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/store"
)

func Example() {
	mem := store.NewMemory(store.MemoryConfig{})
	d, err := captcha.New(captcha.Config{Store: mem})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	id, _ := d.New(ctx)

	// The host mounts the images: mux.Handle("/captcha/", d.Handler()).
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/captcha/"+id+".png", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))

	ok, err := d.Check(ctx, captcha.Response{ID: id, Answer: "abcdef"}) // never digits: always wrong
	fmt.Println(ok, err)
	// Output:
	// 200 image/png
	// false <nil>
}
