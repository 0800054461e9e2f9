package gupshup

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Length limits Meta enforces; a message over them fails with 131009 after
// a round trip, so they are checked before anything is sent.
const (
	metaMaxTextBody         = 4096
	metaMaxCaption          = 1024
	metaMaxInteractiveBody  = 1024
	metaMaxHeaderText       = 60
	metaMaxFooterText       = 60
	metaMaxListButton       = 20
	metaMaxListRows         = 10
	metaMaxListSections     = 10
	metaMaxRowTitle         = 24
	metaMaxRowDescription   = 72
	metaMaxRowID            = 200
	metaMaxReplyButtons     = 3
	metaMaxReplyTitle       = 20
	metaMaxReplyID          = 256
	metaMaxFlowCTA          = 20
	metaMaxCTAURLButtonText = 20
)

// Validate reports the first problem that would make Meta or Gupshup refuse
// the message, as a *ValidationError whose Field is the path Meta uses
// ("to", "text.body", "interactive.action.sections[0].rows",
// "template.language.code", "image.link", ...). The defaults MarshalJSON
// fills in are applied first.
func (m MetaMessage) Validate() error {
	m = m.withDefaults()
	if m.MessagingProduct != "whatsapp" {
		return invalid("messaging_product", "must be \"whatsapp\", not %q", m.MessagingProduct)
	}
	if m.RecipientType != "individual" {
		return invalid("recipient_type", "must be \"individual\", not %q", m.RecipientType)
	}
	if m.To == "" {
		return invalid("to", "is required")
	}
	if _, err := NormalizePhone(m.To); err != nil {
		return invalid("to", "%v", err)
	}
	set := m.objectsSet()
	switch {
	case m.Type == "" && len(set) == 0:
		return invalid("type", "is required")
	case m.Type == "":
		return invalid("type", "is required when several objects are set (%v)", set)
	}
	if !metaTypeKnown(m.Type) {
		return invalid("type", "%q is not a message type of the v3 API", m.Type)
	}
	if !slices.Contains(set, m.Type) {
		return invalid(m.Type, "is required for a %s message", m.Type)
	}
	for _, other := range set {
		if other != m.Type {
			return invalid(other, "must not be set on a %s message", m.Type)
		}
	}
	if m.Context != nil && m.Context.MessageID == "" {
		return invalid("context.message_id", "is required in a reply")
	}
	switch m.Type {
	case MetaTypeText:
		return metaValidateText(m.Text)
	case MetaTypeImage:
		return metaValidateMedia(MetaTypeImage, MetaTypeImage, m.Image)
	case MetaTypeAudio:
		return metaValidateMedia(MetaTypeAudio, MetaTypeAudio, m.Audio)
	case MetaTypeVideo:
		return metaValidateMedia(MetaTypeVideo, MetaTypeVideo, m.Video)
	case MetaTypeDocument:
		return metaValidateMedia(MetaTypeDocument, MetaTypeDocument, m.Document)
	case MetaTypeSticker:
		return metaValidateMedia(MetaTypeSticker, MetaTypeSticker, m.Sticker)
	case MetaTypeReaction:
		return metaValidateReaction(m.Reaction)
	case MetaTypeLocation:
		return metaValidateLocation("location", m.Location)
	case MetaTypeContacts:
		return metaValidateContacts(m.Contacts)
	case MetaTypeInteractive:
		return metaValidateInteractive(m.Interactive)
	default:
		return metaValidateTemplate(m.Template)
	}
}

func metaTypeKnown(t string) bool {
	switch t {
	case MetaTypeText, MetaTypeImage, MetaTypeAudio, MetaTypeVideo, MetaTypeDocument,
		MetaTypeSticker, MetaTypeReaction, MetaTypeLocation, MetaTypeContacts,
		MetaTypeInteractive, MetaTypeTemplate:
		return true
	}
	return false
}

func metaValidateText(t *MetaText) error {
	if t == nil {
		return invalid("text", "is required for a text message")
	}
	if t.Body == "" {
		return invalid("text.body", "is required")
	}
	return metaMaxLen("text.body", t.Body, metaMaxTextBody)
}

// metaValidateMedia checks a media object at field; kind decides whether a
// caption or file name may come with it.
func metaValidateMedia(field, kind string, md *MetaMedia) error {
	if md == nil {
		return invalid(field, "is required for a %s", kind)
	}
	switch {
	case md.ID == "" && md.Link == "":
		return invalid(field+".link", "set link or id")
	case md.ID != "" && md.Link != "":
		return invalid(field+".id", "set link or id, not both")
	case md.Link != "" && !metaHTTPURL(md.Link):
		return invalid(field+".link", "must be an absolute http or https URL")
	}
	if md.Caption != "" {
		if kind == MetaTypeAudio || kind == MetaTypeSticker {
			return invalid(field+".caption", "a %s has no caption", kind)
		}
		if err := metaMaxLen(field+".caption", md.Caption, metaMaxCaption); err != nil {
			return err
		}
	}
	if md.Filename != "" && kind != MetaTypeDocument {
		return invalid(field+".filename", "only a document has a file name")
	}
	return nil
}

