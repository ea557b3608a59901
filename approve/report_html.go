package approve

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS,
// inline SVG charts drawn here (personas by size, the coverage heat map,
// unused access by entitlement) and the three tables. It loads nothing
// from the network and runs no script. Every name from the input files
// goes through html/template, so a persona or entitlement called
// "<script>" is shown, not run.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{
		Report:      r,
		AsOf:        r.AsOf.Format(time.RFC3339),
		Window:      durationText(r.Window),
		PersonaBars: personaBars(r.Personas),
		Heat:        heatLayout(r.Heat),
		UnusedBars:  unusedBars(r.Unused),
	}
	if err := reportTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("report html: %w", err)
	}
	return nil
}

// htmlPage is what the template renders.
type htmlPage struct {
	*Report
	AsOf, Window string
	PersonaBars  barChart
	Heat         heatChart
	UnusedBars   barChart
}

// Chart geometry, in SVG user units.
const (
	chartWidth   = 640
	labelWidth   = 270
	barHeight    = 18
	barGap       = 6
	chartTop     = 10
	maxBars      = 20
	heatCellSize = 34
	heatLabelW   = 260
	heatHeaderH  = 150
)

// barChart is a horizontal bar chart; each bar has up to two segments.
type barChart struct {
	Width, Height int
	Bars          []bar
	Legend        []legendItem
	More          int // bars left out
}

type bar struct {
	Label, Title string
	Y, TextY     int
	Segments     []segment
	ValueX       int
	Value        string
}

type segment struct {
	X, Y, W int
	Class   string
}

type legendItem struct {
	X     int
	Class string
	Label string
}

// personaBars charts attribute personas by members, largest first.
func personaBars(rows []PersonaRow) barChart {
	var bars []PersonaRow
	for _, p := range rows {
		if p.Kind == "attribute" {
			bars = append(bars, p)
		}
	}
	max := 1
	for _, p := range bars {
		if p.Members > max {
			max = p.Members
		}
	}
	c := barChart{Width: chartWidth}
	if len(bars) > maxBars {
		c.More = len(bars) - maxBars
		bars = bars[:maxBars]
	}
	span := chartWidth - labelWidth - 60
	for i, p := range bars {
		y := chartTop + i*(barHeight+barGap)
		w := max1(p.Members * span / max)
		c.Bars = append(c.Bars, bar{
			Label: clip(p.Name, 38), Title: fmt.Sprintf("%s: %d members", p.Name, p.Members),
			Y: y, TextY: y + barHeight - 4,
			Segments: []segment{{X: labelWidth, Y: y, W: w, Class: "bar-persona"}},
			ValueX:   labelWidth + w + 6, Value: fmt.Sprint(p.Members),
		})
	}
	c.Height = chartTop*2 + len(c.Bars)*(barHeight+barGap)
	return c
}

// unusedBars charts unused grants per entitlement, standing and JIT
// stacked, most unused first.
func unusedBars(rows []UnusedRow) barChart {
	type tot struct{ standing, jit int }
	per := map[string]*tot{}
	for _, u := range rows {
		t := per[u.Entitlement]
		if t == nil {
			t = &tot{}
			per[u.Entitlement] = t
		}
		if u.Kind == "standing" {
			t.standing += u.Unused
		} else {
			t.jit += u.Unused
		}
	}
	ents := make([]string, 0, len(per))
	for e := range per {
		ents = append(ents, e)
	}
	sort.Slice(ents, func(i, j int) bool {
		a, b := per[ents[i]], per[ents[j]]
		if a.standing+a.jit != b.standing+b.jit {
			return a.standing+a.jit > b.standing+b.jit
		}
		return ents[i] < ents[j]
	})
	c := barChart{Width: chartWidth, Legend: []legendItem{
		{X: labelWidth, Class: "bar-standing", Label: "standing"},
		{X: labelWidth + 110, Class: "bar-jit", Label: "just-in-time"},
	}}
	if len(ents) > maxBars {
		c.More = len(ents) - maxBars
		ents = ents[:maxBars]
	}
	max := 1
	for _, e := range ents {
		if t := per[e]; t.standing+t.jit > max {
			max = t.standing + t.jit
		}
	}
	span := chartWidth - labelWidth - 60
	for i, e := range ents {
		t := per[e]
		y := chartTop + 24 + i*(barHeight+barGap)
		ws := t.standing * span / max
		wj := t.jit * span / max
		if t.standing > 0 {
			ws = max1(ws)
		}
		if t.jit > 0 {
			wj = max1(wj)
		}
		c.Bars = append(c.Bars, bar{
			Label: clip(e, 40), Title: fmt.Sprintf("%s: %d standing, %d just-in-time grants unused", e, t.standing, t.jit),
			Y: y, TextY: y + barHeight - 4,
			Segments: []segment{
				{X: labelWidth, Y: y, W: ws, Class: "bar-standing"},
				{X: labelWidth + ws, Y: y, W: wj, Class: "bar-jit"},
			},
			ValueX: labelWidth + ws + wj + 6, Value: fmt.Sprint(t.standing + t.jit),
		})
	}
	c.Height = chartTop*2 + 24 + len(c.Bars)*(barHeight+barGap)
	return c
}

