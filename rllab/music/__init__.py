"""The melody domain: token spec, corpus, MIDI I/O, music-theory rules and metrics (shared by env and tuner)."""
