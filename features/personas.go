package features

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/jitscore/jitscore/models"
)

// Persona ids of the groups every person falls into when nothing finer
// fits: attribute groups too small for MinMembers at every level, and
// people with no access in either window.
const (
	PersonaOther    = "attr:other"
	PersonaNoAccess = "usage:none"
)

// attributePersonas groups people by the configured attributes. A group
// sharing every attribute needs MinMembers people; the members of smaller
// groups are grouped again by the attributes without the last one ("Payments,
// any title"), and whoever is still in a small group at the end goes to
// "other". Each person ends in exactly one attribute persona.
func (b *builder) attributePersonas() {
	attrs := b.cfg.Personas.Attributes
	remaining := b.users
	for level := len(attrs); level >= 1 && len(remaining) > 0; level-- {
		groups := map[string][]string{}
		for _, u := range remaining {
			vals := make([]string, level)
			for i, a := range attrs[:level] {
				vals[i] = b.snap.People[u].Attributes[a]
			}
			k := strings.Join(vals, "\x1f")
			groups[k] = append(groups[k], u)
		}
		var rest []string
		for _, k := range sortedKeys(groups) {
			members := groups[k]
			if len(members) < b.cfg.Personas.MinMembers {
				rest = append(rest, members...)
				continue
			}
			vals := strings.Split(k, "\x1f")
			shown := make([]string, len(vals))
			for i, v := range vals {
				if v == "" {
					v = "(no " + attrs[i] + ")"
				}
				shown[i] = v
			}
			id := "attr:" + strings.Join(vals, "/")
			name := strings.Join(shown, " / ")
			if level < len(attrs) {
				id += "/*"
				name += ", any " + attrs[level]
			}
			b.addPersona(id, models.PersonaAttribute, name, members)
		}
		sort.Strings(rest)
		remaining = rest
	}
	if len(remaining) > 0 {
		b.addPersona(PersonaOther, models.PersonaAttribute, "Other", remaining)
	}
}

func (b *builder) addPersona(id string, kind models.PersonaKind, name string, members []string) {
	b.snap.Personas[id] = &models.Persona{ID: id, Kind: kind, Name: name, Members: members}
	for _, u := range members {
		if kind == models.PersonaAttribute {
			b.snap.People[u].AttrPersona = id
		} else {
			b.snap.People[u].UsagePersona = id
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// accessVectors builds the person × entitlement matrix the usage personas
// and outliers are computed on. An entry is 1 for an entitlement granted in
// the peer window plus 1 if it was used in the usage window, times the
// entitlement's smoothed inverse document frequency ln((1+n)/(1+df)) + 1,
// so that an entitlement nearly everyone holds says little about a job.
// Rows are scaled to unit length, making the dot product of two rows their
// cosine similarity. Only people with some access get a row.
func (b *builder) accessVectors() (rows []string, cols []string, x *mat.Dense) {
	colIdx := map[string]int{}
	access := map[string][]string{}
	for _, u := range b.users {
		a := b.accessOf(u)
		if len(a) == 0 {
			continue
		}
		rows = append(rows, u)
		access[u] = a
		for _, e := range a {
			if _, ok := colIdx[e]; !ok {
				colIdx[e] = 0
			}
		}
	}
	if len(rows) == 0 {
		return nil, nil, nil
	}
	cols = sortedKeys(colIdx)
	for i, e := range cols {
		colIdx[e] = i
	}
	df := make([]float64, len(cols))
	for _, u := range rows {
		for _, e := range access[u] {
			df[colIdx[e]]++
		}
	}
	n := float64(len(rows))
	x = mat.NewDense(len(rows), len(cols), nil)
	for i, u := range rows {
		for _, e := range access[u] {
			j := colIdx[e]
			w := 0.0
			if b.granted[u][e] {
				w++
			}
			if b.used[u][e] {
				w++
			}
			x.Set(i, j, w*(math.Log((1+n)/(1+df[j]))+1))
		}
		row := x.RawRowView(i)
		if norm := mat.Norm(mat.NewVecDense(len(row), row), 2); norm > 0 {
			for j := range row {
				row[j] /= norm
			}
		}
	}
	return rows, cols, x
}

// Clustering limits for usage personas.
const (
	maxUsageClusters  = 12  // the largest k tried
	silhouetteSample  = 400 // people the silhouette is measured on
	kmeansIterations  = 30
	minSilhouetteGain = 0.0 // a k must beat the best smaller k by more than this
)

// usagePersonas clusters people by the entitlements they were granted and
// used: spherical k-means (cosine similarity) on the rows of accessVectors,
// seeded by k-means++ from a fixed seed so that a build is reproducible,
// for every k from 2 to min(12, people / MinMembers), keeping the k with
// the best mean silhouette (on an evenly spaced sample of at most 400
// people, with cosine distance). One k is used when fewer people than
// 2 × MinMembers have access. People without access form the persona
// "usage:none". A cluster is named after its members' dominant attributes
// and most shared entitlements.
func (b *builder) usagePersonas() {
	rows, cols, x := b.accessVectors()
	b.vecRows, b.vecCols, b.vec = rows, cols, x
	var none []string
	for _, u := range b.users {
		if len(b.granted[u]) == 0 && len(b.used[u]) == 0 {
			none = append(none, u)
		}
	}
	if len(none) > 0 {
		b.addPersona(PersonaNoAccess, models.PersonaUsage, "No access in the windows", none)
	}
	if len(rows) == 0 {
		return
	}
	n := len(rows)
	kmax := min(maxUsageClusters, n/b.cfg.Personas.MinMembers)
	labels := make([]int, n)
	bestK := 1
	if kmax >= 2 {
		sample := evenSample(n, silhouetteSample)
		dist := sampleDistances(x, sample)
		bestScore := math.Inf(-1)
		for k := 2; k <= kmax; k++ {
			l := sphericalKMeans(x, k)
			s := silhouette(dist, sample, l, k)
			if s > bestScore+minSilhouetteGain {
				bestScore, bestK, labels = s, k, l
			}
		}
	}
	groups := make([][]string, bestK)
	for i, u := range rows {
		groups[labels[i]] = append(groups[labels[i]], u)
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i]) > len(groups[j]) })
	used := map[string]bool{}
	for _, members := range groups {
		if len(members) == 0 {
			continue
		}
		name := b.usageName(members)
		id := "usage:" + slug(name)
		for i := 2; used[id]; i++ {
			id = fmt.Sprintf("usage:%s-%d", slug(name), i)
		}
		used[id] = true
		b.addPersona(id, models.PersonaUsage, name, members)
	}
}