func metaValidateReaction(r *MetaReaction) error {
	if r == nil {
		return invalid("reaction", "is required for a reaction message")
	}
	if r.MessageID == "" {
		return invalid("reaction.message_id", "is required")
	}
	// An empty emoji is allowed: it removes an earlier reaction.
	return nil
}

func metaValidateLocation(field string, l *MetaLocation) error {
	if l == nil {
		return invalid(field, "is required")
	}
	// Left out, both coordinates decode to 0; a real pin at exactly 0,0 is
	// in the open sea, so the pair is taken as missing.
	if l.Latitude == 0 && l.Longitude == 0 {
		return invalid(field+".latitude", "latitude and longitude are required")
	}
	if l.Latitude < -90 || l.Latitude > 90 {
		return invalid(field+".latitude", "%v is outside -90..90", l.Latitude)
	}
	if l.Longitude < -180 || l.Longitude > 180 {
		return invalid(field+".longitude", "%v is outside -180..180", l.Longitude)
	}
	return nil
}

func metaValidateContacts(cs []MetaContact) error {
	if len(cs) == 0 {
		return invalid("contacts", "needs at least one contact")
	}
	for i, c := range cs {
		f := fmt.Sprintf("contacts[%d]", i)
		n := c.Name
		if n.FormattedName == "" {
			return invalid(f+".name.formatted_name", "is required")
		}
		if n.FirstName == "" && n.LastName == "" && n.MiddleName == "" && n.Suffix == "" && n.Prefix == "" {
			return invalid(f+".name", "needs first_name, last_name, middle_name, suffix or prefix besides formatted_name")
		}
		for j, p := range c.Phones {
			if p.Phone == "" && p.WaID == "" {
				return invalid(fmt.Sprintf("%s.phones[%d].phone", f, j), "is required")
			}
		}
		for j, e := range c.Emails {
			if e.Email == "" {
				return invalid(fmt.Sprintf("%s.emails[%d].email", f, j), "is required")
			}
		}
		for j, u := range c.URLs {
			if u.URL == "" {
				return invalid(fmt.Sprintf("%s.urls[%d].url", f, j), "is required")
			}
		}
	}
	return nil
}

func metaValidateInteractive(in *MetaInteractive) error {
	if in == nil {
		return invalid("interactive", "is required for an interactive message")
	}
	switch in.Type {
	case "":
		return invalid("interactive.type", "is required")
	case InteractiveList, InteractiveButton, InteractiveFlow, InteractiveAddress, InteractiveCTAURL, InteractiveLocationRequest:
	default:
		return invalid("interactive.type", "%q is not supported; use list, button, flow, address_message, cta_url or location_request_message", in.Type)
	}
	if err := metaValidateHeader(in); err != nil {
		return err
	}
	if in.Body == nil || in.Body.Text == "" {
		return invalid("interactive.body.text", "is required")
	}
	if err := metaMaxLen("interactive.body.text", in.Body.Text, metaMaxInteractiveBody); err != nil {
		return err
	}
	if in.Footer != nil {
		if in.Footer.Text == "" {
			return invalid("interactive.footer.text", "is required when a footer is given")
		}
		if err := metaMaxLen("interactive.footer.text", in.Footer.Text, metaMaxFooterText); err != nil {
			return err
		}
	}
	a := in.Action
	if a == nil {
		return invalid("interactive.action", "is required")
	}
	switch in.Type {
	case InteractiveList:
		return metaValidateList(a)
	case InteractiveButton:
		return metaValidateButtons(a)
	case InteractiveFlow:
		return metaValidateFlowAction(a)
	case InteractiveAddress:
		if err := metaActionName(a, "address_message"); err != nil {
			return err
		}
		if a.Parameters == nil || a.Parameters.Country == "" {
			return invalid("interactive.action.parameters.country", "is required")
		}
		return nil
	case InteractiveCTAURL:
		if err := metaActionName(a, "cta_url"); err != nil {
			return err
		}
		p := a.Parameters
		if p == nil || p.DisplayText == "" {
			return invalid("interactive.action.parameters.display_text", "is required")
		}
		if err := metaMaxLen("interactive.action.parameters.display_text", p.DisplayText, metaMaxCTAURLButtonText); err != nil {
			return err
		}
		if !metaHTTPURL(p.URL) {
			return invalid("interactive.action.parameters.url", "must be an absolute http or https URL")
		}
		return nil
	default:
		return metaActionName(a, "send_location")
	}
}

