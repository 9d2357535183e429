"""Go-lite: exact small-board Go (OpenSpiel's rules), a batched torch engine, the Gymnasium env, GTP and SGF."""
