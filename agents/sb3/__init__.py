"""stable-baselines3 glue, in the spirit of SB3's own ``common/``: resolve the algorithm (:mod:`.algos`), build
envs (:mod:`.env_factory`), train into a run directory (:mod:`.trainer`, :mod:`.callbacks`) and evaluate on the
unshaped task metrics (:mod:`.evaluation`)."""

from rllab.agents.sb3.algos import MODEL_FILE, algo_class, load_run_model, uses_masks
from rllab.agents.sb3.callbacks import EVAL_CURVE_FILE
from rllab.agents.sb3.env_factory import make_env, make_vec_env
from rllab.agents.sb3.evaluation import evaluate_run, evaluate_target, run_episodes, summarize
from rllab.agents.sb3.targets import resolve_target
from rllab.agents.sb3.trainer import resume, train, validate

__all__ = ["EVAL_CURVE_FILE", "MODEL_FILE", "algo_class", "evaluate_run", "evaluate_target", "load_run_model",
           "make_env", "make_vec_env", "resolve_target", "resume", "run_episodes", "summarize", "train", "uses_masks",
           "validate"]
