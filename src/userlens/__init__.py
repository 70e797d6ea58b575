"""Userlens: self-hosted product insight — replay, analytics, frustration, feedback, roadmap."""

__version__ = "0.1.0"
