"""Demo data: a seeded, realistic product dataset in PostHog's event format."""

from userlens.demo.generator import Event, generate_events
from userlens.demo.recording import generate_recordings

__all__ = ["Event", "generate_events", "generate_recordings"]
