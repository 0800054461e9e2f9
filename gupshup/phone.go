package gupshup

import "fmt"

// NormalizePhone returns the E.164 digits of a phone number as Gupshup wants
// them: country code and number, no "+", no spaces. A leading "+" and the
// separators people type (space, dash, dot, parentheses) are removed;
// anything else makes it an error. E.164 allows 8 to 15 digits in practice
// (country code included) and never a leading zero.
func NormalizePhone(s string) (string, error) {
	if s == "" {
		return "", errPhone("is empty")
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == '+' && i == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", errPhone("has a character that is not a digit: %q", c)
		}
	}
	switch {
	case len(b) < 8:
		return "", errPhone("has %d digits, E.164 needs at least 8", len(b))
	case len(b) > 15:
		return "", errPhone("has %d digits, E.164 allows at most 15", len(b))
	case b[0] == '0':
		return "", errPhone("starts with 0; give the country code first")
	}
	return string(b), nil
}

// ValidPhone reports whether s is already in the canonical form NormalizePhone returns.
func ValidPhone(s string) bool {
	n, err := NormalizePhone(s)
	return err == nil && n == s
}

func errPhone(format string, args ...any) error {
	return fmt.Errorf("not an E.164 number: "+format, args...)
}
