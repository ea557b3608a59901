package approve

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrPlotFormat reports a plot file name whose extension is neither .png
// nor .svg. It may arrive wrapped.
var ErrPlotFormat = errors.New("plot: want a .png or .svg file")

// PlotFormat returns "png" or "svg" from a file name's extension, or an
// error wrapping ErrPlotFormat.
func PlotFormat(name string) (string, error) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".png"):
		return "png", nil
	case strings.HasSuffix(lower, ".svg"):
		return "svg", nil
	}
	return "", fmt.Errorf("%w: %q", ErrPlotFormat, name)
}

// WritePlot draws the replay's trade-off in format ("png" or "svg"): the
// share of requests auto-approved (y) against the share of auto-approved
// requests the reviewers denied (x), as auto_approve_max rises from 0.01
// to just below deny_min (the line), with the sweep's thresholds labelled
// and the config's own pair marked in red. A threshold that approves
// nothing has no false-approval rate and is left off the line.
func (r *BacktestResult) WritePlot(w io.Writer, format string) error {
	if format != "png" && format != "svg" {
		return fmt.Errorf("%w: format %q", ErrPlotFormat, format)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Backtest: auto-approval against false approval (deny_min %.2f)", r.Current.DenyMin)
	p.X.Label.Text = "false-approval rate (auto-approved, reviewer denied)"
	p.Y.Label.Text = "auto-approval rate"
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, 1
	p.Add(plotter.NewGrid())

	curve := tradeoffXYs(r.Curve)
	if len(curve) > 0 {
		line, err := plotter.NewLine(curve)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		line.Color = color.RGBA{R: 0x33, G: 0x66, B: 0xcc, A: 0xff}
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("auto_approve_max 0.01 to %.2f", r.Current.DenyMin-0.01), line)
	}

	var sweep []PairStats
	var current []PairStats
	for _, s := range r.Sweep {
		switch {
		case s.Current:
			current = append(current, s)
		case s.DenyMin == r.Current.DenyMin:
			sweep = append(sweep, s)
		}
	}
	if pts := tradeoffXYs(sweep); len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(3)
		sc.GlyphStyle.Color = color.RGBA{R: 0x33, G: 0x66, B: 0xcc, A: 0xff}
		p.Add(sc)
		p.Legend.Add("sweep thresholds", sc)
		if err := addLabels(p, sweep, pts); err != nil {
			return err
		}
	}
	if pts := tradeoffXYs(current); len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		sc.GlyphStyle.Shape = draw.PyramidGlyph{}
		sc.GlyphStyle.Radius = vg.Points(6)
		sc.GlyphStyle.Color = color.RGBA{R: 0xd0, G: 0x20, B: 0x20, A: 0xff}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("current: auto_approve_max %.2f", r.Current.AutoApproveMax), sc)
		if err := addLabels(p, current, pts); err != nil {
			return err
		}
	}
	p.Legend.Top = false
	p.Legend.Left = false

	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// tradeoffXYs are the (false-approval rate, auto share) points of stats
// that approve anything.
func tradeoffXYs(stats []PairStats) plotter.XYs {
	var out plotter.XYs
	for _, s := range stats {
		if s.FalseApprovalRate == nil || s.AutoShare == nil {
			continue
		}
		out = append(out, plotter.XY{X: *s.FalseApprovalRate, Y: *s.AutoShare})
	}
	return out
}

// addLabels writes each sweep point's auto_approve_max beside it.
func addLabels(p *plot.Plot, stats []PairStats, pts plotter.XYs) error {
	var names []string
	for _, s := range stats {
		if s.FalseApprovalRate != nil && s.AutoShare != nil {
			names = append(names, fmt.Sprintf(" %.2f", s.AutoApproveMax))
		}
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: names})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(labels)
	return nil
}
