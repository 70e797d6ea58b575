"""Demo data: a seeded, realistic product dataset in PostHog's event format."""

from userlens.demo.generator import Event, generate_events

__all__ = ["Event", "generate_events"]
