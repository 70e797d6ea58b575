"""Session recordings: snapshot decoding, chunk storage and assembly for the player."""
