package models

import "strings"

// DeriveEntitlement builds the catalogue entry an entitlement id implies
// when the catalogue does not list it: "aws:<account>:<role>" gives app
// "aws", the account and the role (which may itself contain ":"); any other
// id gives as app the part before its first ":" (the whole id when there is
// none). Tier, owner and description stay empty.
func DeriveEntitlement(id string) Entitlement {
	e := Entitlement{ID: id}
	app, rest, ok := strings.Cut(id, ":")
	e.App = app
	if !ok {
		return e
	}
	if app == "aws" {
		if acct, role, ok := strings.Cut(rest, ":"); ok && acct != "" && role != "" {
			e.AWSAccount, e.AWSRole = acct, role
		}
	}
	return e
}
