package simulate

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/jitscore/jitscore/models"
)

// Person is one simulated identity and the traits the simulation gave it.
type Person struct {
	User            string    `json:"user"` // canonical id, an email
	Aliases         []string  `json:"aliases"`
	IdentityStoreID string    `json:"identity_store_id"`
	Team            string    `json:"team"`
	Department      string    `json:"department"`
	Title           string    `json:"title"`
	Manager         string    `json:"manager"`
	Location        string    `json:"location"`
	EmploymentType  string    `json:"employment_type"` // employee or contractor
	StartDate       time.Time `json:"start_date"`
	// Persona is "Department/Title", the persona by construction.
	Persona string `json:"persona"`
	// UnusedPropensity is the person's base probability of leaving a grant
	// unused, before adjustments for profile and tier.
	UnusedPropensity float64 `json:"unused_propensity"`
	// Activity multiplies the person's request rate.
	Activity float64 `json:"activity"`

	def   *personaDef
	ip    string
	agent string
	terse float64 // probability of an empty justification
}

// entInfo is an entitlement with what the simulator needs about it.
type entInfo struct {
	models.Entitlement
	typical time.Duration
	account int      // index into accountIDs, -1 for apps
	ps      *permSet // nil for apps
	// Identity Center role of the permission set in the account.
	roleName        string // AWSReservedSSO_<set>_<16 hex>
	rolePrincipalID string // AROA...
}

func (e *entInfo) aws() bool { return e.ps != nil }

// buildCatalogue makes the entitlements of cfg.Accounts accounts and the
// apps, and maps templates ("prod:ReadOnly", "stripe:read") to them.
func buildCatalogue(cfg Config, r rng) ([]*entInfo, map[string]int) {
	var ents []*entInfo
	index := map[string]int{}
	for a := 0; a < cfg.Accounts; a++ {
		acct, name := accountIDs[a], accountNames[a]
		for i := range permSets {
			ps := &permSets[i]
			tier, ok := ps.tier[name]
			if !ok {
				continue
			}
			typical := ps.typical
			if ps.name == "AdministratorAccess" && name == "staging" {
				typical = 2 * time.Hour
			}
			e := &entInfo{
				Entitlement: models.Entitlement{
					ID:          "aws:" + acct + ":" + ps.name,
					App:         "aws",
					AWSAccount:  acct,
					AWSRole:     ps.name,
					Tier:        tier,
					Owner:       "cloud-platform@example.com",
					Description: ps.desc + " (" + name + ")",
				},
				typical:         typical,
				account:         a,
				ps:              ps,
				roleName:        "AWSReservedSSO_" + ps.name + "_" + r.token(hexDigits, 16),
				rolePrincipalID: "AROA" + r.token(alnumUpper, 17),
			}
			index[name+":"+ps.name] = len(ents)
			ents = append(ents, e)
		}
	}
	for _, ae := range appEnts {
		app, _, _ := strings.Cut(ae.id, ":")
		index[ae.id] = len(ents)
		ents = append(ents, &entInfo{
			Entitlement: models.Entitlement{
				ID: ae.id, App: app, Tier: ae.tier, Owner: ae.owner, Description: ae.desc,
			},
			typical: ae.typical,
			account: -1,
		})
	}
	return ents, index
}

// resolveTemplate maps an entitlement template to a catalogue index. With
// only two accounts, the data account's templates fall back to prod.
func resolveTemplate(index map[string]int, t string) (int, bool) {
	if i, ok := index[t]; ok {
		return i, true
	}
	if rest, ok := strings.CutPrefix(t, "data:"); ok {
		i, ok := index["prod:"+rest]
		return i, ok
	}
	return 0, false
}