func metaValidateHeader(in *MetaInteractive) error {
	h := in.Header
	if h == nil {
		return nil
	}
	switch in.Type {
	case InteractiveAddress, InteractiveLocationRequest:
		return invalid("interactive.header", "a %s message has no header", in.Type)
	}
	switch h.Type {
	case "text":
		if h.Text == "" {
			return invalid("interactive.header.text", "is required for a text header")
		}
		return metaMaxLen("interactive.header.text", h.Text, metaMaxHeaderText)
	case "image", "video", "document":
		if in.Type == InteractiveList {
			return invalid("interactive.header.type", "a list takes only a text header")
		}
		md := map[string]*MetaMedia{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
		return metaValidateMedia("interactive.header."+h.Type, h.Type, md)
	case "":
		return invalid("interactive.header.type", "is required")
	default:
		return invalid("interactive.header.type", "%q is not text, image, video or document", h.Type)
	}
}

func metaActionName(a *MetaInteractiveAction, want string) error {
	if a.Name != want {
		return invalid("interactive.action.name", "must be %q, not %q", want, a.Name)
	}
	return nil
}

func metaValidateList(a *MetaInteractiveAction) error {
	if a.Button == "" {
		return invalid("interactive.action.button", "is required")
	}
	if err := metaMaxLen("interactive.action.button", a.Button, metaMaxListButton); err != nil {
		return err
	}
	if len(a.Sections) == 0 {
		return invalid("interactive.action.sections", "needs at least one section")
	}
	if len(a.Sections) > metaMaxListSections {
		return invalid("interactive.action.sections", "has %d sections, at most %d are allowed", len(a.Sections), metaMaxListSections)
	}
	rows := 0
	ids := map[string]bool{}
	for i, s := range a.Sections {
		f := fmt.Sprintf("interactive.action.sections[%d]", i)
		if len(a.Sections) > 1 && s.Title == "" {
			return invalid(f+".title", "is required when there are several sections")
		}
		if err := metaMaxLen(f+".title", s.Title, metaMaxRowTitle); err != nil {
			return err
		}
		if len(s.Rows) == 0 {
			return invalid(f+".rows", "needs at least one row")
		}
		for j, r := range s.Rows {
			rf := fmt.Sprintf("%s.rows[%d]", f, j)
			if r.ID == "" {
				return invalid(rf+".id", "is required")
			}
			if ids[r.ID] {
				return invalid(rf+".id", "%q is used by another row", r.ID)
			}
			ids[r.ID] = true
			if err := metaMaxLen(rf+".id", r.ID, metaMaxRowID); err != nil {
				return err
			}
			if r.Title == "" {
				return invalid(rf+".title", "is required")
			}
			if err := metaMaxLen(rf+".title", r.Title, metaMaxRowTitle); err != nil {
				return err
			}
			if err := metaMaxLen(rf+".description", r.Description, metaMaxRowDescription); err != nil {
				return err
			}
		}
		rows += len(s.Rows)
	}
	if rows > metaMaxListRows {
		return invalid("interactive.action.sections", "have %d rows in all, at most %d are allowed", rows, metaMaxListRows)
	}
	return nil
}

func metaValidateButtons(a *MetaInteractiveAction) error {
	if len(a.Buttons) == 0 {
		return invalid("interactive.action.buttons", "needs at least one button")
	}
	if len(a.Buttons) > metaMaxReplyButtons {
		return invalid("interactive.action.buttons", "has %d buttons, at most %d are allowed", len(a.Buttons), metaMaxReplyButtons)
	}
	ids := map[string]bool{}
	for i, b := range a.Buttons {
		f := fmt.Sprintf("interactive.action.buttons[%d]", i)
		if b.Type != "reply" {
			return invalid(f+".type", "must be \"reply\", not %q", b.Type)
		}
		if b.Reply.ID == "" {
			return invalid(f+".reply.id", "is required")
		}
		if ids[b.Reply.ID] {
			return invalid(f+".reply.id", "%q is used by another button", b.Reply.ID)
		}
		ids[b.Reply.ID] = true
		if err := metaMaxLen(f+".reply.id", b.Reply.ID, metaMaxReplyID); err != nil {
			return err
		}
		if b.Reply.Title == "" {
			return invalid(f+".reply.title", "is required")
		}
		if err := metaMaxLen(f+".reply.title", b.Reply.Title, metaMaxReplyTitle); err != nil {
			return err
		}
	}
	return nil
}

func metaValidateFlowAction(a *MetaInteractiveAction) error {
	if err := metaActionName(a, "flow"); err != nil {
		return err
	}
	p := a.Parameters
	const f = "interactive.action.parameters"
	if p == nil {
		return invalid(f, "is required")
	}
	if p.FlowMessageVersion == "" {
		return invalid(f+".flow_message_version", "is required (\"3\")")
	}
	if p.FlowID == "" && p.FlowName == "" {
		return invalid(f+".flow_id", "set flow_id or flow_name")
	}
	if p.FlowCTA == "" {
		return invalid(f+".flow_cta", "is required")
	}
	if err := metaMaxLen(f+".flow_cta", p.FlowCTA, metaMaxFlowCTA); err != nil {
		return err
	}
	switch p.FlowAction {
	case "", "navigate":
		if p.FlowActionPayload != nil && p.FlowActionPayload.Screen == "" {
			return invalid(f+".flow_action_payload.screen", "is required to navigate")
		}
	case "data_exchange":
		if p.FlowActionPayload != nil {
			return invalid(f+".flow_action_payload", "must be left out with data_exchange")
		}
	default:
		return invalid(f+".flow_action", "must be navigate or data_exchange, not %q", p.FlowAction)
	}
	switch p.Mode {
	case "", "draft", "published":
	default:
		return invalid(f+".mode", "must be draft or published, not %q", p.Mode)
	}
	return nil
}

func metaValidateTemplate(t *MetaTemplate) error {
	if t == nil {
		return invalid("template", "is required for a template message")
	}
	if t.Name == "" {
		return invalid("template.name", "is required")
	}
	if t.Language.Code == "" {
		return invalid("template.language.code", "is required")
	}
	if p := t.Language.Policy; p != "" && p != "deterministic" {
		return invalid("template.language.policy", "must be \"deterministic\", not %q", p)
	}
	for i, c := range t.Components {
		if err := metaValidateComponent(fmt.Sprintf("template.components[%d]", i), c, true); err != nil {
			return err
		}
	}
	return nil
}

func metaValidateComponent(f string, c MetaComponent, top bool) error {
	switch c.Type {
	case "":
		return invalid(f+".type", "is required")
	case "header", "body", "footer", "limited_time_offer":
	case "button":
		if c.SubType == "" {
			return invalid(f+".sub_type", "is required for a button")
		}
		if c.Index == "" {
			return invalid(f+".index", "is required for a button")
		}
		if n, err := strconv.Atoi(c.Index); err != nil || n < 0 || n > 9 {
			return invalid(f+".index", "must be 0 to 9, not %q", c.Index)
		}
	case "carousel":
		if !top {
			return invalid(f+".type", "a carousel cannot be nested")
		}
		if len(c.Cards) == 0 {
			return invalid(f+".cards", "needs at least one card")
		}
		for j, card := range c.Cards {
			for k, cc := range card.Components {
				if err := metaValidateComponent(fmt.Sprintf("%s.cards[%d].components[%d]", f, j, k), cc, false); err != nil {
					return err
				}
			}
		}
	default:
		return invalid(f+".type", "%q is not header, body, footer, button, limited_time_offer or carousel", c.Type)
	}
	for j, p := range c.Parameters {
		if err := metaValidateParameter(fmt.Sprintf("%s.parameters[%d]", f, j), p); err != nil {
			return err
		}
	}
	return nil
}

func metaValidateParameter(f string, p MetaParameter) error {
	switch p.Type {
	case "":
		return invalid(f+".type", "is required")
	case "text":
		if p.Text == "" {
			return invalid(f+".text", "is required")
		}
	case "payload":
		if p.Payload == "" {
			return invalid(f+".payload", "is required")
		}
	case "coupon_code":
		if p.CouponCode == "" {
			return invalid(f+".coupon_code", "is required")
		}
	case "currency":
		switch {
		case p.Currency == nil:
			return invalid(f+".currency", "is required")
		case p.Currency.FallbackValue == "":
			return invalid(f+".currency.fallback_value", "is required")
		case len(p.Currency.Code) != 3:
			return invalid(f+".currency.code", "must be an ISO 4217 code, not %q", p.Currency.Code)
		}
	case "date_time":
		if p.DateTime == nil || p.DateTime.FallbackValue == "" {
			return invalid(f+".date_time.fallback_value", "is required")
		}
	case "image":
		return metaValidateMedia(f+".image", "image", p.Image)
	case "video":
		return metaValidateMedia(f+".video", "video", p.Video)
	case "document":
		return metaValidateMedia(f+".document", "document", p.Document)
	case "location":
		return metaValidateLocation(f+".location", p.Location)
	case "limited_time_offer":
		if p.LimitedTimeOffer == nil {
			return invalid(f+".limited_time_offer", "is required")
		}
	case "action":
		if p.Action == nil {
			return invalid(f+".action", "is required")
		}
	default:
		return invalid(f+".type", "%q is not a template parameter type", p.Type)
	}
	return nil
}

func metaMaxLen(field, s string, n int) error {
	if c := utf8.RuneCountInString(s); c > n {
		return invalid(field, "is %d characters long, at most %d are allowed", c, n)
	}
	return nil
}

func metaHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
