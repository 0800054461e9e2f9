package gupshuptest

type partnerState struct{}

func newPartnerState(cfg Config) *partnerState { return &partnerState{} }

func (s *Server) routePartner() {}
