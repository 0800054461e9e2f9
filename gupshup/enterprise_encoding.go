package gupshup

// plainText reports whether the Gateway's default encoding carries s
// unharmed: printable ASCII and line breaks, and the characters of the GSM
// 03.38 alphabet and its extension table. Anything else needs
// data_encoding=Unicode_text.
func plainText(s string) bool {
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7f, r == '\n', r == '\r', r == '\t':
		case gsmExtra[r]:
		default:
			return false
		}
	}
	return true
}

// gsmExtra holds the GSM 03.38 characters outside ASCII, basic table and
// extension table (form feed and the euro sign).
var gsmExtra = func() map[rune]bool {
	m := map[rune]bool{'\f': true, '€': true}
	for _, r := range "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà" {
		m[r] = true
	}
	return m
}()
