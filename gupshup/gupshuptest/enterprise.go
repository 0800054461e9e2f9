package gupshuptest

func (s *Server) routeEnterprise() {}
