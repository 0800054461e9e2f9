package gupshup

// PartnerTestClock lets the external tests drive token expiry with a fake clock.
var PartnerTestClock = withClock
