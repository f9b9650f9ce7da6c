package main

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
)

// The example's own commands, as Octeth's seeds show them. They are what a
// host writes on keyward: a name, the scopes allowed, and a function from
// parameters and principal to fields or a command error.
func (a *app) registerCommands() error {
	user := []scopes.Scope{scopes.User}
	for name, cmd := range map[string]command.Command{
		"List.Create": {Scopes: user, Run: a.listCreate},
		"Lists.Get":   {Scopes: user, Run: a.listsGet},
		"Users.Get":   {Scopes: []scopes.Scope{scopes.Admin}, Run: a.usersGet},
	} {
		if err := a.api.Handle(name, a.metrics.command(cmd)); err != nil {
			return err
		}
	}
	// The WMD dialect: the same kind of command, another envelope.
	whoami := a.metrics.command(command.Command{Scopes: []scopes.Scope{scopes.User, scopes.Admin}, Run: a.whoami})
	for _, api := range []*command.API{a.wmd, a.wmdSL} {
		if err := api.Handle("whoami", whoami); err != nil {
			return err
		}
	}
	return nil
}

// whoami is WMD's sample c=whoami: who the request acts as.
func (a *app) whoami(c *command.Call) (command.Fields, error) {
	p := c.Principal
	return command.Fields{"user": p.Username, "userid": p.AccountID, "admin": p.Scope == scopes.Admin}, nil
}

// List.Create error codes.
const (
	codeMissingListName = 1
	codeListNameTooLong = 2
)

// listCreate is List.Create: SubscriberListName -> ListID.
func (a *app) listCreate(c *command.Call) (command.Fields, error) {
	name, err := c.Param("SubscriberListName")
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, command.Fail(codeMissingListName, "Missing subscriber list name")
	case utf8.RuneCountInString(name) > 200:
		return nil, command.Fail(codeListNameTooLong, "Subscriber list name longer than 200 characters")
	}
	id := a.lists.add(c.Principal.AccountID, name)
	return command.Fields{"ListID": id}, nil
}

// listsGet is Lists.Get: the caller's lists.
func (a *app) listsGet(c *command.Call) (command.Fields, error) {
	ls := a.lists.of(c.Principal.AccountID)
	// TotalListCount is Octeth 5.9's name for it.
	return command.Fields{"TotalLists": len(ls), "TotalListCount": len(ls), "Lists": ls}, nil
}

// userInfo is one user in Users.Get.
type userInfo struct {
	UserID       int64
	Username     string
	EmailAddress string
	FirstName    string
	LastName     string
}

// usersGet is Users.Get (admin scope): every user account.
func (a *app) usersGet(c *command.Call) (command.Fields, error) {
	users := make([]userInfo, 0, len(a.users))
	for _, u := range a.users {
		users = append(users, userInfo{UserID: u.ID, Username: u.Username, EmailAddress: u.Email, FirstName: u.FirstName, LastName: u.LastName})
	}
	return command.Fields{"TotalUsers": len(users), "Users": users}, nil
}

// list is one subscriber list.
type list struct {
	ListID int64
	Name   string
}

// lists keeps each user's lists in memory. Safe for concurrent use.
type lists struct {
	mu     sync.Mutex
	next   int64
	byUser map[int64][]list
}

func newLists() *lists { return &lists{byUser: make(map[int64][]list)} }

func (l *lists) add(owner int64, name string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.byUser[owner] = append(l.byUser[owner], list{ListID: l.next, Name: name})
	return l.next
}

func (l *lists) of(owner int64) []list {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]list{}, l.byUser[owner]...)
}
