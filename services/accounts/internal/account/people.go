package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clearsky/clearsky/libs/apperr"
	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/services/accounts/internal/password"
)

// NewPerson is a person as an administrator creates it.
type NewPerson struct {
	Username    string
	Password    string
	DisplayName string
	Roles       []auth.Role
}

// NewOrganisation is an organisation with its first administrator.
type NewOrganisation struct {
	ID            string
	Kind          string
	Name          string
	Administrator NewPerson
}

// checkPerson validates np for an organisation of kind, naming fields under prefix.
func checkPerson(ve *apperr.ValidationError, prefix string, np *NewPerson, kind Kind) {
	np.Username = strings.ToLower(strings.TrimSpace(np.Username))
	if !usernamePattern.MatchString(np.Username) {
		ve.Add(prefix+"username", "a username is 3 to 64 characters: letters a-z, digits, '.', '_' or '-', starting with a letter or digit")
	}
	if msg := password.Check(np.Password, np.Username); msg != "" {
		ve.Add(prefix+"password", msg)
	}
	if len(np.Roles) == 0 {
		ve.Add(prefix+"roles", "give at least one role")
	}
	allowed := kind.Roles()
	for i, r := range np.Roles {
		if !slices.Contains(allowed, r) {
			ve.Add(fmt.Sprintf("%sroles[%d]", prefix, i), fmt.Sprintf("a person of a %s organisation may hold %v", kind, allowed))
		}
	}
}

// CreateOrganisation creates an organisation and its first administrator (platform
// administrators only). The administrator must change the password at first sign-in. Without
// transactions the two writes are undone by hand: a taken username deletes the organisation.
func (s *Service) CreateOrganisation(ctx context.Context, a Actor, no NewOrganisation) (Organisation, Person, error) {
	if !a.PlatformAdmin() {
		return Organisation{}, Person{}, ErrNotAdmin
	}
	var ve apperr.ValidationError
	no.ID = strings.TrimSpace(no.ID)
	if !orgIDPattern.MatchString(no.ID) {
		ve.Add("id", "an organisation id is 2 to 64 characters: a-z, digits and '-', starting with a letter or digit")
	}
	kind, ok := parseKind(no.Kind)
	switch {
	case !ok:
		ve.Add("kind", fmt.Sprintf("one of %v", Kinds))
	case kind == KindBureau:
		ve.Add("kind", "the bureau is made at installation; its people are added to it")
	}
	if strings.TrimSpace(no.Name) == "" {
		ve.Add("name", "give the organisation's name")
	}
	if len(no.Administrator.Roles) == 0 && ok {
		no.Administrator.Roles = kind.Roles() // administrator and the working role
	}
	if ok {
		checkPerson(&ve, "administrator.", &no.Administrator, kind)
		if !slices.Contains(no.Administrator.Roles, auth.Admin) {
			ve.Add("administrator.roles", "the first administrator holds the admin role")
		}
	}
	if err := ve.Err(); err != nil {
		return Organisation{}, Person{}, err
	}
	now := s.now().UTC()
	org := Organisation{ID: no.ID, Kind: kind, Name: strings.TrimSpace(no.Name), CreatedAt: now, CreatedBy: a.Person.ID}
	if err := s.store.InsertOrganisation(ctx, org); err != nil {
		return Organisation{}, Person{}, err
	}
	p, err := s.insertPerson(ctx, a.Person.ID, org, no.Administrator, true)
	if err != nil {
		if derr := s.store.DeleteOrganisation(ctx, org.ID); derr != nil {
			s.log.ErrorContext(ctx, "organisation_left_without_administrator", "org", org.ID, "error", derr.Error())
		}
		return Organisation{}, Person{}, err
	}
	if err := s.record(ctx, a.principal(), "organisation.create", org.ID, map[string]any{"kind": string(kind), "administrator": p.Username, "from": a.Address}); err != nil {
		return Organisation{}, Person{}, err
	}
	return org, p, nil
}

func (s *Service) insertPerson(ctx context.Context, by string, org Organisation, np NewPerson, mustChange bool) (Person, error) {
	hash, err := password.Hash(ctx, np.Password)
	if err != nil {
		return Person{}, err
	}
	now := s.now().UTC()
	roles := slices.Clone(np.Roles)
	slices.Sort(roles)
	p := Person{ID: newID("p-"), Org: org.ID, Username: np.Username, DisplayName: strings.TrimSpace(np.DisplayName), Roles: slices.Compact(roles),
		PasswordHash: hash, MustChangePassword: mustChange, PasswordChangedAt: now,
		CreatedAt: now, UpdatedAt: now, CreatedBy: by, UpdatedBy: by, Version: 1}
	if err := s.store.InsertPerson(ctx, p); err != nil {
		return Person{}, err
	}
	return p, nil
}

