package service

// Optional interfaces, found by type assertion.

// Describer is implemented by a service's config to name its persona in
// the start-up table ("Microsoft IIS 5.0").
type Describer interface {
	Describe() string
}

// PortHandler is implemented by services that serve each configured port
// differently (a banner per port). The engine binds each configured port
// with the handler ForPort returns for it, given the port as configured,
// before any offset.
type PortHandler interface {
	ForPort(port int) Handler
}
