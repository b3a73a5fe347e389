"""Review work in team mode: distributing samples to annotators (overlap k), resolving each sample from its
judgements by the project's rule or by a lead's adjudication, gold checks, and agreement between annotators."""