// heatChart is the laid-out coverage heat map.
type heatChart struct {
	Width, Height int
	Cols          []heatCol
	Rows          []heatRow
}

type heatCol struct {
	Label, Title string
	X, Y         int
}

type heatRow struct {
	Label, Title string
	Y, TextY     int
	Cells        []heatCell
}

type heatCell struct {
	X, Y, TextX, TextY int
	Fill, Ink          string
	Text, Title        string
}

// heatLayout places each cell; the fill darkens with the granted share.
func heatLayout(h Heatmap) heatChart {
	c := heatChart{Width: heatLabelW + len(h.Cols)*heatCellSize + 110, Height: heatHeaderH + len(h.Rows)*heatCellSize + 10}
	for j, e := range h.Cols {
		x := heatLabelW + j*heatCellSize + heatCellSize/2
		c.Cols = append(c.Cols, heatCol{Label: clip(shortEntitlement(e), 28), Title: e, X: x, Y: heatHeaderH - 6})
	}
	for i, name := range h.Rows {
		y := heatHeaderH + i*heatCellSize
		row := heatRow{Label: clip(name, 36), Title: fmt.Sprintf("%s (%d members)", name, h.Sizes[i]),
			Y: y, TextY: y + heatCellSize/2 + 4}
		for j, cell := range h.Cells[i] {
			x := heatLabelW + j*heatCellSize
			ink := "#1b2a41"
			if cell.Granted >= 0.55 {
				ink = "#ffffff"
			}
			text := ""
			if cell.Granted > 0 {
				text = fmt.Sprintf("%.0f", cell.Granted*100)
			}
			row.Cells = append(row.Cells, heatCell{
				X: x, Y: y, TextX: x + heatCellSize/2, TextY: y + heatCellSize/2 + 4,
				Fill: heatColour(cell.Granted), Ink: ink, Text: text,
				Title: fmt.Sprintf("%s × %s: %.0f%% granted, %.0f%% used", name, h.Cols[j],
					cell.Granted*100, cell.Used*100),
			})
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// heatColour blends from a pale grey-blue (0) to a deep blue (1).
func heatColour(v float64) string {
	v = min(1, max(0, v))
	lo := [3]float64{0xf1, 0xf4, 0xf9}
	hi := [3]float64{0x1f, 0x4e, 0x9c}
	var c [3]int
	for i := range c {
		c[i] = int(lo[i] + (hi[i]-lo[i])*v + 0.5)
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// shortEntitlement drops the AWS account from "aws:ACCOUNT:Role" for a
// column label; the full id stays in the tooltip.
func shortEntitlement(id string) string {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) == 3 && parts[0] == "aws" {
		return parts[2] + " (" + lastDigits(parts[1]) + ")"
	}
	return id
}

func lastDigits(s string) string {
	if len(s) > 4 {
		return "…" + s[len(s)-4:]
	}
	return s
}

// clip shortens s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func max1(v int) int {
	if v < 1 {
		return 1
	}
	return v
}

func pctText(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.0f%%", *v*100)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  pctText,
	"join": func(xs []string) string { return strings.Join(xs, "; ") },
	"pctf": func(v float64) string { return fmt.Sprintf("%.0f%%", v*100) },
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.DateOnly)
	},
}).Parse(reportHTML))
