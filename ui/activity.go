package ui

import (
	"context"
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub/store"
)

// activityView charts the bridge's calls per day and server, each server's
// error rate and p95 latency over 7 or 30 days, and lists recent calls.
type activityView struct {
	u       *UI
	days    *widget.RadioGroup
	chart   *barChart
	legend  *fyne.Container
	table   *fyne.Container
	recent  *widget.Table
	calls   []store.Call
	message *widget.Label
	root    fyne.CanvasObject
	loads   int // reloads started; only the last one's result is shown
}

func newActivityView(u *UI) *activityView {
	a := &activityView{u: u}
	a.days = widget.NewRadioGroup([]string{"7 days", "30 days"}, func(string) { a.reload() })
	a.days.Horizontal = true
	a.days.SetSelected("7 days")
	a.chart = newBarChart()
	a.legend = container.NewHBox()
	a.table = container.NewGridWithColumns(5)
	a.message = widget.NewLabel("")
	a.recent = widget.NewTable(
		func() (int, int) { return len(a.calls) + 1, 6 },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.TableCellID, o fyne.CanvasObject) { o.(*widget.Label).SetText(a.cell(id)) },
	)
	for col, w := range []float32{150, 90, 110, 220, 90, 100} {
		a.recent.SetColumnWidth(col, w)
	}
	refresh := widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), a.reload)
	top := container.NewVBox(container.NewHBox(widget.NewLabel("Calls per day"), a.days, refresh), a.message,
		container.NewGridWrap(fyne.NewSize(720, 160), a.chart), a.legend, a.table,
		widget.NewLabelWithStyle("Recent calls", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	a.root = container.NewBorder(top, nil, nil, nil, a.recent)
	return a
}

func (a *activityView) object() fyne.CanvasObject { return a.root }

func (a *activityView) cell(id widget.TableCellID) string {
	if id.Row == 0 {
		return [...]string{"Time", "Client", "Server", "Tool or item", "Duration", "Outcome"}[id.Col]
	}
	c := a.calls[id.Row-1]
	switch id.Col {
	case 0:
		return c.Time.Local().Format("Jan 2 15:04:05")
	case 1:
		return c.Client
	case 2:
		return c.Server
	case 3:
		if c.Item == "" {
			return c.Method
		}
		return c.Item
	case 4:
		return durationText(c.Duration)
	}
	return c.Outcome
}

func durationText(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// reload reads the records off the UI goroutine.
func (a *activityView) reload() {
	days := 7
	if a.days.Selected == "30 days" {
		days = 30
	}
	now := a.u.opts.Now()
	y, m, d := now.Date()
	since := time.Date(y, m, d, 0, 0, 0, 0, now.Location()).AddDate(0, 0, -(days - 1))
	a.loads++
	load := a.loads
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		usage, err := a.u.hub.Usage(ctx, since)
		var calls []store.Call
		if err == nil {
			calls, err = a.u.hub.RecentCalls(ctx, 200)
		}
		a.u.do(func() {
			// Reads finish in any order: an older one would show another
			// range than the one selected.
			if load == a.loads {
				a.show(usage, calls, since, days, err)
			}
		})
	}()
}

func (a *activityView) show(usage *store.Usage, calls []store.Call, since time.Time, days int, err error) {
	if err != nil {
		a.message.SetText("The call records cannot be read: " + err.Error())
		return
	}
	a.calls = calls
	a.recent.Refresh()
	if usage.Totals.Calls == 0 {
		a.message.SetText("No calls through the bridge yet. Connect an IDE to see them here.")
	} else {
		a.message.SetText(fmt.Sprintf("%d calls, %.1f%% errors, p95 %s", usage.Totals.Calls,
			usage.Totals.ErrorRate*100, msText(usage.Totals.P95Ms)))
	}
	// One bar per day, stacked by server.
	dayIndex := map[string]int{}
	labels := make([]string, days)
	for i := range days {
		day := since.AddDate(0, 0, i)
		dayIndex[day.Format("2006-01-02")] = i
		labels[i] = day.Format("2")
	}
	var series []barSeries
	a.legend.RemoveAll()
	a.table.RemoveAll()
	for _, h := range []string{"Server", "Calls", "Errors", "p50", "p95"} {
		a.table.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for i, s := range usage.Servers {
		c := seriesColor(i)
		values := make([]int, days)
		for _, d := range s.Daily {
			if j, ok := dayIndex[d.Date]; ok {
				values[j] = d.Calls
			}
		}
		series = append(series, barSeries{color: c, values: values})
		swatch := canvas.NewRectangle(c)
		swatch.SetMinSize(fyne.NewSize(12, 12))
		a.legend.Add(container.NewHBox(container.NewCenter(swatch), widget.NewLabel(s.Server)))
		a.table.Add(widget.NewLabel(s.Server))
		a.table.Add(widget.NewLabel(fmt.Sprint(s.Calls)))
		a.table.Add(widget.NewLabel(fmt.Sprintf("%.1f%%", s.ErrorRate*100)))
		a.table.Add(widget.NewLabel(msText(s.P50Ms)))
		a.table.Add(widget.NewLabel(msText(s.P95Ms)))
	}
	a.chart.set(labels, series)
}

func msText(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// seriesColor gives each server a distinct colour that reads in both
// themes.
func seriesColor(i int) color.Color {
	palette := []color.NRGBA{
		{0x1e, 0x88, 0xe5, 0xff}, {0x43, 0xa0, 0x47, 0xff}, {0xfb, 0x8c, 0x00, 0xff}, {0x8e, 0x24, 0xaa, 0xff},
		{0x00, 0xac, 0xc1, 0xff}, {0xe5, 0x39, 0x35, 0xff}, {0x6d, 0x4c, 0x41, 0xff}, {0x75, 0x75, 0x75, 0xff},
	}
	return palette[i%len(palette)]
}

type barSeries struct {
	color  color.Color
	values []int
}

// barChart is a stacked bar chart drawn with canvas rectangles.
type barChart struct {
	widget.BaseWidget
	labels []string
	series []barSeries
}

func newBarChart() *barChart {
	c := &barChart{}
	c.ExtendBaseWidget(c)
	return c
}

func (c *barChart) set(labels []string, series []barSeries) {
	c.labels, c.series = labels, series
	c.Refresh()
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	r := &barRenderer{chart: c}
	r.rebuild()
	return r
}

type barRenderer struct {
	chart   *barChart
	bars    []*canvas.Rectangle
	barOf   [][2]int // day, series of each bar
	labels  []*canvas.Text
	axis    *canvas.Line
	maxText *canvas.Text
	objects []fyne.CanvasObject
}

func (r *barRenderer) rebuild() {
	c := r.chart
	r.bars, r.barOf, r.labels = nil, nil, nil
	r.objects = r.objects[:0]
	r.axis = canvas.NewLine(theme.Color(theme.ColorNameDisabled))
	r.maxText = canvas.NewText("", theme.Color(theme.ColorNamePlaceHolder))
	r.maxText.TextSize = theme.CaptionTextSize()
	r.objects = append(r.objects, r.axis, r.maxText)
	for day := range c.labels {
		for s, ser := range c.series {
			if ser.values[day] == 0 {
				continue
			}
			b := canvas.NewRectangle(ser.color)
			r.bars = append(r.bars, b)
			r.barOf = append(r.barOf, [2]int{day, s})
			r.objects = append(r.objects, b)
		}
		t := canvas.NewText(c.labels[day], theme.Color(theme.ColorNamePlaceHolder))
		t.TextSize = theme.CaptionTextSize()
		t.Alignment = fyne.TextAlignCenter
		r.labels = append(r.labels, t)
		r.objects = append(r.objects, t)
	}
}

func (r *barRenderer) Layout(size fyne.Size) {
	c := r.chart
	n := len(c.labels)
	if n == 0 {
		return
	}
	peak := 1
	for day := range n {
		total := 0
		for _, s := range c.series {
			total += s.values[day]
		}
		peak = max(peak, total)
	}
	r.maxText.Text = fmt.Sprint(peak)
	r.maxText.Move(fyne.NewPos(0, 0))
	r.maxText.Refresh()
	labelH := theme.CaptionTextSize() + 4
	plotH := size.Height - labelH
	left := float32(36)
	slot := (size.Width - left) / float32(n)
	barW := slot * 0.7
	r.axis.Position1 = fyne.NewPos(left, plotH)
	r.axis.Position2 = fyne.NewPos(size.Width, plotH)
	stacked := make([]float32, n)
	for i, b := range r.bars {
		day, s := r.barOf[i][0], r.barOf[i][1]
		h := plotH * float32(c.series[s].values[day]) / float32(peak)
		x := left + float32(day)*slot + (slot-barW)/2
		stacked[day] += h
		b.Move(fyne.NewPos(x, plotH-stacked[day]))
		b.Resize(fyne.NewSize(barW, h))
	}
	for day, t := range r.labels {
		t.Move(fyne.NewPos(left+float32(day)*slot, plotH+2))
		t.Resize(fyne.NewSize(slot, labelH))
	}
}

func (r *barRenderer) MinSize() fyne.Size { return fyne.NewSize(200, 120) }

func (r *barRenderer) Refresh() {
	r.rebuild()
	r.Layout(r.chart.Size())
	canvas.Refresh(r.chart)
}

func (r *barRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *barRenderer) Destroy()                     {}
