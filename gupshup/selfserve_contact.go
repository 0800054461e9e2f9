package gupshup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Contact is a contact card. On the wire its fields sit in a "contact"
// object beside "type" and "context".
type Contact struct {
	Name      ContactName      `json:"name"`
	Phones    []ContactPhone   `json:"phones"`
	Emails    []ContactEmail   `json:"emails,omitempty"`
	Addresses []ContactAddress `json:"addresses,omitempty"`
	Org       *ContactOrg      `json:"org,omitempty"`
	URLs      []ContactURL     `json:"urls,omitempty"`
	// Birthday is YYYY-MM-DD.
	Birthday string `json:"birthday,omitempty"`
	// Context is outside the card, so it is marshalled by hand.
	Context *Context `json:"-"`
}

// ContactName is the card's name. WhatsApp shows FormattedName and requires
// it; FirstName and LastName are what a phone saves the contact under.
type ContactName struct {
	FormattedName string `json:"formattedName"`
	FirstName     string `json:"firstName,omitempty"`
	LastName      string `json:"lastName,omitempty"`
}

// ContactPhone is one number of the card. WaID, when given, makes WhatsApp
// offer a "Message" button for it.
type ContactPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"` // HOME, WORK, CELL, ...
	WaID  string `json:"wa_id,omitempty"`
}

type ContactEmail struct {
	Email string `json:"email"`
	Type  string `json:"type,omitempty"`
}

type ContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"countryCode,omitempty"`
	Type        string `json:"type,omitempty"`
}

type ContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

type ContactURL struct {
	URL  string `json:"url"`
	Type string `json:"type,omitempty"`
}

func (Contact) MessageType() string { return "contact" }

func (m Contact) Validate() error {
	if strings.TrimSpace(m.Name.FormattedName) == "" {
		return invalid("message.contact.name.formattedName", "is empty: a contact needs a name")
	}
	if len(m.Phones) == 0 {
		return invalid("message.contact.phones", "is empty: a contact needs a phone")
	}
	for i, p := range m.Phones {
		if strings.TrimSpace(p.Phone) == "" {
			return invalid(fmt.Sprintf("message.contact.phones[%d].phone", i), "is empty")
		}
	}
	for i, e := range m.Emails {
		if !strings.Contains(e.Email, "@") {
			return invalid(fmt.Sprintf("message.contact.emails[%d].email", i), "%q is not an email address", e.Email)
		}
	}
	for i, u := range m.URLs {
		if u.URL == "" {
			return invalid(fmt.Sprintf("message.contact.urls[%d].url", i), "is empty")
		}
	}
	return m.Context.validate()
}

func (m Contact) MarshalJSON() ([]byte, error) {
	type card Contact
	return json.Marshal(struct {
		selfServeTag
		Contact card     `json:"contact"`
		Context *Context `json:"context,omitempty"`
	}{selfServeTag{"contact"}, card(m), m.Context})
}

func (m *Contact) UnmarshalJSON(data []byte) error {
	type card Contact
	var v struct {
		selfServeTag
		Contact *card    `json:"contact"`
		Context *Context `json:"context"`
	}
	if err := selfServeDecode(data, &v, &v.selfServeTag, "contact"); err != nil {
		return err
	}
	*m = Contact{}
	if v.Contact != nil {
		*m = Contact(*v.Contact)
	}
	m.Context = v.Context
	return nil
}
