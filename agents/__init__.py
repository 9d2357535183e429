"""Learning code: SB3 glue, the Note RNN and the Sequence Tutor."""