// usageName names a cluster: the most common value of each configured
// attribute among its members, then the two entitlements most of them
// hold, e.g. "Payments / Backend Engineer: PowerUser, ReadOnly".
func (b *builder) usageName(members []string) string {
	var parts []string
	for _, a := range b.cfg.Personas.Attributes {
		count := map[string]int{}
		for _, u := range members {
			if v := b.snap.People[u].Attributes[a]; v != "" {
				count[v]++
			}
		}
		if v := topKeys(count, 1); len(v) > 0 {
			parts = append(parts, v[0])
		}
	}
	name := strings.Join(parts, " / ")
	if name == "" {
		name = "Mixed"
	}
	holds := map[string]int{}
	for _, u := range members {
		for _, e := range b.accessOf(u) {
			holds[e]++
		}
	}
	var shown []string
	for _, e := range topKeys(holds, 2) {
		d := models.DeriveEntitlement(e)
		if d.AWSRole != "" {
			shown = append(shown, d.AWSRole)
		} else {
			shown = append(shown, e)
		}
	}
	return name + ": " + strings.Join(shown, ", ")
}

// topKeys returns up to n keys with the highest counts, ties by key.
func topKeys(count map[string]int, n int) []string {
	keys := sortedKeys(count)
	sort.SliceStable(keys, func(i, j int) bool { return count[keys[i]] > count[keys[j]] })
	if len(keys) > n {
		keys = keys[:n]
	}
	return keys
}

func slug(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			sb.WriteRune(r)
			dash = false
		} else if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(sb.String(), "-")
}

// evenSample returns up to m indices spread evenly over [0, n).
func evenSample(n, m int) []int {
	if n <= m {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, m)
	for i := range out {
		out[i] = i * n / m
	}
	return out
}

// sampleDistances is the cosine distance 1 - x_i·x_j between the sampled
// rows of the unit-row matrix x.
func sampleDistances(x *mat.Dense, sample []int) *mat.Dense {
	_, c := x.Dims()
	s := mat.NewDense(len(sample), c, nil)
	for i, r := range sample {
		s.SetRow(i, x.RawRowView(r))
	}
	var d mat.Dense
	d.Mul(s, s.T())
	raw := d.RawMatrix()
	for i := range raw.Data {
		raw.Data[i] = 1 - raw.Data[i]
	}
	return &d
}

