package gupshuptest

func (s *Server) routeSelfServe() {}
