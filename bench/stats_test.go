package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// f formats a number with a thousands separator and the given decimals.
func f(x float64, decimals int) string {
	s := fmt.Sprintf("%.*f", decimals, x)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func ms(d time.Duration) string { return f(float64(d)/float64(time.Millisecond), 1) + " ms" }

func mib(b int64) string { return f(float64(b)/(1<<20), 1) + " MiB" }

func ratio(x float64) string { return fmt.Sprintf("%.2fx", x) }

func joinF(xs []float64, decimals int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = f(x, decimals)
	}
	return strings.Join(s, ", ")
}
