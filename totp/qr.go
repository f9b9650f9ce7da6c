package totp

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// qrQuietZone is the blank border a QR code needs around it, in modules.
const qrQuietZone = 4

// qrPNG renders text as a QR code PNG about qrSize pixels wide. It paints
// whole modules at an integer scale straight into a grey image, which is
// sharper than resampling the code to an exact size, and much faster to
// encode than pquerna/otp's Key.Image.
func qrPNG(text string) ([]byte, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	modules := code.Bounds().Dx()
	side := modules + 2*qrQuietZone
	scale := max(1, qrSize/side)
	img := image.NewGray(image.Rect(0, 0, side*scale, side*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for my := range modules {
		for mx := range modules {
			if r, _, _, _ := code.At(mx, my).RGBA(); r >= 0x8000 {
				continue // a light module
			}
			x0, y0 := (mx+qrQuietZone)*scale, (my+qrQuietZone)*scale
			for y := y0; y < y0+scale; y++ {
				row := img.Pix[y*img.Stride:]
				for x := x0; x < x0+scale; x++ {
					row[x] = 0
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return buf.Bytes(), nil
}