// Organisations lists every organisation (platform administrators).
func (s *Service) Organisations(ctx context.Context, a Actor) ([]Organisation, error) {
	if !a.PlatformAdmin() {
		return nil, ErrNotAdmin
	}
	return s.store.Organisations(ctx)
}

// Organisation returns an organisation its administrators or the platform's manage; to anyone
// else it does not exist (404), so ids do not leak.
func (s *Service) Organisation(ctx context.Context, a Actor, id string) (Organisation, error) {
	if !a.manages(id) {
		if a.Person.Org == id {
			return Organisation{}, ErrNotAdmin
		}
		return Organisation{}, ErrOrgNotFound
	}
	return s.store.Organisation(ctx, id)
}

// CreatePerson adds a person to org. The password is the administrator's choice, so the person
// changes it at first sign-in.
func (s *Service) CreatePerson(ctx context.Context, a Actor, orgID string, np NewPerson) (Person, error) {
	org, err := s.Organisation(ctx, a, orgID)
	if err != nil {
		return Person{}, err
	}
	var ve apperr.ValidationError
	checkPerson(&ve, "", &np, org.Kind)
	if err := ve.Err(); err != nil {
		return Person{}, err
	}
	p, err := s.insertPerson(ctx, a.Person.ID, org, np, true)
	if err != nil {
		return Person{}, err
	}
	if err := s.record(ctx, a.principal(), "person.create", p.ID, map[string]any{"org": org.ID, "username": p.Username, "roles": roleNames(p.Roles), "from": a.Address}); err != nil {
		return Person{}, err
	}
	return p, nil
}

func roleNames(rs []auth.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// People lists the people of org.
func (s *Service) People(ctx context.Context, a Actor, orgID string) ([]Person, error) {
	if _, err := s.Organisation(ctx, a, orgID); err != nil {
		return nil, err
	}
	return s.store.People(ctx, orgID)
}

// PersonOf returns a person of org; a person of another organisation is not found.
func (s *Service) PersonOf(ctx context.Context, a Actor, orgID, id string) (Person, error) {
	if _, err := s.Organisation(ctx, a, orgID); err != nil {
		return Person{}, err
	}
	p, err := s.store.Person(ctx, id)
	if err != nil {
		return Person{}, err
	}
	if p.Org != orgID {
		return Person{}, ErrPersonNotFound
	}
	return p, nil
}

func needReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return apperr.Invalid("reason", "say why: the reason is kept in the audit trail")
	}
	return nil
}

// change applies f to a person of org as a, saves it, ends its sessions and tokens when end,
// and records action.
func (s *Service) change(ctx context.Context, a Actor, orgID, id, action, reason string, end bool, f func(*Person) error) (Person, error) {
	if err := needReason(reason); err != nil {
		return Person{}, err
	}
	p, err := s.PersonOf(ctx, a, orgID, id)
	if err != nil {
		return Person{}, err
	}
	if err := f(&p); err != nil {
		return Person{}, err
	}
	now := s.now().UTC()
	p.UpdatedAt, p.UpdatedBy = now, a.Person.ID
	p.Version++
	if err := s.store.ReplacePerson(ctx, p); err != nil {
		return Person{}, err
	}
	if end {
		if err := s.endSessions(ctx, p.ID, "", now); err != nil {
			return Person{}, err
		}
	}
	if err := s.record(ctx, a.principal(), action, p.ID, map[string]any{"org": orgID, "username": p.Username, "reason": reason, "from": a.Address}); err != nil {
		return Person{}, err
	}
	return p, nil
}

// endSessions deletes the person's sessions (but keep) and announces the person revoked, so
// the access tokens out are refused everywhere.
func (s *Service) endSessions(ctx context.Context, person, keep string, now time.Time) error {
	if _, err := s.store.DeleteSessions(ctx, person, keep); err != nil {
		return err
	}
	s.revoke(ctx, person, now)
	return nil
}

// Disable stops a person signing in, ends its sessions and refuses its tokens. An
// administrator does not disable itself.
func (s *Service) Disable(ctx context.Context, a Actor, orgID, id, reason string) (Person, error) {
	return s.change(ctx, a, orgID, id, "person.disable", reason, true, func(p *Person) error {
		if p.ID == a.Person.ID {
			return fmt.Errorf("an administrator does not disable itself: %w", apperr.ErrConflict)
		}
		p.Disabled = &Change{At: s.now().UTC(), By: a.Person.ID, Reason: reason}
		return nil
	})
}

