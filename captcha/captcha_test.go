package captcha

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/store"
)

func newDigits(t *testing.T) (*Digits, *store.Memory, *clocktest.Clock) {
	t.Helper()
	clock := clocktest.New()
	mem := store.NewMemory(store.MemoryConfig{Now: clock.Now})
	d, err := New(Config{Store: mem, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d, mem, clock
}

// answer reads a challenge's digits from the store, as a person reads
// them off the image.
func answer(t *testing.T, mem *store.Memory, id string) string {
	t.Helper()
	c, err := mem.Challenge(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range c.Digits {
		b.WriteByte('0' + d)
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	d, mem, clock := newDigits(t)
	ctx := context.Background()
	check := func(id, ans string) bool {
		t.Helper()
		ok, err := d.Check(ctx, Response{ID: id, Answer: ans})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	id, _ := d.New(ctx)
	right := answer(t, mem, id)
	if !check(id, right) {
		t.Fatal("right answer refused")
	}
	// Single use: a solved challenge fails the second time.
	if check(id, right) {
		t.Fatal("solved challenge accepted again")
	}
	// A wrong answer uses the challenge up too.
	id, _ = d.New(ctx)
	right = answer(t, mem, id)
	wrong := []byte(right)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if check(id, string(wrong)) || check(id, right) {
		t.Fatal("a challenge survived a wrong answer")
	}
	// Spaces are ignored; letters are wrong.
	id, _ = d.New(ctx)
	right = answer(t, mem, id)
	if !check(id, right[:3]+" "+right[3:]) {
		t.Fatal("answer with a space refused")
	}
	id, _ = d.New(ctx)
	if check(id, "abcdef") || check("", "123456") || check("short", "123456") || check(strings.Repeat("!", idLen), "1") {
		t.Fatal("nonsense accepted")
	}
	// Expiry.
	id, _ = d.New(ctx)
	right = answer(t, mem, id)
	clock.Advance(10 * time.Minute)
	if check(id, right) {
		t.Fatal("expired challenge accepted")
	}
}

func TestCheckConcurrent(t *testing.T) {
	t.Parallel()
	d, mem, _ := newDigits(t)
	id, _ := d.New(context.Background())
	right := answer(t, mem, id)
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if ok, _ := d.Check(context.Background(), Response{ID: id, Answer: right}); ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("one solved captcha accepted %d times", wins.Load())
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	d, mem, _ := newDigits(t)
	id, _ := d.New(context.Background())
	h := http.StripPrefix("/captcha/", d.Handler())
	get := func(target string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		return rec
	}
	rec := get("/captcha/" + id + ".png")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("png: %d %s", rec.Code, rec.Header())
	}
	img, err := png.Decode(bytes.NewReader(rec.Body.Bytes()))
	if err != nil || img.Bounds().Dx() != 240 || img.Bounds().Dy() != 80 {
		t.Fatalf("png: %v %v", img.Bounds(), err)
	}
	rec = get("/captcha/" + id + ".wav")
	if rec.Code != 200 || !bytes.HasPrefix(rec.Body.Bytes(), []byte("RIFF")) {
		t.Fatalf("wav: %d", rec.Code)
	}
	// Drawing does not use the challenge up.
	if _, err := mem.Challenge(context.Background(), id); err != nil {
		t.Fatal("drawing used the challenge up")
	}
	for _, target := range []string{"/captcha/" + strings.Repeat("A", idLen) + ".png", "/captcha/" + id + ".gif", "/captcha/../" + id, "/captcha/"} {
		if rec := get(target); rec.Code != 404 {
			t.Errorf("%s: %d", target, rec.Code)
		}
	}
	post := httptest.NewRecorder()
	h.ServeHTTP(post, httptest.NewRequest("POST", "/captcha/"+id+".png", nil))
	if post.Code != 405 {
		t.Fatalf("POST: %d", post.Code)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	mem := store.NewMemory(store.MemoryConfig{})
	for _, cfg := range []Config{{}, {Store: mem, Length: 2}, {Store: mem, Width: 10}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
