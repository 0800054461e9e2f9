package tasks

import (
	"encoding/json"

	"github.com/waqueue/waqueue/gupshup"
)

// A session message travels in its family's own JSON (see Send.Session),
// and the three families spell even a text differently. These build the
// two common cases so that producers do not each learn the three shapes.

// TextSession is a text session message for fam.
func TextSession(fam gupshup.Family, text string) (json.RawMessage, error) {
	switch fam {
	case gupshup.Partner:
		return marshalSession(map[string]any{"type": "text", "text": map[string]any{"body": text}})
	case gupshup.SelfServe, gupshup.Enterprise:
		return marshalSession(map[string]any{"type": "text", "text": text})
	}
	return nil, checkFamily(fam)
}

// ImageSession is an image sent by URL, with an optional caption, for fam.
func ImageSession(fam gupshup.Family, link, caption string) (json.RawMessage, error) {
	if err := checkURL("session.image", link); err != nil {
		return nil, err
	}
	switch fam {
	case gupshup.Partner:
		img := map[string]any{"link": link}
		if caption != "" {
			img["caption"] = caption
		}
		return marshalSession(map[string]any{"type": "image", "image": img})
	case gupshup.SelfServe:
		// Self-serve shows previewUrl before the download; the same
		// link is the safe choice when no thumbnail exists.
		m := map[string]any{"type": "image", "originalUrl": link, "previewUrl": link}
		if caption != "" {
			m["caption"] = caption
		}
		return marshalSession(m)
	case gupshup.Enterprise:
		m := map[string]any{"type": "image", "url": link}
		if caption != "" {
			m["caption"] = caption
		}
		return marshalSession(m)
	}
	return nil, checkFamily(fam)
}

func marshalSession(v map[string]any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	return json.RawMessage(b), err
}