// Enable lets a disabled person sign in again.
func (s *Service) Enable(ctx context.Context, a Actor, orgID, id, reason string) (Person, error) {
	return s.change(ctx, a, orgID, id, "person.enable", reason, false, func(p *Person) error {
		p.Disabled = nil
		return nil
	})
}

// ResetPassword gives a person a generated one-time password, to be changed at the next
// sign-in, and ends its sessions; resetTOTP also removes its second factor (a lost phone).
func (s *Service) ResetPassword(ctx context.Context, a Actor, orgID, id, reason string, resetTOTP bool) (Person, string, error) {
	var otp string
	p, err := s.change(ctx, a, orgID, id, "person.password_reset", reason, true, func(p *Person) error {
		otp = password.Generate(p.Username)
		hash, err := password.Hash(ctx, otp)
		if err != nil {
			return err
		}
		p.PasswordHash, p.MustChangePassword, p.PasswordChangedAt = hash, true, s.now().UTC()
		if resetTOTP {
			p.TOTPSecret, p.TOTPPending, p.TOTPLastStep = "", "", 0
		}
		return nil
	})
	if err != nil {
		return Person{}, "", err
	}
	if err := s.store.ClearFailures(ctx, userKey(p.Username)); err != nil {
		return Person{}, "", err
	}
	return p, otp, nil
}

// Bootstrap makes the bureau organisation and its first administrator when there is no bureau
// yet (a first start), and returns the administrator's username and one-time password; made is
// false when the bureau existed.
func (s *Service) Bootstrap(ctx context.Context, name, username string) (made bool, user, otp string, err error) {
	if _, err := s.store.Organisation(ctx, BureauID); err == nil {
		return false, "", "", nil
	} else if !errors.Is(err, ErrOrgNotFound) {
		return false, "", "", err
	}
	now := s.now().UTC()
	org := Organisation{ID: BureauID, Kind: KindBureau, Name: name, CreatedAt: now, CreatedBy: "installation"}
	if err := s.store.InsertOrganisation(ctx, org); errors.Is(err, ErrOrgExists) {
		return false, "", "", nil // another replica made it
	} else if err != nil {
		return false, "", "", err
	}
	otp = password.Generate(username)
	p, err := s.insertPerson(ctx, "installation", org, NewPerson{Username: username, Password: otp, DisplayName: "Platform administrator", Roles: []auth.Role{auth.Admin, auth.Bureau}}, true)
	if err != nil {
		return false, "", "", err
	}
	if err := s.record(ctx, auth.Principal{Subject: "installation"}, "organisation.create", org.ID, map[string]any{"kind": string(KindBureau), "administrator": p.Username}); err != nil {
		return false, "", "", err
	}
	return true, p.Username, otp, nil
}

// DemoPerson is one person of the all-in-one's demo data: an organisation (made when missing)
// and a person holding one role in it.
type DemoPerson struct {
	Org, OrgName string
	Kind         Kind
	Username     string
	Role         auth.Role
}

// DemoAccount is a demo person made, with its password (shown once, as every password).
type DemoAccount struct {
	Username, Password, Org string
	Role                    auth.Role
}

// Demo makes the demo people that do not exist yet, each with a generated password that need
// not be changed (demo data only: the all-in-one makes them with its demo data, never a
// deployment). A person made on an earlier start is left as it is; its password was shown then.
func (s *Service) Demo(ctx context.Context, people []DemoPerson) ([]DemoAccount, error) {
	var out []DemoAccount
	for _, dp := range people {
		org, err := s.store.Organisation(ctx, dp.Org)
		if errors.Is(err, ErrOrgNotFound) {
			org = Organisation{ID: dp.Org, Kind: dp.Kind, Name: dp.OrgName, CreatedAt: s.now().UTC(), CreatedBy: "demo"}
			if err := s.store.InsertOrganisation(ctx, org); err != nil && !errors.Is(err, ErrOrgExists) {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
		pw := password.Generate(dp.Username)
		p, err := s.insertPerson(ctx, "demo", org, NewPerson{Username: dp.Username, Password: pw, DisplayName: "Demo " + string(dp.Role), Roles: []auth.Role{dp.Role}}, false)
		if errors.Is(err, ErrUsernameTaken) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.record(ctx, auth.Principal{Subject: "demo"}, "person.create", p.ID, map[string]any{"org": org.ID, "username": p.Username, "demo": true}); err != nil {
			return nil, err
		}
		out = append(out, DemoAccount{Username: p.Username, Password: pw, Org: org.ID, Role: dp.Role})
	}
	return out, nil
}
