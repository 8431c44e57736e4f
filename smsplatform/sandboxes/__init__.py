"""Local stand-ins for the providers (DESIGN §1): small HTTP servers that speak the real wire
format, keep state and call back like the real services, for `make run`, tests and benchmarks."""
