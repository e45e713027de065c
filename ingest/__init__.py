"""Device-facing HTTP: parse, validate, authenticate, store durably, hand to the evaluators."""
