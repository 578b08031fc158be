// Command icongen draws MCP Tray's PNG icons into assets/: the app icon
// (also in every size desktops ask for, assets/icons/NxN.png), and the tray
// icons, one per overall state. Run it from the repository root:
// go run ./build/icongen
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

func main() {
	icons := map[string]func(x, y, size float64) color.Color{
		"icon.png":        hub(color.RGBA{0x1e, 0x63, 0xd6, 0xff}),
		"tray-ok.png":     hub(color.RGBA{0x2e, 0x9e, 0x4f, 0xff}),
		"tray-signin.png": hub(color.RGBA{0xe0, 0x9b, 0x12, 0xff}),
		"tray-error.png":  hub(color.RGBA{0xd3, 0x3a, 0x2f, 0xff}),
		"tray-paused.png": hub(color.RGBA{0x80, 0x86, 0x8c, 0xff}),
	}
	sizes := map[string]int{}
	for name := range icons {
		sizes[name] = 64
	}
	sizes["icon.png"] = 256
	for _, n := range []int{16, 24, 32, 48, 64, 128, 256, 512} {
		name := filepath.Join("icons", fmt.Sprintf("%dx%d.png", n, n))
		icons[name] = icons["icon.png"]
		sizes[name] = n
	}
	if err := os.MkdirAll(filepath.Join("assets", "icons"), 0o755); err != nil {
		log.Fatal(err)
	}
	for name, draw := range icons {
		size := sizes[name]
		img := image.NewNRGBA(image.Rect(0, 0, size, size))
		for y := range size {
			for x := range size {
				// 4x4 supersampling for smooth edges.
				var r, g, b, a float64
				for sy := range 4 {
					for sx := range 4 {
						c := draw((float64(x)+(float64(sx)+0.5)/4)/float64(size), (float64(y)+(float64(sy)+0.5)/4)/float64(size), float64(size))
						cr, cg, cb, ca := c.RGBA()
						r, g, b, a = r+float64(cr), g+float64(cg), b+float64(cb), a+float64(ca)
					}
				}
				if a == 0 {
					continue
				}
				img.Set(x, y, color.NRGBA{uint8(r / a * 255), uint8(g / a * 255), uint8(b / a * 255), uint8(a / 16 / 257)})
			}
		}
		f, err := os.Create(filepath.Join("assets", name))
		if err != nil {
			log.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
}

// hub draws a filled disc in c with a white hub-and-spokes mark: a centre
// dot joined to three outer dots (one server, many connections).
func hub(c color.RGBA) func(x, y, size float64) color.Color {
	white := color.RGBA{0xff, 0xff, 0xff, 0xff}
	none := color.RGBA{}
	spokes := [3][2]float64{}
	for i := range spokes {
		a := -math.Pi/2 + float64(i)*2*math.Pi/3
		spokes[i] = [2]float64{0.5 + 0.24*math.Cos(a), 0.5 + 0.24*math.Sin(a)}
	}
	return func(x, y, _ float64) color.Color {
		d := math.Hypot(x-0.5, y-0.5)
		if d > 0.48 {
			return none
		}
		if d < 0.09 {
			return white
		}
		for _, s := range spokes {
			if math.Hypot(x-s[0], y-s[1]) < 0.075 {
				return white
			}
			if segDist(x, y, 0.5, 0.5, s[0], s[1]) < 0.03 {
				return white
			}
		}
		return c
	}
}

func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := math.Max(0, math.Min(1, ((px-ax)*dx+(py-ay)*dy)/(dx*dx+dy*dy)))
	return math.Hypot(px-(ax+t*dx), py-(ay+t*dy))
}