// allocate splits n people over the personas by weight with largest
// remainders, giving every persona at least one member when n allows.
func allocate(n int) []int {
	var total float64
	for _, d := range personaDefs {
		total += d.weight
	}
	counts := make([]int, len(personaDefs))
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(personaDefs))
	left := n
	floorAt := 0
	if n >= len(personaDefs) {
		floorAt = 1
	}
	for i, d := range personaDefs {
		exact := float64(n) * d.weight / total
		counts[i] = max(int(math.Floor(exact)), floorAt)
		left -= counts[i]
		rems[i] = rem{i, exact - math.Floor(exact)}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; left > 0; k = (k + 1) % len(rems) {
		counts[rems[k].i]++
		left--
	}
	for k := len(rems) - 1; left < 0; k = (k - 1 + len(rems)) % len(rems) {
		if i := rems[k].i; counts[i] > 1 {
			counts[i]--
			left++
		}
	}
	return counts
}

// buildPeople creates the people persona by persona, then sets managers:
// the first manager or lead of a department manages it, and the first
// manager overall manages the other managers.
func buildPeople(cfg Config, r rng, start, end time.Time) []*Person {
	counts := allocate(cfg.People)
	seen := map[string]int{}
	var people []*Person
	for pi := range personaDefs {
		def := &personaDefs[pi]
		for range counts[pi] {
			first := firstNames[r.IntN(len(firstNames))]
			last := lastNames[r.IntN(len(lastNames))]
			base := first + "." + last
			seen[base]++
			login := first[:1] + last
			if k := seen[base]; k > 1 {
				base = fmt.Sprintf("%s%d", base, k)
				login = fmt.Sprintf("%s%d", login, k)
			}
			p := &Person{
				User:            base + "@example.com",
				Aliases:         []string{login},
				IdentityStoreID: "90" + r.token(hexDigits, 8) + "-" + r.token(hexDigits, 4) + "-" + r.token(hexDigits, 4) + "-" + r.token(hexDigits, 4) + "-" + r.token(hexDigits, 12),
				Department:      def.dept,
				Title:           def.title,
				Team:            strings.ToLower(def.dept) + "-" + []string{"core", "growth", "infra"}[r.IntN(3)],
				Location:        locations[r.IntN(len(locations))],
				EmploymentType:  "employee",
				Persona:         def.dept + "/" + def.title,
				def:             def,
				ip:              fmt.Sprintf("%s.%d", []string{"203.0.113", "198.51.100", "192.0.2"}[r.IntN(3)], 1+r.IntN(254)),
				agent:           userAgents[r.IntN(len(userAgents))],
				terse:           []float64{0.03, 0.08, 0.3}[r.weighted([]float64{0.5, 0.35, 0.15})],
			}
			if r.chance(0.3) {
				p.Aliases = append(p.Aliases, base+"@corp.example.com")
			}
			if r.chance(def.contractor) {
				p.EmploymentType = "contractor"
			}
			p.UnusedPropensity = clamp(def.unused*math.Exp(0.6*r.NormFloat64()), 0.02, 0.9)
			p.Activity = math.Exp(0.5*r.NormFloat64() - 0.125)
			// About 8% join during the history, the rest one to six years before.
			if r.chance(0.08) {
				span := end.Sub(start) - 5*24*time.Hour
				p.StartDate = start.Add(time.Duration(r.Int64N(int64(max(span, 24*time.Hour))))).Truncate(24 * time.Hour)
			} else {
				p.StartDate = start.AddDate(0, 0, -30-r.IntN(6*365)).Truncate(24 * time.Hour)
			}
			people = append(people, p)
		}
	}

	leads := map[string]*Person{}
	var top *Person
	for _, p := range people {
		if strings.Contains(p.Title, "Manager") || strings.Contains(p.Title, "Lead") {
			if leads[p.Department] == nil {
				leads[p.Department] = p
			}
			if top == nil {
				top = p
			}
		}
	}
	for _, p := range people {
		if leads[p.Department] == nil {
			leads[p.Department] = p
		}
	}
	for _, p := range people {
		switch lead := leads[p.Department]; {
		case lead != p:
			p.Manager = lead.User
		case top != nil && top != p:
			p.Manager = top.User
		}
	}
	return people
}
