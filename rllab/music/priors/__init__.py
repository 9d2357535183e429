"""Melody priors with the Note RNN's interface: count baselines (unigram, always-hold, an IDyOM-style
variable-order Markov model) and two repetition-aware neural priors (an LSTM with attention over its own past, a
Transformer with relative positions); any of them scores, samples, and serves as the Sequence Tutor's KL prior."""

from rllab.music.priors.copy_lstm import CopyLSTMPrior
from rllab.music.priors.markov import MarkovConfig, MarkovPrior, fit_markov
from rllab.music.priors.scoring import PriorScore, score_prior
from rllab.music.priors.store import BASELINES, fit_baseline, load_prior, resolve_prior_path, save_prior
from rllab.music.priors.transformer import TransformerPrior

__all__ = ["BASELINES", "CopyLSTMPrior", "MarkovConfig", "MarkovPrior", "PriorScore", "TransformerPrior",
           "fit_baseline", "fit_markov", "load_prior", "resolve_prior_path", "save_prior", "score_prior"]
