"""Adaptive batching: when a batch goes, who is in it, who is left out.

:mod:`sentiment.batching.policy` is the policy as plain code (no BentoML);
:mod:`sentiment.batching.dispatcher` is the thin BentoML dispatcher that runs it
(:class:`~sentiment.batching.dispatcher.IdleDispatcher`, installed by
:func:`~sentiment.batching.dispatcher.install`). Nothing is imported here, so
the policy loads without BentoML.
"""
