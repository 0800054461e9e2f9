package gupshup

// Interactive message types, as Meta spells them in interactive.type.
const (
	InteractiveList            = "list"
	InteractiveButton          = "button"
	InteractiveFlow            = "flow"
	InteractiveAddress         = "address_message"
	InteractiveCTAURL          = "cta_url"
	InteractiveLocationRequest = "location_request_message"
)

// MetaInteractive is a message with a list, reply buttons, a flow, an
// address form, a call-to-action URL button or a location request.
type MetaInteractive struct {
	Type   string                 `json:"type"`
	Header *MetaInteractiveHeader `json:"header,omitempty"`
	Body   *MetaInteractiveText   `json:"body,omitempty"`
	Footer *MetaInteractiveText   `json:"footer,omitempty"`
	Action *MetaInteractiveAction `json:"action,omitempty"`
}

// MetaInteractiveHeader is a text header, or for reply buttons and flows
// also an image, video or document.
type MetaInteractiveHeader struct {
	Type     string     `json:"type"`
	Text     string     `json:"text,omitempty"`
	Image    *MetaMedia `json:"image,omitempty"`
	Video    *MetaMedia `json:"video,omitempty"`
	Document *MetaMedia `json:"document,omitempty"`
}

type MetaInteractiveText struct {
	Text string `json:"text"`
}

// MetaInteractiveAction carries what the user can do. Which fields apply
// depends on the interactive type: Button and Sections for a list, Buttons
// for reply buttons, Name and Parameters for flow, address_message, cta_url
// and location_request_message (name "send_location").
type MetaInteractiveAction struct {
	Button     string                `json:"button,omitempty"`
	Buttons    []MetaReplyButton     `json:"buttons,omitempty"`
	Sections   []MetaSection         `json:"sections,omitempty"`
	Name       string                `json:"name,omitempty"`
	Parameters *MetaActionParameters `json:"parameters,omitempty"`
}

// MetaReplyButton is one of up to three quick-reply buttons; Type is "reply".
type MetaReplyButton struct {
	Type  string    `json:"type"`
	Reply MetaReply `json:"reply"`
}

type MetaReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// MetaSection is a group of list rows; Title is required once there is
// more than one section.
type MetaSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []MetaRow `json:"rows"`
}

type MetaRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// MetaActionParameters holds the parameters of the named actions. Meta
// gives each action its own parameter set; they do not share names, so one
// struct with every field left out when empty marshals to exactly the set
// of the action in use.
type MetaActionParameters struct {
	// flow
	FlowMessageVersion string                 `json:"flow_message_version,omitempty"`
	FlowToken          string                 `json:"flow_token,omitempty"`
	FlowID             string                 `json:"flow_id,omitempty"`
	FlowName           string                 `json:"flow_name,omitempty"`
	FlowCTA            string                 `json:"flow_cta,omitempty"`
	FlowAction         string                 `json:"flow_action,omitempty"` // navigate or data_exchange
	FlowActionPayload  *MetaFlowActionPayload `json:"flow_action_payload,omitempty"`
	Mode               string                 `json:"mode,omitempty"` // draft or published

	// address_message
	Country          string            `json:"country,omitempty"`
	Values           map[string]any    `json:"values,omitempty"`
	SavedAddresses   []map[string]any  `json:"saved_addresses,omitempty"`
	ValidationErrors map[string]string `json:"validation_errors,omitempty"`

	// cta_url
	DisplayText string `json:"display_text,omitempty"`
	URL         string `json:"url,omitempty"`
}

// MetaFlowActionPayload opens the flow at Screen with Data.
type MetaFlowActionPayload struct {
	Screen string         `json:"screen,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
}
