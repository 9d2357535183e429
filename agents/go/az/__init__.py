"""AlphaZero-style Go: a policy/value ResNet trained from the games of its own batched tree search.

Modules: :mod:`.features` (input planes, ownership, the 8 board symmetries), :mod:`.net` (the ResNet and its file
format), :mod:`.search` (batched PUCT / Gumbel search over :class:`~rllab.envs.go.batched.BatchedGo`),
:mod:`.game_search` (the same search for one game at a time), :mod:`.selfplay`, :mod:`.replay`, :mod:`.arena`
(evaluation games and Elo), :mod:`.config`, :mod:`.train` (the run loop, local or Ray workers), :mod:`.player`
(the ``az:`` player spec) and :mod:`.export` (shipping a net as package data).
"""