// sphericalKMeans clusters the unit rows of x into k groups by cosine
// similarity and returns each row's group. Seeding is k-means++ from a
// fixed seed; an emptied cluster is reseeded with the row farthest from
// its centroid.
func sphericalKMeans(x *mat.Dense, k int) []int {
	n, c := x.Dims()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	cent := mat.NewDense(k, c, nil)
	best := make([]float64, n) // distance to the nearest chosen centre
	first := rng.IntN(n)
	cent.SetRow(0, x.RawRowView(first))
	for i := range best {
		best[i] = math.Inf(1)
	}
	for j := 1; j < k; j++ {
		total := 0.0
		for i := 0; i < n; i++ {
			d := 1 - mat.Dot(x.RowView(i), cent.RowView(j-1))
			if d < 0 {
				d = 0
			}
			best[i] = math.Min(best[i], d*d)
			total += best[i]
		}
		pick := 0
		if total > 0 {
			r := rng.Float64() * total
			for pick = 0; pick < n-1; pick++ {
				r -= best[pick]
				if r <= 0 {
					break
				}
			}
		} else {
			pick = rng.IntN(n)
		}
		cent.SetRow(j, x.RawRowView(pick))
	}

	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	var sim mat.Dense
	for iter := 0; iter < kmeansIterations; iter++ {
		sim.Mul(x, cent.T())
		changed := false
		counts := make([]int, k)
		for i := 0; i < n; i++ {
			row := sim.RawRowView(i)
			arg := 0
			for j := 1; j < k; j++ {
				if row[j] > row[arg] {
					arg = j
				}
			}
			if labels[i] != arg {
				labels[i], changed = arg, true
			}
			counts[arg]++
		}
		if !changed {
			break
		}
		cent.Zero()
		for i := 0; i < n; i++ {
			crow := cent.RawRowView(labels[i])
			for j, v := range x.RawRowView(i) {
				crow[j] += v
			}
		}
		for j := 0; j < k; j++ {
			if counts[j] == 0 {
				// Reseed with the row least similar to its own centroid.
				far, farSim := 0, math.Inf(1)
				for i := 0; i < n; i++ {
					if s := sim.At(i, labels[i]); s < farSim && counts[labels[i]] > 1 {
						far, farSim = i, s
					}
				}
				cent.SetRow(j, x.RawRowView(far))
				continue
			}
			crow := cent.RawRowView(j)
			if norm := mat.Norm(mat.NewVecDense(c, crow), 2); norm > 0 {
				for i := range crow {
					crow[i] /= norm
				}
			}
		}
	}
	return labels
}

// silhouette is the mean silhouette of the sampled rows under labels: for
// each row, a is its mean distance to the rest of its cluster and b the
// smallest mean distance to another cluster, giving (b - a) / max(a, b);
// a row alone in its cluster scores 0.
func silhouette(dist *mat.Dense, sample []int, labels []int, k int) float64 {
	m := len(sample)
	if m < 2 {
		return 0
	}
	sum := make([]float64, k)
	cnt := make([]int, k)
	total := 0.0
	for i := 0; i < m; i++ {
		for j := range sum {
			sum[j], cnt[j] = 0, 0
		}
		row := dist.RawRowView(i)
		for j := 0; j < m; j++ {
			if j == i {
				continue
			}
			l := labels[sample[j]]
			sum[l] += row[j]
			cnt[l]++
		}
		own := labels[sample[i]]
		if cnt[own] == 0 {
			continue
		}
		a := sum[own] / float64(cnt[own])
		bmin := math.Inf(1)
		for j := 0; j < k; j++ {
			if j != own && cnt[j] > 0 {
				bmin = math.Min(bmin, sum[j]/float64(cnt[j]))
			}
		}
		if math.IsInf(bmin, 1) {
			continue
		}
		if den := math.Max(a, bmin); den > 0 {
			total += (bmin - a) / den
		}
	}
	return total / float64(m)
}

// outliers scores each person by how far their access vector is from the
// mean of their attribute persona's other members: 1 - cosine similarity,
// 0 when they have no access (nothing to take back), 1 when no one else in
// the persona has any. Unusual lists up to three of the person's
// entitlements that the fewest of those peers hold (under a fifth of them).
func (b *builder) outliers() {
	if b.vec == nil {
		return
	}
	_, c := b.vec.Dims()
	rowOf := make(map[string]int, len(b.vecRows))
	for i, u := range b.vecRows {
		rowOf[u] = i
	}
	// Sum of member vectors per attribute persona.
	sums := map[string][]float64{}
	for i, u := range b.vecRows {
		id := b.snap.People[u].AttrPersona
		s, ok := sums[id]
		if !ok {
			s = make([]float64, c)
			sums[id] = s
		}
		for j, v := range b.vec.RawRowView(i) {
			s[j] += v
		}
	}
	for _, u := range b.vecRows {
		p := b.snap.People[u]
		x := b.vec.RawRowView(rowOf[u])
		s := sums[p.AttrPersona]
		dot, ss := 0.0, 0.0
		for j, v := range s {
			dot += x[j] * v
			ss += v * v
		}
		// Leave the person out: others = s - x, and |x| = 1.
		others := ss - 2*dot + 1
		score := 1.0
		if others > 1e-12 {
			score = 1 - (dot-1)/math.Sqrt(others)
		}
		p.OutlierScore = math.Min(1, math.Max(0, score))

		peers := len(b.snap.Personas[p.AttrPersona].Members) - 1
		type share struct {
			ent string
			f   float64
		}
		var rare []share
		for _, e := range b.accessOf(u) {
			holders := b.attrHolders[PairKey{p.AttrPersona, e}] - 1 // leave the person out
			f := 0.0
			if peers > 0 {
				f = float64(max(holders, 0)) / float64(peers)
			}
			if f < 0.2 {
				rare = append(rare, share{e, f})
			}
		}
		sort.SliceStable(rare, func(i, j int) bool { return rare[i].f < rare[j].f })
		for i := 0; i < len(rare) && i < 3; i++ {
			p.Unusual = append(p.Unusual, rare[i].ent)
		}
	}
}
